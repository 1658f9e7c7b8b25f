// The backup suite's judgement, one pure function per check: facts + expectation → one outcome.
import { outcome, type CheckDef } from '../../src/core/checks.js';
import type { Outcome } from '../../src/core/types.js';
import { parseDuration } from '../../src/core/units.js';
import { borgTimeToEpoch } from '../../src/probes/borg.js';
import type { BackupFacts, BackupTarget } from '../../src/probes/backup.js';
import { isoSecond, shortAge, withinWindow, type CheckWindow } from '../../src/probes/check-window.js';
import { CHECKS } from './checks.js';

/** What the judges read of the expectation (the suite's BackupExpect). */
export interface Judged extends BackupTarget {
  maxAge: string;
  timer?: boolean;
  /** The repository is declared on another machine (services.borgbackup.jobs.<job>.repo is remote). */
  offNode?: boolean;
  /** The declared encryption mode (services.borgbackup.jobs.<job>.encryption.mode). */
  encryption?: string;
}

export const MUTATING_REASON = 'writes to the node (canary file, archive, scratch databases): run with --allow-mutating on a pre-production node';

function stepError(def: CheckDef, subject: string, s: { reason: string; source: string; excerpt?: string }): Outcome {
  return outcome(def, subject, 'error', s.reason, { source: s.source, ...(s.excerpt ? { excerpt: s.excerpt } : {}) });
}

/**
 * No listing. A job that cannot use its repository for a reason on the node (f.jobBroken: wrapper not
 * installed, repository missing, passphrase missing or wrong) is a finding: backup.archive-age fails
 * naming the cause, and every other check that needs the listing is skipped pointing at it. Any other
 * reason (timeout, held lock, garbled output) is what leafcert could not tell: error.
 */
function noListing(def: CheckDef, subject: string, f: BackupFacts, s: { reason: string; source: string; excerpt?: string }): Outcome {
  const b = f.jobBroken;
  if (!b) return stepError(def, subject, s);
  const ev = { source: b.source, expected: `${f.wrapper} reads its repository`, observed: b.kind, ...(b.excerpt ? { excerpt: b.excerpt } : {}) };
  if (def.id === CHECKS['archive-age'].id) return outcome(def, subject, 'fail', `no backup can be read or made: ${b.reason}`, ev);
  return outcome(def, subject, 'skipped', `not judged: ${b.reason} (${CHECKS['archive-age'].id} fails on it)`, ev);
}

function fmtAge(sec: number): string {
  const h = Math.floor(sec / 3600);
  const m = Math.floor((sec % 3600) / 60);
  return h >= 48 ? `${Math.floor(h / 24)}d ${h % 24}h` : `${h}h ${m}m`;
}

/** The repository's location, or the wrapper's name for it when it could not be listed. */
export function repoOf(f: BackupFacts): string {
  return f.list.ok ? f.list.value.repository.location : `${f.wrapper}'s repository`;
}

/** Units (NixOS names them borgbackup-job-NAME; the deployment guide's borgbackup-NAME is wrong). */
export function judgeUnits(f: BackupFacts, e: Judged): Outcome {
  const def = CHECKS.units;
  const job = f.job;
  const subject = `borgbackup-job-${job}.service`;
  const u = f.units;
  if (!u.ok && 'skipped' in u) return outcome(def, subject, 'skipped', `cannot check systemd units: ${u.skipped}`, { source: u.source, observed: u.skipped });
  if (!u.ok) return stepError(def, subject, u);
  const byId = new Map(u.value.map((x) => [x.Id, x]));
  const svc = byId.get(`borgbackup-job-${job}.service`);
  const tmr = byId.get(`borgbackup-job-${job}.timer`);
  const guide = byId.get(`borgbackup-${job}.service`);
  const timer = e.timer !== false;
  const missing: string[] = [];
  if (!svc || svc.LoadState !== 'loaded') missing.push(`borgbackup-job-${job}.service`);
  if (timer && (!tmr || tmr.LoadState !== 'loaded')) missing.push(`borgbackup-job-${job}.timer`);
  const note = guide && guide.LoadState === 'loaded' ? '' : ` (the deployment guide's \`systemctl start borgbackup-${job}\` names a unit that does not exist on NixOS)`;
  const observed = u.value.map((x) => `${x.Id}: ${x.LoadState}${x.ActiveState ? `/${x.ActiveState}` : ''}${x.UnitFileState ? ` ${x.UnitFileState}` : ''}${x.Result ? ` result=${x.Result}` : ''}`);
  const ev = (expected: unknown) => ({ source: u.source, expected, observed, excerpt: u.excerpt });
  const units = { service: `borgbackup-job-${job}.service`, timer };
  if (missing.length) return outcome(def, subject, 'fail', `missing: ${missing.join(', ')}${note}`, ev(units));
  if (timer && tmr?.ActiveState && tmr.ActiveState !== 'active') return outcome(def, subject, 'fail', `borgbackup-job-${job}.timer is ${tmr.ActiveState}: the job does not run on schedule`, ev('timer active'));
  // Started at boot only when a target wants it: NixOS's wantedBy = [ "timers.target" ] (a symlink in
  // timers.target.wants) shows `enabled`; a timer nothing wants shows `linked` (NixOS units have no
  // [Install]), one `systemctl disable`d shows `disabled` — active now, gone after the next reboot.
  const fileState = tmr?.UnitFileState;
  if (timer && fileState && fileState !== 'enabled') {
    const why = fileState === 'disabled' ? 'disabled (systemctl disable)' : fileState === 'linked' ? 'linked: its unit file is installed but no target wants it (NixOS: the timer lacks wantedBy = [ "timers.target" ])' : `${fileState}, not enabled`;
    return outcome(def, subject, 'fail', `borgbackup-job-${job}.timer is ${why}: it does not start at the next boot${tmr?.ActiveState === 'active' ? ' (it runs now only until then)' : ''}`, ev('timer UnitFileState=enabled'));
  }
  if (svc?.Result && svc.Result !== 'success') return outcome(def, subject, 'fail', `borgbackup-job-${job}.service last result: ${svc.Result}`, ev('Result=success'));
  return outcome(def, subject, 'pass', `borgbackup-job-${job}.service${timer ? ' and .timer' : ''} loaded${note}`, ev(units));
}

/** Newest archive age, judged by the node's clock. */
export function judgeArchiveAge(f: BackupFacts, e: Judged): Outcome {
  const def = CHECKS['archive-age'];
  const repo = repoOf(f);
  const maxSec = parseDuration(e.maxAge) / 1000;
  if (!f.list.ok) return noListing(def, repo, f, f.list);
  if (!f.clock.ok) return stepError(def, repo, f.clock);
  if (!f.newest) {
    return outcome(def, repo, 'fail', `the repository holds no completed archive (${f.list.value.archives.length} in total)`, { source: f.list.source, expected: `newest archive younger than ${e.maxAge}`, observed: f.list.value.archives.map((a) => a.name), excerpt: f.list.excerpt });
  }
  const age = f.clock.value.now - borgTimeToEpoch(f.newest.start, f.clock.value.tz);
  const ev = { source: f.list.source, expected: `younger than ${e.maxAge}`, observed: { archive: f.newest.name, start: f.newest.start, nodeTz: f.clock.value.tz, ageSeconds: age }, excerpt: f.list.excerpt };
  if (age < -300) return outcome(def, repo, 'fail', `newest archive ${f.newest.name} is dated ${fmtAge(-age)} in the node's future: clock or timestamp wrong`, ev);
  if (age > maxSec) return outcome(def, repo, 'fail', `newest archive ${f.newest.name} is ${fmtAge(age)} old (max ${e.maxAge})`, ev);
  return outcome(def, repo, 'pass', `newest archive ${f.newest.name} is ${fmtAge(Math.max(0, age))} old (max ${e.maxAge})`, ev);
}

/** Expected paths are in the newest archive. */
export function judgeArchivePaths(f: BackupFacts, e: Judged): Outcome {
  const def = CHECKS['archive-paths'];
  const subject = f.newest?.name ?? repoOf(f);
  if (!f.list.ok) return noListing(def, subject, f, f.list);
  if (!f.newest) return outcome(def, subject, 'fail', 'no completed archive to look into', { source: f.list.source });
  if (!e.paths) return outcome(def, subject, 'skipped', 'no paths in the expectation (backup.paths): the archive\'s own command line cannot show a path it left out', { source: 'expectation backup.paths' });
  if (!f.contents) return outcome(def, subject, 'error', 'archive contents not gathered', { source: 'backup probe' });
  if (!f.contents.ok) return stepError(def, subject, f.contents);
  const roots = f.contents.value.roots;
  const counts = Object.fromEntries(e.paths.map((p) => [p, roots[p.replace(/^\/+/, '').replace(/\/+$/, '')] ?? 0]));
  const missing = e.paths.filter((p) => counts[p] === 0);
  const ev = { source: f.contents.source, expected: e.paths, observed: { entriesUnder: counts, totalEntries: f.contents.value.entries } };
  if (missing.length) return outcome(def, subject, 'fail', `${f.newest.name} lacks ${missing.join(', ')}`, ev);
  return outcome(def, subject, 'pass', `${f.newest.name} holds all ${e.paths.length} expected path(s)`, ev);
}

/** borg check --repository-only. */
export function judgeRepoCheck(f: BackupFacts, e: Judged): Outcome {
  const def = CHECKS['repo-check'];
  const repo = repoOf(f);
  if (e.check === false) return outcome(def, repo, 'skipped', 'disabled in the expectation (backup.check: false)', { source: 'expectation backup.check' });
  if (!f.list.ok) return noListing(def, repo, f, f.list);
  const w = f.checkWindow;
  if (w && !w.due && !f.check) return skippedInWindow(def, repo, w);
  if (!f.check) return outcome(def, repo, 'error', 'borg check did not run', { source: 'backup probe' });
  // With backup.checkEvery, why it ran this time ("due: last clean check 25h ago").
  const ran = (observed: string) => (w ? { observed: { rc: observed, ranBecause: w.why } } : { observed });
  const because = w ? `; ${w.why}` : '';
  if (!f.check.ok) return outcome(def, repo, 'error', `${f.check.reason}${because}`, { source: f.check.source, ...(f.check.excerpt ? { excerpt: f.check.excerpt } : {}) });
  const output = f.check.value.output;
  if (/^rc \d+/.test(output)) {
    const lines = output.split('\n').filter((l) => l.trim() && !/^rc \d+$/.test(l));
    return outcome(def, repo, 'fail', `borg check found problems: ${lines.slice(-2).join(' | ').slice(0, 300)}${because}`, { source: f.check.source, expected: 'rc 0', ...ran(output.split('\n')[0]), excerpt: f.check.excerpt });
  }
  return outcome(def, repo, 'pass', `borg check --repository-only: no problems${f.check.value.cost ? ` (${f.check.value.cost})` : ''}${because}`, { source: f.check.source, expected: 'rc 0', ...ran('rc 0'), excerpt: f.check.excerpt });
}

/**
 * Inside backup.checkEvery's window: skipped, naming the clean check that covers it — never a pass
 * for a check this run did not see. The window is re-judged here from its own numbers.
 */
function skippedInWindow(def: CheckDef, repo: string, w: CheckWindow): Outcome {
  const now = Date.parse(w.decidedAt);
  const last = w.last ? Date.parse(w.last.at) : NaN;
  if (!w.last || !withinWindow(last, w.every, now)) return outcome(def, repo, 'error', `borg check did not run, and no clean check within backup.checkEvery ${w.every} is remembered`, { source: w.file });
  const next = last + parseDuration(w.every);
  return outcome(def, repo, 'skipped', `last clean check ${isoSecond(last)} (${shortAge(now - last)} ago, by this harness); next due ${isoSecond(next)} (backup.checkEvery ${w.every})`, {
    source: w.file,
    expected: `a clean borg check --repository-only at most ${w.every} ago`,
    observed: { lastCleanCheck: isoSecond(last), repositoryId: w.last.repositoryId, ageSeconds: Math.round((now - last) / 1000), nextDue: isoSecond(next) },
  });
}

/** Restore sample equals the unchanged live files. */
export function judgeRestoreSample(f: BackupFacts, e: Judged): Outcome {
  const def = CHECKS['restore-sample'];
  const subject = f.newest?.name ?? repoOf(f);
  if (e.restoreProbe === false) return outcome(def, subject, 'skipped', 'disabled in the expectation (backup.restoreProbe: false)', { source: 'expectation backup.restoreProbe' });
  if (!f.list.ok) return noListing(def, subject, f, f.list);
  if (!f.newest) return outcome(def, subject, 'fail', 'no completed archive to restore from', { source: f.list.source });
  if (!f.restore) return outcome(def, subject, 'error', f.contents && !f.contents.ok ? `archive not readable: ${f.contents.reason}` : !f.clock.ok ? f.clock.reason : 'restore probe did not run', { source: 'backup probe' });
  if (!f.restore.ok) return stepError(def, subject, f.restore);
  const { files, archiveEpoch } = f.restore.value;
  // Changed since the archive: modified after it was made, unless its mtime is still the archived one.
  const changed = files.filter((x) => x.liveMtime === null || (x.liveMtime > archiveEpoch && x.liveMtime !== x.archivedMtime));
  const compared = files.filter((x) => !changed.includes(x));
  const notRestored = compared.filter((x) => x.restoredSha256 === null);
  const differ = compared.filter((x) => x.restoredSha256 !== null && x.restoredSha256 !== x.liveSha256);
  const ev = {
    source: f.restore.source,
    expected: 'restored sha256 = live sha256 for files unchanged since the archive',
    observed: {
      // 16 hex of each hash: enough to compare by eye, and a sampled secrets file stays unguessable.
      compared: compared.map((x) => ({ path: `/${x.path}`, sha256: x.liveSha256?.slice(0, 16) ?? null, restored: x.restoredSha256?.slice(0, 16) ?? null })),
      excludedChangedSinceArchive: changed.map((x) => `/${x.path}`),
    },
    excerpt: f.restore.excerpt,
  };
  if (notRestored.length || differ.length) {
    const parts = [
      ...(notRestored.length ? [`not restored: ${notRestored.map((x) => `/${x.path}`).join(', ')}`] : []),
      ...(differ.length ? [`differ from live: ${differ.map((x) => `/${x.path}`).join(', ')}`] : []),
    ];
    return outcome(def, subject, 'fail', parts.join('; '), ev);
  }
  if (!compared.length) return outcome(def, subject, 'error', `every sampled file changed since the archive was made (${changed.length}): nothing to compare`, ev);
  return outcome(def, subject, 'pass', `${compared.length} restored file(s) equal the live ones${changed.length ? ` (${changed.length} changed since the archive, excluded)` : ''}`, ev);
}

/** The canary went through create and extract unchanged, and nothing of it is left. */
export function judgeCanary(f: BackupFacts, allowMutating: boolean): Outcome {
  const def = CHECKS['canary-roundtrip'];
  const subject = `borgbackup-job-${f.job}`;
  if (!allowMutating) return outcome(def, subject, 'skipped', MUTATING_REASON, { source: 'run option --allow-mutating' });
  if (!f.list.ok && f.jobBroken) return noListing(def, subject, f, f.list);
  if (!f.canary) return outcome(def, subject, 'error', 'canary round trip did not run', { source: 'backup probe' });
  if (!f.canary.ok) return stepError(def, subject, f.canary);
  const c = f.canary.value;
  const left = (f.leftovers ?? []).filter((l) => /canary/.test(l));
  const ev = { source: f.canary.source, expected: { sha256: c.written, cleanedUp: true }, observed: { archive: c.archive, restoredSha256: c.restored, mode: c.mode, leftovers: left }, excerpt: c.log.slice(0, 600) };
  if (c.jobRc === 124 || c.jobRc === 137) return outcome(def, subject, 'error', 'borg create did not finish within the timeout', ev);
  if (c.jobRc !== 0) return outcome(def, subject, 'fail', `borg create failed (rc ${c.jobRc}): ${c.log.split('\n').filter((l) => l.trim()).at(-1) ?? ''}`.slice(0, 300), ev);
  if (!c.written) return outcome(def, subject, 'error', 'the canary file could not be written', ev);
  if (!c.restored) return outcome(def, subject, 'fail', `the canary was not found in the new archive ${c.archive || '(none created)'}`, ev);
  if (c.restored !== c.written) return outcome(def, subject, 'fail', 'the restored canary differs from the one written', ev);
  if (left.length || !c.cleaned) return outcome(def, subject, 'fail', `round trip worked but cleanup left: ${left.join(', ') || 'the canary archive'}`, ev);
  return outcome(def, subject, 'pass', `canary restored from ${c.archive} with the same sha256; canary and archive removed`, ev);
}

/** The dump restored to the same rows, and the scratch databases are gone. */
export function judgePg(f: BackupFacts, e: Judged, allowMutating: boolean): Outcome {
  const def = CHECKS['pg-roundtrip'];
  const subject = e.postgres?.container ? `postgresql in ${e.postgres.container}` : 'postgresql';
  if (!allowMutating) return outcome(def, subject, 'skipped', MUTATING_REASON, { source: 'run option --allow-mutating' });
  if (!e.postgres) return outcome(def, subject, 'skipped', 'no PostgreSQL in the expectation (backup.postgres)', { source: 'expectation backup.postgres' });
  if (!f.pg) return outcome(def, subject, 'error', 'PostgreSQL round trip did not run', { source: 'backup probe' });
  if (!f.pg.ok) return stepError(def, subject, f.pg);
  const p = f.pg.value;
  const left = (f.leftovers ?? []).filter((l) => /database|leafcert-pg/.test(l));
  const ev = { source: f.pg.source, expected: p.source, observed: { restored: p.restored, leftovers: left }, excerpt: p.log.slice(0, 600) };
  if (p.failedStep) return outcome(def, subject, 'fail', `the dump/restore round trip failed: ${p.failedStep}`, ev);
  if (!p.source || !p.restored) return outcome(def, subject, 'error', 'row count/checksum not read from both databases', ev);
  if (p.source.rows !== p.restored.rows || p.source.md5 !== p.restored.md5) {
    return outcome(def, subject, 'fail', `restored database differs: ${p.restored.rows} rows md5 ${p.restored.md5} vs ${p.source.rows} rows md5 ${p.source.md5}`, ev);
  }
  if (left.length || !p.cleaned) return outcome(def, subject, 'fail', `round trip worked but cleanup left: ${left.join(', ') || 'scratch databases'}`, ev);
  return outcome(def, subject, 'pass', `dump of ${p.source.rows} rows restored with the same checksum; scratch databases dropped`, ev);
}

/** Modes that do not encrypt the archives (borg 1.x names). */
const NOT_ENCRYPTED = /^(none|authenticated(-blake2)?)$/;

/** The repository's encryption mode as borg reports it, against the declared one. */
export function judgeEncryption(f: BackupFacts, e: Judged): Outcome {
  const def = CHECKS.encryption;
  const repo = repoOf(f);
  if (!f.list.ok) return noListing(def, repo, f, f.list);
  const mode = f.list.value.encryption;
  const ev = { source: f.list.source, expected: e.encryption ? `encryption.mode ${e.encryption}` : 'an encrypting mode (repokey*, keyfile*)', observed: { mode, location: f.list.value.repository.location }, excerpt: f.list.excerpt };
  if (NOT_ENCRYPTED.test(mode)) return outcome(def, repo, 'fail', `the repository's encryption mode is ${mode}: archives are ${mode === 'none' ? 'neither encrypted nor authenticated' : 'authenticated but not encrypted'}${e.encryption && e.encryption !== mode ? ` (declared ${e.encryption})` : ''}`, ev);
  if (e.encryption && e.encryption !== mode) return outcome(def, repo, 'fail', `the repository is ${mode}, the job declares ${e.encryption}: the job writes to another repository than the one declared, or it was initialised differently`, ev);
  return outcome(def, repo, 'pass', `the repository is encrypted (${mode}${e.encryption ? ', as declared' : ''})`, ev);
}

/**
 * Where a borg repository location is: a local path (or file://), a remote one (ssh://, or scp-style
 * user@host:path as configurations write it), with the host. borg 1.x reports remote ones canonically
 * as ssh://[user@]host[:port]/path.
 */
export function repoPlace(location: string): { remote: boolean; host?: string; loopback?: boolean } | undefined {
  const l = location.trim();
  if (!l) return undefined;
  if (l.startsWith('/') || l.startsWith('file://') || l.startsWith('~') || l.startsWith('.')) return { remote: false };
  const m = /^ssh:\/\/(?:[^@/]+@)?(\[[^\]]+\]|[^:/]+)(?::\d+)?\//.exec(l) ?? /^(?:[^@/:]+@)?(\[[^\]]+\]|[^:/]+):/.exec(l);
  if (!m) return undefined;
  const host = m[1].replace(/^\[|\]$/g, '');
  return { remote: true, host, loopback: /^(localhost(\.localdomain)?|127(\.\d+){3}|::1|0:0:0:0:0:0:0:1|0\.0\.0\.0)$/i.test(host) };
}

/** The repository borg reports is on another machine, where the expectation declares it so. */
export function judgeOffNode(f: BackupFacts, e: Judged): Outcome {
  const def = CHECKS['off-node'];
  const repo = repoOf(f);
  if (e.offNode === undefined) return outcome(def, repo, 'skipped', 'no offNode in the expectation (backup.offNode; plan emits it from the job\'s repo)', { source: 'expectation backup.offNode' });
  if (e.offNode === false) return outcome(def, repo, 'skipped', 'the expectation declares the repository on this node (backup.offNode: false): nothing off the node to verify; check-config\'s config.backup-offsite flags that declaration', { source: 'expectation backup.offNode' });
  if (!f.list.ok) return noListing(def, repo, f, f.list);
  const location = f.list.value.repository.location;
  const place = repoPlace(location);
  const ev = { source: f.list.source, expected: 'a repository on another machine (ssh://…)', observed: { location }, excerpt: f.list.excerpt };
  if (!place) return outcome(def, repo, 'error', `cannot tell where the repository location "${location.slice(0, 120)}" is`, ev);
  if (!place.remote) return outcome(def, repo, 'fail', `the repository is at ${location} on the node itself, though declared off the node: a lost disk or host takes the backup with it`, ev);
  if (place.loopback) return outcome(def, repo, 'fail', `the repository is reached over ssh at ${place.host}, which is this node's own loopback: it is on the node`, ev);
  return outcome(def, repo, 'pass', `the repository is on ${place.host} (${location})`, ev);
}
