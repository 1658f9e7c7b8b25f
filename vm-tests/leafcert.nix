# nix build .#checks.x86_64-linux.vm-leaf: a tester VM runs `leafcert run` over SSH against a leaf
# VM running nixosModules.leaf-node-example, with expectations planned from the leaf's own
# configuration; the leaf must be certified (exit 0). $out holds junit.xml, evidence.json,
# report.tap, config-junit.xml, option-paths.json and the planned inventory.yaml.
{ pkgs, self }:
let
  common = import ./common.nix { inherit pkgs self; };
in
pkgs.testers.runNixOSTest {
  name = "leafcert-leaf-node";
  inherit (common) nodes;
  testScript = common.prelude + ''
    with subtest("leafcert certifies the example leaf node"):
        status, output, evidence = certify()
        failed = [f"{r['id']} {r['subject']}: {r['message']}" for r in evidence["results"] if r["status"] in ("fail", "error")]
        assert status == 0, f"leafcert exited {status}:\n" + "\n".join(failed) + "\n" + output
        assert any(r["suite"] == "firewall" and r["status"] == "pass" for r in evidence["results"])
  '';
}
