# leafcert as a Nix package. Dependencies come from package-lock.json through importNpmLock: each
# tarball is fetched by the lockfile's own integrity hash, so there is no npmDepsHash to keep in
# step with the lockfile (buildNpmPackage's default fetcher would need one, and it can only be
# computed with network access).
{
  lib,
  buildNpmPackage,
  importNpmLock,
  nodejs,
  makeWrapper,
}:
let
  root = ../.;
  package = lib.importJSON (root + "/package.json");
  lock = lib.importJSON (root + "/package-lock.json");

  # This lockfile records no `resolved` URLs (npm's omit-lockfile-registry-resolved), and
  # importNpmLock fetches only entries that have one: derive the registry URL from name and
  # version, as npm does (scoped: @scope/name/-/name-1.0.0.tgz).
  tarballUrl =
    path: pkg:
    let
      name = lib.last (lib.splitString "node_modules/" path);
      base = lib.last (lib.splitString "/" name);
    in
    "https://registry.npmjs.org/${name}/-/${base}-${pkg.version}.tgz";
  packageLock = lock // {
    packages = lib.mapAttrs (
      path: pkg:
      if path == "" || pkg ? resolved || pkg ? link || !(pkg ? version) then
        pkg
      else
        pkg // { resolved = tarballUrl path pkg; }
    ) lock.packages;
  };
in
buildNpmPackage {
  pname = "leafcert";
  inherit (package) version;

  src = lib.fileset.toSource {
    inherit root;
    fileset = lib.fileset.unions [
      (root + "/package.json")
      (root + "/package-lock.json")
      (root + "/tsconfig.json")
      (root + "/bin")
      (root + "/scripts")
      (root + "/src")
      (root + "/suites")
      (root + "/schemas")
    ];
  };

  inherit nodejs;
  npmDeps = importNpmLock {
    npmRoot = root;
    inherit package packageLock;
  };
  npmConfigHook = importNpmLock.npmConfigHook;
  # ssh2's native crypto binding and cpu-features are optional: the pure-JS paths are used
  # without them, and building them would need node-gyp in the sandbox.
  npmRebuildFlags = [ "--ignore-scripts" ];
  # `npm run build` = tsc → dist/, then scripts/gen-validators.js and scripts/bundle.js (the
  # default npmBuildScript): scripts/ must be in the source.

  nativeBuildInputs = [ makeWrapper ];

  # npm pack would follow .gitignore and leave out dist/: install the runtime tree explicitly.
  installPhase = ''
    runHook preInstall
    npm prune --omit=dev --no-save --offline
    dest=$out/lib/node_modules/leafcert
    mkdir -p $dest $out/bin
    # src/: the probes' shell (src/probes/*.sh) and the lab's (src/lab/sh) are read at run time.
    cp -r package.json bin dist schemas src node_modules $dest/
    makeWrapper ${lib.getExe nodejs} $out/bin/leafcert --add-flags $dest/bin/leafcert.js
    runHook postInstall
  '';

  doCheck = false; # the tests need the lab (network namespaces, root): run them with `npm test`

  meta = {
    description = package.description;
    license = lib.licenses.mit;
    mainProgram = "leafcert";
    platforms = lib.platforms.linux;
  };
}
