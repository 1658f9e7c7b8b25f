#!/usr/bin/env node
// Regenerates docs/checklist.md from src/checklist.ts and the checks' definitions (`npm run build`
// first). Every suite is loaded first: each check names its checklist items where it is defined,
// and the map reads them from the registry. `--check` exits 1 when the published file is stale
// instead of writing it (test/checklist.test.ts does the same).
import { root, writeOrCheck } from './lib/generated.js';

await import(`${root}dist/src/suites.js`);
const { renderChecklistMarkdown } = await import(`${root}dist/src/checklist.js`);
writeOrCheck('docs/checklist.md', renderChecklistMarkdown(), 'scripts/gen-checklist.js');
