// backup.checkEvery: the repository check at most once per window, remembered by the harness.
// The window's arithmetic and the judge on hand-made facts; the state file (missing, corrupt,
// two writers); the schema; and gather() on a real local borg repository, counting the wrapper's
// `check` calls: inside the window no borg check starts, and a failed check is not remembered.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckMemoryFile, defaultStateDir, readMemory } from '../src/core/check-memory.js';
import type { NodeSpec, SuiteContext } from '../src/core/types.js';
import { InventoryError, formatProblem } from '../src/inventory/errors.js';
import { parseInventory } from '../src/inventory/load.js';
import { decideWindow, shortAge, type CheckWindow } from '../src/probes/check-window.js';
import { parseBorgList } from '../src/probes/borg.js';
import { LocalHost } from '../src/transport/local.js';
import { backupSuite, type BackupExpect, type BackupFacts } from '../suites/backup.js';
import { judgeRepoCheck } from '../suites/backup/judge.js';

const fx = (f: string) => readFileSync(join(__dirname, '..', 'fixtures', 'borg', f), 'utf8');
const list = parseBorgList(fx('list.json'));
const REPO = list.repository;
const T0 = Date.parse('2026-12-03T09:00:00Z');
const H = 3600_000;
const EXP: BackupExpect = { job: 'alchemist', maxAge: '26h', checkEvery: '24h' };
const FILE = '/var/lib/leafcert-state/repo-checks.json';

const remembered = (at: number, id = REPO.id) => [{ location: REPO.location, repositoryId: id, at: new Date(at).toISOString() }];
const windowAt = (now: number, rem = remembered(T0), every = '24h'): CheckWindow => decideWindow({ every, remembered: rem, file: FILE, now: () => now }, REPO);
const facts = (over: Partial<BackupFacts>): BackupFacts =>
  ({ job: 'alchemist', wrapper: 'borg-job-alchemist', list: { ok: true, value: list, source: 'borg-job-alchemist list --json' }, ...over }) as BackupFacts;
const clean = { ok: true as const, value: { output: '', cost: '0.80 s wall, 0.75 s CPU on the node' }, source: 'borg-job-alchemist check --repository-only (bounded to 100 s)' };

describe('the window (src/probes/check-window.ts)', () => {
  it('inside the window: not due; at or past it, due and saying how old the last clean check is', () => {
    expect(windowAt(T0 + 3 * H)).toMatchObject({ due: false, last: { at: '2026-12-03T09:00:00.000Z', repositoryId: REPO.id }, file: FILE });
    expect(windowAt(T0 + 24 * H)).toMatchObject({ due: true, why: 'due: last clean check 24h ago (backup.checkEvery 24h)' });
    expect(windowAt(T0 + 25 * H).why).toBe('due: last clean check 25h ago (backup.checkEvery 24h)');
    expect(windowAt(T0 + 3 * H, remembered(T0), '7d').due).toBe(false);
  });
  it('nothing remembered, another repository id at the location, a memory from the future, an unreadable memory: due', () => {
    expect(windowAt(T0, [])).toMatchObject({ due: true, why: 'no earlier clean check remembered' });
    // Another location is another repository: nothing remembered for this one.
    expect(windowAt(T0 + H, [{ ...remembered(T0)[0], location: '/elsewhere' }]).why).toBe('no earlier clean check remembered');
    const changed = windowAt(T0 + H, remembered(T0, 'f'.repeat(64)));
    expect(changed.due).toBe(true);
    expect(changed.why).toMatch(/^repository id changed: the clean check of 2026-12-03T09:00:00Z was of repository ffffffffffffffff, \/tmp\/ops\/repo is now /);
    expect(windowAt(T0 - H).due).toBe(true);
    const bad = decideWindow({ every: '24h', remembered: remembered(T0), file: FILE, problem: `state file ${FILE} is corrupt: x`, now: () => T0 + H }, REPO);
    expect(bad).toMatchObject({ due: true, why: `no earlier clean check remembered (state file ${FILE} is corrupt: x)` });
  });
  it('ages read at the window\'s precision', () => {
    expect([45 * 60_000, 3 * H, 3.5 * H, 25 * H, 74 * H, 72 * H].map(shortAge)).toEqual(['45m', '3h', '3h 30m', '25h', '3d 2h', '3d']);
  });
});

describe('judgeRepoCheck with backup.checkEvery', () => {
  it('inside the window: skipped, naming the last clean check, its age and when it is due; evidence from the state file; never a pass', () => {
    const o = judgeRepoCheck(facts({ checkWindow: windowAt(T0 + 3 * H) }), EXP);
    expect(o.status).toBe('skipped');
    expect(o.message).toBe('last clean check 2026-12-03T09:00:00Z (3h ago, by this harness); next due 2026-12-04T09:00:00Z (backup.checkEvery 24h)');
    expect(o.evidence.source).toBe(FILE);
    expect(o.evidence.observed).toEqual({ lastCleanCheck: '2026-12-03T09:00:00Z', repositoryId: REPO.id, ageSeconds: 3 * 3600, nextDue: '2026-12-04T09:00:00Z' });
  });
  it('when due the check runs as today and its evidence says why it ran', () => {
    const o = judgeRepoCheck(facts({ checkWindow: windowAt(T0 + 25 * H), check: clean }), EXP);
    expect(o.status).toBe('pass');
    expect(o.message).toMatch(/no problems \(0.80 s wall.*\); due: last clean check 25h ago \(backup.checkEvery 24h\)$/);
    expect(o.evidence.observed).toEqual({ rc: 'rc 0', ranBecause: 'due: last clean check 25h ago (backup.checkEvery 24h)' });
    expect(o.evidence.source).toBe(clean.source);
    const first = judgeRepoCheck(facts({ checkWindow: windowAt(T0, []), check: clean }), EXP);
    expect(first.evidence.observed).toEqual({ rc: 'rc 0', ranBecause: 'no earlier clean check remembered' });
  });
  it('after a failed check nothing is remembered: the next run checks again (and fails again on a damaged repository)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lc-checkevery-'));
    try {
      const m = new CheckMemoryFile(join(dir, 'repo-checks.json'));
      m.remember({ node: 'leaf-1', location: REPO.location, repositoryId: REPO.id, at: new Date(T0).toISOString() });
      m.forget({ node: 'leaf-1', location: REPO.location, at: new Date(T0 + 25 * H).toISOString() });
      const w = decideWindow({ every: '24h', remembered: m.recall('leaf-1').checks, file: m.file, now: () => T0 + 26 * H }, REPO);
      expect(w).toMatchObject({ due: true, why: 'no earlier clean check remembered' });
      const damaged = { ok: true as const, value: { output: `rc 1\n${fx('check-corrupt.txt')}` }, source: 'borg check' };
      const o = judgeRepoCheck(facts({ checkWindow: w, check: damaged }), EXP);
      expect(o.status).toBe('fail');
      expect(o.message).toMatch(/errors found.*; no earlier clean check remembered$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('a changed repository id runs the check; an errored check says why it ran', () => {
    const w = windowAt(T0 + H, remembered(T0, 'f'.repeat(64)));
    expect(judgeRepoCheck(facts({ checkWindow: w, check: clean }), EXP).status).toBe('pass');
    const o = judgeRepoCheck(facts({ checkWindow: w, check: { ok: false, reason: 'the repository is locked by another borg process (x)', source: 'borg check' } }), EXP);
    expect(o.status).toBe('error');
    expect(o.message).toMatch(/locked.*; repository id changed/);
  });
  it('a window that does not hold up (not due, yet no clean check inside it) is an error, not a skip; check: false still disables', () => {
    const w: CheckWindow = { ...windowAt(T0 + 3 * H), last: undefined };
    expect(judgeRepoCheck(facts({ checkWindow: w }), EXP).status).toBe('error');
    const stale: CheckWindow = { ...windowAt(T0 + 3 * H), decidedAt: new Date(T0 + 30 * H).toISOString() };
    expect(judgeRepoCheck(facts({ checkWindow: stale }), EXP).status).toBe('error');
    const off = judgeRepoCheck(facts({}), { ...EXP, check: false });
    expect(off.status).toBe('skipped');
    expect(off.message).toMatch(/backup.check: false/);
  });
});

describe('the state file (src/core/check-memory.ts)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lc-checkevery-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const entry = (node: string, at: number) => ({ node, location: REPO.location, repositoryId: REPO.id, at: new Date(at).toISOString() });

  it('defaults to $XDG_STATE_HOME/leafcert, else ~/.local/state/leafcert', () => {
    expect(defaultStateDir({ XDG_STATE_HOME: '/x/state', HOME: '/home/u' })).toBe('/x/state/leafcert');
    expect(defaultStateDir({ HOME: '/home/u' })).toBe('/home/u/.local/state/leafcert');
    expect(defaultStateDir({ XDG_STATE_HOME: 'relative', HOME: '/home/u' })).toBe('/home/u/.local/state/leafcert');
  });

  it('a missing file is no memory, without a warning; nothing is written when nothing changed', () => {
    const warnings: string[] = [];
    const m = new CheckMemoryFile(join(dir, 'missing', 'repo-checks.json'), (w) => warnings.push(w));
    expect(m.recall('leaf-1')).toEqual({ checks: [] });
    m.flush();
    expect(existsSync(join(dir, 'missing'))).toBe(false);
    expect(warnings).toEqual([]);
  });

  it('a corrupt or unreadable file: one warning naming it, no memory (the check runs), and the next write replaces it', () => {
    for (const [name, text] of [['garbage.json', '{"version":1,"repoChecks":[{"node":'], ['wrong.json', '{"version":1,"repoChecks":[{"node":"leaf-1","at":"yesterday"}]}'], ['other.json', '[1,2]']]) {
      const f = join(dir, name);
      writeFileSync(f, text);
      const warnings: string[] = [];
      const m = new CheckMemoryFile(f, (w) => warnings.push(w));
      const r = m.recall('leaf-1');
      expect(r.checks).toEqual([]);
      expect(r.problem).toMatch(new RegExp(`^state file ${f} is corrupt: `));
      m.recall('leaf-2');
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(f);
      expect(decideWindow({ every: '1h', remembered: r.checks, file: f, problem: r.problem }, REPO).due).toBe(true);
      m.remember(entry('leaf-1', T0));
      m.flush();
      expect(readMemory(f)).toEqual({ checks: [entry('leaf-1', T0)] });
    }
    const d = join(dir, 'a-directory.json');
    mkdirSync(d);
    expect(new CheckMemoryFile(d, () => undefined).recall('x').problem).toMatch(/is unreadable: .*EISDIR/);
  });

  it('two writers of one file (shards, processes): each re-reads and merges before its rename, so neither loses the other\'s nodes', () => {
    const f = join(dir, 'shared', 'repo-checks.json');
    const a = new CheckMemoryFile(f);
    const b = new CheckMemoryFile(f);
    // Both read the (missing) file before either writes, as two shards starting together do.
    expect(a.recall('leaf-1').checks).toEqual([]);
    expect(b.recall('leaf-2').checks).toEqual([]);
    a.remember(entry('leaf-1', T0));
    b.remember(entry('leaf-2', T0 + H));
    a.flush();
    b.flush();
    expect(readMemory(f).checks).toEqual([entry('leaf-1', T0), entry('leaf-2', T0 + H)]);
    // A failed check forgets only its own node's repository; a later clean check elsewhere wins over an older failure.
    const c = new CheckMemoryFile(f);
    const d = new CheckMemoryFile(f);
    c.recall('leaf-1');
    d.recall('leaf-1');
    c.forget({ node: 'leaf-1', location: REPO.location, at: new Date(T0 + 2 * H).toISOString() });
    d.remember(entry('leaf-1', T0 + 3 * H));
    d.flush();
    c.flush();
    expect(readMemory(f).checks).toEqual([entry('leaf-1', T0 + 3 * H), entry('leaf-2', T0 + H)]);
    const e = new CheckMemoryFile(f);
    e.forget({ node: 'leaf-1', location: REPO.location, at: new Date(T0 + 4 * H).toISOString() });
    e.flush();
    expect(readMemory(f).checks).toEqual([entry('leaf-2', T0 + H)]);
    // Renamed into place: no temporary file is left beside it.
    expect(readdirSync(join(dir, 'shared'))).toEqual(['repo-checks.json']);
  });
});

describe('backup.checkEvery in the inventory', () => {
  const inv = (every: string) => `nodes:\n  - { name: leaf-1, transport: local, expect: leaf }\nexpectations:\n  leaf:\n    backup: { job: alchemist, maxAge: 26h, checkEvery: ${every} }\n`;
  it('a duration is accepted; anything else is an inventory error naming the key', () => {
    expect(() => parseInventory(inv('24h'), '/x/inv.yaml', { suites: [backupSuite] })).not.toThrow();
    expect(() => parseInventory(inv('7d'), '/x/inv.yaml', { suites: [backupSuite] })).not.toThrow();
    let err: unknown;
    try {
      parseInventory(inv('daily'), '/x/inv.yaml', { suites: [backupSuite] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InventoryError);
    const lines = (err as InventoryError).problems.map((p) => formatProblem('/x/inv.yaml', p));
    expect(lines.join('\n')).toMatch(/expectations\.leaf\.backup\.checkEvery: expected a duration .*got "daily"/);
  });
});

// ---- gather() on a real local borg repository: the wrapper logs each call, so "no borg check" is counted.
describe('backup.checkEvery through gather on a local borg repository', () => {
  let dir: string;
  let oldPath: string | undefined;
  const host = new LocalHost('local-test');
  const node: NodeSpec = { name: 'local-test', transport: 'local', ssh: { user: 'root', port: 22, connectTimeoutMs: 1000 }, expect: 'x' };
  const sh = (c: string) => execSync(c, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const checks = () => (existsSync(join(dir, 'calls')) ? readFileSync(join(dir, 'calls'), 'utf8').split('\n').filter((l) => /^check\b/.test(l)).length : 0);

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lc-checkevery-'));
    mkdirSync(join(dir, 'bin'));
    mkdirSync(join(dir, 'data'));
    writeFileSync(join(dir, 'data', 'a.txt'), 'a\n');
    writeFileSync(join(dir, 'pass'), 'lab-pass\n', { mode: 0o600 });
    // `check` fails with borg's own words while the flag file exists (a damaged repository, as borg reports one).
    writeFileSync(join(dir, 'bin', 'borg-job-ce'), `#!/bin/sh\necho "$*" >> ${dir}/calls\nif [ "$1" = check ] && [ -e ${dir}/damaged ]; then echo 'Index object count mismatch.'; echo 'Completed repository check, errors found.'; exit 1; fi\nexport BORG_REPO=${dir}/repo BORG_PASSCOMMAND="cat ${dir}/pass"\nexec borg "$@"\n`, { mode: 0o755 });
    sh(`BORG_PASSCOMMAND="cat ${dir}/pass" borg init -e repokey ${dir}/repo`);
    sh(`cd / && BORG_REPO=${dir}/repo BORG_PASSCOMMAND="cat ${dir}/pass" borg create ::ce-1 ${dir}/data`);
    oldPath = process.env.PATH;
    process.env.PATH = `${dir}/bin:${process.env.PATH}`;
  });
  afterAll(() => {
    process.env.PATH = oldPath;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('remembers a clean check, skips inside the window without starting borg check, and forgets a failed one', async () => {
    const memory = new CheckMemoryFile(join(dir, 'state', 'repo-checks.json'));
    const ctx: SuiteContext = { node, host, identity: {}, options: { allowMutating: false, timeoutMs: 60_000, baseDir: '/', checkMemory: memory }, progress: () => {} };
    const e: BackupExpect = { job: 'ce', maxAge: '1h', paths: [`${dir}/data`], restoreProbe: false, checkEvery: '1h' };
    const judge = async () => {
      const f = await backupSuite.gather(ctx, e);
      return backupSuite.evaluate(f, e, { node, identity: {}, options: ctx.options, now: new Date() }).find((o) => o.id === 'backup.repo-check')!;
    };

    const first = await judge();
    expect(first.status, first.message).toBe('pass');
    expect(first.message).toMatch(/no earlier clean check remembered$/);
    expect(checks()).toBe(1);
    expect(memory.recall('local-test').checks).toHaveLength(1);

    const second = await judge();
    expect(second.status, second.message).toBe('skipped');
    expect(second.message).toMatch(/^last clean check \S+Z \(0m ago, by this harness\); next due \S+Z \(backup.checkEvery 1h\)$/);
    expect(second.evidence.source).toBe(memory.file);
    expect(checks()).toBe(1);

    // Written once at the end of a run (the CLI flushes); the next process reads it.
    memory.flush();
    expect(readMemory(memory.file).checks).toEqual(memory.recall('local-test').checks);

    // Outside the window on a damaged repository: it runs, fails, and is forgotten; so the next run checks again.
    writeFileSync(join(dir, 'damaged'), '');
    const third = await judge();
    expect(third.status).toBe('skipped');
    // A memory whose clean check is 2h old (a later one already there would win over it: another file).
    const old = new CheckMemoryFile(join(dir, 'state', 'old.json'));
    old.remember({ ...memory.recall('local-test').checks[0], at: new Date(Date.now() - 2 * H).toISOString() });
    const ctxOld: SuiteContext = { ...ctx, options: { ...ctx.options, checkMemory: old } };
    const f = await backupSuite.gather(ctxOld, e);
    const failed = backupSuite.evaluate(f, e, { node, identity: {}, options: ctxOld.options, now: new Date() }).find((o) => o.id === 'backup.repo-check')!;
    expect(failed.status, failed.message).toBe('fail');
    expect(failed.message).toMatch(/errors found.*; due: last clean check 2h ago \(backup.checkEvery 1h\)$/);
    expect(checks()).toBe(2);
    expect(old.recall('local-test').checks).toEqual([]);
    rmSync(join(dir, 'damaged'));
    const again = await backupSuite.gather(ctxOld, e);
    expect(again.checkWindow?.why).toBe('no earlier clean check remembered');
    expect(checks()).toBe(3);
  });
});
