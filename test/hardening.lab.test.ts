// hardening suite against a lab node over real SSH: the healthy node passes every check it can
// have (global kernel parameters are skipped with the platform reason, never passed); each
// hardening fault makes exactly its check fail, with the others still passing; healing passes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allFaults } from '../src/lab/faults/index.js';
import { startLab, type TestLab } from './helpers/lab.js';
import { runChecks, type ReportResult } from './helpers/ops.js';

let lab: TestLab;
const FAULTS = allFaults.filter((f) => f.area === 'hardening');
const IDS = ['hardening.ssh-auth', 'hardening.ssh-crypto', 'hardening.ssh-limits', 'hardening.ssh-forwarding', 'hardening.kernel-net', 'hardening.kernel', 'hardening.world-writable', 'hardening.suid'];

/** Every result passes, except the global kernel parameters, skipped because the lab node does not own its kernel. */
function healthy(rs: ReportResult[], except: string[] = []) {
  for (const r of rs.filter((x) => !except.includes(x.id))) {
    if (r.id === 'hardening.kernel') {
      expect(r.status, `${r.subject}: ${r.message}`).toBe('skipped');
      expect(r.message).toMatch(/platform cannot provide this: PID 1 is "[^"]+", not systemd/);
    } else expect(r.status, `${r.id} ${r.subject}: ${r.message}`).toBe('pass');
  }
}

describe('hardening on a lab node', () => {
  beforeAll(async () => {
    lab = await startLab({ name: 'hardening', flavour: 'light' });
  }, 240_000);
  afterAll(async () => {
    await lab?.down();
  });

  it('the healthy node passes, with the scan and its cost in the evidence', async () => {
    const { results, code } = await runChecks(lab, ['hardening']);
    expect([...new Set(results.map((r) => r.id))].sort()).toEqual([...IDS].sort());
    healthy(results);
    expect(code).toBe(0);
    const suid = results.find((r) => r.id === 'hardening.suid')!;
    expect(suid.message).toMatch(/scan of \d+ root\(s\): \d+ ms, \d+ ms CPU/);
    expect((suid.evidence.observed as { scan: { roots: string[] } }).scan.roots).toEqual(expect.arrayContaining(['/etc', '/usr/local', '/root']));
    // The per-namespace parameters were read in the node's own network namespace.
    expect(results.find((r) => r.subject === 'net.ipv4.conf.all.rp_filter')!.evidence.source).toMatch(/network namespace net:\[\d+\]/);
  }, 120_000);

  it.each(FAULTS.map((f) => [f.name, f] as const))('%s: its check fails, the others pass, healing passes', async (_name, fault) => {
    expect(fault.catches.length).toBeGreaterThan(0);
    await lab.fault('leaf-1', fault.name);
    try {
      const { results, code } = await runChecks(lab, ['hardening']);
      expect(code).toBe(1);
      for (const id of fault.catches) {
        const failing = results.filter((r) => r.id === id && r.status === 'fail');
        expect(failing.length, `${id} under ${fault.name}: ${results.filter((r) => r.id === id).map((r) => `${r.subject} ${r.status}`).join(', ')}`).toBeGreaterThan(0);
      }
      healthy(results, fault.catches);
    } finally {
      await lab.heal('leaf-1', fault.name);
    }
    const { results } = await runChecks(lab, ['hardening']);
    healthy(results);
  }, 180_000);
});
