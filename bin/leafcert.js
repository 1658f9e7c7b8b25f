#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm run build` (run by `npm ci` via prepare).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
const cli = fileURLToPath(new URL('../dist/src/cli.js', import.meta.url));
const interrupt = new URL('../dist/src/engine/interrupt.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('leafcert: not built yet; run `npm run build` (or `npm ci`) first\n');
  process.exit(2);
}
try {
  // SIGINT/SIGTERM handlers before the CLI's modules load (that takes a second or more): a
  // signal at start-up must give exit 3 and a line, not Node's silent exit 130.
  (await import(interrupt.href)).installSignalHandlers();
  await import(cli);
} catch (err) {
  // Only a broken or half-written build gets here (the CLI catches its own errors).
  process.stderr.write(`leafcert: cannot load ${cli}: ${err instanceof Error ? err.message : String(err)}; rebuild with \`npm run build\`\n`);
  process.exit(2);
}
