#!/usr/bin/env node
// Regenerates schemas/inventory.schema.json from the base inventory schema and every registered
// suite's expectation schema (run after adding or changing a suite: `npm run build` first).
// `--check` exits 1 when the published file is stale instead of writing it.
import { root, writeOrCheck } from './lib/generated.js';

const { composeSchema } = await import(`${root}dist/src/inventory/schema.js`);
const { suites } = await import(`${root}dist/src/suites.js`);
const text = JSON.stringify(composeSchema(suites), null, 2) + '\n';
writeOrCheck('schemas/inventory.schema.json', text, 'scripts/gen-schemas.js', ` (${suites.length} suites: ${suites.map((s) => s.key).join(', ') || 'none'})`);
