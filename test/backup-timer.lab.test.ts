// backup.units on a node booted by systemd (lab --flavour systemd): the job's timer as systemd shows
// it there (UnitFileState enabled, as NixOS shows a timer wanted by timers.target) passes; the timer
// disabled without --now (still active, gone at the next boot) fails, and passes once enabled again.
// Its own lab (the systemd flavour boots a Debian rootfs under systemd-nspawn); root only.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { down, up } from '../src/lab/lab.js';
import { applyFault, healFaults } from '../src/lab/faults/run.js';
import { nodeSh } from '../src/lab/proc.js';
import type { LabInfo } from '../src/lab/types.js';
import { repoRoot, runCli } from './helpers/lab.js';

const isRoot = process.getuid?.() === 0;
const STATE = join(repoRoot, '.lab-test-backup-timer');
const TIMER = 'borgbackup-job-alchemist.timer';

interface Result {
  id: string;
  subject: string;
  status: string;
  message: string;
  evidence: { observed?: unknown };
}

describe.skipIf(!isRoot)('backup.units on a systemd lab node', () => {
  let lab: LabInfo;
  const dir = mkdtempSync(join(tmpdir(), 'leafcert-backup-timer-'));
  const sh = (cmd: string) => nodeSh(lab.nodes[0]!.initPid, cmd, { timeoutMs: 60_000 });
  async function units(): Promise<Result> {
    const json = join(dir, `run-${Date.now()}.json`);
    const r = await runCli(['run', '--inventory', lab.inventory, '--only', 'backup.units', '--json', json]);
    if (!existsSync(json)) throw new Error(`leafcert run wrote no report (exit ${r.code}): ${r.stderr.slice(0, 2000)}`);
    const rep = JSON.parse(readFileSync(json, 'utf8'));
    const results = (rep.results ?? rep.nodes.flatMap((n: { results: Result[] }) => n.results)) as Result[];
    expect(results.map((x) => x.id)).toEqual(['backup.units']);
    return results[0]!;
  }

  beforeAll(async () => {
    if (existsSync(STATE)) await down(STATE);
    try {
      lab = await up({ state: STATE, nodes: 1, flavour: 'systemd', firewall: 'iptables' });
    } catch (e) {
      await down(STATE).catch(() => undefined);
      throw e;
    }
  }, 900_000);
  afterAll(async () => {
    await down(STATE);
  }, 60_000);

  it('healthy: the timer is enabled and active, backup.units passes', async () => {
    expect((await sh(`systemctl is-enabled ${TIMER}; systemctl is-active ${TIMER}`)).stdout.trim().split('\n')).toEqual(['enabled', 'active']);
    const r = await units();
    expect(r.status, r.message).toBe('pass');
    expect(JSON.stringify(r.evidence.observed)).toContain(`${TIMER}: loaded/active enabled`);
  }, 120_000);

  it('backup-timer-disabled: backup.units fails (active now, not at the next boot), and passes once healed', async () => {
    await applyFault(STATE, 'leaf-1', 'backup-timer-disabled');
    try {
      const r = await units();
      expect(r.status).toBe('fail');
      expect(r.message).toBe(`${TIMER} is disabled (systemctl disable): it does not start at the next boot (it runs now only until then)`);
    } finally {
      await healFaults(STATE, 'leaf-1', 'backup-timer-disabled');
    }
    expect((await units()).status).toBe('pass');
  }, 120_000);
});
