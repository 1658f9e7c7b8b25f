// tuning suite against a full lab node over real SSH: the guide's per-namespace tuning passes in the
// node's own network namespace, vm.swappiness (global) is skipped with the platform reason,
// LimitNOFILE is skipped (no systemd on a lab node); somaxconn drifted to 128 fails, healing passes;
// a container's own namespace does not get the node's tuning; a parameter the kernel does not have is
// an error, and one the kernel keeps globally is skipped for a container, never a pass.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type TestLab } from './helpers/lab.js';
import { runChecks, type ReportResult } from './helpers/ops.js';

let lab: TestLab;
const bySubject = (rs: ReportResult[], s: string) => {
  const r = rs.find((x) => x.subject === s);
  if (!r) throw new Error(`no ${s}: ${rs.map((x) => `${x.id} ${x.subject}`).join(', ')}`);
  return r;
};

function healthy(rs: ReportResult[]) {
  for (const s of ['net.core.somaxconn', 'net.ipv4.tcp_max_syn_backlog']) expect(bySubject(rs, s).status, bySubject(rs, s).message).toBe('pass');
  expect(bySubject(rs, 'vm.swappiness')).toMatchObject({ status: 'skipped', message: expect.stringMatching(/platform cannot provide this: PID 1 is "[^"]+", not systemd/) });
}

describe('tuning on a lab node', () => {
  beforeAll(async () => {
    lab = await startLab({ name: 'tuning', flavour: 'full' });
  }, 240_000);
  afterAll(async () => {
    await lab?.down();
  });

  it('the declared tuning runs in the node\'s network namespace', async () => {
    const { results, code } = await runChecks(lab, ['tuning'], [], (e) => {
      e.tuning.nofile = { 'nginx.service': 65536 };
    });
    healthy(results);
    expect(bySubject(results, 'net.core.somaxconn').evidence.source).toMatch(/network namespace net:\[\d+\]/);
    expect(bySubject(results, 'nginx.service')).toMatchObject({ status: 'skipped', message: expect.stringMatching(/no systemd on this node/) });
    expect(code).toBe(0);
  }, 120_000);

  it('tuning-somaxconn: somaxconn 128 fails, healing passes', async () => {
    await lab.fault('leaf-1', 'tuning-somaxconn');
    try {
      const { results, code } = await runChecks(lab, ['tuning']);
      expect(bySubject(results, 'net.core.somaxconn')).toMatchObject({ status: 'fail', message: expect.stringMatching(/^net.core.somaxconn is 128 \(network namespace net:\[\d+\]\), declared 65535$/) });
      expect(bySubject(results, 'net.ipv4.tcp_max_syn_backlog').status).toBe('pass');
      expect(code).toBe(1);
    } finally {
      await lab.heal('leaf-1', 'tuning-somaxconn');
    }
    healthy((await runChecks(lab, ['tuning'])).results);
  }, 180_000);

  it("the node's tuning does not reach a container's own network namespace; a global parameter has none there", async () => {
    const { results } = await runChecks(lab, ['tuning'], [], (e) => {
      e.tuning.containers = { alchemist: { 'net.core.somaxconn': 65535, 'vm.swappiness': 10 } };
    });
    const r = bySubject(results, 'net.core.somaxconn in container alchemist');
    expect(r).toMatchObject({ status: 'fail', message: expect.stringMatching(/^net.core.somaxconn is \d+ \(network namespace net:\[\d+\]\), declared 65535$/) });
    expect(r.evidence.source).toMatch(/^nsenter --net=\/proc\/\d+\/ns\/net bash: \/proc\/sys\/net\/core\/somaxconn read in its namespace \(container alchemist\)/);
    // Not the node's namespace: the node's own value passes beside it.
    expect(r.evidence.source).not.toContain(bySubject(results, 'net.core.somaxconn').evidence.source.match(/net:\[\d+\]/)![0]);
    expect(bySubject(results, 'vm.swappiness in container alchemist')).toMatchObject({ status: 'skipped', message: expect.stringMatching(/not kept per network namespace/) });
  }, 120_000);

  it('a parameter this kernel does not have is an error naming it', async () => {
    const { results, code } = await runChecks(lab, ['tuning'], [], (e) => {
      e.tuning.sysctl['net.ipv4.tcp_leafcert_absent'] = 1;
    });
    expect(bySubject(results, 'net.ipv4.tcp_leafcert_absent')).toMatchObject({ status: 'error', message: expect.stringMatching(/this kernel has no net.ipv4.tcp_leafcert_absent/) });
    expect(code).toBe(3);
  }, 120_000);
});
