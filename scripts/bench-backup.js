#!/usr/bin/env node
// Times the backup suite's gather on the first node of an inventory, read-only and with
// --allow-mutating, over one open connection (`npm run build` first; a lab: `leafcert lab up
// --flavour full`). Usage: node scripts/bench-backup.js <inventory.yaml> [runs=5]
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const { loadInventory } = await import(`${root}dist/src/inventory/load.js`);
const { openHost } = await import(`${root}dist/src/transport/index.js`);
const { backupSuite } = await import(`${root}dist/suites/backup.js`);

const [file, runsArg] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: node scripts/bench-backup.js <inventory.yaml> [runs]\n');
  process.exit(2);
}
const runs = Number(runsArg ?? 5);
const inv = loadInventory(file);
const node = inv.nodes.find((n) => inv.expectations[n.expect]?.backup);
if (!node) {
  process.stderr.write(`${file}: no node with a backup expectation\n`);
  process.exit(2);
}
const expect = inv.expectations[node.expect].backup;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const allowMutating of [false, true]) {
  const times = [];
  let rts = 0;
  for (let i = 0; i < runs; i++) {
    const host = await openHost(node, { baseDir: inv.baseDir });
    const rt0 = host.roundTrips;
    const t0 = Date.now();
    await backupSuite.gather({ node, host, identity: {}, options: { allowMutating, timeoutMs: 300_000, baseDir: inv.baseDir }, progress: () => {} }, expect);
    times.push(Date.now() - t0);
    rts = host.roundTrips - rt0;
    await host.close();
  }
  process.stdout.write(`${allowMutating ? 'mutating ' : 'read-only'} ${node.name}: median ${median(times)} ms (${Math.min(...times)}–${Math.max(...times)} ms over ${runs}), ${rts} round trips\n`);
}
