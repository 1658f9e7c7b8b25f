// The shared skeleton of the suite-against-a-lab tests, so each test file only holds what is its own:
// - insideSuiteLab (isolation, limits, postgres, secrets): a full lab node, the whole CLI run with the
//   lab's inventory reduced to the inside keys; healthy → pass; each catalogue fault of the area → its
//   checks fail, heal → pass; the suite's round trips.
// - netSuiteLab (tls, health): one suite run in-process against a light lab node; healthy → pass
//   with evidence; each catalogue fault of the area → its checks fail, heal → pass.
// Both register their tests in the calling describe block; the returned object is filled in beforeAll.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startLab, type TestLab } from './lab.js';
import { faultsFor, notPassing, statusOf, suiteRunner, type SuiteRunner } from './net.js';
import { allFaults } from '../../src/lab/faults/index.js';
import { loadInventory } from '../../src/inventory/load.js';
import { openHost } from '../../src/transport/index.js';
import type { Outcome, Result, Suite } from '../../src/core/types.js';

const INSIDE_KEYS = ['containers', 'limits', 'postgres', 'secrets'];

export interface RunResult {
  code: number | null;
  results: Result[];
  stdout: string;
}

export interface InsideLab {
  lab: TestLab;
  /** The lab's inventory reduced to the inside keys (the other areas are other tests' business). */
  inv: string;
  /** Writes the reduced inventory, changed by `mutate`, as inventory-NAME.yaml next to the lab's. */
  inventory(name: string, mutate?: (exp: Record<string, any>) => void): string;
  /** `leafcert run --inventory FILE --json ...` with the parsed results. */
  run(file: string): Promise<RunResult>;
  /** This suite's results. */
  mine(rs: Result[]): Result[];
}

/** Not passing and not skipped, as readable lines (empty = fine). */
export const notOk = (rs: Result[]) => rs.filter((r) => r.status !== 'pass' && r.status !== 'skipped').map((r) => `${r.id} ${r.subject}: ${r.status} ${r.message}`);

export function insideSuiteLab(opts: {
  /** Suite name = lab name = fault area. */
  name: string;
  suite: Suite<any, any>;
  /** Round trips the suite's gather needs on the healthy node. */
  roundTrips: number;
  roundTripsTitle?: string;
  /** Further assertions on the healthy run (this suite's results). */
  healthy?: (own: Result[]) => void;
  /** Further assertions on the gathered facts of the round-trip run; may return a note for the log line. */
  facts?: (facts: any) => string | void;
  /** Further assertions for one fault, on the whole run's results with it applied (beyond "its checks fail"). */
  detail?: Record<string, (results: Result[]) => void>;
}): InsideLab {
  const ctx = {} as InsideLab;
  ctx.inventory = (name, mutate = () => undefined) => {
    const doc = YAML.parse(readFileSync(ctx.lab.inventory, 'utf8'));
    for (const exp of Object.values<Record<string, unknown>>(doc.expectations)) {
      for (const k of Object.keys(exp)) if (!INSIDE_KEYS.includes(k)) delete exp[k];
      mutate(exp);
    }
    const file = join(dirname(ctx.lab.inventory), `inventory-${name}.yaml`);
    writeFileSync(file, YAML.stringify(doc));
    return file;
  };
  ctx.run = async (file) => {
    const out = join(dirname(file), `${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
    const r = await ctx.lab.leafcert(['run', '--inventory', file, '--json', out]);
    if (!existsSync(out)) throw new Error(`leafcert wrote no JSON report (exit ${r.code}): ${(r.stderr || r.stdout).slice(0, 600)}`);
    const json = JSON.parse(readFileSync(out, 'utf8'));
    return { code: r.code, results: json.results as Result[], stdout: r.stdout + r.stderr };
  };
  ctx.mine = (rs) => rs.filter((r) => r.suite === opts.name);

  beforeAll(async () => {
    ctx.lab = await startLab({ name: opts.name, flavour: 'full' });
    ctx.inv = ctx.inventory('inside');
  });
  afterAll(async () => {
    await ctx.lab?.down();
  });

  it(`healthy: every ${opts.name} check passes (or is skipped with its reason)`, async () => {
    const { code, results } = await ctx.run(ctx.inv);
    const own = ctx.mine(results);
    expect(own.length).toBeGreaterThan(0);
    expect(notOk(own)).toEqual([]);
    expect(code).toBe(0);
    for (const r of own.filter((x) => x.status === 'skipped')) expect(r.message).toMatch(/\w/);
    opts.healthy?.(own);
  });

  // systemd faults have their own file (systemd.lab.test.ts): this lab's PID 1 is not systemd.
  const faults = allFaults.filter((f) => f.area === opts.name && f.needs !== 'systemd');
  it(`every detail names a lab ${opts.name} fault`, () => {
    // a detail for a fault the catalogue does not have would silently never run
    for (const name of Object.keys(opts.detail ?? {})) expect(faults.map((f) => f.name)).toContain(name);
  });

  for (const fault of faults) {
    it(`${fault.name}: ${fault.catches.join(', ')} fail, pass after heal`, async () => {
      await ctx.lab.fault('leaf-1', fault.name);
      try {
        const { code, results } = await ctx.run(ctx.inv);
        expect(code).toBe(1);
        for (const id of fault.catches) expect(results.filter((r) => r.id === id && r.status === 'fail').length, `${id} fails`).toBeGreaterThan(0);
        opts.detail?.[fault.name]?.(results);
      } finally {
        await ctx.lab.heal('leaf-1', fault.name);
      }
      const after = await ctx.run(ctx.inv);
      expect(notOk(after.results)).toEqual([]);
    });
  }

  it(opts.roundTripsTitle ?? `round trips: ${opts.roundTrips} exec(s) for the whole suite`, async () => {
    const loaded = loadInventory(ctx.inv);
    const node = loaded.nodes[0];
    const host = await openHost(node, { baseDir: loaded.baseDir });
    try {
      const expectation = loaded.expectations[node.expect][opts.suite.key] as any;
      const before = host.roundTrips;
      const t0 = Date.now();
      const facts = await opts.suite.gather({ host, node, identity: {}, options: { allowMutating: false, timeoutMs: 30_000, baseDir: loaded.baseDir }, progress() {} }, expectation);
      const ms = Date.now() - t0;
      expect(host.roundTrips - before).toBe(opts.roundTrips);
      const more = opts.facts?.(facts);
      console.log(`${opts.name} gather: ${host.roundTrips - before} round trips, ${ms} ms${more ? ` ${more}` : ''}`);
    } finally {
      await host.close();
    }
  });

  return ctx;
}

export interface NetLab {
  lab: TestLab;
  r: SuiteRunner;
  node: string;
}

export function netSuiteLab(opts: {
  /** Suite name = lab name = fault area. */
  name: string;
  suite: Suite<any, any>;
  /** Further assertions for one fault, on the outcomes with it applied (beyond "its checks fail"). */
  detail?: Record<string, (os: Outcome[]) => void>;
}): NetLab {
  const ctx = {} as NetLab;
  beforeAll(async () => {
    ctx.lab = await startLab({ name: opts.name });
    ctx.node = ctx.lab.info.nodes[0].name;
    ctx.r = await suiteRunner(ctx.lab, ctx.node, opts.suite);
  });
  afterAll(async () => {
    await ctx.r?.close();
    await ctx.lab?.down();
  });

  it('healthy node passes every check, with evidence', async () => {
    const os = await ctx.r.run();
    expect(notPassing(os)).toEqual([]);
    expect(new Set(os.map((o) => o.id))).toEqual(new Set(opts.suite.checkIds));
    for (const o of os) expect(o.evidence.source).toBeTruthy();
  });

  const faults = faultsFor(opts.name, opts.suite);
  it(`every lab ${opts.name} fault names checks of this suite`, () => {
    expect(faults.length).toBeGreaterThan(0);
    for (const f of faults) expect(f.catches.length, `${f.name} catches ${f.all.join(', ')}`).toBeGreaterThan(0);
    // a detail for a fault the catalogue does not have would silently never run
    for (const name of Object.keys(opts.detail ?? {})) expect(faults.map((f) => f.name)).toContain(name);
  });

  for (const f of faults) {
    it(`${f.name}: makes ${f.catches.join(', ')} fail; heal → all pass`, async () => {
      await ctx.lab.fault(ctx.node, f.name);
      try {
        const os = await ctx.r.run();
        for (const id of f.catches) expect(statusOf(os, id), `${id}: ${JSON.stringify(os.filter((o) => o.id === id).map((o) => o.message))}`).toContain('fail');
        opts.detail?.[f.name]?.(os);
      } finally {
        await ctx.lab.heal(ctx.node, f.name);
      }
      expect(notPassing(await ctx.r.run())).toEqual([]);
    });
  }

  return ctx;
}
