#!/usr/bin/env node
// Regenerates docs/checklist.md from src/checklist.ts (`npm run build` first). `--check` exits 1
// when the published file is stale instead of writing it (test/checklist.test.ts does the same).
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const { renderChecklistMarkdown } = await import(`${root}dist/src/checklist.js`);
const out = `${root}docs/checklist.md`;
const text = renderChecklistMarkdown();

if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(out, 'utf8');
  } catch {}
  if (current !== text) {
    process.stderr.write('docs/checklist.md is stale: run `npm run build && node scripts/gen-checklist.js`\n');
    process.exit(1);
  }
  process.stdout.write('docs/checklist.md is up to date\n');
} else {
  writeFileSync(out, text);
  process.stdout.write('wrote docs/checklist.md\n');
}
