# Shared by the VM tests: a `leaf` machine running the example leaf node (its containers up) and a
# `tester` machine with leafcert, the snakeoil SSH key, and the leaf's manifest (lib.manifest of
# the leaf's evaluated configuration, so the expectations come from the configuration under test).
{ pkgs, self }:
let
  inherit (pkgs) lib;
  system = pkgs.stdenv.hostPlatform.system;
  leafcert = self.packages.${system}.leafcert;
  keys = import (pkgs.path + "/nixos/tests/ssh-keys.nix") pkgs;
  containers = [ "alchemist" "graph" "workflow" "agent" "monitoring" ];
in
{
  inherit containers;

  nodes = {
    leaf =
      { ... }:
      {
        imports = [ self.nixosModules.leaf-node-example ];
        # network.nix sets hostName = mkDefault "leaf"; the module's is mkDefault too: pin it.
        # The other machines reach the leaf by this name (/etc/hosts).
        networking.hostName = "alchemist-leaf-node";
        users.users.root.openssh.authorizedKeys.keys = [ keys.snakeOilPublicKey ];
        # The example backs up off the node (config.backup-offsite): to the `backup` machine's
        # repository, as nixos/tests/borgbackup.nix reaches its server.
        alchemist.leafExample.backupRepo = "borg@backup:.";
        services.borgbackup.jobs.alchemist.environment.BORG_RSH =
          "ssh -o StrictHostKeyChecking=no -i /etc/alchemist-backup/id_snakeoil";
        environment.etc."alchemist-backup/id_snakeoil" = { source = keys.snakeOilPrivateKey; mode = "0600"; };
        virtualisation = {
          memorySize = 6144;
          cores = 2;
          diskSize = 8192;
        };
        # The example's container limits (17 GiB together) scaled to this 6 GiB VM, so the limits
        # suite's memory budget holds; the expectations follow, since they come from this config.
        systemd.services = lib.mapAttrs' (n: v: lib.nameValuePair "container@${n}" { serviceConfig = v; }) {
          alchemist = { MemoryMax = lib.mkForce "2G"; MemoryHigh = lib.mkForce "1843M"; };
          graph = { MemoryMax = lib.mkForce "512M"; MemoryHigh = lib.mkForce "460M"; };
          workflow = { MemoryMax = lib.mkForce "512M"; MemoryHigh = lib.mkForce "460M"; };
          agent = { MemoryMax = lib.mkForce "1G"; MemoryHigh = lib.mkForce "921M"; };
          monitoring = { MemoryMax = lib.mkForce "1G"; MemoryHigh = lib.mkForce "921M"; };
        };
      };

    backup =
      { ... }:
      {
        services.openssh.enable = true;
        services.borgbackup.repos.alchemist-leaf-node = {
          path = "/var/lib/borgbackup/alchemist-leaf-node";
          authorizedKeys = [ keys.snakeOilPublicKey ];
        };
        virtualisation.memorySize = 512;
      };

    tester =
      { nodes, ... }:
      {
        environment.systemPackages = [ leafcert pkgs.jq ];
        environment.etc."leafcert/manifest.json".text =
          builtins.unsafeDiscardStringContext (builtins.toJSON (self.lib.manifest nodes.leaf));
        virtualisation.memorySize = 1024;
      };
  };

  # Python run before each test's own steps: boot, wait for the containers and their services,
  # take one backup, hand the tester the key, the leaf's host key and its TLS certificate, plan.
  prelude = ''
    import json

    start_all()
    leaf.wait_for_unit("multi-user.target")
    for name in ${builtins.toJSON containers}:
        leaf.wait_for_unit(f"container@{name}.service")
    leaf.wait_until_succeeds("nixos-container run alchemist -- systemctl is-active postgresql.service alchemist.service redis-alchemist.service", timeout=300)
    leaf.wait_until_succeeds("nixos-container run monitoring -- systemctl is-active grafana.service prometheus.service", timeout=300)
    backup.wait_for_unit("sshd.service")
    leaf.wait_for_unit("nginx.service")
    leaf.wait_for_open_port(443)

    with subtest("a first backup exists (dump inside the container, borg on the host)"):
        leaf.succeed("nixos-container run alchemist -- systemctl start postgresqlBackup-alchemist.service")
        # not a oneshot unit: --wait blocks until borg is done and fails if it failed
        leaf.succeed("systemctl start --wait borgbackup-job-alchemist.service")

    tester.wait_for_unit("multi-user.target")
    tester.wait_for_open_port(22, "alchemist-leaf-node")
    tester.succeed("install -D -m 600 ${keys.snakeOilPrivateKey} /root/.ssh/id_snakeoil")
    host_key = leaf.succeed("cat /etc/ssh/ssh_host_ed25519_key.pub").split()
    tester.succeed(f"echo 'alchemist-leaf-node {host_key[0]} {host_key[1]}' > /root/known_hosts")
    ca = leaf.succeed("cat /var/lib/alchemist-tls/fullchain.pem")
    tester.succeed(f"cat > /root/ca.pem <<'EOF'\n{ca}EOF")

    with subtest("the example configuration passes the static config checks"):
        tester.succeed("mkdir -p /tmp/out && leafcert check-config /etc/leafcert/manifest.json --junit /tmp/out/config-junit.xml")

    tester.succeed(
        "leafcert plan --from-nix /etc/leafcert/manifest.json --node leaf=alchemist-leaf-node"
        " --identity-file /root/.ssh/id_snakeoil --known-hosts /root/known_hosts --ca /root/ca.pem"
        " --out /root/inventory.yaml --option-paths /tmp/out/option-paths.json"
    )
    tester.copy_from_vm("/root/inventory.yaml", "")

    def certify():
        """Runs leafcert against the leaf; the reports land in $out whatever the verdict."""
        status, output = tester.execute(
            "leafcert run --inventory /root/inventory.yaml"
            " --junit /tmp/out/junit.xml --json /tmp/out/evidence.json --tap /tmp/out/report.tap 2>&1"
        )
        for f in ["junit.xml", "evidence.json", "report.tap", "config-junit.xml", "option-paths.json"]:
            tester.copy_from_vm(f"/tmp/out/{f}", "")
        evidence = json.loads(tester.succeed("cat /tmp/out/evidence.json"))
        return status, output, evidence
  '';
}
