# nix build .#checks.x86_64-linux.vm-fault: the same leaf with one fault planted after boot — tcp
# 4444 opened in the firewall (nixos-firewall-tool, as an operator would) and a listener on it.
# leafcert must exit 1 and name the port in a failing firewall result. Reports land in $out.
{ pkgs, self }:
let
  common = import ./common.nix { inherit pkgs self; };
in
pkgs.testers.runNixOSTest {
  name = "leafcert-leaf-node-fault";
  inherit (common) nodes;
  testScript = common.prelude + ''
    with subtest("plant the fault: an extra open port with a listener"):
        leaf.succeed("${pkgs.nixos-firewall-tool}/bin/nixos-firewall-tool open tcp 4444")
        leaf.succeed("systemd-run --unit=leafcert-fault-listener ${pkgs.python3}/bin/python3 -m http.server 4444")
        leaf.wait_for_open_port(4444)
        tester.wait_until_succeeds("${pkgs.curl}/bin/curl -sf -o /dev/null http://alchemist-leaf-node:4444/")

    with subtest("leafcert exits 1 and names the port"):
        status, output, evidence = certify()
        assert status == 1, f"expected exit 1 (a check failed), got {status}:\n{output}"
        named = [r for r in evidence["results"] if r["suite"] == "firewall" and r["status"] == "fail" and "4444" in json.dumps(r)]
        assert named, "no failing firewall result names tcp/4444:\n" + output
        print("\n".join(f"{r['id']} {r['subject']}: {r['message']}" for r in named))
  '';
}
