#!/usr/bin/env node
// Regenerates docs/checklist.md from src/checklist.ts (`npm run build` first). `--check` exits 1
// when the published file is stale instead of writing it (test/checklist.test.ts does the same).
import { root, writeOrCheck } from './lib/generated.js';

const { renderChecklistMarkdown } = await import(`${root}dist/src/checklist.js`);
writeOrCheck('docs/checklist.md', renderChecklistMarkdown(), 'scripts/gen-checklist.js');
