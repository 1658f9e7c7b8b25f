// The systemd flavour (issue 10): a full lab node whose PID 1 is systemd (systemd-nspawn on the cached
// Debian rootfs). A whole `leafcert run` over real SSH skips only what a namespace cannot provide
// (kernel audit and global kernel parameters belong to the host), Grafana (not expected) and the two
// --allow-mutating round trips, which pass with that flag; every systemd fault fails its check and
// heals back to pass. Root only (it creates namespaces, cgroups and mounts); as root it always runs.
import { execSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { up, down } from '../src/lab/lab.js';
import { applyFault, healFaults } from '../src/lab/faults/run.js';
import { nodeSh } from '../src/lab/proc.js';
import { waitRunning } from '../src/lab/systemd.js';
import { labId } from '../src/lab/state.js';
import type { LabInfo } from '../src/lab/types.js';
import type { Exists } from '../src/lab/deps.js';
import { repoRoot, runCli } from './helpers/lab.js';

const isRoot = process.getuid?.() === 0;
const STATE = join(repoRoot, '.lab-test-systemd');
const TIMER = 'borgbackup-job-alchemist.timer';

interface Result {
  id: string;
  subject: string;
  status: string;
  message: string;
  evidence: { observed?: unknown };
}

/** Skipped results a healthy systemd node may have, each with why. */
const MAY_SKIP: [RegExp, RegExp][] = [
  [/^audit\./, /platform cannot provide|not expected/],
  [/^monitoring\.grafana-health$/, /Grafana is not expected/],
  [/^backup\.(canary|pg)-roundtrip$/, /--allow-mutating/],
  // Global kernel parameters (vm.*, kernel.*, fs.*) belong to the host kernel, as audit does.
  [/^(hardening|tuning)\./, /platform cannot provide this: running in a container/],
  // The lab's borg repository is a path on the node (no second machine), declared offNode: false.
  [/^backup\.off-node$/, /backup\.offNode: false/],
];

describe('lab --flavour systemd on a machine without systemd-nspawn or debootstrap', () => {
  it('names the packages and the install script, exits 2 and creates nothing (no root needed)', async () => {
    const state = join(mkdtempSync(join(tmpdir(), 'leafcert-systemd-deps-')), 'lab');
    const exists: Exists = (path) => !/systemd-nspawn|debootstrap/.test(path);
    await expect(up({ state, nodes: 1, flavour: 'systemd', firewall: 'iptables', exists })).rejects.toMatchObject({
      exitCode: 2,
      message: expect.stringMatching(/^a systemd lab .* needs packages that are not installed: systemd-container \(systemd-nspawn\), debootstrap \(debootstrap\)\. Install them with `bash \S*scripts\/install-deps\.sh`.*nothing was built$/),
    });
    expect(existsSync(state)).toBe(false);
  });
});

describe.skipIf(!isRoot)('lab --flavour systemd', () => {
  let lab: LabInfo;
  const dir = mkdtempSync(join(tmpdir(), 'leafcert-systemd-'));
  const sh = (cmd: string) => nodeSh(lab.nodes[0]!.initPid, cmd, { timeoutMs: 60_000 });

  async function run(args: string[] = []): Promise<Result[]> {
    const json = join(dir, `run-${Date.now()}.json`);
    const r = await runCli(['run', '--inventory', lab.inventory, '--json', json, ...args]);
    if (!existsSync(json)) throw new Error(`leafcert run wrote no report (exit ${r.code}): ${r.stderr.slice(0, 2000)}`);
    const rep = JSON.parse(readFileSync(json, 'utf8'));
    return (rep.results ?? rep.nodes.flatMap((n: { results: Result[] }) => n.results)) as Result[];
  }

  beforeAll(async () => {
    if (existsSync(STATE)) await down(STATE);
    try {
      lab = await up({ state: STATE, nodes: 1, flavour: 'systemd', firewall: 'iptables' });
    } catch (e) {
      await down(STATE).catch(() => undefined);
      throw e;
    }
  }, 900_000); // on a fresh CI machine the rootfs may still be building (LEAFCERT_ROOTFS_BACKGROUND)
  afterAll(async () => {
    await down(STATE);
    // Nothing of the node is left: its netns, nspawn's propagate dir, the lab's cgroups in every hierarchy.
    const netns = lab?.nodes[0]?.netns ?? 'x';
    expect(existsSync(`/run/netns/${netns}`)).toBe(false);
    expect(existsSync(`/run/systemd/nspawn/propagate/${netns}`)).toBe(false);
    const left = execSync(`find /sys/fs/cgroup -maxdepth 4 -type d -name 'leafcert-${labId(STATE)}' 2>/dev/null || true`, { encoding: 'utf8' }).trim();
    expect(left).toBe('');
  }, 60_000);

  it('boots systemd as PID 1 with the deployment units under NixOS names, journald, and limits from systemd and the cgroup files', async () => {
    const node = lab.nodes[0]!;
    expect(node).toMatchObject({ flavour: 'full', init: 'systemd' });
    expect(readFileSync(`/proc/${node.initPid}/comm`, 'utf8').trim()).toBe('systemd');
    const st = await sh('systemctl is-system-running; systemctl is-active sshd.service nginx.service systemd-journald.service borgbackup-job-alchemist.timer acme-api.alchemist.local.timer machine.slice');
    expect(st.stdout.trim().split('\n')).toEqual(['running', 'active', 'active', 'active', 'active', 'active', 'active']);
    const unit = await sh('systemctl show -p MainPID,ControlGroup,Slice,MemoryMax,CPUQuotaPerSecUSec container@alchemist.service');
    const p = Object.fromEntries(unit.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    expect(p).toMatchObject({ ControlGroup: '/machine.slice/container@alchemist.service', Slice: 'machine.slice', MemoryMax: String(8 * 2 ** 30), CPUQuotaPerSecUSec: '4s' });
    // The unit's main process and the container leader (its child) sit in the unit's cgroup, and the lab's v1
    // memory cgroup of the same name enforces the limit (read in the node's own cgroup namespace, as over ssh).
    const cg = await sh(`l=$(awk '{print $1}' /proc/${p.MainPID}/task/${p.MainPID}/children); nsenter -t 1 -C -- cat /proc/${p.MainPID}/cgroup /proc/$l/cgroup`);
    expect(cg.stdout.match(/^\d+:name=systemd:\/machine\.slice\/container@alchemist\.service$/gm)).toHaveLength(2);
    expect(cg.stdout.match(/^\d+:memory:\/machine\.slice\/container@alchemist\.service$/gm)).toHaveLength(2);
    const journal = await sh('journalctl -u container@alchemist.service --no-pager -o cat | head -3');
    expect(journal.stdout).toMatch(/Starting container@alchemist\.service/);
  });

  it('a whole run skips only what a namespace cannot provide, Grafana and the two mutating round trips', async () => {
    const results = await run();
    const bad = results.filter((r) => r.status === 'fail' || r.status === 'error');
    expect(bad.map((r) => `${r.id} ${r.subject}: ${r.message}`)).toEqual([]);
    const skipped = results.filter((r) => r.status === 'skipped');
    const unexpected = skipped.filter((r) => !MAY_SKIP.some(([id, why]) => id.test(r.id) && why.test(r.message)));
    expect(unexpected.map((r) => `${r.id} ${r.subject}: ${r.message}`)).toEqual([]);
    // What the full node skips for want of systemd is judged here.
    const judged = (id: string) => results.filter((r) => r.id === id).map((r) => r.status);
    expect(judged('limits.declared')).toEqual(Array(6).fill('pass'));
    expect(judged('limits.slice-used')).toEqual(['pass']);
    expect(judged('backup.units')).toEqual(['pass']);
    expect(judged('checklist.tls-renewal')).toEqual(['pass', 'pass']);
    expect(judged('tuning.nofile')).toEqual(['pass']);
    expect(judged('backup.canary-roundtrip')).toEqual(['skipped']);
  }, 180_000);

  it('with --allow-mutating the two round trips pass', async () => {
    const results = await run(['--allow-mutating', '--only', 'backup.canary-roundtrip,backup.pg-roundtrip']);
    expect(results.map((r) => `${r.id} ${r.status}`)).toEqual(['backup.canary-roundtrip pass', 'backup.pg-roundtrip pass']);
  }, 180_000);

  it('the backup timer is enabled and active, and backup.units says so', async () => {
    expect((await sh(`systemctl is-enabled ${TIMER}; systemctl is-active ${TIMER}`)).stdout.trim().split('\n')).toEqual(['enabled', 'active']);
    const [r] = (await run(['--only', 'backup.units'])).filter((x) => x.id === 'backup.units');
    expect(r.status, r.message).toBe('pass');
    expect(JSON.stringify(r.evidence.observed)).toContain(`${TIMER}: loaded/active enabled`);
  }, 120_000);

  // [fault, check, subject, the failure's message when it is pinned]
  const FAULTS: [string, string, string, string?][] = [
    ['limits-memorymax-runtime', 'limits.declared', 'container alchemist'],
    ['limits-unit-out-of-slice', 'limits.slice-used', 'slice machine.slice'],
    ['backup-timer-stopped', 'backup.units', 'borgbackup-job-alchemist.service'],
    ['backup-timer-disabled', 'backup.units', 'borgbackup-job-alchemist.service', `${TIMER} is disabled (systemctl disable): it does not start at the next boot (it runs now only until then)`],
    ['backup-last-run-failed', 'backup.units', 'borgbackup-job-alchemist.service'],
    ['checklist-acme-timer-missing', 'checklist.tls-renewal', 'api.alchemist.local'],
    ['isolation-container-unit-failed', 'isolation.container-present', 'container alchemist-agent'],
    ['tuning-nofile-dropin', 'tuning.nofile', 'nginx.service'],
  ];
  for (const [fault, check, subject, message] of FAULTS) {
    it(`${fault}: ${check} fails, and passes once healed`, async () => {
      const judged = async () => (await run(['--only', check])).filter((r) => r.id === check && r.subject === subject);
      const status = async () => (await judged()).map((r) => r.status);
      await applyFault(STATE, 'leaf-1', fault);
      try {
        const got = await judged();
        expect(got.map((r) => r.status)).toEqual(['fail']);
        if (message) expect(got[0].message).toBe(message);
      } finally {
        await healFaults(STATE, 'leaf-1', fault);
      }
      expect(await status()).toEqual(['pass']);
    }, 120_000);
  }

  it('a node whose systemd is not `running` is reported with its failed units and their last journal lines', async () => {
    await applyFault(STATE, 'leaf-1', 'backup-last-run-failed');
    try {
      await expect(waitRunning(lab.nodes[0]!)).rejects.toThrow(/^leaf-1: systemd did not reach "running" within \d+ s \(state: degraded\); failed units: borgbackup-job-alchemist\.service\n  borgbackup-job-alchemist\.service: .*Failed with result 'exit-code'/);
    } finally {
      await healFaults(STATE, 'leaf-1', 'backup-last-run-failed');
    }
    await waitRunning(lab.nodes[0]!);
  }, 120_000);

  it('lab status sees every container again after the faults (leaders re-recorded)', async () => {
    const r = await runCli(['lab', 'status', '--json', '--state', STATE]);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(Object.values(s.nodes[0].containers).every((c: any) => c.up)).toBe(true);
  }, 60_000);
});
