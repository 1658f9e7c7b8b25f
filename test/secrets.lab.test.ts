// Secrets against a full lab node over real SSH: healthy → every check passes; each secrets fault →
// its check fails; heal → pass. Bad input: a missing and an unreadable secrets file. And the point of
// the suite's design: no report the run writes contains a secret value of the lab.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import YAML from 'yaml';
import { startLab, type TestLab } from './helpers/lab.js';
import { allFaults } from '../src/lab/faults/index.js';
import { loadInventory } from '../src/inventory/load.js';
import { openHost } from '../src/transport/index.js';
import { secretsSuite } from '../suites/secrets.js';
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

const mine = (rs: Result[]) => rs.filter((r) => r.suite === 'secrets');
const notOk = (rs: Result[]) => rs.filter((r) => r.status !== 'pass' && r.status !== 'skipped').map((r) => `${r.id} ${r.subject}: ${r.status} ${r.message}`);

beforeAll(async () => {
  lab = await startLab({ name: 'secrets', flavour: 'full' });
  inv = inventory('inside');
});
afterAll(async () => {
  await lab?.down();
});

describe('secrets on a full lab node', () => {
  it('healthy: every secrets check passes (or is skipped with its reason)', async () => {
    const { code, results } = await run(inv);
    const own = mine(results);
    expect(own.length).toBeGreaterThan(0);
    expect(notOk(own)).toEqual([]);
    expect(code).toBe(0);
    for (const r of own.filter((x) => x.status === 'skipped')) expect(r.message).toMatch(/\w/);
  });

  for (const fault of allFaults.filter((f) => f.area === 'secrets')) {
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

  it('round trips: 1 exec for the whole suite', async () => {
    const loaded = loadInventory(inv);
    const node = loaded.nodes[0];
    const host = await openHost(node, { baseDir: loaded.baseDir });
    try {
      const expectation = loaded.expectations[node.expect].secrets as any;
      const before = host.roundTrips;
      const t0 = Date.now();
      await secretsSuite.gather({ host, node, identity: {}, options: { allowMutating: false, timeoutMs: 30_000, baseDir: loaded.baseDir }, progress() {} }, expectation);
      const ms = Date.now() - t0;
      expect(host.roundTrips - before).toBe(1);
      console.log(`secrets gather: ${host.roundTrips - before} round trips, ${ms} ms`);
    } finally {
      await host.close();
    }
  });

  it('a missing and an unreadable secrets file: fail / error with a plain reason', async () => {
    const file = inventory('secrets-bad', (exp) => {
      exp.secrets.files = [{ path: '/etc/alchemist/absent.env' }, { path: '/etc/alchemist' }];
      for (const k of ['containers', 'limits', 'postgres']) delete exp[k];
    });
    const { results, stdout } = await run(file);
    const get = (id: string, subject: string) => results.find((r) => r.id === id && r.subject === subject)!;
    expect(get('secrets.file-permissions', '/etc/alchemist/absent.env')).toMatchObject({ status: 'fail', message: '/etc/alchemist/absent.env does not exist' });
    expect(get('secrets.placeholder', '/etc/alchemist/absent.env').status).toBe('fail');
    expect(get('secrets.file-permissions', '/etc/alchemist')).toMatchObject({ status: 'fail', message: expect.stringMatching(/is a directory/) });
    expect(get('secrets.placeholder', '/etc/alchemist')).toMatchObject({ status: 'error', message: expect.stringMatching(/cannot read \/etc\/alchemist: .*Is a directory/) });
    expect(stdout).not.toMatch(/at .*\.js:\d+/);
  });

  it('no report the run writes (JUnit, TAP, JSON, console) contains a secret value of the lab', async () => {
    const env = await lab.exec('leaf-1', 'cat /etc/alchemist/secrets.env');
    const values = env.stdout.split('\n').map((l) => l.replace(/^[A-Z_]+=/, '').trim()).filter((v) => v.length >= 8);
    expect(values.length).toBe(5);
    const caKey = readFileSync(join(dirname(lab.inventory), 'ca.key'), 'utf8').split('\n').filter((l) => l && !l.startsWith('-----'));
    // Findings that talk about the values: a leaked copy, a plain htpasswd, the CA key on the node.
    for (const f of ['secrets-leaked-file', 'secrets-htpasswd-plain', 'secrets-ca-key']) await lab.fault('leaf-1', f);
    try {
      const dir = dirname(inv);
      const reports = { junit: join(dir, 'grep.junit.xml'), tap: join(dir, 'grep.tap'), json: join(dir, 'grep.json') };
      const r = await lab.leafcert(['run', '--inventory', inv, '--junit', reports.junit, '--tap', reports.tap, '--json', reports.json]);
      if (r.code !== 1) console.log(r.stdout, r.stderr);
      expect(r.code).toBe(1);
      const texts = { ...Object.fromEntries(Object.entries(reports).map(([k, p]) => [k, readFileSync(p, 'utf8')])), console: r.stdout + r.stderr };
      const json = JSON.parse(texts.json);
      expect(json.results.find((x: Result) => x.id === 'secrets.exposure').status).toBe('fail');
      expect(json.results.find((x: Result) => x.id === 'secrets.ca-key').status).toBe('fail');
      for (const [name, text] of Object.entries(texts)) {
        expect(text.length, name).toBeGreaterThan(0);
        for (const v of values) expect(text.includes(v), `${name} contains a secret value`).toBe(false);
        for (const line of caKey) expect(text.includes(line), `${name} contains CA key material`).toBe(false);
      }
      // What the reports do carry instead: the fingerprint of the leaked value.
      expect(texts.json).toMatch(/JWT_SECRET \(sha256:[0-9a-f]{8} \(48 chars\)\)/);
    } finally {
      await lab.heal('leaf-1');
    }
  });
});
