import { describe, expect, it } from 'vitest';
import { exitCodeFor, plan, PlanError, runInventory } from '../src/engine/run.js';
import { limiter } from '../src/engine/limit.js';
import type { Reporter, RunSummary } from '../src/reporters/types.js';
import type { Host, Inventory, NodeSpec, Result } from '../src/core/types.js';
import { TransportError } from '../src/core/types.js';
import { FakeHost, fakeSuite, identity, node, sleep, unreachable } from './helpers/fakes.js';

function inventory(nodes: NodeSpec[], expectation: Record<string, unknown> = { alpha: {} }, waivers: Inventory['waivers'] = []): Inventory {
  return { file: '/tmp/inv.yaml', baseDir: '/tmp', nodes, expectations: { base: expectation }, waivers, defaults: { timeoutMs: 1000, concurrency: 4 } };
}

class Recorder implements Reporter {
  events: string[] = [];
  results: Result[] = [];
  summary?: RunSummary;
  onRunStart() {
    this.events.push('run-start');
  }
  onNodeStart(n: NodeSpec) {
    this.events.push(`start ${n.name}`);
  }
  onResult(r: Result) {
    this.results.push(r);
    this.events.push(`result ${r.node} ${r.id} ${r.status}`);
  }
  onNodeEnd(n: NodeSpec) {
    this.events.push(`end ${n.name}`);
  }
  async onRunEnd(s: RunSummary) {
    this.summary = s;
    this.events.push('run-end');
  }
}

const opts = { allowMutating: false, timeoutMs: 1000, baseDir: '/tmp', concurrency: 4 };
const now = () => new Date('2026-11-27T04:00:00Z');

function deps(suites: ReturnType<typeof fakeSuite>[], openHost?: (n: NodeSpec) => Promise<Host>, hosts: FakeHost[] = []) {
  return {
    suites,
    openHost:
      openHost ??
      (async (n: NodeSpec) => {
        const h = new FakeHost(n.name, n.host);
        hosts.push(h);
        return h;
      }),
    gatherIdentity: async () => identity,
    now,
  };
}

describe('limiter', () => {
  it('never runs more than n tasks at once and runs them all', async () => {
    const limit = limiter(3);
    let active = 0;
    let peak = 0;
    const done = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        limit(async () => {
          active++;
          peak = Math.max(peak, active);
          await sleep(5);
          active--;
          return i;
        }),
      ),
    );
    expect(peak).toBe(3);
    expect(done).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});

describe('runInventory', () => {
  it('runs every planned check on every node and passes when all pass', async () => {
    const rec = new Recorder();
    const hosts: FakeHost[] = [];
    const out = await runInventory(inventory([node('a'), node('b')]), opts, [rec], deps([fakeSuite('alpha'), fakeSuite('beta')], undefined, hosts));
    expect(out.exitCode).toBe(0);
    expect(out.results.map((r) => `${r.node} ${r.id}`).sort()).toEqual(['a alpha.one', 'a alpha.two', 'b alpha.one', 'b alpha.two']);
    expect(out.results.every((r) => r.suite === 'alpha' && r.startedAt === '2026-11-27T04:00:00.000Z')).toBe(true);
    expect(hosts.every((h) => h.closed)).toBe(true);
    expect(rec.summary?.counts.pass).toBe(4);
    expect(rec.summary?.perNode.a.pass).toBe(2);
  });

  it('bounds node concurrency', async () => {
    let active = 0;
    let peak = 0;
    const suite = fakeSuite('alpha', {
      onGather: () => {
        active++;
        peak = Math.max(peak, active);
      },
      delay: () => 20,
    });
    const wrapped = { ...suite, gather: async (ctx: any, e: any) => suite.gather(ctx, e).finally(() => active--) };
    const nodes = Array.from({ length: 7 }, (_, i) => node(`n${i}`));
    await runInventory(inventory(nodes), { ...opts, concurrency: 2 }, [new Recorder()], deps([wrapped as any]));
    expect(peak).toBe(2);
  });

  it('turns a gather that hangs into error results naming the timeout, and carries on', async () => {
    const rec = new Recorder();
    const suites = [fakeSuite('alpha', { hang: (n) => n === 'a' }), fakeSuite('beta')];
    const out = await runInventory(inventory([node('a'), node('b')], { alpha: {}, beta: {} }), { ...opts, timeoutMs: 50 }, [rec], deps(suites));
    const a = out.results.filter((r) => r.node === 'a');
    expect(a.filter((r) => r.suite === 'alpha').map((r) => [r.id, r.status])).toEqual([
      ['alpha.one', 'error'],
      ['alpha.two', 'error'],
    ]);
    expect(a.find((r) => r.suite === 'alpha')?.message).toBe('gathering alpha facts on a did not finish within 50ms');
    // The next suite on the same node and the other node still ran.
    expect(a.filter((r) => r.suite === 'beta').every((r) => r.status === 'pass')).toBe(true);
    expect(out.results.filter((r) => r.node === 'b').every((r) => r.status === 'pass')).toBe(true);
    expect(out.exitCode).toBe(3);
  });

  it('reports an unreachable node as error results for each planned check, never a pass, and checks the others', async () => {
    const rec = new Recorder();
    const openHost = async (n: NodeSpec) => {
      if (n.name === 'down') return unreachable('cannot connect to 10.250.0.9:22: connection refused')();
      return new FakeHost(n.name);
    };
    const out = await runInventory(inventory([node('down'), node('up')], { alpha: {}, beta: {} }), opts, [rec], deps([fakeSuite('alpha'), fakeSuite('beta')], openHost));
    const down = out.results.filter((r) => r.node === 'down');
    expect(down).toHaveLength(4);
    expect(down.every((r) => r.status === 'error' && r.message === 'cannot connect to 10.250.0.9:22: connection refused')).toBe(true);
    expect(down[0].evidence.source).toBe('transport ssh (unreachable)');
    expect(down[0].checklist).toEqual([]); // fake check ids are in no checklist item
    expect(out.results.filter((r) => r.node === 'up' && r.status === 'pass')).toHaveLength(4);
    expect(rec.events).toContain('start down');
    expect(rec.events).toContain('end down');
    expect(out.exitCode).toBe(3);
  });

  it('turns a gather exception and an evaluate exception into errors', async () => {
    const out = await runInventory(
      inventory([node('a')], { alpha: {}, beta: {} }),
      opts,
      [],
      deps([fakeSuite('alpha', { throws: () => new TransportError('protocol', 'channel closed') }), fakeSuite('beta', { evaluateThrows: true })]),
    );
    expect(out.results.map((r) => [r.id, r.status, r.message])).toEqual([
      ['alpha.one', 'error', 'channel closed'],
      ['alpha.two', 'error', 'channel closed'],
      ['beta.one', 'error', 'evaluating beta: evaluate blew up'],
      ['beta.two', 'error', 'evaluating beta: evaluate blew up'],
    ]);
  });

  it('streams results as they come: a fast node finishes before a slow one is done', async () => {
    const rec = new Recorder();
    const suite = fakeSuite('alpha', { delay: (n) => (n === 'slow' ? 80 : 0) });
    await runInventory(inventory([node('slow'), node('fast')]), opts, [rec], deps([suite]));
    const ev = rec.events;
    expect(ev[0]).toBe('run-start');
    expect(ev.at(-1)).toBe('run-end');
    expect(ev.indexOf('end fast')).toBeLessThan(ev.indexOf('result slow alpha.one pass'));
    // Per node: start, then its results, then end.
    for (const n of ['slow', 'fast']) {
      const mine = ev.filter((e) => e.includes(` ${n}`));
      expect(mine[0]).toBe(`start ${n}`);
      expect(mine.at(-1)).toBe(`end ${n}`);
    }
  });

  it('fail beats error in the exit code', async () => {
    const suites = [fakeSuite('alpha', { status: (_n, id) => (id === 'alpha.one' ? 'fail' : 'pass') }), fakeSuite('beta', { throws: () => new Error('boom') })];
    const out = await runInventory(inventory([node('a')], { alpha: {}, beta: {} }), opts, [], deps(suites));
    expect(out.exitCode).toBe(1);
  });

  it('applies waivers to fail only, keeps the original status, and never applies an expired one', async () => {
    const suites = [fakeSuite('alpha', { status: () => 'fail' })];
    const inv = inventory([node('a'), node('b')], { alpha: {} }, [
      { check: 'alpha.o*', node: 'a', reason: 'vendor fix pending', approvedBy: 'sre-lead', expires: '2026-12-31' },
      { check: 'alpha.two', reason: 'old', approvedBy: 'sre-lead', expires: '2026-11-26' },
    ]);
    const out = await runInventory(inv, opts, [], deps(suites));
    const get = (n: string, id: string) => out.results.find((r) => r.node === n && r.id === id)!;
    expect(get('a', 'alpha.one').status).toBe('waived');
    expect(get('a', 'alpha.one').originalStatus).toBe('fail');
    expect(get('a', 'alpha.one').waiver?.approvedBy).toBe('sre-lead');
    expect(get('b', 'alpha.one').status).toBe('fail'); // waiver is for node a only
    expect(get('a', 'alpha.two').status).toBe('fail'); // expired
    expect(get('a', 'alpha.two').expiredWaiver?.expires).toBe('2026-11-26');
    expect(get('a', 'alpha.two').message).toContain('waiver expired 2026-11-26');
    expect(out.exitCode).toBe(1);
  });

  it('a waiver valid through its expiry day; a pass is never marked waived', async () => {
    const inv = inventory([node('a')], { alpha: {} }, [{ check: '*', reason: 'r', approvedBy: 'x', expires: '2026-11-27' }]);
    const failing = await runInventory(inv, opts, [], deps([fakeSuite('alpha', { status: () => 'fail' })]));
    expect(failing.results.every((r) => r.status === 'waived')).toBe(true);
    expect(failing.exitCode).toBe(0);
    const passing = await runInventory(inv, opts, [], deps([fakeSuite('alpha')]));
    expect(passing.results.every((r) => r.status === 'pass' && !r.waiver)).toBe(true);
  });

  it('--only selects by check id, suite name and glob; plans only what it selects', async () => {
    const suites = [fakeSuite('alpha'), fakeSuite('beta')];
    const inv = inventory([node('a')], { alpha: {}, beta: {} });
    const gathered: string[] = [];
    const spy = [fakeSuite('alpha', { onGather: () => gathered.push('alpha') }), fakeSuite('beta', { onGather: () => gathered.push('beta') })];
    const byId = await runInventory(inv, { ...opts, only: ['beta.two'] }, [], deps(spy));
    expect(byId.results.map((r) => r.id)).toEqual(['beta.two']);
    expect(gathered).toEqual(['beta']);
    const bySuite = await runInventory(inv, { ...opts, only: ['alpha'] }, [], deps(suites));
    expect(bySuite.results.map((r) => r.id)).toEqual(['alpha.one', 'alpha.two']);
    const byGlob = await runInventory(inv, { ...opts, only: ['*.one'] }, [], deps(suites));
    expect(byGlob.results.map((r) => r.id)).toEqual(['alpha.one', 'beta.one']);
    expect(() => plan(inv, suites, ['gamma'])).toThrow(PlanError);
    expect(() => plan(inv, suites, ['gamma'])).toThrow(/--only gamma matches no check id or suite name/);
  });

  it('plans a suite only where its key is in the node expectation', () => {
    const inv: Inventory = {
      ...inventory([node('a'), node('b', { expect: 'other' })]),
      expectations: { base: { alpha: {} }, other: { beta: {} } },
    };
    const p = plan(inv, [fakeSuite('alpha'), fakeSuite('beta')]);
    expect(p.get('a')!.map((s) => s.suite.name)).toEqual(['alpha']);
    expect(p.get('b')!.map((s) => s.suite.name)).toEqual(['beta']);
  });

  it('zero results is exit 2 (nothing was checked), never 0', async () => {
    const out = await runInventory(inventory([node('a')], {}), opts, [], deps([fakeSuite('alpha')]));
    expect(out.results).toEqual([]);
    expect(out.exitCode).toBe(2);
  });

  it('on abort (SIGINT) marks unfinished suites and unstarted nodes as interrupted errors and exits 3', async () => {
    const ac = new AbortController();
    const rec = new Recorder();
    const suites = [fakeSuite('alpha', { hang: () => true, onGather: () => setTimeout(() => ac.abort(), 10) }), fakeSuite('beta')];
    const out = await runInventory(
      inventory([node('a'), node('b')], { alpha: {}, beta: {} }),
      { ...opts, concurrency: 1, timeoutMs: 60_000, signal: ac.signal },
      [rec],
      deps(suites),
    );
    expect(out.interrupted).toBe(true);
    expect(out.exitCode).toBe(3);
    expect(out.results).toHaveLength(8);
    // beta gathered beside the hanging alpha and finished before the signal: its verdict stands.
    const a = out.results.filter((r) => r.node === 'a');
    expect(a.map((r) => [r.id, r.status, r.status === 'error' ? r.message : ''])).toEqual([
      ['alpha.one', 'error', 'interrupted'],
      ['alpha.two', 'error', 'interrupted'],
      ['beta.one', 'pass', ''],
      ['beta.two', 'pass', ''],
    ]);
    const b = out.results.filter((r) => r.node === 'b');
    expect(b.every((r) => r.status === 'error' && r.message === 'interrupted before the node was checked')).toBe(true);
    expect(rec.events.at(-1)).toBe('run-end');
  });

  it('gathers the suites of a node concurrently (bounded) and reports them in suite order', async () => {
    let active = 0;
    let peak = 0;
    const mk = (name: string, delay: number) => {
      const base = fakeSuite(name, { delay: () => delay });
      return { ...base, gather: async (ctx: any, e: any) => {
        active++;
        peak = Math.max(peak, active);
        try {
          return await base.gather(ctx, e);
        } finally {
          active--;
        }
      } } as any;
    };
    const suites = [mk('alpha', 40), mk('beta', 5), mk('gamma', 5), mk('delta', 5)];
    const rec = new Recorder();
    await runInventory(inventory([node('a')], { alpha: {}, beta: {}, gamma: {}, delta: {} }), { ...opts, suiteConcurrency: 3 }, [rec], deps(suites));
    expect(peak).toBe(3);
    expect(rec.results.map((r) => r.suite)).toEqual(['alpha', 'alpha', 'beta', 'beta', 'gamma', 'gamma', 'delta', 'delta']);
  });

  it('keeps going when a reporter throws, and exits 3: that report misses results', async () => {
    const bad: Reporter = { ...new Recorder(), onRunStart() {}, onNodeStart() {}, onNodeEnd() {}, async onRunEnd() {}, onResult() { throw new Error('disk full'); } };
    const rec = new Recorder();
    const out = await runInventory(inventory([node('a')]), opts, [bad, rec], deps([fakeSuite('alpha')]));
    expect(rec.results).toHaveLength(2);
    expect(rec.summary?.warnings).toContain('a reporter failed and was stopped: disk full');
    expect(out.exitCode).toBe(3);
  });

  it('a report that cannot be written at the end → exit 3, named; reports finished before it are rewritten with 3', async () => {
    const { JsonReporter } = await import('../src/reporters/json.js');
    const { mkdtempSync, readFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const json = new JsonReporter(join(mkdtempSync(join(tmpdir(), 'leafcert-engine-')), 'e.json'));
    const bad: Reporter = { ...new Recorder(), onRunStart() {}, onNodeStart() {}, onNodeEnd() {}, onResult() {}, async onRunEnd() { throw new Error('report /x/junit.xml could not be written: EACCES denied'); } };
    const rec = new Recorder();
    const err: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((s: string) => (err.push(String(s)), true)) as any;
    let out;
    try {
      out = await runInventory(inventory([node('a')]), opts, [json, bad, rec], deps([fakeSuite('alpha')]));
    } finally {
      process.stderr.write = write;
    }
    expect(out.exitCode).toBe(3);
    expect(rec.summary?.exitCode).toBe(3);
    expect(err.join('')).toContain('leafcert: report /x/junit.xml could not be written: EACCES denied');
    expect(JSON.parse(readFileSync((json as any).file.path, 'utf8')).run.exitCode).toBe(3);
  });
});

describe('runInventory: nothing silent, nothing waived that was not known', () => {
  it('a planned suite that returns zero outcomes is an error for its checks, never a silent gap', async () => {
    const empty = { ...fakeSuite('alpha'), evaluate: () => [] };
    const out = await runInventory(inventory([node('a')], { alpha: {}, beta: {} }), opts, [], deps([empty as any, fakeSuite('beta')]));
    const alpha = out.results.filter((r) => r.suite === 'alpha');
    expect(alpha.map((r) => r.status)).toEqual(['error', 'error']);
    expect(alpha[0].message).toBe('alpha produced no results for this expectation: nothing was checked');
    expect(out.exitCode).toBe(3);
  });

  it('a waiver never waives an error (an unreachable node stays error, exit 3), and says why', async () => {
    const inv = inventory([node('a'), node('b')], { alpha: {} }, [{ check: 'alpha.*', reason: 'r', approvedBy: 'x', expires: '2099-01-01' }]);
    const out = await runInventory(inv, opts, [], deps([fakeSuite('alpha')], (n) => (n.name === 'a' ? unreachable()() : Promise.resolve(new FakeHost(n.name)))));
    const a = out.results.filter((r) => r.node === 'a');
    expect(a.map((r) => r.status)).toEqual(['error', 'error']);
    expect(a[0].message).toContain('waiver not applied');
    expect(out.results.filter((r) => r.node === 'b').every((r) => r.status === 'pass')).toBe(true);
    expect(out.exitCode).toBe(3);
  });

  it('every result skipped or manual → exit 3 (nothing was evidenced)', async () => {
    const skipped = await runInventory(inventory([node('a')]), opts, [], deps([fakeSuite('alpha', { status: (_n, id) => (id === 'alpha.one' ? 'skipped' : 'manual') })]));
    expect(skipped.exitCode).toBe(3);
    const onePass = await runInventory(inventory([node('a')]), opts, [], deps([fakeSuite('alpha', { status: (_n, id) => (id === 'alpha.one' ? 'skipped' : 'pass') })]));
    expect(onePass.exitCode).toBe(0);
  });
});

describe('exitCodeFor', () => {
  const r = (status: Result['status']) => ({ status }) as Result;
  it('maps statuses to exit codes', () => {
    expect(exitCodeFor([r('pass'), r('skipped'), r('manual'), r('waived')])).toBe(0);
    expect(exitCodeFor([r('pass'), r('fail'), r('error')])).toBe(1);
    expect(exitCodeFor([r('pass'), r('error')])).toBe(3);
    expect(exitCodeFor([])).toBe(2);
    expect(exitCodeFor([r('pass')], true)).toBe(3);
    expect(exitCodeFor([r('skipped'), r('manual')])).toBe(3);
    expect(exitCodeFor([r('skipped'), r('waived')])).toBe(0);
  });
});

describe('runInventory: nodes with nothing selected', () => {
  it('does not connect to a node on which --only selects nothing', async () => {
    const opened: string[] = [];
    const inv: Inventory = {
      file: '/tmp/inv.yaml',
      baseDir: '/tmp',
      nodes: [node('a'), node('b', { expect: 'other' })],
      expectations: { base: { alpha: {} }, other: { beta: {} } },
      waivers: [],
      defaults: { timeoutMs: 1000, concurrency: 4 },
    };
    const out = await runInventory(inv, { ...opts, only: ['alpha'] }, [], {
      suites: [fakeSuite('alpha'), fakeSuite('beta')],
      openHost: async (n: NodeSpec) => {
        opened.push(n.name);
        return new FakeHost(n.name);
      },
      gatherIdentity: async () => identity,
      now,
    });
    expect(opened).toEqual(['a']);
    expect(out.results.map((r) => r.node)).toEqual(['a', 'a']);
  });
});

describe('runInventory: error results name the checklist items left unevidenced', () => {
  it('tags an error for a real check id with its checklist items', async () => {
    const suite = { ...fakeSuite('tls', { checkIds: ['tls.min-days-left'] }) };
    const out = await runInventory(inventory([node('a')], { tls: {} }), opts, [], {
      suites: [suite],
      openHost: unreachable(),
      gatherIdentity: async () => identity,
      now,
    });
    expect(out.results[0].status).toBe('error');
    expect(out.results[0].checklist).toContain('tls');
  });

  it('an unreachable node\'s results carry each check\'s defined title and severity, not its id', async () => {
    await import('../suites/tls.js'); // registers the tls checks
    const suite = { ...fakeSuite('tls', { checkIds: ['tls.min-days-left', 'tls.key-strength'] }) };
    const out = await runInventory(inventory([node('a')], { tls: {} }), opts, [], { suites: [suite], openHost: unreachable(), gatherIdentity: async () => identity, now });
    const { checkDef } = await import('../src/core/checks.js');
    for (const r of out.results) {
      expect(r.title).toBe(checkDef(r.id)!.title);
      expect(r.title).not.toBe(r.id);
      expect(r.severity).toBe(checkDef(r.id)!.severity);
    }
  });
});

describe('runInventory: node stats', () => {
  it('passes the transport, round trips and timings of each node to reporters', async () => {
    const stats: Record<string, any> = {};
    const rep: Reporter = {
      onRunStart() {},
      onNodeStart() {},
      onResult() {},
      onNodeEnd(n, s) {
        stats[n.name] = s;
      },
      async onRunEnd() {},
    };
    const suite = { ...fakeSuite('alpha'), gather: async (ctx: any) => (await ctx.host.exec('true'), await ctx.host.exec('true'), { ok: true }) } as any;
    const openHost = async (n: NodeSpec) => {
      if (n.name === 'down') throw new TransportError('unreachable', 'no route');
      return new FakeHost(n.name);
    };
    await runInventory(inventory([node('up'), node('down')]), opts, [rep], { suites: [suite], openHost, gatherIdentity: async () => identity, now: () => new Date() });
    expect(stats.up).toMatchObject({ transport: 'fake up', roundTrips: 2 });
    expect(stats.up.durationMs).toBeGreaterThanOrEqual(0);
    expect(stats.up.connectMs).toBeGreaterThanOrEqual(0);
    expect(stats.down).toMatchObject({ roundTrips: 0 });
    expect(stats.down.transport).toBeUndefined();
  });
});
