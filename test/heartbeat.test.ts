// The console's heartbeat without a TTY (issue 13 part 5): a CI log must not go quiet for the
// length of a node run; each quiet interval gets a line per running node with its elapsed time
// and the suites it still waits on, and the heartbeat stops with the run.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Inventory } from '../src/core/types.js';
import { runInventory } from '../src/engine/run.js';
import { ConsoleReporter } from '../src/reporters/console.js';
// Loaded up front: the engine imports the registry when a fake suite's checks are unknown, and
// that real I/O must not happen while time is faked.
import '../src/suites.js';
import { FakeHost, fakeSuite, identity, node } from './helpers/fakes.js';

function sink(isTTY = false) {
  const lines: { at: number; text: string }[] = [];
  const t0 = Date.now();
  return {
    lines,
    stream: {
      isTTY,
      write(s: string) {
        for (const l of s.split('\n').filter(Boolean)) lines.push({ at: Date.now() - t0, text: l });
        return true;
      },
    },
  };
}

const inv = (names: string[]): Inventory => ({
  file: '/srv/inv.yaml',
  baseDir: '/tmp',
  nodes: names.map((n) => node(n)),
  expectations: { base: { alpha: {}, slow: {} } },
  waivers: [],
  defaults: { timeoutMs: 5000, concurrency: 4 },
});

async function run(heartbeatMs: number, isTTY = false) {
  const out = sink(isTTY);
  const rep = new ConsoleReporter({ stream: out.stream, heartbeatMs });
  // alpha is quick, slow takes 700 ms on leaf-1: the heartbeat must name slow, not alpha.
  const suites = [fakeSuite('alpha'), fakeSuite('slow', { delay: (n) => (n === 'leaf-1' ? 700 : 0) })];
  const done = runInventory(inv(['leaf-1', 'leaf-22']), { allowMutating: false, timeoutMs: 5000, baseDir: '/tmp', concurrency: 4 }, [rep], {
    suites,
    openHost: async (n) => new FakeHost(n.name, n.host),
    gatherIdentity: async () => identity,
    now: () => new Date(),
  });
  // Fake time: the rhythm is asserted exactly, whatever the machine's load.
  let finished = false;
  void done.then(() => (finished = true));
  for (let t = 0; t < 5000 && !finished; t += 50) await vi.advanceTimersByTimeAsync(50);
  expect(finished).toBe(true);
  await done;
  const endedAt = out.lines.length;
  await vi.advanceTimersByTimeAsync(600);
  return { lines: out.lines, endedAt };
}

describe('console heartbeat (no TTY)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  it('prints node, pending suite and elapsed while a node run is quiet, and stops with the run', async () => {
    const { lines, endedAt } = await run(200);
    const beats = lines.filter((l) => l.text.startsWith('… '));
    expect(beats.length).toBeGreaterThanOrEqual(2);
    for (const b of beats) expect(b.text).toMatch(/^… leaf-1: still checking after \d+s, waiting on slow \(\d+ results? so far\)$/);
    // The quick node finished before the first beat; nothing is said of it.
    expect(beats.some((b) => b.text.includes('leaf-22'))).toBe(false);
    // Beats keep a rhythm of about one per quiet interval (not one per timer tick).
    for (let i = 1; i < beats.length; i++) expect(beats[i].at - beats[i - 1].at).toBeGreaterThanOrEqual(180);
    // Nothing after the summary.
    expect(lines.length).toBe(endedAt);
    expect(lines.at(-1)!.text).toMatch(/^exit code \d$/);
  });

  it('says nothing with heartbeatMs 0', async () => {
    const { lines } = await run(0);
    expect(lines.filter((l) => l.text.startsWith('… '))).toEqual([]);
  });

  it('says nothing on a TTY: the live block shows progress there', async () => {
    const env = { CI: process.env.CI, NO_COLOR: process.env.NO_COLOR, TERM: process.env.TERM };
    delete process.env.CI;
    delete process.env.NO_COLOR;
    process.env.TERM = 'xterm';
    try {
      const { lines } = await run(200, true);
      expect(lines.filter((l) => l.text.includes('… leaf-1'))).toEqual([]);
    } finally {
      for (const [k, v] of Object.entries(env)) if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
});
