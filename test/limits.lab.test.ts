// Limits against a full lab node over real SSH (cgroup v1, no systemd): healthy → enforced limits
// pass and declared limits are skipped with the reason; each limits fault → its checks fail; heal →
// pass. Also records the suite's round trips.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import YAML from 'yaml';
import { startLab, type TestLab } from './helpers/lab.js';
import { allFaults } from '../src/lab/faults/index.js';
import { loadInventory } from '../src/inventory/load.js';
import { openHost } from '../src/transport/index.js';
import { limitsSuite } from '../suites/limits.js';
import type { Result } from '../src/types.js';

const KEYS = ['containers', 'limits', 'postgres', 'secrets'];
let lab: TestLab;
let inv: string;

/** The lab's inventory reduced to these suite keys (other areas are other tests' business). */
function inventory(name: string, mutate: (exp: Record<string, any>) => void = () => undefined): string {
  const doc = YAML.parse(readFileSync(lab.inventory, 'utf8'));
  for (const exp of Object.values<Record<string, unknown>>(doc.expectations)) {
    for (const k of Object.keys(exp)) if (!KEYS.includes(k)) delete exp[k];
    mutate(exp);
  }
  const file = join(dirname(lab.inventory), `inventory-${name}.yaml`);
  writeFileSync(file, YAML.stringify(doc));
  return file;
}

async function run(file: string): Promise<{ code: number | null; results: Result[]; stdout: string }> {
  const out = join(dirname(file), `${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
  const r = await lab.leafcert(['run', '--inventory', file, '--json', out]);
  if (!existsSync(out)) throw new Error(`leafcert wrote no JSON report (exit ${r.code}): ${(r.stderr || r.stdout).slice(0, 600)}`);
  const json = JSON.parse(readFileSync(out, 'utf8'));
  return { code: r.code, results: json.results as Result[], stdout: r.stdout + r.stderr };
}

const mine = (rs: Result[]) => rs.filter((r) => r.suite === 'limits');
const notOk = (rs: Result[]) => rs.filter((r) => r.status !== 'pass' && r.status !== 'skipped').map((r) => `${r.id} ${r.subject}: ${r.status} ${r.message}`);

beforeAll(async () => {
  lab = await startLab({ name: 'limits', flavour: 'full' });
  inv = inventory('inside');
});
afterAll(async () => {
  await lab?.down();
});

describe('limits on a full lab node', () => {
  it('healthy: every limits check passes (or is skipped with its reason)', async () => {
    const { code, results } = await run(inv);
    const own = mine(results);
    expect(own.length).toBeGreaterThan(0);
    expect(notOk(own)).toEqual([]);
    expect(code).toBe(0);
    for (const r of own.filter((x) => x.status === 'skipped')) expect(r.message).toMatch(/\w/);
  });

  for (const fault of allFaults.filter((f) => f.area === 'limits')) {
    it(`${fault.name}: ${fault.catches.join(', ')} fail, pass after heal`, async () => {
      await lab.fault('leaf-1', fault.name);
      try {
        const { code, results } = await run(inv);
        expect(code).toBe(1);
        for (const id of fault.catches) expect(results.filter((r) => r.id === id && r.status === 'fail').length, `${id} fails`).toBeGreaterThan(0);
      } finally {
        await lab.heal('leaf-1', fault.name);
      }
      const after = await run(inv);
      expect(notOk(after.results)).toEqual([]);
    });
  }

  it('round trips: 2 exec(s) for the whole suite', async () => {
    const loaded = loadInventory(inv);
    const node = loaded.nodes[0];
    const host = await openHost(node, { baseDir: loaded.baseDir });
    try {
      const expectation = loaded.expectations[node.expect].limits as any;
      const before = host.roundTrips;
      const t0 = Date.now();
      await limitsSuite.gather({ host, node, identity: {}, options: { allowMutating: false, timeoutMs: 30_000, baseDir: loaded.baseDir }, progress() {} }, expectation);
      const ms = Date.now() - t0;
      expect(host.roundTrips - before).toBe(2);
      console.log(`limits gather: ${host.roundTrips - before} round trips, ${ms} ms`);
    } finally {
      await host.close();
    }
  });

  it('without systemd the declared side is skipped with the reason, the enforced side is read from cgroup v1', async () => {
    const { results } = await run(inv);
    const declared = results.filter((r) => r.id === 'limits.declared');
    expect(declared.length).toBe(5);
    for (const r of declared) expect(r).toMatchObject({ status: 'skipped', message: expect.stringMatching(/not systemd/) });
    const enforced = results.filter((r) => r.id === 'limits.enforced');
    for (const r of enforced) expect(r).toMatchObject({ status: 'pass', message: expect.stringMatching(/^cgroup v1: MemoryMax=/) });
  });
});
