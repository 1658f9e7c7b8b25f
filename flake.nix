{
  description = "leafcert: certify NixOS Alchemist leaf nodes against the production checklist, with evidence";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.11";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});

      # A bootable host around the example module, so `nix eval` (docs/nix.md) has a whole
      # NixOS configuration to read the manifest from.
      exampleHost =
        { ... }:
        {
          fileSystems."/" = {
            device = "/dev/disk/by-label/nixos";
            fsType = "ext4";
          };
          boot.loader.grub.device = "nodev";
        };

      # lib.manifest as a file: string context dropped, so writing it never builds the store
      # paths a configuration mentions (hba_file, unit scripts …).
      manifestFile =
        pkgs: name: config:
        pkgs.writeText "${name}-manifest.json" (
          builtins.unsafeDiscardStringContext (builtins.toJSON (self.lib.manifest config))
        );
    in
    {
      # config → manifest (JSON-able attrset, version 1); see docs/nix.md.
      lib.manifest = import ./nix/lib/manifest.nix;

      nixosModules.leaf-node-example = import ./nix/modules/leaf-node-example.nix;

      nixosConfigurations.leaf-example = lib.nixosSystem {
        system = "x86_64-linux";
        modules = [
          self.nixosModules.leaf-node-example
          exampleHost
        ];
      };

      packages = forAllSystems (pkgs: {
        leafcert = pkgs.callPackage ./nix/package.nix { };
        default = self.packages.${pkgs.stdenv.hostPlatform.system}.leafcert;
        # The example configuration's manifest, evaluated by real nixpkgs.
        example-manifest = manifestFile pkgs "leaf-example" self.nixosConfigurations.leaf-example.config;
      });

      apps = forAllSystems (pkgs: {
        leafcert = {
          type = "app";
          program = lib.getExe self.packages.${pkgs.stdenv.hostPlatform.system}.leafcert;
          meta.description = "leafcert command line";
        };
        default = self.apps.${pkgs.stdenv.hostPlatform.system}.leafcert;
      });

      checks = forAllSystems (
        pkgs:
        let
          system = pkgs.stdenv.hostPlatform.system;
          leafcert = self.packages.${system}.leafcert;
        in
        {
          # The example passes leafcert's own static policy checks (no VM needed).
          config-example = pkgs.runCommand "leafcert-check-config-example" { nativeBuildInputs = [ leafcert ]; } ''
            mkdir -p $out
            cp ${self.packages.${system}.example-manifest} $out/manifest.json
            leafcert check-config $out/manifest.json --junit $out/junit.xml --json $out/evidence.json
          '';
          # A tester VM runs leafcert over SSH against a leaf VM running the example.
          vm-leaf = import ./vm-tests/leafcert.nix { inherit pkgs self; };
          # The same, with an extra open port planted on the leaf: leafcert must exit 1 and name it.
          vm-fault = import ./vm-tests/fault.nix { inherit pkgs self; };
        }
      );
    };
}
