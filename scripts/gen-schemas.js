#!/usr/bin/env node
// Regenerates schemas/inventory.schema.json from the base inventory schema and every registered
// suite's expectation schema (run after adding or changing a suite: `npm run build` first).
// `--check` exits 1 when the published file is stale instead of writing it.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const { composeSchema } = await import(`${root}dist/src/inventory/schema.js`);
const { suites } = await import(`${root}dist/src/suites.js`);
const out = `${root}schemas/inventory.schema.json`;
const text = JSON.stringify(composeSchema(suites), null, 2) + '\n';

if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(out, 'utf8');
  } catch {}
  if (current !== text) {
    process.stderr.write('schemas/inventory.schema.json is stale: run `npm run build && node scripts/gen-schemas.js`\n');
    process.exit(1);
  }
  process.stdout.write('schemas/inventory.schema.json is up to date\n');
} else {
  writeFileSync(out, text);
  process.stdout.write(`wrote schemas/inventory.schema.json (${suites.length} suites: ${suites.map((s) => s.key).join(', ') || 'none'})\n`);
}
