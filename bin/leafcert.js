#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm run build` (run by `npm ci` via prepare).
// It loads dist/leafcert.js, the CLI in one file (scripts/bundle.js: about half the start-up CPU
// of ~180 separate modules), or dist/src/cli.js, the same code, when the bundle is missing or
// older than dist/src (a `tsc` without the rest of the build must not run yesterday's CLI).
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
const cli = fileURLToPath(new URL('../dist/src/cli.js', import.meta.url));
const bundle = fileURLToPath(new URL('../dist/leafcert.js', import.meta.url));
const interrupt = new URL('../dist/src/engine/interrupt.js', import.meta.url);
const mtime = (f) => statSync(f, { throwIfNoEntry: false })?.mtimeMs ?? -1;
const built = mtime(cli);
if (built < 0) {
  process.stderr.write('leafcert: not built yet; run `npm run build` (or `npm ci`) first\n');
  process.exit(2);
}
const entry = mtime(bundle) >= built ? bundle : cli;
try {
  // SIGINT/SIGTERM handlers before the CLI's modules load (that takes a second or more): a
  // signal at start-up must give exit 3 and a line, not Node's silent exit 130. The bundle
  // imports this same module (kept out of it), so the CLI sees what these handlers recorded.
  (await import(interrupt.href)).installSignalHandlers();
  await import(entry);
} catch (err) {
  // Only a broken or half-written build gets here (the CLI catches its own errors).
  process.stderr.write(`leafcert: cannot load ${entry}: ${err instanceof Error ? err.message : String(err)}; rebuild with \`npm run build\`\n`);
  process.exit(2);
}
