// Adaptive timeouts on a lab node (issue 14 part 2): the wait for a silent port is a bounded
// multiple of the round trip the harness measures, so a real filtered port stays filtered and a
// slow-but-open one stays open when the path is slow — shown with `tc netem` delaying every packet
// the node sends (in its namespace), and the evidence names the wait and why.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type TestLab } from './helpers/lab.js';
import { notPassing, suiteRunner, type SuiteRunner } from './helpers/net.js';
import { firewallSuite } from '../suites/firewall.js';
import { boundedWait, TCP_BOUNDS } from '../src/probes/tcp.js';
import type { Outcome } from '../src/core/types.js';

const waitOf = (o: Outcome) => Number(/timeout (\d+) ms/.exec(o.evidence.source ?? '')?.[1]);

describe('adaptive TCP timeouts on a lab node', () => {
  let lab: TestLab;
  let r: SuiteRunner;
  let ns: string;
  // Delays every packet the node sends (its SYN-ACKs and RSTs included); `del` removes the qdisc.
  const netem = (delay?: string) => execFileSync('ip', ['netns', 'exec', ns, 'tc', 'qdisc', delay ? 'add' : 'del', 'dev', 'eth0', 'root', ...(delay ? ['netem', 'delay', delay] : [])], { stdio: 'pipe' });
  beforeAll(async () => {
    lab = await startLab({ name: 'timeouts', firewall: 'iptables' });
    ns = lab.info.nodes[0].netns;
    r = await suiteRunner(lab, lab.info.nodes[0].name, firewallSuite);
  });
  afterAll(async () => {
    await r?.close();
    await lab?.down();
  });

  const closedAndOpen = (os: Outcome[]) => ({
    open: os.filter((o) => o.id === 'firewall.port-open'),
    closed: os.filter((o) => o.id === 'firewall.port-closed'),
  });

  it('no added latency: a closed port is filtered after the bounded multiple of the measured round trip, and the evidence says why', async () => {
    const os = await r.run();
    expect(notPassing(os)).toEqual([]);
    const { open, closed } = closedAndOpen(os);
    expect(open.length).toBeGreaterThan(0);
    const filtered = closed.filter((o) => /filtered/.test(o.message));
    expect(filtered.length, 'the lab firewall drops closed ports').toBeGreaterThan(0);
    for (const o of closed) {
      const m = /timeout (\d+) ms: 10 x .* ([\d.]+) ms, bounded to 200-1500 ms; silence past it counts as filtered/.exec(o.evidence.source ?? '');
      expect(m, o.evidence.source).not.toBeNull();
      // The wait is the bounded multiple of the round trip it names (printed to 0.1 ms; a loaded
      // machine may push it to the ceiling).
      expect(Math.abs(waitOf(o) - boundedWait(Number(m![2]), TCP_BOUNDS))).toBeLessThanOrEqual(1);
    }
  });

  // tc netem needs the kernel's sch_netem (a VM kernel without modules may lack it: then these skip, saying so).
  const hasNetem = (() => {
    const probe = `lc-netem-probe-${process.pid}`;
    try {
      execFileSync('ip', ['netns', 'add', probe], { stdio: 'pipe' });
      execFileSync('ip', ['netns', 'exec', probe, 'tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms'], { stdio: 'pipe' });
      return true;
    } catch {
      return false;
    } finally {
      try {
        execFileSync('ip', ['netns', 'del', probe], { stdio: 'pipe' });
      } catch {
        /* not created */
      }
    }
  })();
  if (!hasNetem) console.warn('timeouts.lab: this kernel has no sch_netem (tc qdisc … netem: "Specified qdisc kind is unknown"): the added-latency cases are skipped');
  for (const delay of [50, 300]) {
    it.skipIf(!hasNetem)(`every packet from the node delayed ${delay} ms (netem): open ports stay open, filtered ones stay filtered, the wait grows with the round trip`, async () => {
      netem(`${delay}ms`);
      try {
        const os = await r.run();
        expect(notPassing(os)).toEqual([]);
        const { open, closed } = closedAndOpen(os);
        for (const o of open) expect(o.message).toMatch(/accepted a TCP connection/);
        expect(closed.filter((o) => /filtered/.test(o.message)).length).toBeGreaterThan(0);
        for (const o of closed) expect(waitOf(o)).toBeGreaterThanOrEqual(Math.min(TCP_BOUNDS.ceilingMs, delay * TCP_BOUNDS.multiple));
      } finally {
        netem();
      }
    });
  }
});
