// The manifest nix/lib/manifest.nix writes: its types and option-path rule are on the ground floor
// (src/core/manifest.ts); loading and validating it is gathering (src/probes/manifest.ts). This
// module keeps the old import path for src/nix and the tests.
export * from '../core/manifest.js';
export { describeJsonFailure, loadManifest, parseManifest } from '../probes/manifest.js';
