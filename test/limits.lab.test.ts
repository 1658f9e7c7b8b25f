// Limits against a full lab node over real SSH (cgroup v1, no systemd): healthy → enforced limits
// pass and declared limits are skipped with the reason; each limits fault → its checks fail; heal →
// pass. Also records the suite's round trips.
import { describe, expect, it } from 'vitest';
import { limitsSuite } from '../suites/limits.js';
import { insideSuiteLab } from './helpers/suite-lab.js';

describe('limits on a full lab node', () => {
  const t = insideSuiteLab({
    name: 'limits',
    suite: limitsSuite,
    roundTrips: 2,
    detail: {
      // same limit values in the sibling: still outside the container's cgroup, named (red team L14)
      'limits-sibling-cgroup': (results) => {
        const r = results.find((x) => x.id === 'limits.enforced' && x.subject === 'container alchemist')!;
        expect(r).toMatchObject({ status: 'fail', message: expect.stringMatching(/^process \d+ \(lab-backend.pl\) of the container runs outside its cgroup \(\d+:memory:\S*\/alchemist-extra; .*same/) });
      },
      // the main thread stays in: only /proc/PID/task/TID/cgroup shows the threads outside (red team L9)
      'limits-threads-escaped': (results) => {
        const r = results.find((x) => x.id === 'limits.enforced' && x.subject === 'container monitoring')!;
        expect(r).toMatchObject({ status: 'fail', severity: 'critical', message: expect.stringMatching(/^threads? [\d, ]+ of process \d+ \(prometheus\) of the container runs? outside its cgroup \(.*\d+:cpu:\S*\/machine.slice; .*CPUQuota infinity \(expected 100%\)/) });
      },
    },
  });
  const { run } = t;

  it('without systemd the declared side is skipped with the reason, the enforced side is read from cgroup v1', async () => {
    const { results } = await run(t.inv);
    const declared = results.filter((r) => r.id === 'limits.declared');
    expect(declared.length).toBe(5);
    for (const r of declared) expect(r).toMatchObject({ status: 'skipped', message: expect.stringMatching(/not systemd/) });
    const enforced = results.filter((r) => r.id === 'limits.enforced');
    for (const r of enforced) expect(r).toMatchObject({ status: 'pass', message: expect.stringMatching(/^cgroup v1: MemoryMax=/) });
  });
});
