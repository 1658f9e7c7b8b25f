// backup suite against a full lab node: healthy passes, each backup fault fails the check it
// names and heals, the mutating round trips pass and leave the node's files, archives, databases
// and temp dirs exactly as they were — also when the round trip fails, times out or the client
// is killed halfway.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, startLab, type TestLab } from './helpers/lab.js';
import { opsInventory, resultOf, runChecks, statusOf } from './helpers/ops.js';

const NODE = 'leaf-1';
const READ_ONLY = ['backup.archive-age', 'backup.archive-paths', 'backup.repo-check', 'backup.restore-sample', 'backup.encryption'];
let lab: TestLab;

/** Hash listing of the backed-up paths, the archives, the databases and our temp dirs (node + container). */
async function snapshot(): Promise<string> {
  const r = await lab.exec(
    NODE,
    [
      'find /var/lib/alchemist /etc/alchemist -exec sh -c \'for f; do if [ -f "$f" ]; then sha256sum "$f"; else echo "dir $f"; fi; done\' _ {} + | sort',
      'echo --; BORG_RELOCATED_REPO_ACCESS_IS_OK=yes borg-job-alchemist list --short',
      "echo --; nixos-container run alchemist -- runuser -u postgres -- /usr/lib/postgresql/15/bin/psql -XAt -c 'select datname from pg_database order by 1'",
      "echo --; ls -a /tmp | grep -E '^leafcert-' || true; nixos-container run alchemist -- ls -a /tmp | grep -E '^leafcert-' || true",
    ].join('\n'),
  );
  if (r.code !== 0) throw new Error(`snapshot failed: ${r.stderr}`);
  return r.stdout;
}

async function settledSnapshot(expected: string): Promise<string> {
  // A killed client leaves the node-side script to finish and clean up in its trap: give it time.
  let s = '';
  for (let i = 0; i < 60; i++) {
    s = await snapshot();
    if (s === expected) return s;
    await new Promise((r) => setTimeout(r, 500));
  }
  return s;
}

// Borg, PostgreSQL and a full node on a shared 2-core box: give each case room (no timed assertions).
describe('backup on a full lab node', { timeout: 180_000 }, () => {
  beforeAll(async () => {
    lab = await startLab({ name: 'backup', flavour: 'full' });
  });
  afterAll(async () => {
    await lab?.down();
  });

  it('passes the read-only checks on the healthy node; units skipped (no systemd); round trips skipped without the flag', async () => {
    const { results } = await runChecks(lab, ['backup']);
    for (const id of READ_ONLY) expect(statusOf(results, id), `${id}: ${resultOf(results, id).message}`).toBe('pass');
    expect(statusOf(results, 'backup.units')).toBe('skipped');
    expect(resultOf(results, 'backup.units').message).toMatch(/no systemd/);
    expect(statusOf(results, 'backup.canary-roundtrip')).toBe('skipped');
    expect(resultOf(results, 'backup.canary-roundtrip').message).toMatch(/--allow-mutating/);
    expect(statusOf(results, 'backup.pg-roundtrip')).toBe('skipped');
    // The lab's repository is on the node, and its expectation says so (offNode: false).
    expect(statusOf(results, 'backup.off-node')).toBe('skipped');
    expect(resultOf(results, 'backup.off-node').message).toMatch(/offNode: false/);
  });

  it('backup-repo-unencrypted fails backup.encryption only (the other read-only checks pass on the new repository), and heals', async () => {
    await lab.fault(NODE, 'backup-repo-unencrypted');
    try {
      const { results } = await runChecks(lab, ['backup']);
      const enc = resultOf(results, 'backup.encryption');
      expect(enc.status, enc.message).toBe('fail');
      expect(enc.message).toMatch(/encryption mode is none.*\(declared repokey\)/);
      for (const id of READ_ONLY.filter((x) => x !== 'backup.encryption')) expect(statusOf(results, id), `${id} with the fault: ${resultOf(results, id).message}`).toBe('pass');
    } finally {
      await lab.heal(NODE, 'backup-repo-unencrypted');
    }
    const { results } = await runChecks(lab, ['backup']);
    for (const id of READ_ONLY) expect(statusOf(results, id), `${id} after heal: ${resultOf(results, id).message}`).toBe('pass');
    expect((await lab.exec(NODE, 'ls /var/lib/borgbackup')).stdout.trim()).toBe('alchemist');
  });

  for (const [fault, check] of [
    ['backup-archive-old', 'backup.archive-age'],
    ['backup-repo-corrupt', 'backup.repo-check'],
    ['backup-archive-missing-path', 'backup.archive-paths'],
    ['backup-archive-stale-content', 'backup.restore-sample'],
  ] as const) {
    it(`${fault} fails ${check}, and heals`, async () => {
      await lab.fault(NODE, fault);
      try {
        const { results } = await runChecks(lab, ['backup']);
        expect(statusOf(results, check), resultOf(results, check).message).toBe('fail');
      } finally {
        await lab.heal(NODE, fault);
      }
      const { results } = await runChecks(lab, ['backup']);
      for (const id of READ_ONLY) expect(statusOf(results, id), `${id} after heal: ${resultOf(results, id).message}`).toBe('pass');
    });
  }

  it('backup.checkEvery 1h: the first run checks and the harness remembers it; the second starts no borg check and is skipped; a repository damaged since is skipped inside the window (the trade-off), fails without checkEvery', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'lc-state-'));
    const stateFile = join(stateDir, 'repo-checks.json');
    // Every call of the job wrapper is logged on the node: the count of `check` calls is the proof, not the message.
    const W = '/usr/local/bin/borg-job-alchemist';
    const LOG = '/root/borg-wrapper-calls.log';
    await lab.exec(NODE, `cp ${W} ${W}.orig && : > ${LOG} && sed -i 's|^exec borg "\\$@"$|echo "$*" >> ${LOG}\\nexec borg "$@"|' ${W}`);
    const checks = async () => (await lab.exec(NODE, `grep -c '^check ' ${LOG} || true`)).stdout.trim();
    const every = (e: Record<string, any>) => {
      e.backup.checkEvery = '1h';
    };
    try {
      const first = await runChecks(lab, ['backup'], ['--state-dir', stateDir], every);
      const r1 = resultOf(first.results, 'backup.repo-check');
      expect(r1.status, r1.message).toBe('pass');
      expect(r1.message).toMatch(/no earlier clean check remembered$/);
      expect(await checks()).toBe('1');
      const state = JSON.parse(readFileSync(stateFile, 'utf8'));
      expect(state.repoChecks).toEqual([expect.objectContaining({ node: NODE, location: '/var/lib/borgbackup/alchemist' })]);

      const second = await runChecks(lab, ['backup'], ['--state-dir', stateDir], every);
      const r2 = resultOf(second.results, 'backup.repo-check');
      expect(r2.status, r2.message).toBe('skipped');
      expect(r2.message).toMatch(/^last clean check \S+Z \(\d+m ago, by this harness\); next due \S+Z \(backup.checkEvery 1h\)$/);
      expect(r2.evidence.source).toBe(stateFile);
      expect(await checks()).toBe('1');
      for (const id of READ_ONLY.filter((x) => x !== 'backup.repo-check')) expect(statusOf(second.results, id), id).toBe('pass');

      await lab.fault(NODE, 'backup-repo-corrupt');
      try {
        const inside = await runChecks(lab, ['backup'], ['--state-dir', stateDir], every);
        expect(statusOf(inside.results, 'backup.repo-check')).toBe('skipped');
        expect(await checks()).toBe('1');
        const without = await runChecks(lab, ['backup'], ['--state-dir', stateDir]);
        const r4 = resultOf(without.results, 'backup.repo-check');
        expect(r4.status, r4.message).toBe('fail');
        expect(await checks()).toBe('2');
      } finally {
        await lab.heal(NODE, 'backup-repo-corrupt');
      }

      // A corrupt state file: a warning on stderr naming it, and the check runs (never a silent skip).
      writeFileSync(stateFile, '{"version":1,"repoChecks":[');
      const corrupt = await runChecks(lab, ['backup'], ['--state-dir', stateDir], every);
      expect(corrupt.stderr).toContain(`state file ${stateFile} is corrupt`);
      const r5 = resultOf(corrupt.results, 'backup.repo-check');
      expect(r5.status, r5.message).toBe('pass');
      expect(r5.message).toMatch(/no earlier clean check remembered \(state file .* is corrupt/);
      expect(await checks()).toBe('3');
      expect(JSON.parse(readFileSync(stateFile, 'utf8')).repoChecks).toHaveLength(1);
    } finally {
      await lab.exec(NODE, `mv ${W}.orig ${W}; rm -f ${LOG}`);
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it('the mutating round trips pass and leave the node as it was', async () => {
    const before = await snapshot();
    const { results } = await runChecks(lab, ['backup'], ['--allow-mutating']);
    expect(statusOf(results, 'backup.canary-roundtrip'), resultOf(results, 'backup.canary-roundtrip').message).toBe('pass');
    expect(statusOf(results, 'backup.pg-roundtrip'), resultOf(results, 'backup.pg-roundtrip').message).toBe('pass');
    expect(await snapshot()).toBe(before);
  });

  for (const [fault, check] of [
    ['backup-repo-quota-full', 'backup.canary-roundtrip'],
    ['backup-pg-dump-mismatch', 'backup.pg-roundtrip'],
  ] as const) {
    it(`${fault} fails ${check} (--allow-mutating), heals, and the node is left as it was`, async () => {
      const before = await snapshot();
      await lab.fault(NODE, fault);
      try {
        const { results } = await runChecks(lab, ['backup'], ['--allow-mutating']);
        expect(statusOf(results, check), resultOf(results, check).message).toBe('fail');
        for (const id of READ_ONLY) expect(statusOf(results, id), `${id} with ${fault}: ${resultOf(results, id).message}`).toBe('pass');
      } finally {
        await lab.heal(NODE, fault);
      }
      const { results } = await runChecks(lab, ['backup'], ['--allow-mutating']);
      for (const id of [...READ_ONLY, 'backup.canary-roundtrip', 'backup.pg-roundtrip']) expect(statusOf(results, id), `${id} after heal: ${resultOf(results, id).message}`).toBe('pass');
      expect(await snapshot()).toBe(before);
    });
  }

  it('a failing (timed-out) canary job still leaves nothing behind', async () => {
    const before = await snapshot();
    // The wrapper makes the archive, then hangs: the inner timeout kills it after the canary is archived.
    const W = '/usr/local/bin/borg-job-alchemist';
    await lab.exec(NODE, `cp ${W} ${W}.orig && sed -i 's/^exec borg "\\$@"$/if [ "$1" = create ]; then borg "$@"; sleep 30; exit 2; fi\\nexec borg "$@"/' ${W}`);
    try {
      const { results } = await runChecks(lab, ['backup'], ['--allow-mutating'], (e) => {
        e.backup.timeout = '4s';
      });
      const c = resultOf(results, 'backup.canary-roundtrip');
      expect(c.status).not.toBe('pass');
      expect(c.message).toMatch(/did not finish within the timeout|failed/);
    } finally {
      await lab.exec(NODE, `mv ${W}.orig ${W}`);
    }
    expect(await settledSnapshot(before)).toBe(before);
  });

  it('a client killed in the middle of the round trips leaves nothing behind', async () => {
    const before = await snapshot();
    const inv = opsInventory(lab, ['backup']);
    const child = spawn(process.execPath, [join(repoRoot, 'bin', 'leafcert.js'), 'run', '--inventory', inv, '--only', 'backup', '--allow-mutating'], { cwd: repoRoot, stdio: 'ignore' });
    try {
      // Wait until the canary is on the node or a scratch database exists, then kill the client outright.
      let seen = false;
      for (let i = 0; i < 200 && !seen; i++) {
        const r = await lab.exec(NODE, "ls -d /var/lib/alchemist/.leafcert-canary-* 2>/dev/null; nixos-container run alchemist -- runuser -u postgres -- /usr/lib/postgresql/15/bin/psql -XAt -c \"select datname from pg_database where datname like 'leafcert_rt_%'\" 2>/dev/null");
        seen = r.stdout.trim() !== '';
        if (!seen) await new Promise((res) => setTimeout(res, 50));
      }
      expect(seen, 'the round trip never wrote anything').toBe(true);
    } finally {
      child.kill('SIGKILL');
    }
    expect(await settledSnapshot(before)).toBe(before);
  });

  // A job that cannot use its repository is a finding (fail, naming the cause), not a blind spot
  // (error): the checks that need the listing are skipped pointing at backup.archive-age.
  for (const [fault, why] of [
    ['backup-wrapper-missing', /^no backup can be read or made: the job wrapper borg-job-alchemist is not on the node's PATH/],
    ['backup-repo-missing', /^no backup can be read or made: the job's repository is missing or not a borg repository \(Repository \/var\/lib\/borgbackup\/alchemist does not exist\.\)$/],
    ['backup-passphrase-missing', /^no backup can be read or made: the job wrapper's passphrase command fails: cat: \/etc\/borg\/passphrase: No such file or directory/],
  ] as const) {
    it(`${fault} fails backup.archive-age naming the cause (the other read-only checks skipped, pointing at it), exit 1, and heals`, async () => {
      await lab.fault(NODE, fault);
      try {
        const { code, results } = await runChecks(lab, ['backup']);
        const age = resultOf(results, 'backup.archive-age');
        expect(age.status, age.message).toBe('fail');
        expect(age.message).toMatch(why);
        for (const id of READ_ONLY.filter((x) => x !== 'backup.archive-age')) {
          expect(resultOf(results, id), id).toMatchObject({ status: 'skipped', message: expect.stringMatching(/^not judged: .*\(backup.archive-age fails on it\)$/) });
        }
        expect(code).toBe(1);
      } finally {
        await lab.heal(NODE, fault);
      }
      const { results } = await runChecks(lab, ['backup']);
      for (const id of READ_ONLY) expect(statusOf(results, id), `${id} after heal: ${resultOf(results, id).message}`).toBe('pass');
    });
  }

  it('a stale lock from another host stays an error that says a backup may be running, and leaves the lock alone', async () => {
    const R = '/var/lib/borgbackup/alchemist';
    await lab.exec(NODE, `mkdir ${R}/lock.exclusive && touch "${R}/lock.exclusive/otherhost@123456789012.4242-0" && echo '{"exclusive": [["otherhost@123456789012", 4242, 0]]}' > ${R}/lock.roster`);
    try {
      const { results } = await runChecks(lab, ['backup']);
      const r = resultOf(results, 'backup.archive-age');
      expect(r.status, r.message).toBe('error');
      expect(r.message).toMatch(/lock is held .*a backup or another borg process may be running, or a killed one left it stale/);
      expect((await lab.exec(NODE, `ls ${R}/lock.exclusive`)).stdout.trim()).toBe('otherhost@123456789012.4242-0');
    } finally {
      await lab.exec(NODE, `rm -rf ${R}/lock.exclusive ${R}/lock.roster`);
    }
  });
});
