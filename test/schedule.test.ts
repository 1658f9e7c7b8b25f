// Scheduling (issue 14 part 3): the longest suites take a node's slots first, and the engine reports
// the chain that decided the run's wall time (JSON run metadata, console summary line).
import { describe, expect, it } from 'vitest';
import { criticalPath, longestFirst, SUITE_WEIGHT } from '../src/engine/schedule.js';
import { runInventory } from '../src/engine/run.js';
import { fakeSuite, node, sleep } from './helpers/fakes.js';

describe('longestFirst', () => {
  it('orders by weight, unknown suites in the middle, ties in plan order', () => {
    const names = ['tls', 'health', 'backup', 'x-new', 'limits', 'y-new', 'isolation'];
    expect(longestFirst(names, (n) => n)).toEqual(['backup', 'isolation', 'limits', 'x-new', 'y-new', 'tls', 'health']);
    expect(SUITE_WEIGHT.backup).toBeGreaterThan(SUITE_WEIGHT.tls);
  });
});

describe('criticalPath', () => {
  it('names the node that ended last, its connect, identity and last suite', () => {
    const cp = criticalPath(new Map([
      ['a', { connect: { what: 'connect', startMs: 0, endMs: 100 }, identity: { what: 'identity', startMs: 100, endMs: 120 }, suites: [{ what: 'tls', startMs: 120, endMs: 300 }] }],
      ['b', { connect: { what: 'connect', startMs: 0, endMs: 90 }, identity: { what: 'identity', startMs: 90, endMs: 110 }, suites: [{ what: 'backup', startMs: 110, endMs: 2500 }, { what: 'tls', startMs: 110, endMs: 200 }] }],
    ]))!;
    expect(cp.node).toBe('b');
    expect(cp.ms).toBe(2500);
    expect(cp.steps.map((s) => s.what)).toEqual(['connect', 'identity', 'backup']);
    expect(cp.text).toBe('b: connect 90 ms → identity 20 ms → backup 2.39 s (from +110 ms)');
    expect(criticalPath(new Map())).toBeUndefined();
  });
});

describe('the engine', () => {
  it('starts the longest suite first on a node, reports results in plan order, and names the critical path', async () => {
    const started: string[] = [];
    const suites = ['tls', 'health', 'backup'].map((n) => fakeSuite(n, { delay: () => (n === 'backup' ? 60 : 5), onGather: () => started.push(n) }));
    const results: string[] = [];
    let summary: any;
    const reporter = {
      onRunStart() {}, onNodeStart() {}, onNodeEnd() {},
      onResult(r: { suite: string }) { results.push(r.suite); },
      async onRunEnd(s: unknown) { summary = s; },
    };
    const { FakeHost, identity } = await import('./helpers/fakes.js');
    const inv = { file: '/tmp/inv.yaml', baseDir: '/tmp', nodes: [node('n1')], expectations: { base: { tls: {}, health: {}, backup: {} } }, waivers: [], defaults: { timeoutMs: 5000, concurrency: 1 } };
    await runInventory(inv as any, { allowMutating: false, timeoutMs: 5000, baseDir: '/tmp', concurrency: 1, suiteConcurrency: 1 }, [reporter as any], {
      suites, openHost: async (n) => new FakeHost(n.name, n.host), gatherIdentity: async () => identity, now: () => new Date(),
    });
    expect(started).toEqual(['backup', 'tls', 'health']);
    expect([...new Set(results)]).toEqual(['tls', 'health', 'backup']);
    expect(summary.criticalPath.node).toBe('n1');
    expect(summary.criticalPath.steps.map((s: { what: string }) => s.what)).toEqual(['connect', 'identity', 'health']);
    expect(summary.criticalPath.text).toMatch(/^n1: connect \d+ ms → identity \d+ ms → health \d+ ms \(from \+\d+ ms\)$/);
    await sleep(0);
  });
});
