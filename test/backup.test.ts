// backup suite: parsers on real borg 1.2 output, the pure evaluate(), and gather() against a real
// local borg repository through the local transport (a job wrapper in PATH, as NixOS installs it).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalHost } from '../src/transport/local.js';
import type { NodeSpec, SuiteContext } from '../src/core/types.js';
import { ParseError } from '../src/core/types.js';
import {
  borgFailure,
  borgTimeToEpoch,
  classifyBorgFailure,
  chooseSample,
  parseArchiveContents,
  parseBorgInfo,
  parseBorgList,
  parseRestoreLines,
  pathsFromCommandLine,
} from '../src/probes/borg.js';
import { backupSuite, canaryScript, evaluate, newestArchive, parseCanary, parsePg, parseShow, pgScript, type BackupExpect, type BackupFacts } from '../suites/backup.js';

const fx = (f: string) => readFileSync(join(__dirname, '..', 'fixtures', 'borg', f), 'utf8');

describe('borg parsers', () => {
  it('reads borg list --json', () => {
    const l = parseBorgList(fx('list.json'));
    expect(l.archives.map((a) => a.name)).toEqual(['host-alchemist-2026-11-27T04:01:00', 'host-alchemist-2026-11-27T04:02:00']);
    expect(l.encryption).toBe('repokey');
    expect(l.repository.location).toBe('/tmp/ops/repo');
    expect(parseBorgList(fx('list-empty.json')).archives).toEqual([]);
  });
  it('reads borg info --json and the paths of its command line', () => {
    const i = parseBorgInfo(fx('info.json'));
    expect(i.nfiles).toBe(2);
    expect(pathsFromCommandLine(i.commandLine)).toEqual(['data']);
    // NixOS's job: options, then ::archive, then the paths.
    expect(pathsFromCommandLine(['borg', 'create', '--compression', 'auto,lzma', '--exclude-from', '/nix/store/x', '::leaf-alchemist-2026-11-27T03:00:00.failed', '/var/lib/alchemist', '/etc/alchemist'])).toEqual(['/var/lib/alchemist', '/etc/alchemist']);
  });
  it('rejects garbage with a ParseError naming the source', () => {
    expect(() => parseBorgList('<html>nope</html>', 'borg-job-x list --json')).toThrow(ParseError);
    expect(() => parseBorgList('{"foo": 1}')).toThrow(/no "archives" array/);
    expect(() => parseBorgList('{"archives":[{"name":"a","id":"x","time":"yesterday"}],"encryption":{"mode":"none"},"repository":{"id":"1","location":"/r","last_modified":"x"}}')).toThrow(/not a borg timestamp/);
  });
  it('reads borg times as node-local time with the node offset', () => {
    expect(borgTimeToEpoch('2026-11-27T04:01:41.000000', '+0000')).toBe(Date.parse('2026-11-27T04:01:41Z') / 1000);
    expect(borgTimeToEpoch('2026-11-27T05:01:41.000000', '+0100')).toBe(Date.parse('2026-11-27T04:01:41Z') / 1000);
    expect(borgTimeToEpoch('2026-11-26T23:01:41', '-0500')).toBe(Date.parse('2026-11-27T04:01:41Z') / 1000);
  });
  it('explains borg failures plainly', () => {
    expect(borgFailure(2, fx('list-no-passphrase.stderr'), 30)).toMatch(/asks for a passphrase.*BORG_PASSPHRASE is not set/);
    expect(borgFailure(124, '', 30)).toMatch(/did not finish within 30s/);
    expect(borgFailure(2, 'Failed to create/acquire the lock /r/lock.exclusive (timeout).', 30)).toMatch(/lock is held/);
  });
  it('classifies real borg 1.2.4 failures of the lab job: a job that cannot use its repository is a fact about the node; a held lock, a timeout, anything else is not', () => {
    const k = (f: string, rc = 2) => classifyBorgFailure(rc, fx(f), 60);
    expect(k('list-passcommand-failed.stderr')).toEqual({ kind: 'passphrase', onNode: true, reason: "the job wrapper's passphrase command fails: cat: /etc/borg/passphrase: No such file or directory (passcommand supplied in BORG_PASSCOMMAND failed: Command '['cat', '/etc/borg/passphrase']' returned non-zero exit status 1.)" });
    expect(k('list-passphrase-incorrect.stderr')).toMatchObject({ kind: 'passphrase', onNode: true, reason: expect.stringMatching(/^the passphrase the job wrapper supplies is not the repository's \(passphrase supplied in BORG_PASSPHRASE, by BORG_PASSCOMMAND or via BORG_PASSPHRASE_FD is incorrect\.\)$/) });
    expect(k('list-no-passphrase.stderr')).toMatchObject({ kind: 'passphrase', onNode: true, reason: expect.stringMatching(/does not supply/) });
    expect(k('list-repo-missing.stderr')).toMatchObject({ kind: 'no-repository', onNode: true, reason: expect.stringContaining('(Repository /var/lib/borgbackup/alchemist does not exist.)') });
    expect(k('list-repo-invalid.stderr')).toMatchObject({ kind: 'no-repository', onNode: true, reason: expect.stringContaining('is not a valid repository') });
    // A held lock may be a running backup or a stale one: an error that says so, never "locked by another borg process".
    const lock = k('list-locked.stderr');
    expect(lock).toMatchObject({ kind: 'lock', onNode: false });
    expect(lock.reason).toMatch(/lock is held \(Failed to create\/acquire the lock \/var\/lib\/borgbackup\/alchemist\/lock.exclusive \(timeout\)\.\): a backup or another borg process may be running, or a killed one left it stale/);
    expect(lock.reason).not.toMatch(/locked by another borg process/);
    // The same sentences under a timeout, with another exit code, or garbled: not a fact about the node.
    expect(k('list-repo-missing.stderr', 124)).toMatchObject({ kind: 'timeout', onNode: false });
    expect(k('list-passphrase-incorrect.stderr', 1)).toMatchObject({ onNode: false });
    expect(classifyBorgFailure(2, 'Traceback (most recent call last):\n  ...\nKeyError: passphrase', 60)).toMatchObject({ kind: 'other', onNode: false });
    expect(classifyBorgFailure(2, 'Remote: ssh: connect to host backup.example.net port 22: Connection refused\nConnection closed by remote host. Is borg working on the server?', 60)).toMatchObject({ kind: 'other', onNode: false });
    expect(classifyBorgFailure(2, 'Failed to create/acquire the lock /r/lock.exclusive ([Errno 13] Permission denied: ...).', 60)).toMatchObject({ kind: 'other', onNode: false });
  });
  it('parses the listing filter and restore lines, and rejects cut-short output', () => {
    const c = parseArchiveContents('ROOT\t3\tvar/lib/a\nCAND\t10\t2026-11-27T04:01:40.476966\tvar/lib/a/x\nTOTAL\t4\n', 's');
    expect(c).toEqual({ roots: { 'var/lib/a': 3 }, candidates: [{ path: 'var/lib/a/x', size: 10, mtime: '2026-11-27T04:01:40.476966' }], entries: 4 });
    expect(() => parseArchiveContents('ROOT\t3\tvar/lib/a\n', 's')).toThrow(/TOTAL/);
    const h = 'a'.repeat(64);
    expect(parseRestoreLines(`EXTRACT\t0\nFILE\t0\t1700000000\t${h}\t${h}\n`, ['p'], 's')).toEqual([{ path: 'p', liveMtime: 1700000000, liveSha256: h, restoredSha256: h }]);
    expect(() => parseRestoreLines('FILE\t0\t1\tzz\t-\n', ['p'], 's')).toThrow(/sha256/);
    expect(() => parseRestoreLines('', ['p'], 's')).toThrow(/expected 1 FILE/);
  });
  it('samples spread over sorted candidates', () => {
    const c = Array.from({ length: 10 }, (_, i) => ({ path: `f${i}`, size: 1, mtime: '2026-11-27T04:01:40' }));
    expect(chooseSample(c, 3).map((x) => x.path)).toEqual(['f0', 'f3', 'f6']);
    expect(chooseSample(c.slice(0, 2), 5)).toHaveLength(2);
  });
  it('ignores .failed and canary archives when picking the newest', () => {
    const l = parseBorgList(fx('list.json'));
    l.archives.push({ ...l.archives[0], name: 'x.failed', start: '2030-01-01T00:00:00.000000' });
    l.archives.push({ ...l.archives[0], name: 'leafcert-canary-1234', start: '2030-01-01T00:00:00.000000' });
    expect(newestArchive(l)?.name).toBe('host-alchemist-2026-11-27T04:02:00');
  });
});

// ---- evaluate() on hand-made facts
const NOW = Date.parse('2026-11-27T06:00:00Z') / 1000;
const list = parseBorgList(fx('list.json'));
const H = (c: string) => c.repeat(64);
function facts(over: Partial<BackupFacts> = {}): BackupFacts {
  return {
    job: 'alchemist',
    wrapper: 'borg-job-alchemist',
    pid1: 'systemd',
    clock: { ok: true, value: { now: NOW, tz: '+0000' }, source: 'date' },
    units: { ok: true, value: [
      { Id: 'borgbackup-job-alchemist.service', LoadState: 'loaded', ActiveState: 'inactive', Result: 'success' },
      { Id: 'borgbackup-job-alchemist.timer', LoadState: 'loaded', ActiveState: 'active' },
      { Id: 'borgbackup-alchemist.service', LoadState: 'not-found' },
    ], source: 'systemctl show' },
    list: { ok: true, value: list, source: 'borg-job-alchemist list --json' },
    newest: newestArchive(list),
    expectedPaths: { ok: true, value: ['/data'], source: 'expectation' },
    contents: { ok: true, value: { roots: { data: 4 }, candidates: [], entries: 4 }, source: 'list' },
    check: { ok: true, value: { output: '' }, source: 'borg check' },
    restore: { ok: true, value: { archiveEpoch: NOW - 7200, files: [
      { path: 'data/a.txt', liveMtime: NOW - 9000, liveSha256: H('a'), restoredSha256: H('a') },
      { path: 'data/sub/b.bin', liveMtime: NOW - 60, liveSha256: H('c'), restoredSha256: H('b') },
    ] }, source: 'extract' },
    ...over,
  };
}
const EXP: BackupExpect = { job: 'alchemist', maxAge: '26h', paths: ['/data'] };
const ro = { options: { allowMutating: false } };
const by = (os: ReturnType<typeof evaluate>, id: string) => os.find((o) => o.id === id)!;

describe('backup evaluate', () => {
  it('passes a healthy job, with evidence on passes, and skips the mutating checks without the flag', () => {
    const os = evaluate(facts(), EXP, ro);
    expect(os.map((o) => o.id).sort()).toEqual([...backupSuite.checkIds].sort());
    for (const id of ['backup.units', 'backup.archive-age', 'backup.archive-paths', 'backup.repo-check', 'backup.restore-sample']) {
      expect(by(os, id).status, id).toBe('pass');
      expect(by(os, id).evidence.source).toBeTruthy();
    }
    // b.bin changed after the archive: excluded and listed, not a mismatch.
    expect(by(os, 'backup.restore-sample').message).toMatch(/1 restored file.*1 changed since the archive, excluded/);
    expect((by(os, 'backup.restore-sample').evidence.observed as any).excludedChangedSinceArchive).toEqual(['/data/sub/b.bin']);
    expect(by(os, 'backup.canary-roundtrip').status).toBe('skipped');
    expect(by(os, 'backup.canary-roundtrip').message).toMatch(/--allow-mutating/);
    expect(by(os, 'backup.pg-roundtrip').status).toBe('skipped');
    expect(os.every((o) => o.checklist.includes('backups'))).toBe(true);
  });
  it('keeps a file whose mtime is still the archived one, even when the archive is dated earlier', () => {
    const f = facts({ restore: { ok: true, value: { archiveEpoch: NOW - 3 * 86400, files: [
      { path: 'data/a.txt', liveMtime: NOW - 9000, archivedMtime: NOW - 9000, liveSha256: H('a'), restoredSha256: H('a') },
      { path: 'data/b.txt', liveMtime: NOW - 60, archivedMtime: NOW - 9000, liveSha256: H('b'), restoredSha256: H('c') },
    ] }, source: 'extract' } });
    const o = by(evaluate(f, EXP, ro), 'backup.restore-sample');
    expect(o.status).toBe('pass');
    expect((o.evidence.observed as any).excludedChangedSinceArchive).toEqual(['/data/b.txt']);
  });
  it('fails on a missing unit and names the guide mistake', () => {
    const f = facts({ units: { ok: true, value: [{ Id: 'borgbackup-job-alchemist.service', LoadState: 'not-found' }, { Id: 'borgbackup-job-alchemist.timer', LoadState: 'not-found' }, { Id: 'borgbackup-alchemist.service', LoadState: 'not-found' }], source: 's' } });
    const o = by(evaluate(f, EXP, ro), 'backup.units');
    expect(o.status).toBe('fail');
    expect(o.message).toMatch(/borgbackup-job-alchemist.service.*borgbackup-alchemist` names a unit that does not exist/);
  });
  it('fails an inactive timer and a failed last run', () => {
    const units = (facts().units as { value: any[] }).value;
    const inactive = facts({ units: { ok: true, value: units.map((u) => (u.Id.endsWith('.timer') ? { ...u, ActiveState: 'inactive' } : u)), source: 's' } });
    expect(by(evaluate(inactive, EXP, ro), 'backup.units').message).toMatch(/timer is inactive: the job does not run on schedule/);
    const failed = facts({ units: { ok: true, value: units.map((u) => (u.Id === 'borgbackup-job-alchemist.service' ? { ...u, Result: 'exit-code' } : u)), source: 's' } });
    const o = by(evaluate(failed, EXP, ro), 'backup.units');
    expect(o.status).toBe('fail');
    expect(o.message).toMatch(/last result: exit-code/);
  });
  it('fails a timer that is active but will not start at the next boot (disabled, or linked: nothing wants it); enabled, as NixOS shows a wanted timer, passes', () => {
    const units = (facts().units as { value: any[] }).value;
    const withTimer = (UnitFileState: string, ActiveState = 'active') => facts({ units: { ok: true, value: units.map((u) => (u.Id.endsWith('.timer') ? { ...u, UnitFileState, ActiveState } : { ...u, UnitFileState: u.LoadState === 'loaded' ? 'linked' : '' })), source: 's' } });
    expect(by(evaluate(withTimer('enabled'), EXP, ro), 'backup.units').status).toBe('pass');
    const disabled = by(evaluate(withTimer('disabled'), EXP, ro), 'backup.units');
    expect(disabled).toMatchObject({ status: 'fail', message: 'borgbackup-job-alchemist.timer is disabled (systemctl disable): it does not start at the next boot (it runs now only until then)' });
    expect(disabled.evidence.observed).toContain('borgbackup-job-alchemist.timer: loaded/active disabled');
    expect(by(evaluate(withTimer('linked'), EXP, ro), 'backup.units').message).toMatch(/timer is linked: its unit file is installed but no target wants it \(NixOS: the timer lacks wantedBy/);
    for (const st of ['static', 'enabled-runtime', 'linked-runtime', 'transient', 'generated']) expect(by(evaluate(withTimer(st), EXP, ro), 'backup.units').status, st).toBe('fail');
    // real systemctl show (systemd 252, the systemd lab): enabled passes, `systemctl disable` without --now fails
    const shown = (f: string) => facts({ units: { ok: true, value: parseShow(fx(f), 3), source: 'systemctl show' } });
    expect(by(evaluate(shown('units-enabled.show'), EXP, ro), 'backup.units').status).toBe('pass');
    expect(by(evaluate(shown('units-timer-disabled.show'), EXP, ro), 'backup.units')).toMatchObject({ status: 'fail', message: expect.stringMatching(/timer is disabled/) });
    // startAt = [] (no timer expected): the timer is not judged
    expect(by(evaluate(withTimer('disabled'), { ...EXP, timer: false }, ro), 'backup.units').status).toBe('pass');
  });
  it('skips units without systemd, never passes', () => {
    const o = by(evaluate(facts({ units: { ok: false, skipped: 'no systemd (PID 1 is leafcert-init)', source: 't' } }), EXP, ro), 'backup.units');
    expect(o.status).toBe('skipped');
    expect(o.message).toMatch(/no systemd/);
  });
  it('fails an old archive, judged by the node clock', () => {
    const f = facts({ clock: { ok: true, value: { now: NOW + 3 * 86400, tz: '+0000' }, source: 'date' } });
    const o = by(evaluate(f, EXP, ro), 'backup.archive-age');
    expect(o.status).toBe('fail');
    expect(o.message).toMatch(/3d .* old \(max 26h\)/);
  });
  it('fails an archive that lacks a path, a damaged repository, a differing restore', () => {
    const os = evaluate(facts({
      contents: { ok: true, value: { roots: { data: 0 }, candidates: [], entries: 0 }, source: 'l' },
      check: { ok: true, value: { output: `rc 1\n${fx('check-corrupt.txt')}` }, source: 'borg check' },
      restore: { ok: true, value: { archiveEpoch: NOW - 7200, files: [{ path: 'data/a.txt', liveMtime: NOW - 9000, liveSha256: H('a'), restoredSha256: H('b') }] }, source: 'x' },
    }), EXP, ro);
    expect(by(os, 'backup.archive-paths').status).toBe('fail');
    expect(by(os, 'backup.archive-paths').message).toMatch(/lacks \/data/);
    expect(by(os, 'backup.repo-check').status).toBe('fail');
    expect(by(os, 'backup.repo-check').message).toMatch(/errors found/);
    expect(by(os, 'backup.restore-sample').status).toBe('fail');
    expect(by(os, 'backup.restore-sample').message).toMatch(/differ from live: \/data\/a.txt/);
  });
  it('turns an unreadable repository into errors, not passes', () => {
    const os = evaluate(facts({ list: { ok: false, reason: 'the repository asks for a passphrase', source: 'l' }, newest: undefined, contents: undefined, check: undefined, restore: undefined }), EXP, ro);
    for (const id of ['backup.archive-age', 'backup.archive-paths', 'backup.repo-check', 'backup.restore-sample']) {
      expect(by(os, id).status, id).toBe('error');
      expect(by(os, id).message).toMatch(/passphrase/);
    }
  });
  it('a job that cannot use its repository (a fact about the node) fails archive-age naming the cause; the checks that need the listing are skipped pointing at it', () => {
    for (const [kind, reason] of [
      ['wrapper', "the job wrapper borg-job-alchemist is not on the node's PATH (is services.borgbackup.jobs.alchemist declared?)"],
      ['no-repository', "the job's repository is missing or not a borg repository (Repository /var/lib/borgbackup/alchemist does not exist.)"],
      ['passphrase', "the job wrapper's passphrase command fails: cat: /etc/borg/passphrase: No such file or directory (…)"],
    ] as const) {
      const f = facts({ list: { ok: false, reason, source: 'l' }, jobBroken: { kind, reason, source: 'l' }, newest: undefined, contents: undefined, check: undefined, restore: undefined, canary: { ok: false, reason: `cannot run: ${reason}`, source: 'l' } });
      const os = evaluate(f, EXP, { options: { allowMutating: true } });
      expect(by(os, 'backup.archive-age')).toMatchObject({ status: 'fail', message: `no backup can be read or made: ${reason}` });
      for (const id of ['backup.archive-paths', 'backup.repo-check', 'backup.restore-sample', 'backup.encryption', 'backup.canary-roundtrip']) {
        expect(by(os, id), `${kind} ${id}`).toMatchObject({ status: 'skipped', message: `not judged: ${reason} (backup.archive-age fails on it)` });
      }
      expect(os.some((o) => o.status === 'pass' && o.id !== 'backup.units')).toBe(false);
    }
  });
  it('judges the mutating round trips', () => {
    const mut = { options: { allowMutating: true } };
    const base = facts({
      canary: { ok: true, value: { mode: 'wrapper', jobRc: 0, archive: 'leafcert-canary-1', written: H('d'), restored: H('d'), cleaned: true, log: '' }, source: 'c' },
      pg: { ok: true, value: { source: { rows: 1000, md5: 'f'.repeat(32) }, restored: { rows: 1000, md5: 'f'.repeat(32) }, cleaned: true, log: '' }, source: 'p' },
      leftovers: [],
    });
    const e = { ...EXP, postgres: { container: 'alchemist' } };
    let os = evaluate(base, e, mut);
    expect(by(os, 'backup.canary-roundtrip').status).toBe('pass');
    expect(by(os, 'backup.pg-roundtrip').status).toBe('pass');
    os = evaluate({ ...base, leftovers: ['/data/.leafcert-canary-1'], pg: { ...base.pg!, value: { ...(base.pg as any).value, restored: { rows: 999, md5: 'e'.repeat(32) } } } as any }, e, mut);
    expect(by(os, 'backup.canary-roundtrip').status).toBe('fail');
    expect(by(os, 'backup.canary-roundtrip').message).toMatch(/cleanup left/);
    expect(by(os, 'backup.pg-roundtrip').message).toMatch(/999 rows/);
    os = evaluate({ ...base, canary: { ...base.canary!, value: { ...(base.canary as any).value, jobRc: 2, log: 'Error: boom' } } as any }, e, mut);
    expect(by(os, 'backup.canary-roundtrip').status).toBe('fail');
    expect(parseCanary('WROTE\tx\nJOB\t0\nARCHIVES\ta \nRESTORED\ta\tx\nDELETED\ta\n', '', false)).toMatchObject({ archive: 'a', written: 'x', restored: 'x', cleaned: true });
    // The dump/restore failing is the property under test (fail); a scratch database that cannot be made is not (error).
    const dumpFailed = parsePg('ERR\tpg_dump failed\nDROPPED\n', 'pg_dump: error: aborting because of server version mismatch');
    expect(dumpFailed.failedStep).toMatch(/pg_dump failed.*version mismatch/);
    os = evaluate({ ...base, pg: { ...base.pg!, value: dumpFailed } as any }, e, mut);
    expect(by(os, 'backup.pg-roundtrip').status).toBe('fail');
    expect(by(os, 'backup.pg-roundtrip').message).toMatch(/pg_dump failed/);
    expect(parsePg('ERR\tpg_restore failed\n', 'x').failedStep).toMatch(/pg_restore failed/);
    expect(() => parsePg('ERR\tCREATE DATABASE failed\n', 'permission denied to create database')).toThrow(/CREATE DATABASE failed.*permission denied/);
  });
});

describe('round-trip scripts', () => {
  it('makes its own canary archive through the wrapper (never the NixOS job, whose prune could drop a real archive), cleaning up in a trap', () => {
    const o = { wrapper: 'borg-job-alchemist', base: '/var/lib/alchemist', paths: ['/var/lib/alchemist', '/etc/alchemist'], runId: 'ab12', timeoutSec: 60 };
    const w = canaryScript(o);
    expect(w).toMatch(/'borg-job-alchemist' create ::leafcert-canary-ab12 '\/var\/lib\/alchemist' '\/etc\/alchemist'/);
    expect(w).not.toMatch(/systemctl|prune/);
    for (const sc of [w, pgScript({ runId: 'ab12', timeoutSec: 60, user: 'postgres' })]) {
      expect(sc).toMatch(/trap cleanup EXIT/);
      expect(sc).toMatch(/trap 'exit 130' INT TERM HUP/);
      expect(sc).toMatch(/PIPE/);
    }
    // Every borg call: no stdin (no passphrase prompt), bounded, never-accept-unencrypted.
    for (const line of w.split('\n').filter((l) => l.includes("'borg-job-alchemist'"))) {
      expect(line).toMatch(/timeout -k 5 60 'borg-job-alchemist'/);
      expect(line).toMatch(/BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=no/);
      expect(line).toMatch(/<\/dev\/null/);
    }
  });
});

// ---- gather() against a real local repository
describe('backup gather on a local borg repository', () => {
  let dir: string;
  let oldPath: string | undefined;
  const host = new LocalHost('local-test');
  const node: NodeSpec = { name: 'local-test', transport: 'local', ssh: { user: 'root', port: 22, connectTimeoutMs: 1000 }, expect: 'x' };
  const ctx = (allowMutating = false, timeoutMs = 60_000): SuiteContext => ({ node, host, identity: {}, options: { allowMutating, timeoutMs, baseDir: '/' }, progress: () => {} });
  const sh = (c: string) => execSync(c, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const snapshot = () => sh(`cd ${dir}/data && find . -type f -exec sha256sum {} + | sort; ${dir}/bin/borg-job-t1 list --short; ls /tmp | grep -E '^leafcert-(canary|restore|pg)-' || true`);

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lc-backup-'));
    mkdirSync(join(dir, 'bin'));
    mkdirSync(join(dir, 'data', 'sub'), { recursive: true });
    for (let i = 0; i < 8; i++) writeFileSync(join(dir, 'data', `f${i}.txt`), `file ${i}\n`.repeat(i + 1));
    writeFileSync(join(dir, 'data', 'sub', 'b.bin'), Buffer.alloc(5000, 7));
    writeFileSync(join(dir, 'pass'), 'lab-pass\n', { mode: 0o600 });
    const wrap = (name: string, body: string) => {
      writeFileSync(join(dir, 'bin', name), `#!/bin/sh\n${body}\n`);
      chmodSync(join(dir, 'bin', name), 0o755);
    };
    wrap('borg-job-t1', `export BORG_REPO=${dir}/repo BORG_PASSCOMMAND="cat ${dir}/pass"\nexec borg "$@"`);
    wrap('borg-job-nopass', `export BORG_REPO=${dir}/repo\nunset BORG_PASSCOMMAND BORG_PASSPHRASE\nexec borg "$@"`);
    wrap('borg-job-hang', 'sleep 600');
    wrap('borg-job-passgone', `export BORG_REPO=${dir}/repo BORG_PASSCOMMAND="cat ${dir}/gone"\nexec borg "$@"`);
    wrap('borg-job-wrongpass', `export BORG_REPO=${dir}/repo BORG_PASSPHRASE=wrong\nunset BORG_PASSCOMMAND\nexec borg "$@"`);
    wrap('borg-job-norepo', `export BORG_REPO=${dir}/none BORG_PASSCOMMAND="cat ${dir}/pass"\nexec borg "$@"`);
    sh(`BORG_PASSCOMMAND="cat ${dir}/pass" borg init -e repokey ${dir}/repo`);
    // Backdate the files so the archive is younger than all of them (the mtime filter keeps them).
    for (let i = 0; i < 8; i++) utimesSync(join(dir, 'data', `f${i}.txt`), new Date(Date.now() - 3600_000), new Date(Date.now() - 3600_000));
    sh(`cd / && ${dir}/bin/borg-job-t1 create ::t1-2026 ${dir}/data`);
    oldPath = process.env.PATH;
    process.env.PATH = `${dir}/bin:${process.env.PATH}`;
  });
  afterAll(() => {
    process.env.PATH = oldPath;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('passes the read-only checks on a healthy repository', async () => {
    const e: BackupExpect = { job: 't1', maxAge: '1h', paths: [`${dir}/data`], sample: 4 };
    // Lab nodes share the host's /tmp: compare with what was there before, not with an empty /tmp.
    const restoreDirs = () => sh('ls /tmp').split('\n').filter((n) => n.startsWith('leafcert-restore-'));
    const before = restoreDirs();
    const f = await backupSuite.gather(ctx(), e);
    const os = backupSuite.evaluate(f, e, { node, identity: {}, options: ctx().options, now: new Date() });
    expect(by(os, 'backup.units').status).toBe('skipped'); // no systemd here
    expect(by(os, 'backup.archive-age').status).toBe('pass');
    expect(by(os, 'backup.archive-paths').status).toBe('pass');
    expect(by(os, 'backup.repo-check').status).toBe('pass');
    const r = by(os, 'backup.restore-sample');
    expect(r.status, r.message).toBe('pass');
    expect((r.evidence.observed as any).compared.length).toBe(4);
    expect(restoreDirs().filter((n) => !before.includes(n))).toEqual([]);
  });

  it('leaves the repository alone while the job runs (systemctl is-active says active): repo checks skipped, never pass', async () => {
    const marker = join(dir, 'busy-touched');
    writeFileSync(join(dir, 'bin', 'borg-job-busy'), `#!/bin/sh\ntouch ${marker}\nexport BORG_REPO=${dir}/repo BORG_PASSCOMMAND="cat ${dir}/pass"\nexec borg "$@"\n`, { mode: 0o755 });
    writeFileSync(join(dir, 'bin', 'systemctl'), '#!/bin/sh\ncase "$1" in is-active) echo active; exit 0;; *) exit 1;; esac\n', { mode: 0o755 });
    // A host "with systemd": the probe's systemd test succeeds, the fake systemctl answers.
    const sysHost = Object.create(host) as LocalHost;
    sysHost.exec = (cmd, o) => host.exec(cmd.replaceAll('[ -d /run/systemd/system ]', 'true'), o);
    try {
      const e: BackupExpect = { job: 'busy', maxAge: '1h', paths: [`${dir}/data`], check: true };
      const f = await backupSuite.gather({ ...ctx(), host: sysHost }, e);
      expect(f.jobRunning?.state).toBe('active');
      const os = backupSuite.evaluate(f, e, { node, identity: {}, options: ctx().options, now: new Date() });
      for (const id of ['backup.archive-age', 'backup.archive-paths', 'backup.repo-check', 'backup.restore-sample']) {
        expect(by(os, id).status, id).toBe('skipped');
        expect(by(os, id).message, id).toMatch(/backup job is running now.*repository lock/);
      }
      expect(os.some((o) => o.status === 'pass' && o.id !== 'backup.units')).toBe(false);
      expect(execSync(`test -e ${marker} && echo touched || echo untouched`, { encoding: 'utf8' }).trim()).toBe('untouched');
    } finally {
      rmSync(join(dir, 'bin', 'systemctl'), { force: true });
    }
  });

  it('fails the restore when a live file differs from the archive although it is older than it', async () => {
    const f0 = join(dir, 'data', 'f0.txt');
    const before = readFileSync(f0);
    writeFileSync(f0, 'tampered\n');
    utimesSync(f0, new Date(Date.now() - 7200_000), new Date(Date.now() - 7200_000));
    try {
      const e: BackupExpect = { job: 't1', maxAge: '1h', paths: [`${dir}/data`], sample: 20 };
      const f = await backupSuite.gather(ctx(), e);
      const r = by(backupSuite.evaluate(f, e, { node, identity: {}, options: ctx().options, now: new Date() }), 'backup.restore-sample');
      expect(r.status).toBe('fail');
      expect(r.message).toMatch(/f0.txt/);
    } finally {
      writeFileSync(f0, before);
      utimesSync(f0, new Date(Date.now() - 3600_000), new Date(Date.now() - 3600_000));
    }
  });

  it('reads the paths from the archive when the expectation has none', async () => {
    const e: BackupExpect = { job: 't1', maxAge: '1h' };
    const f = await backupSuite.gather(ctx(), e);
    expect(f.expectedPaths).toMatchObject({ ok: true, value: [`${dir}/data`] });
    expect(by(backupSuite.evaluate(f, e, { node, identity: {}, options: ctx().options, now: new Date() }), 'backup.archive-paths').status).toBe('skipped');
  });

  it('a job that cannot use its repository fails backup.archive-age naming why, at once: no passphrase, a failing passphrase command, a wrong passphrase, no repository', async () => {
    for (const [job, why] of [
      ['nopass', /asks for a passphrase that the job wrapper does not supply/],
      ['passgone', /passphrase command fails: cat: .*\/gone: No such file or directory/],
      ['wrongpass', /the passphrase the job wrapper supplies is not the repository's/],
      ['norepo', /repository is missing or not a borg repository \(Repository .*\/none does not exist\.\)/],
    ] as const) {
      const e: BackupExpect = { job, maxAge: '1h', paths: [`${dir}/data`] };
      const f = await backupSuite.gather(ctx(), e);
      const os = backupSuite.evaluate(f, e, { node, identity: {}, options: ctx().options, now: new Date() });
      expect(by(os, 'backup.archive-age').status, job).toBe('fail');
      expect(by(os, 'backup.archive-age').message, job).toMatch(why);
      expect(by(os, 'backup.repo-check').status, job).toBe('skipped');
    }
  });

  it('a held repository lock stays an error that does not claim who holds it', async () => {
    writeFileSync(join(dir, 'repo', 'lock.roster'), '{"exclusive": [["otherhost@123456789012", 4242, 0]]}');
    mkdirSync(join(dir, 'repo', 'lock.exclusive'));
    writeFileSync(join(dir, 'repo', 'lock.exclusive', 'otherhost@123456789012.4242-0'), '');
    try {
      const e: BackupExpect = { job: 't1', maxAge: '1h', paths: [`${dir}/data`] };
      const f = await backupSuite.gather(ctx(), e);
      const o = by(backupSuite.evaluate(f, e, { node, identity: {}, options: ctx().options, now: new Date() }), 'backup.archive-age');
      expect(o.status).toBe('error');
      expect(o.message).toMatch(/lock is held .*: a backup or another borg process may be running, or a killed one left it stale/);
    } finally {
      rmSync(join(dir, 'repo', 'lock.exclusive'), { recursive: true, force: true });
      rmSync(join(dir, 'repo', 'lock.roster'), { force: true });
    }
  });

  it('a hanging borg is an error within the timeout', async () => {
    const e: BackupExpect = { job: 'hang', maxAge: '1h', timeout: '2s' };
    const f = await backupSuite.gather(ctx(), e);
    const o = by(backupSuite.evaluate(f, e, { node, identity: {}, options: ctx().options, now: new Date() }), 'backup.archive-age');
    expect(o.status).toBe('error');
    expect(o.message).toMatch(/did not finish within 2s/);
  });

  it('a missing wrapper fails naming the job', async () => {
    const e: BackupExpect = { job: 'nosuchjob', maxAge: '1h' };
    const f = await backupSuite.gather(ctx(), e);
    const o = by(backupSuite.evaluate(f, e, { node, identity: {}, options: ctx().options, now: new Date() }), 'backup.archive-age');
    expect(o.status).toBe('fail');
    expect(o.message).toMatch(/borg-job-nosuchjob is not on the node's PATH/);
  });

  it('the canary round trip passes and leaves files and archives as they were', async () => {
    const before = snapshot();
    const e: BackupExpect = { job: 't1', maxAge: '1h', paths: [`${dir}/data`] };
    const f = await backupSuite.gather(ctx(true), e);
    const os = backupSuite.evaluate(f, e, { node, identity: {}, options: ctx(true).options, now: new Date() });
    const c = by(os, 'backup.canary-roundtrip');
    expect(c.status, c.message).toBe('pass');
    expect(by(os, 'backup.pg-roundtrip').status).toBe('skipped');
    expect(snapshot()).toBe(before);
  });

  it('a failing canary round trip still leaves nothing behind', async () => {
    const before = snapshot();
    // The job's second path does not exist: borg create fails (rc 2) after the canary was written.
    const e: BackupExpect = { job: 't1', maxAge: '1h', paths: [`${dir}/data`, `${dir}/missing`] };
    const f = await backupSuite.gather(ctx(true), e);
    const c = by(backupSuite.evaluate(f, e, { node, identity: {}, options: ctx(true).options, now: new Date() }), 'backup.canary-roundtrip');
    expect(c.status).not.toBe('pass');
    expect(snapshot()).toBe(before);
  });
});
