// Publishing a generated file: write it, or with `--check` exit 1 when the published copy is stale
// (CI runs the check so a file nobody regenerated cannot ship).
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../..', import.meta.url));

/** `rel` is the file's path from the repo root, `script` the generator to name, `detail` what a write says after the path. */
export function writeOrCheck(rel, text, script, detail = '') {
  const out = `${root}${rel}`;
  if (process.argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(out, 'utf8');
    } catch {}
    if (current !== text) {
      process.stderr.write(`${rel} is stale: run \`npm run build && node ${script}\`\n`);
      process.exit(1);
    }
    process.stdout.write(`${rel} is up to date\n`);
  } else {
    writeFileSync(out, text);
    process.stdout.write(`wrote ${rel}${detail}\n`);
  }
}
