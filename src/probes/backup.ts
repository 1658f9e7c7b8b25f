// The backup facts of a node (checklist "backups tested"), through the NixOS job wrapper
// `borg-job-NAME`. Read-only, four round trips, each bounded by what is left of the suite's window:
// 1. the job's state, clock, PID 1, units, wrapper and archive list, and what the newest archive
//    holds, with its command line when the paths are not given (backup.sh list: the node picks the
//    newest archive by the rule of newestArchive(), which checks the pick);
// 2. only when that pick is not newestArchive()'s (or none was made): the same listing (backup.sh contents);
// 3. `borg check --repository-only`, unless backup.checkEvery's window still covers the last clean
//    check the harness remembers for this repository (check-window.ts; no borg process then);
// 4. a sample restored into RAM-backed scratch and hashed beside the live files (backup.sh restore).
// With --allow-mutating the canary and PostgreSQL round trips follow (backup-roundtrip.ts).
// While the job's service runs, the repository is left alone (it might hold the lock).
import { randomBytes } from 'node:crypto';
import { factMissing, factOk, reasonOf, type Fact } from '../core/fact.js';
import { probeScript, scriptCommand } from '../core/script.js';
import { ParseError, TransportError, type Host } from '../core/types.js';
import { parseDuration, parseSize } from '../core/units.js';
import {
  BORG_ENV,
  borgCmd,
  borgFailure,
  borgTimeToEpoch,
  classifyBorgFailure,
  chooseSample,
  LISTING_FIELDS,
  listingAwk,
  listingRoots,
  parseArchiveContents,
  parseBorgInfo,
  parseBorgList,
  parseRestoreLines,
  pathsFromCommandLine,
  type ArchiveContents,
  type BorgArchive,
  type BorgList,
  type RestoredFile,
} from './borg.js';
import { decideWindow, type CheckWindow, type CheckWindowInput } from './check-window.js';
import { CANARY_PREFIX, canaryRoundTrip, pgRoundTrip, type CanaryResult, type PgRoundTrip } from './backup-roundtrip.js';
import { MARK, splitSections, type Section } from './sections.js';
import { scratchSh, SWEEP_SH } from './scratch.js';
import { parseSystemctlShow, requireProps } from './systemd.js';

/** What the probe needs to know (the backup expectation satisfies it). */
export interface BackupTarget {
  /** NixOS `services.borgbackup.jobs.<job>`. */
  job: string;
  /** The job's `paths`; each must be in the newest archive. Default: read from the archive's command line. */
  paths?: string[];
  /** Run `borg check --repository-only`. Default true. */
  check?: boolean;
  /**
   * At most one repository check per this window (e.g. 24h), counted from the last clean check the
   * harness remembers (never the node). Absent: every run.
   */
  checkEvery?: string;
  /** Restore a sample of files and compare them with the live ones. Default true. */
  restoreProbe?: boolean;
  /** Number of files in the restore sample. Default 5. */
  sample?: number;
  /** Files larger than this are not sampled. Default 16M. */
  maxSampleSize?: string;
  /** Bound on each borg command. Default 120s (and never more than the run's suite timeout). */
  timeout?: string;
  /** Backed-up directory the canary goes into (a scratch sub-directory of it). Default: the first path. */
  canaryPath?: string;
  /** PostgreSQL for the dump/restore round trip (mutating). Absent: that check is skipped. */
  postgres?: { container?: string; port?: number; user?: string };
}

export interface GatherOptions {
  /** The suite's window (ms): every round trip gets only what is left of it. */
  timeoutMs: number;
  /** Run the canary and PostgreSQL round trips (they write to the node). */
  allowMutating: boolean;
  progress(message: string): void;
  /** backup.checkEvery with the harness's memory of this node's clean checks. Absent: the check runs. */
  checkWindow?: CheckWindowInput;
}

export interface UnitProps {
  Id: string;
  LoadState: string;
  ActiveState?: string;
  Result?: string;
  UnitFileState?: string;
  LastTriggerUSec?: string;
}

export interface BackupFacts {
  job: string;
  wrapper: string;
  /** Node clock (epoch s) and UTC offset (`date +%z`): borg prints node-local times. */
  clock: Fact<{ now: number; tz: string }>;
  /** PID 1's name; units are only meaningful under systemd. */
  pid1: string;
  units: Fact<UnitProps[]> | { ok: false; skipped: string; source: string };
  /** The job's service was active/activating when we looked: nothing touched the repository. */
  jobRunning?: { state: string; source: string };
  list: Fact<BorgList>;
  /**
   * Why the listing failed, when that is a fact about the node: the job cannot use its repository
   * (wrapper not installed, repository missing, passphrase missing or wrong). Absent: the listing
   * worked, or failed for a reason leafcert cannot pin on the node (timeout, lock, garbled output).
   */
  jobBroken?: JobBroken;
  /** Newest archive that is neither `.failed` nor one of ours. */
  newest?: BorgArchive;
  expectedPaths: Fact<string[]>;
  contents?: Fact<ArchiveContents>;
  check?: Fact<{ output: string; cost?: string }>;
  /** backup.checkEvery's decision (due or not, and why); absent without checkEvery. */
  checkWindow?: CheckWindow;
  /** Harness wall-clock time (ISO 8601) the repository check started, when it ran. */
  checkStartedAt?: string;
  restore?: Fact<{ files: RestoredFile[]; archiveEpoch: number }>;
  canary?: Fact<CanaryResult>;
  pg?: Fact<PgRoundTrip>;
  /** Node-side leftovers found by our own cleanup pass after the mutating steps (should be empty). */
  leftovers?: string[];
}

export interface JobBroken {
  kind: 'wrapper' | 'passphrase' | 'no-repository';
  reason: string;
  source: string;
  excerpt?: string;
}

/** Seconds left in the suite's window, minus a margin kept for cleanup and parsing. */
export class Budget {
  private readonly end: number;
  constructor(totalMs: number, private readonly perCommandSec: number) {
    this.end = Date.now() + totalMs - 2000;
  }
  leftMs(): number {
    return this.end - Date.now();
  }
  /** An exec's own bound, never past the suite's deadline (the engine gives up then anyway). */
  execMs(wantMs: number): number {
    return Math.max(1000, Math.min(wantMs, this.leftMs() + 2000));
  }
  /** Inner `timeout` for one borg call when `reserveMs` must still be left afterwards. */
  cmdSec(reserveMs = 0): number {
    return Math.max(1, Math.min(this.perCommandSec, Math.floor((this.leftMs() - reserveMs - 3000) / 1000)));
  }
}

/** A missing fact; an excerpt is kept only when there is one, cut to 600 characters. */
function fail<T>(reason: string, source: string, excerpt?: string): Fact<T> {
  return factMissing(reason, source, excerpt ? excerpt.slice(0, 600) : undefined);
}

async function run(host: Host, command: string, timeoutMs: number) {
  return host.exec(command, { timeoutMs: Math.max(1000, timeoutMs) });
}

/** backup.sh in `mode`, after the scratch prelude (sweep, $S in RAM, traps that remove it). */
export function backupCommand(mode: 'list' | 'contents' | 'restore', wrapper: string, timeoutSec: number, args: (string | number)[]): string {
  return scriptCommand(`${scratchSh('S')}\n${probeScript('backup.sh')}`, [mode, wrapper, timeoutSec, BORG_ENV, ...args]);
}

/** Strict: KEY=VALUE lines only, one block with Id and LoadState per unit asked for. */
export function parseShow(text: string, count: number, source = 'systemctl show'): UnitProps[] {
  return requireProps(parseSystemctlShow(text, source), ['Id', 'LoadState'], source, { count }) as unknown as UnitProps[];
}

/** What `systemctl is-active` may print; anything else is not its output. */
const IS_ACTIVE = /^(active|reloading|inactive|failed|activating|deactivating|maintenance|refreshing|unknown|none)$/;

/** Archives that count as backups: not an interrupted `.failed` one, not our canary. */
export function newestArchive(list: BorgList): BorgArchive | undefined {
  const real = list.archives.filter((a) => !a.name.endsWith('.failed') && !a.name.startsWith(CANARY_PREFIX));
  return real.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0)).at(-1);
}

/** Every fact of the backup suite, in as many round trips as the facts so far call for (at most 4 read-only). */
export async function gatherBackup(host: Host, target: BackupTarget, opts: GatherOptions): Promise<BackupFacts> {
  const wrapper = `borg-job-${target.job}`;
  const budget = new Budget(opts.timeoutMs, parseDuration(target.timeout ?? '120s') / 1000);
  const facts: BackupFacts = {
    job: target.job,
    wrapper,
    pid1: '',
    clock: fail('not gathered', 'date'),
    units: fail('not gathered', 'systemctl show'),
    list: fail('not gathered', `${wrapper} list --json`),
    expectedPaths: fail('not gathered', 'expectation'),
  };
  if (!(await listArchives(host, target, facts, budget, opts))) return facts;
  // The newest archive's listing came with the list when the node picked the same archive.
  if (facts.newest && !facts.contents) await readContents(host, target, facts, facts.newest, budget, opts);
  else if (!facts.newest && target.paths) facts.expectedPaths = factOk(target.paths, 'expectation backup.paths');
  if (target.check !== false && facts.list.ok) await checkIfDue(host, facts, facts.list.value.repository, budget, opts);
  if (target.restoreProbe !== false && facts.newest && facts.contents?.ok && facts.clock.ok) {
    facts.restore = await restoreSample(host, { wrapper, archive: facts.newest, contents: facts.contents.value, tz: facts.clock.value.tz, sample: target.sample ?? 5 }, budget, opts);
  }
  if (opts.allowMutating) await gatherMutating(host, target, facts, budget, opts);
  return facts;
}

/** Round trip 1. False when the repository is not to be read further (unreadable, or the job runs). */
async function listArchives(host: Host, target: BackupTarget, facts: BackupFacts, budget: Budget, opts: GatherOptions): Promise<boolean> {
  const { job } = target;
  const wrapper = facts.wrapper;
  const t1 = budget.cmdSec();
  const units = [`borgbackup-job-${job}.service`, `borgbackup-job-${job}.timer`, `borgbackup-${job}.service`];
  const jobUnit = `borgbackup-job-${job}.service`;
  const listSrc = `${wrapper} list --json`;
  let out: Map<string, Section>;
  try {
    opts.progress(`listing archives of ${wrapper} and reading the newest`);
    // Two borg calls (three without backup.paths) in one exec: the list, and the newest archive's
    // listing as round trip 2 reads it (backup.sh picks the archive; newestArchive() checks it).
    const r = await run(host, backupCommand('list', wrapper, t1, [MARK, jobUnit, CANARY_PREFIX, ...contentsArgs(target), ...units]), budget.execMs(t1 * 1000 * 3 + 10_000));
    out = splitSections(r.stdout, `backup probe on ${host.name}`, ['job-state', 'clock', 'pid1', 'units', 'wrapper', 'list', 'list-err']);
  } catch (err) {
    const reason = err instanceof TransportError && err.kind === 'timeout' ? `listing archives timed out: ${reasonOf(err)}` : reasonOf(err);
    facts.list = fail(reason, listSrc);
    facts.clock = fail(reason, 'date');
    facts.units = fail(reason, 'systemctl show');
    return false;
  }
  const clock = out.get('clock')!;
  const [nowText, tz] = clock.text.trim().split('\n');
  facts.clock = clock.rc === 0 && /^\d+$/.test(nowText ?? '') && /^[+-]\d{4}$/.test(tz ?? '')
    ? factOk({ now: Number(nowText), tz: tz! }, 'date +%s; date +%z', clock.text)
    : fail(`node clock unreadable: ${clock.text.slice(0, 100)}`, 'date +%s; date +%z');
  facts.pid1 = out.get('pid1')!.text.trim();
  facts.units = unitsFact(out.get('units')!, units);

  const jobState = out.get('job-state')!.text.trim();
  if (!IS_ACTIVE.test(jobState)) {
    // Not knowing whether the job runs, the repository is left alone: it might hold the lock.
    facts.list = fail(`systemctl is-active ${jobUnit} printed something that is not a unit state: "${jobState.slice(0, 80)}"`, `systemctl is-active ${jobUnit}`, jobState);
    return false;
  }
  if (/^(active|activating|deactivating|reloading)$/.test(jobState)) {
    facts.jobRunning = { state: jobState, source: `systemctl is-active ${jobUnit}` };
    facts.list = fail(`not read: ${jobUnit} is ${jobState}`, listSrc);
    return false;
  }
  const l = out.get('list')!;
  const lErr = out.get('list-err')!.text;
  if (out.get('wrapper')!.rc !== 0) {
    const reason = `the job wrapper ${wrapper} is not on the node's PATH (is services.borgbackup.jobs.${job} declared?)`;
    facts.list = fail(reason, `command -v ${wrapper}`);
    facts.jobBroken = { kind: 'wrapper', reason, source: `command -v ${wrapper}` };
  } else if (l.rc !== 0) {
    const why = classifyBorgFailure(l.rc, lErr, t1);
    facts.list = fail(why.reason, listSrc, lErr);
    if (why.onNode) facts.jobBroken = { kind: why.kind as 'passphrase' | 'no-repository', reason: why.reason, source: listSrc, excerpt: lErr.slice(0, 600) };
  } else {
    try {
      facts.list = factOk(parseBorgList(l.text, listSrc), listSrc, l.text.slice(0, 600));
    } catch (err) {
      facts.list = fail(reasonOf(err), listSrc, l.text);
    }
  }
  if (!facts.list.ok) return false;
  facts.newest = newestArchive(facts.list.value);
  const picked = out.get('picked');
  if (facts.newest && picked?.rc === 0 && picked.text.trim() === facts.newest.name && out.has('contents')) {
    contentsFrom(out, target, facts, facts.newest, t1);
  }
  return true;
}

/** backup.sh's contents arguments (after the marker and the archive): info flag, format, roots, filter. */
function contentsArgs(target: BackupTarget): (string | number)[] {
  const maxBytes = parseSize(target.maxSampleSize ?? '16M');
  return [target.paths ? 0 : 1, LISTING_FIELDS, listingRoots(target.paths ?? []), listingAwk(maxBytes, 200)];
}

function unitsFact(u: Section, units: string[]): BackupFacts['units'] {
  if (u.rc === 3 && /^no systemd/.test(u.text)) return { ok: false, skipped: u.text.trim(), source: 'test -d /run/systemd/system' };
  if (u.rc !== 0) return fail(`systemctl show failed (rc ${u.rc}): ${u.text.slice(0, 200)}`, 'systemctl show', u.text);
  try {
    return factOk(parseShow(u.text, units.length), `systemctl show ${units.join(' ')}`, u.text.slice(0, 600));
  } catch (err) {
    return fail(reasonOf(err), `systemctl show ${units.join(' ')}`, u.text);
  }
}

/** Round trip 2: what the newest archive holds (expected roots + a sample), and its paths when the expectation does not name them. */
async function readContents(host: Host, target: BackupTarget, facts: BackupFacts, newest: BorgArchive, budget: Budget, opts: GatherOptions): Promise<void> {
  const t2 = budget.cmdSec();
  const command = backupCommand('contents', facts.wrapper, t2, [MARK, newest.name, ...contentsArgs(target)]);
  try {
    opts.progress(`reading archive ${newest.name}`);
    const r = await run(host, command, budget.execMs(t2 * 1000 * 2 + 10_000));
    contentsFrom(splitSections(r.stdout, `backup probe on ${host.name}`, ['contents', ...(target.paths ? [] : ['info'])]), target, facts, newest, t2);
  } catch (err) {
    facts.contents = fail(reasonOf(err), `${facts.wrapper} list ::${newest.name}`, err instanceof ParseError ? err.excerpt : undefined);
    if (!facts.expectedPaths.ok && target.paths) facts.expectedPaths = factOk(target.paths, 'expectation backup.paths');
  }
}

/** The newest archive's facts from backup.sh's contents (and info) sections, whichever round trip carried them. */
function contentsFrom(s: Map<string, Section>, target: BackupTarget, facts: BackupFacts, newest: BorgArchive, tSec: number): void {
  const wrapper = facts.wrapper;
  const src2 = `${wrapper} list ::${newest.name}`;
  try {
    const c = s.get('contents');
    if (!c) throw new ParseError(src2, 'probe output lacks section(s) contents');
    facts.contents = c.rc === 0 ? factOk(parseArchiveContents(c.text, src2), src2, c.text.slice(0, 400)) : fail(borgFailure(c.rc, c.text, tSec), src2, c.text);
    const info = s.get('info');
    if (!target.paths && !info) throw new ParseError(src2, 'probe output lacks section(s) info');
    facts.expectedPaths = target.paths ? factOk(target.paths, 'expectation backup.paths') : pathsOfArchive(info!, wrapper, newest.name, tSec);
  } catch (err) {
    facts.contents = fail(reasonOf(err), src2, err instanceof ParseError ? err.excerpt : undefined);
    if (!facts.expectedPaths.ok && target.paths) facts.expectedPaths = factOk(target.paths, 'expectation backup.paths');
  }
}

/** The paths the archive's own `borg create` command line names. Throws ParseError on garbled JSON. */
function pathsOfArchive(i: Section, wrapper: string, archive: string, t2: number): Fact<string[]> {
  if (i.rc !== 0) return fail(`cannot read the archive's command line: ${borgFailure(i.rc, i.text, t2)}`, `${wrapper} info --json`, i.text);
  const info = parseBorgInfo(i.text.slice(i.text.indexOf('{')), `${wrapper} info --json ::${archive}`);
  const paths = pathsFromCommandLine(info.commandLine).map((p) => (p.startsWith('/') ? p : `/${p}`));
  return paths.length
    ? factOk(paths, `${wrapper} info --json ::${archive} (command_line)`, info.commandLine.join(' '))
    : fail('the archive\'s command line names no paths', `${wrapper} info --json`, info.commandLine.join(' '));
}

/** Round trip 3 when backup.checkEvery's window does not cover the last clean check of this repository. */
async function checkIfDue(host: Host, facts: BackupFacts, repo: { id: string; location: string }, budget: Budget, opts: GatherOptions): Promise<void> {
  const w = opts.checkWindow;
  if (w) {
    facts.checkWindow = decideWindow(w, repo);
    if (!facts.checkWindow.due) return;
  }
  facts.checkStartedAt = new Date((w?.now ?? Date.now)()).toISOString();
  facts.check = await checkRepository(host, facts.wrapper, budget, opts);
}

/** The check ran and borg found nothing (rc 0): what the harness may remember. */
export function checkWasClean(f: Pick<BackupFacts, 'check'>): boolean {
  return !!f.check?.ok && !/^rc \d+/.test(f.check.value.output);
}

/** Round trip 3: the repository check (the expensive one; leaves room for the restore). */
async function checkRepository(host: Host, wrapper: string, budget: Budget, opts: GatherOptions): Promise<Fact<{ output: string; cost?: string }>> {
  const t3 = budget.cmdSec(12_000);
  const src3 = `${wrapper} check --repository-only (bounded to ${t3} s)`;
  try {
    opts.progress('borg check --repository-only');
    // The most expensive read of the suite: bash's `time` says what it cost the node (on stderr).
    const r = await run(host, scriptCommand(`TIMEFORMAT='LEAFCERT-COST %R %U %S'; time ${borgCmd(wrapper, t3, 'check --repository-only')} 2>&1`), budget.execMs(t3 * 1000 + 10_000));
    const c = /^LEAFCERT-COST ([\d.]+) ([\d.]+) ([\d.]+)$/m.exec(r.stderr);
    const cost = c ? `${Number(c[1]).toFixed(2)} s wall, ${(Number(c[2]) + Number(c[3])).toFixed(2)} s CPU on the node` : undefined;
    if (r.code === 0) return factOk({ output: r.stdout, cost }, src3, r.stdout.slice(0, 400));
    if (r.code === 124 || r.code === 137) return fail(borgFailure(r.code, r.stdout, t3), src3, r.stdout);
    // "errors found" / integrity errors: the repository is damaged, which is the finding itself;
    // anything else (passphrase, lock, unreachable repo) means the check could not say.
    return /errors found|integrity error|checksum mismatch|corrupt/i.test(r.stdout)
      ? factOk({ output: `rc ${r.code}\n${r.stdout}` }, src3, r.stdout.slice(0, 600))
      : fail(borgFailure(r.code ?? -1, r.stdout, t3), src3, r.stdout);
  } catch (err) {
    return fail(reasonOf(err), src3);
  }
}

/** Round trip 4: restore a sample of the archive's small files into scratch and hash it beside the live files. */
export async function restoreSample(
  host: Host,
  o: { wrapper: string; archive: BorgArchive; contents: ArchiveContents; tz: string; sample: number },
  budget: Budget,
  opts: Pick<GatherOptions, 'progress'>,
): Promise<Fact<{ files: RestoredFile[]; archiveEpoch: number }>> {
  const { wrapper, archive: newest, tz } = o;
  const sample = chooseSample(o.contents.candidates, o.sample);
  const archiveEpoch = borgTimeToEpoch(newest.start, tz);
  if (!sample.length) return fail('the newest archive holds no regular file small enough to sample', `${wrapper} list ::${newest.name}`);
  const t4 = budget.cmdSec();
  const src4 = `${wrapper} extract ::${newest.name} <${sample.length} files> in a RAM-backed scratch dir; sha256sum`;
  let finished = false;
  try {
    opts.progress(`restoring ${sample.length} files from ${newest.name}`);
    const r = await run(host, backupCommand('restore', wrapper, t4, [newest.name, randomBytes(4).toString('hex'), ...sample.map((c) => c.path)]), budget.execMs(t4 * 1000 + 10_000));
    // The script ran to its end, so its EXIT trap removed the scratch dir.
    finished = r.code === 0 && /^FILE\t/m.test(r.stdout);
    const ex = /^EXTRACT\t(\d+)$/m.exec(r.stdout);
    if (!ex) throw new ParseError(src4, 'restore script printed no EXTRACT line', (r.stdout + r.stderr).slice(0, 400));
    const files = parseRestoreLines(r.stdout, sample.map((c) => c.path), src4).map((x, i) => {
      let archivedMtime: number | null = null;
      try {
        archivedMtime = Math.floor(borgTimeToEpoch(sample[i].mtime, tz));
      } catch {
        /* unknown: only the archive time decides */
      }
      return { ...x, archivedMtime };
    });
    return Number(ex[1]) !== 0 && files.every((f) => f.restoredSha256 === null)
      ? fail(`extract failed: ${borgFailure(Number(ex[1]), r.stderr, t4)}`, src4, r.stderr)
      : factOk({ files, archiveEpoch }, src4, r.stdout.slice(0, 600));
  } catch (err) {
    return fail(reasonOf(err), src4, err instanceof ParseError ? err.excerpt : undefined);
  } finally {
    // A script that did not finish removes its scratch in its TERM trap; one that was KILLed is
    // swept here once its process is gone (and by the next run's first round trip otherwise).
    if (!finished) await host.exec(SWEEP_SH, { timeoutMs: 10_000 }).catch(() => undefined);
  }
}

/** The canary round trip and the PostgreSQL round trip, each cleaning up in a trap and again from here. */
async function gatherMutating(host: Host, target: BackupTarget, facts: BackupFacts, budget: Budget, opts: GatherOptions): Promise<void> {
  const leftovers: string[] = [];
  const runId = randomBytes(4).toString('hex');
  const paths = facts.expectedPaths.ok ? facts.expectedPaths.value : [];
  const base = target.canaryPath ?? paths[0];
  if (!facts.list.ok) facts.canary = fail(`cannot run: ${facts.list.reason}`, facts.list.source);
  else if (!base) facts.canary = fail('no backed-up path to put the canary in (set backup.paths or backup.canaryPath)', 'expectation');
  else {
    const r = await canaryRoundTrip(host, { wrapper: facts.wrapper, base, paths, runId, timeoutSec: budget.cmdSec(30_000) }, opts.progress);
    facts.canary = r.fact;
    leftovers.push(...r.leftovers);
  }
  if (!target.postgres) facts.pg = fail('no PostgreSQL in the expectation (backup.postgres)', 'expectation');
  else {
    const r = await pgRoundTrip(host, { ...target.postgres, runId, timeoutSec: budget.cmdSec(15_000) }, opts.progress);
    facts.pg = r.fact;
    leftovers.push(...r.leftovers);
  }
  facts.leftovers = leftovers;
}
