// PostgreSQL against a full lab node over real SSH (psql inside the alchemist container, peer auth):
// healthy → every check passes; each postgres fault → its check fails; heal → pass. Bad input: a
// server that refuses, a container that does not exist. Also records the suite's round trips.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import YAML from 'yaml';
import { startLab, type TestLab } from './helpers/lab.js';
import { allFaults } from '../src/lab/faults/index.js';
import { loadInventory } from '../src/inventory/load.js';
import { openHost } from '../src/transport/index.js';
import { postgresSuite } from '../suites/postgres.js';
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

const mine = (rs: Result[]) => rs.filter((r) => r.suite === 'postgres');
const notOk = (rs: Result[]) => rs.filter((r) => r.status !== 'pass' && r.status !== 'skipped').map((r) => `${r.id} ${r.subject}: ${r.status} ${r.message}`);

beforeAll(async () => {
  lab = await startLab({ name: 'postgres', flavour: 'full' });
  inv = inventory('inside');
});
afterAll(async () => {
  await lab?.down();
});

describe('postgres on a full lab node', () => {
  it('healthy: every postgres check passes (or is skipped with its reason)', async () => {
    const { code, results } = await run(inv);
    const own = mine(results);
    expect(own.length).toBeGreaterThan(0);
    expect(notOk(own)).toEqual([]);
    expect(code).toBe(0);
    for (const r of own.filter((x) => x.status === 'skipped')) expect(r.message).toMatch(/\w/);
  });

  for (const fault of allFaults.filter((f) => f.area === 'postgres')) {
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
      const expectation = loaded.expectations[node.expect].postgres as any;
      const before = host.roundTrips;
      const t0 = Date.now();
      await postgresSuite.gather({ host, node, identity: {}, options: { allowMutating: false, timeoutMs: 30_000, baseDir: loaded.baseDir }, progress() {} }, expectation);
      const ms = Date.now() - t0;
      expect(host.roundTrips - before).toBe(2);
      console.log(`postgres gather: ${host.roundTrips - before} round trips, ${ms} ms`);
    } finally {
      await host.close();
    }
  });

  it('a PostgreSQL that refuses the connection: every postgres check is an error with the reason', async () => {
    const stop = await lab.exec('leaf-1', `nixos-container run alchemist -- setpriv --reuid postgres --regid postgres --init-groups -- sh -c 'cd / && /usr/lib/postgresql/15/bin/pg_ctl -D /var/lib/postgresql/15/main -m fast -w stop'`);
    expect(stop.code, stop.stderr).toBe(0);
    try {
      const { code, results, stdout } = await run(inv);
      const pg = mine(results);
      expect(pg.length).toBeGreaterThan(5);
      for (const r of pg) expect(r).toMatchObject({ status: 'error', message: expect.stringMatching(/^PostgreSQL refuses the connection/) });
      expect(code).toBe(3);
      expect(stdout).not.toMatch(/at .*\.js:\d+/);
    } finally {
      const start = await lab.exec('leaf-1', `nixos-container run alchemist -- setpriv --reuid postgres --regid postgres --init-groups -- sh -c 'cd / && /usr/lib/postgresql/15/bin/pg_ctl -D /var/lib/postgresql/15/main -l /run/postgresql/postgresql.log -w -t 60 start >/dev/null'`);
      expect(start.code, start.stderr).toBe(0);
    }
    expect(notOk(mine((await run(inv)).results))).toEqual([]);
  });

  it('a database container that does not exist: postgres checks fail naming it', async () => {
    const file = inventory('pg-ghost', (exp) => {
      exp.postgres.container = 'ghost';
      for (const k of ['containers', 'limits', 'secrets']) delete exp[k];
    });
    const { results } = await run(file);
    for (const r of mine(results)) expect(r).toMatchObject({ status: 'fail', message: expect.stringMatching(/"ghost" does not exist/) });
  });
});
