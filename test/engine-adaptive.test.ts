// Issue 15 item 2: --concurrency is a ceiling the engine approaches only while the harness keeps
// up (event-loop lag, CPU), and a fleet run leaves no listener-leak warning.
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { AdaptiveLimiter, CPU_PEGGED, LAG_HIGH_MS, nextLimit, type LoadSample } from '../src/engine/adaptive.js';
import { abortHub } from '../src/engine/abort.js';
import { runInventory } from '../src/engine/run.js';
import type { Inventory, NodeSpec, Result } from '../src/core/types.js';
import type { Reporter, RunSummary } from '../src/reporters/types.js';
import { FakeHost, fakeSuite, identity, node, sleep } from './helpers/fakes.js';

const quiet: LoadSample = { lagMs: 2, cpuBusy: 0.2 };
const lagging: LoadSample = { lagMs: LAG_HIGH_MS + 100, cpuBusy: 0.5 };
const pegged: LoadSample = { lagMs: 60, cpuBusy: CPU_PEGGED + 0.01 };

describe('nextLimit: the policy', () => {
  const o = { ceiling: 64, floor: 2, pegged: 0, waiting: true };
  it('grows while there is room and work waiting, never past the ceiling', () => {
    expect(nextLimit(4, quiet, o)).toBe(5);
    expect(nextLimit(40, quiet, o)).toBe(50);
    expect(nextLimit(60, quiet, o)).toBe(64);
    expect(nextLimit(4, quiet, { ...o, waiting: false })).toBe(4);
  });
  it('backs off hard on event-loop lag, never under the floor', () => {
    expect(nextLimit(40, lagging, o)).toBe(28);
    expect(nextLimit(2, lagging, o)).toBe(2);
  });
  it('a CPU pegged for two intervals: one fewer; one pegged interval: hold', () => {
    expect(nextLimit(10, pegged, { ...o, pegged: 2 })).toBe(9);
    expect(nextLimit(10, pegged, { ...o, pegged: 1 })).toBe(10);
    // Pegged by others while our event loop stays prompt: hold, do not grow.
    expect(nextLimit(10, { ...pegged, lagMs: 10 }, { ...o, pegged: 3 })).toBe(10);
  });
});

describe('AdaptiveLimiter', () => {
  async function drive(load: () => LoadSample, tasks: number, ceiling: number) {
    const lim = new AdaptiveLimiter({ ceiling, floor: 2, start: 4, intervalMs: 5, sample: load });
    let active = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: tasks }, () =>
        lim.run(async () => {
          peak = Math.max(peak, ++active);
          await sleep(15);
          active--;
        }),
      ),
    );
    return { peak, report: lim.stop() };
  }
  it('quiet harness: climbs to the ceiling and no further', async () => {
    const { peak, report } = await drive(() => quiet, 300, 16);
    expect(report.maxLimit).toBe(16);
    expect(peak).toBeLessThanOrEqual(16);
    expect(peak).toBeGreaterThan(4);
  });
  it('lagging harness: stays at the floor however high the ceiling', async () => {
    const { peak, report } = await drive(() => lagging, 100, 64);
    expect(report.finalLimit).toBe(2);
    expect(peak).toBeLessThanOrEqual(4);
  });
  it('a ceiling under the start is the bound (--concurrency 1 is one at a time)', async () => {
    const { peak } = await drive(() => quiet, 20, 1);
    expect(peak).toBe(1);
  });
});

class Counter implements Reporter {
  results: Result[] = [];
  summary?: RunSummary;
  onRunStart() {}
  onNodeStart() {}
  onResult(r: Result) {
    this.results.push(r);
  }
  onNodeEnd() {}
  async onRunEnd(s: RunSummary) {
    this.summary = s;
  }
}

describe('a fleet run and the abort signal', () => {
  it('30 nodes at concurrency 64 with a signal: one abort listener at most, none after, no warning', async () => {
    const nodes: NodeSpec[] = Array.from({ length: 30 }, (_, i) => node(`n${String(i).padStart(2, '0')}`));
    const inv: Inventory = { file: '/tmp/inv.yaml', baseDir: '/tmp', nodes, expectations: { base: { alpha: {}, beta: {}, gamma: {}, delta: {} } }, waivers: [], defaults: { timeoutMs: 5000, concurrency: 64 } };
    const ac = new AbortController();
    let most = 0;
    const watch = () => (most = Math.max(most, getEventListeners(ac.signal, 'abort').length));
    const suites = ['alpha', 'beta', 'gamma', 'delta'].map((n) => fakeSuite(n, { delay: () => 20, onGather: watch }));
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    const rep = new Counter();
    try {
      const out = await runInventory(
        inv,
        { allowMutating: false, timeoutMs: 5000, baseDir: '/tmp', concurrency: 64, signal: ac.signal, adaptive: { sample: () => quiet, intervalMs: 5, start: 64 } },
        [rep],
        { suites, openHost: async (n) => new FakeHost(n.name, n.host), gatherIdentity: async () => identity, now: () => new Date() },
      );
      expect(out.exitCode).toBe(0);
      expect(out.load?.peakActive).toBeGreaterThan(10);
    } finally {
      process.off('warning', onWarning);
    }
    await sleep(10);
    expect(rep.results).toHaveLength(30 * 4 * 2);
    expect(most).toBe(1);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
  });
  it('the hub still interrupts every pending step', () => {
    const ac = new AbortController();
    const hub = abortHub(ac.signal);
    const fired: number[] = [];
    for (let i = 0; i < 50; i++) hub.on(() => fired.push(i));
    hub.off(() => undefined);
    ac.abort();
    expect(fired).toHaveLength(50);
    let late = false;
    hub.on(() => (late = true));
    expect(late).toBe(true);
    hub.dispose();
  });
});
