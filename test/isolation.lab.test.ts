// Isolation against a full lab node over real SSH: healthy → every isolation check passes; each
// isolation fault → the checks it names fail; heal → pass again. Bad input: a container the
// expectation names that does not exist. Also records the suite's round trips.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import YAML from 'yaml';
import { startLab, type TestLab } from './helpers/lab.js';
import { allFaults } from '../src/lab/faults/index.js';
import { loadInventory } from '../src/inventory/load.js';
import { openHost } from '../src/transport/index.js';
import { isolationSuite } from '../suites/isolation.js';
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

const mine = (rs: Result[]) => rs.filter((r) => r.suite === 'isolation');
const notOk = (rs: Result[]) => rs.filter((r) => r.status !== 'pass' && r.status !== 'skipped').map((r) => `${r.id} ${r.subject}: ${r.status} ${r.message}`);

beforeAll(async () => {
  lab = await startLab({ name: 'isolation', flavour: 'full' });
  inv = inventory('inside');
});
afterAll(async () => {
  await lab?.down();
});

describe('isolation on a full lab node', () => {
  it('healthy: every isolation check passes', async () => {
    const { code, results } = await run(inv);
    const iso = mine(results);
    expect(notOk(iso)).toEqual([]);
    expect(code).toBe(0);
    const ids = new Set(iso.map((r) => r.id));
    for (const id of ['isolation.container-present', 'isolation.namespaces', 'isolation.user-namespace', 'isolation.capabilities', 'isolation.no-new-privs', 'isolation.reachability']) expect(ids).toContain(id);
    expect(iso.filter((r) => r.id === 'isolation.namespaces')).toHaveLength(5);
  });

  for (const fault of allFaults.filter((f) => f.area === 'isolation')) {
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

  it('a container named in the expectation that does not exist: fail with a plain reason', async () => {
    const file = inventory('ghost', (exp) => {
      exp.containers.ghost = { privateNetwork: true };
      exp.limits = { containers: { ghost: { memoryMax: '1G' } } };
      delete exp.postgres;
      delete exp.secrets;
    });
    const { code, results, stdout } = await run(file);
    expect(code).toBe(1);
    const ghost = results.filter((r) => r.subject === 'container ghost');
    expect(ghost.map((r) => `${r.id}:${r.status}`).sort()).toEqual(['isolation.container-present:fail', 'limits.declared:skipped', 'limits.enforced:fail']);
    for (const r of ghost.filter((x) => x.status === 'fail')) expect(r.message).toMatch(/"ghost" does not exist on the node .*found: alchemist/);
    expect(stdout).not.toMatch(/at .*\.js:\d+/);
  });

  it('inner firewall (the lab has none: this test installs NixOS\'s in alchemist-graph): declared ports pass, an extra one fails', async () => {
    const inGraph = (cmd: string) => `L=$(sed -n 's/.*"alchemist-graph":{"leader":\\([0-9]*\\)}.*/\\1/p' /run/leafcert-lab/containers.json); nsenter --net=/proc/$L/ns/net ${cmd}`;
    const file = inventory('innerfw', (exp) => {
      exp.containers['alchemist-graph'].innerFirewall = true;
      for (const k of ['limits', 'postgres', 'secrets']) delete exp[k];
    });
    const fw = (r: Result[]) => r.find((x) => x.id === 'isolation.inner-firewall' && x.subject === 'container alchemist-graph')!;
    try {
      // without any inner firewall: declared but absent → fail
      expect(fw((await run(file)).results)).toMatchObject({ status: 'fail', message: expect.stringMatching(/no NixOS firewall/) });
      let r = await lab.exec('leaf-1', inGraph(`env FW_TCP_PORTS="6333" bash /etc/leafcert-lab/firewall-start.sh`));
      expect(r.code, r.stderr).toBe(0);
      const ok = await run(file);
      expect(fw(ok.results)).toMatchObject({ status: 'pass', message: 'allows exactly 6333' });
      expect(notOk(mine(ok.results))).toEqual([]);
      r = await lab.exec('leaf-1', inGraph(`env FW_TCP_PORTS="6333 5432" bash /etc/leafcert-lab/firewall-start.sh`));
      expect(r.code, r.stderr).toBe(0);
      expect(fw((await run(file)).results)).toMatchObject({ status: 'fail', message: 'also allows 5432' });
    } finally {
      await lab.exec('leaf-1', inGraph(`sh -c 'for t in iptables ip6tables; do $t -w -D INPUT -j nixos-fw; for c in nixos-fw nixos-fw-accept nixos-fw-log-refuse nixos-fw-refuse; do $t -w -F $c; $t -w -X $c; done; done 2>/dev/null; true'`));
    }
    expect(notOk((await run(inv)).results)).toEqual([]);
  });

  it('round trips: locator + facts + connect batch = 3 execs for all containers', async () => {
    const loaded = loadInventory(inv);
    const node = loaded.nodes[0];
    const host = await openHost(node, { baseDir: loaded.baseDir });
    try {
      const expectation = loaded.expectations[node.expect].containers as any;
      const before = host.roundTrips;
      const t0 = Date.now();
      const facts = await isolationSuite.gather({ host, node, identity: {}, options: { allowMutating: false, timeoutMs: 30_000, baseDir: loaded.baseDir }, progress() {} }, expectation);
      const ms = Date.now() - t0;
      expect(host.roundTrips - before).toBe(3);
      expect(facts.containers.every((c) => !c.problem)).toBe(true);
      console.log(`isolation gather: ${host.roundTrips - before} round trips, ${ms} ms for ${facts.containers.length} containers`);
    } finally {
      await host.close();
    }
  });
});
