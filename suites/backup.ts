// Checklist "backups tested": the NixOS borg job exists, its newest archive is recent and holds the
// expected paths, the repository checks clean, and a sample restored on the node equals the live
// files. With --allow-mutating, a canary file and a PostgreSQL database go through a full round
// trip. Facts come from the job wrapper `borg-job-NAME`; evaluate() is pure.
import { randomBytes } from 'node:crypto';
import type { Host, Outcome, Severity, Suite, SuiteContext } from '../src/core/types.js';
import { ParseError, TransportError } from '../src/core/types.js';
import { parseDuration, parseSize } from '../src/core/units.js';
import { FORMATS } from '../src/core/formats.js';
import { section, splitSections } from '../src/probes/sections.js';
import { scratchSh, SWEEP_SH } from '../src/probes/scratch.js';
import { parseSystemctlShow, requireProps } from '../src/probes/systemd.js';
import { locateContainers } from '../src/probes/containers.js';
import {
  borgCmd,
  borgFailure,
  borgTimeToEpoch,
  chooseSample,
  listingFilter,
  LISTING_FORMAT,
  parseArchiveContents,
  parseBorgInfo,
  parseBorgList,
  parseRestoreLines,
  pathsFromCommandLine,
  shq,
  type ArchiveContents,
  type BorgArchive,
  type BorgList,
  type RestoredFile,
  type SampleCandidate,
} from '../src/probes/borg.js';

export interface BackupExpect {
  /** NixOS `services.borgbackup.jobs.<job>`. */
  job: string;
  /** Newest archive must be younger than this (e.g. 26h for a daily job). */
  maxAge: string;
  /** The job's `paths`; each must be in the newest archive. Default: read from the archive's command line. */
  paths?: string[];
  /** A `borgbackup-job-NAME.timer` is expected (false when `startAt = []`). Default true. */
  timer?: boolean;
  /** Run `borg check --repository-only`. Default true. */
  check?: boolean;
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

/** The result of one step on the node: a value, or why there is none. */
export type Step<T> =
  | { ok: true; value: T; source: string; excerpt?: string }
  | { ok: false; reason: string; source: string; excerpt?: string };

export interface UnitProps {
  Id: string;
  LoadState: string;
  ActiveState?: string;
  Result?: string;
  UnitFileState?: string;
  LastTriggerUSec?: string;
}

export interface CanaryResult {
  /** How the canary archive was made: always our own `create` through the job's wrapper. */
  mode: 'wrapper';
  /** Exit code of `systemctl start --wait` or of `borg create` (124: timed out). */
  jobRc: number;
  archive: string;
  written: string | null;
  restored: string | null;
  cleaned: boolean;
  log: string;
}

export interface PgRoundTrip {
  source: { rows: number; md5: string } | null;
  restored: { rows: number; md5: string } | null;
  cleaned: boolean;
  log: string;
  /** The dump or the restore itself failed (the property under test), with the tool's last words. */
  failedStep?: string;
}

export interface BackupFacts {
  job: string;
  wrapper: string;
  /** Node clock (epoch s) and UTC offset (`date +%z`): borg prints node-local times. */
  clock: Step<{ now: number; tz: string }>;
  /** PID 1's name; units are only meaningful under systemd. */
  pid1: string;
  units: Step<UnitProps[]> | { ok: false; skipped: string; source: string };
  /** The job's service was active/activating when we looked: nothing touched the repository. */
  jobRunning?: { state: string; source: string };
  list: Step<BorgList>;
  /** Newest archive that is neither `.failed` nor one of ours. */
  newest?: BorgArchive;
  expectedPaths: Step<string[]>;
  contents?: Step<ArchiveContents>;
  check?: Step<{ output: string }>;
  restore?: Step<{ files: RestoredFile[]; archiveEpoch: number }>;
  canary?: Step<CanaryResult>;
  pg?: Step<PgRoundTrip>;
  /** Node-side leftovers found by our own cleanup pass after the mutating steps (should be empty). */
  leftovers?: string[];
}

export const CANARY_PREFIX = 'leafcert-canary-';
export const PG_PREFIX = 'leafcert_rt_';

const SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['job', 'maxAge'],
  properties: {
    job: { type: 'string', pattern: '^[A-Za-z0-9_.@-]+$', description: 'services.borgbackup.jobs.<job>' },
    maxAge: { type: 'string', format: FORMATS.duration, description: 'Newest archive must be younger than this, e.g. 26h.' },
    paths: { type: 'array', items: { type: 'string', pattern: '^/' }, minItems: 1 },
    timer: { type: 'boolean' },
    check: { type: 'boolean' },
    restoreProbe: { type: 'boolean' },
    sample: { type: 'integer', minimum: 1, maximum: 100 },
    maxSampleSize: { type: 'string', format: FORMATS.size },
    timeout: { type: 'string', format: FORMATS.duration },
    canaryPath: { type: 'string', pattern: '^/' },
    postgres: {
      type: 'object',
      additionalProperties: false,
      properties: {
        container: { type: 'string' },
        port: { type: 'integer', minimum: 1, maximum: 65535 },
        user: { type: 'string', pattern: '^[a-z_][a-z0-9_-]*$' },
      },
    },
  },
};

const CHECKLIST = ['backups'];
const MUTATING_REASON = 'writes to the node (canary file, archive, scratch databases): run with --allow-mutating on a pre-production node';

const reasonOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Seconds left in the suite's window, minus a margin kept for cleanup and parsing. */
class Budget {
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

async function run(host: Host, script: string, timeoutMs: number) {
  return host.exec(script, { timeoutMs: Math.max(1000, timeoutMs) });
}

function fail<T>(reason: string, source: string, excerpt?: string): Step<T> {
  return { ok: false, reason, source, ...(excerpt ? { excerpt: excerpt.slice(0, 600) } : {}) };
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

async function gather(ctx: SuiteContext, e: BackupExpect): Promise<BackupFacts> {
  const host = ctx.host;
  const job = e.job;
  const wrapper = `borg-job-${job}`;
  const budget = new Budget(ctx.options.timeoutMs, parseDuration(e.timeout ?? '120s') / 1000);
  const facts: BackupFacts = {
    job,
    wrapper,
    pid1: '',
    clock: fail('not gathered', 'date'),
    units: fail('not gathered', 'systemctl show'),
    list: fail('not gathered', `${wrapper} list --json`),
    expectedPaths: fail('not gathered', 'expectation'),
  };

  // Round trip 1: clock, units, wrapper, archive list.
  const t1 = budget.cmdSec();
  const units = [`borgbackup-job-${job}.service`, `borgbackup-job-${job}.timer`, `borgbackup-${job}.service`];
  const jobUnit = `borgbackup-job-${job}.service`;
  const script1 = [
    scratchSh('S'),
    'E="$S/err"',
    // Read-only borg commands still take the repository lock; a scheduled job starting meanwhile
    // would wait for it and may fail. While the job runs we leave the repository alone.
    `J=$([ -d /run/systemd/system ] && systemctl is-active ${shq(jobUnit)} 2>/dev/null)`,
    section('job-state', 'echo "${J:-none}"'),
    section('clock', 'date +%s; date +%z'),
    section('pid1', 'cat /proc/1/comm'),
    section('units', `if [ -d /run/systemd/system ]; then systemctl show --no-pager -p Id,LoadState,ActiveState,Result,UnitFileState,LastTriggerUSec ${units.join(' ')}; else echo "no systemd (PID 1 is $(cat /proc/1/comm))"; exit 3; fi`),
    section('wrapper', `command -v ${shq(wrapper)}`),
    section('list', `case "$J" in active|activating|deactivating|reloading) echo "job running: $J"; exit 4;; esac; ${borgCmd(wrapper, t1, 'list --json')} 2>"$E"`),
    section('list-err', 'cat "$E"'),
  ].join('\n');
  let out1: Map<string, { text: string; rc: number }>;
  try {
    ctx.progress(`listing archives of ${wrapper}`);
    const r = await run(host, script1, budget.execMs(t1 * 1000 + 10_000));
    out1 = splitSections(r.stdout, `backup probe on ${host.name}`, ['job-state', 'clock', 'pid1', 'units', 'wrapper', 'list', 'list-err']);
  } catch (err) {
    const reason = err instanceof TransportError && err.kind === 'timeout' ? `listing archives timed out: ${reasonOf(err)}` : reasonOf(err);
    facts.list = fail(reason, `${wrapper} list --json`);
    facts.clock = fail(reason, 'date');
    facts.units = fail(reason, 'systemctl show');
    return facts;
  }
  const clock = out1.get('clock')!;
  const [nowText, tz] = clock.text.trim().split('\n');
  facts.clock = clock.rc === 0 && /^\d+$/.test(nowText ?? '') && /^[+-]\d{4}$/.test(tz ?? '')
    ? { ok: true, value: { now: Number(nowText), tz: tz! }, source: 'date +%s; date +%z', excerpt: clock.text }
    : fail(`node clock unreadable: ${clock.text.slice(0, 100)}`, 'date +%s; date +%z');
  facts.pid1 = out1.get('pid1')!.text.trim();
  const u = out1.get('units')!;
  facts.units = u.rc === 3 && /^no systemd/.test(u.text)
    ? { ok: false, skipped: u.text.trim(), source: 'test -d /run/systemd/system' }
    : u.rc === 0
      ? (() => {
          try {
            return { ok: true as const, value: parseShow(u.text, units.length), source: `systemctl show ${units.join(' ')}`, excerpt: u.text.slice(0, 600) };
          } catch (err) {
            return fail<UnitProps[]>(reasonOf(err), `systemctl show ${units.join(' ')}`, u.text);
          }
        })()
      : fail(`systemctl show failed (rc ${u.rc}): ${u.text.slice(0, 200)}`, 'systemctl show', u.text);

  const listSrc = `${wrapper} list --json`;
  const jobState = out1.get('job-state')!.text.trim();
  if (!IS_ACTIVE.test(jobState)) {
    // Not knowing whether the job runs, the repository is left alone: it might hold the lock.
    facts.list = fail(`systemctl is-active ${jobUnit} printed something that is not a unit state: "${jobState.slice(0, 80)}"`, `systemctl is-active ${jobUnit}`, jobState);
    return facts;
  }
  if (/^(active|activating|deactivating|reloading)$/.test(jobState)) {
    facts.jobRunning = { state: jobState, source: `systemctl is-active ${jobUnit}` };
    facts.list = fail(`not read: ${jobUnit} is ${jobState}`, listSrc);
    return facts;
  }
  const w = out1.get('wrapper')!;
  const l = out1.get('list')!;
  const lErr = out1.get('list-err')!.text;
  if (w.rc !== 0) {
    facts.list = fail(`the job wrapper ${wrapper} is not on the node's PATH (is services.borgbackup.jobs.${job} declared?)`, `command -v ${wrapper}`);
  } else if (l.rc !== 0) {
    facts.list = fail(borgFailure(l.rc, lErr, t1), listSrc, lErr);
  } else {
    try {
      facts.list = { ok: true, value: parseBorgList(l.text, listSrc), source: listSrc, excerpt: l.text.slice(0, 600) };
    } catch (err) {
      facts.list = fail(reasonOf(err), listSrc, l.text);
    }
  }
  if (!facts.list.ok) return facts;
  facts.newest = newestArchive(facts.list.value);
  const newest = facts.newest;

  // Round trip 2: what the newest archive holds (expected roots + a sample), and its paths when the
  // expectation does not name them.
  if (newest) {
    const t2 = budget.cmdSec();
    const maxBytes = parseSize(e.maxSampleSize ?? '16M');
    const roots = e.paths ?? [];
    const script2 = [
      scratchSh('S'),
      'E="$S/err"',
      ...(e.paths ? [] : [section('info', `( ${borgCmd(wrapper, t2, `info --json ::${shq(newest.name)}`)} 2>"$E"; rc=$?; [ $rc = 0 ] || cat "$E"; exit $rc )`)]),
      // borg's exit code survives the pipe through a file; on failure its stderr follows the awk lines.
      section('contents', `( { ${borgCmd(wrapper, t2, `list --format ${LISTING_FORMAT} ::${shq(newest.name)}`)} 2>"$E"; echo $? >"$E.rc"; } | ${listingFilter(roots, maxBytes, 200)}; rc=$(cat "$E.rc"); [ "$rc" = 0 ] || { cat "$E"; exit $rc; } )`),
    ].join('\n');
    const src2 = `${wrapper} list ::${newest.name}`;
    try {
      ctx.progress(`reading archive ${newest.name}`);
      const r = await run(host, script2, budget.execMs(t2 * 1000 * 2 + 10_000));
      const s = splitSections(r.stdout, `backup probe on ${host.name}`, ['contents', ...(e.paths ? [] : ['info'])]);
      const c = s.get('contents')!;
      facts.contents = c.rc === 0
        ? { ok: true, value: parseArchiveContents(c.text, src2), source: src2, excerpt: c.text.slice(0, 400) }
        : fail(borgFailure(c.rc, c.text, t2), src2, c.text);
      if (e.paths) facts.expectedPaths = { ok: true, value: e.paths, source: 'expectation backup.paths' };
      else {
        const i = s.get('info')!;
        if (i.rc !== 0) facts.expectedPaths = fail(`cannot read the archive's command line: ${borgFailure(i.rc, i.text, t2)}`, `${wrapper} info --json`, i.text);
        else {
          const jsonPart = i.text.slice(i.text.indexOf('{'));
          const info = parseBorgInfo(jsonPart, `${wrapper} info --json ::${newest.name}`);
          const paths = pathsFromCommandLine(info.commandLine).map((p) => (p.startsWith('/') ? p : `/${p}`));
          facts.expectedPaths = paths.length
            ? { ok: true, value: paths, source: `${wrapper} info --json ::${newest.name} (command_line)`, excerpt: info.commandLine.join(' ') }
            : fail('the archive\'s command line names no paths', `${wrapper} info --json`, info.commandLine.join(' '));
        }
      }
    } catch (err) {
      facts.contents = fail(reasonOf(err), src2, err instanceof ParseError ? err.excerpt : undefined);
      if (!facts.expectedPaths.ok && e.paths) facts.expectedPaths = { ok: true, value: e.paths, source: 'expectation backup.paths' };
    }
  } else if (e.paths) {
    facts.expectedPaths = { ok: true, value: e.paths, source: 'expectation backup.paths' };
  }

  // Round trip 3: repository check (the expensive one; leave room for the restore).
  if (e.check !== false) {
    const t3 = budget.cmdSec(12_000);
    const src3 = `${wrapper} check --repository-only`;
    try {
      ctx.progress('borg check --repository-only');
      const r = await run(host, `${borgCmd(wrapper, t3, 'check --repository-only')} 2>&1`, budget.execMs(t3 * 1000 + 10_000));
      facts.check = r.code === 0
        ? { ok: true, value: { output: r.stdout }, source: src3, excerpt: r.stdout.slice(0, 400) }
        : r.code === 124 || r.code === 137
          ? fail(borgFailure(r.code, r.stdout, t3), src3, r.stdout)
          // "errors found" / integrity errors: the repository is damaged, which is the finding itself;
          // anything else (passphrase, lock, unreachable repo) means the check could not say.
          : /errors found|integrity error|checksum mismatch|corrupt/i.test(r.stdout)
            ? { ok: true, value: { output: `rc ${r.code}\n${r.stdout}` }, source: src3, excerpt: r.stdout.slice(0, 600) }
            : fail(borgFailure(r.code ?? -1, r.stdout, t3), src3, r.stdout);
    } catch (err) {
      facts.check = fail(reasonOf(err), src3);
    }
  }

  // Round trip 4: restore a sample into a temporary directory and hash it beside the live files.
  if (e.restoreProbe !== false && newest && facts.contents?.ok && facts.clock.ok) {
    const sample = chooseSample(facts.contents.value.candidates, e.sample ?? 5);
    const archiveEpoch = borgTimeToEpoch(newest.start, facts.clock.value.tz);
    if (sample.length) {
      const runId = randomBytes(4).toString('hex');
      const t4 = budget.cmdSec();
      const script = restoreScript(wrapper, newest.name, sample, runId, t4);
      const src4 = `${wrapper} extract ::${newest.name} <${sample.length} files> in a RAM-backed scratch dir; sha256sum`;
      let finished = false;
      try {
        ctx.progress(`restoring ${sample.length} files from ${newest.name}`);
        const r = await run(host, script, budget.execMs(t4 * 1000 + 10_000));
        // The script ran to its end, so its EXIT trap removed the scratch dir.
        finished = r.code === 0 && /^FILE\t/m.test(r.stdout);
        const ex = /^EXTRACT\t(\d+)$/m.exec(r.stdout);
        if (!ex) throw new ParseError(src4, 'restore script printed no EXTRACT line', (r.stdout + r.stderr).slice(0, 400));
        const tz = facts.clock.value.tz;
        const files = parseRestoreLines(r.stdout, sample.map((c) => c.path), src4).map((x, i) => {
          let archivedMtime: number | null = null;
          try {
            archivedMtime = Math.floor(borgTimeToEpoch(sample[i].mtime, tz));
          } catch {
            /* unknown: only the archive time decides */
          }
          return { ...x, archivedMtime };
        });
        facts.restore = Number(ex[1]) !== 0 && files.every((f) => f.restoredSha256 === null)
          ? fail(`extract failed: ${borgFailure(Number(ex[1]), r.stderr, t4)}`, src4, r.stderr)
          : { ok: true, value: { files, archiveEpoch }, source: src4, excerpt: r.stdout.slice(0, 600) };
      } catch (err) {
        facts.restore = fail(reasonOf(err), src4, err instanceof ParseError ? err.excerpt : undefined);
      } finally {
        // A script that did not finish removes its scratch in its TERM trap; one that was KILLed is
        // swept here once its process is gone (and by the next run's first round trip otherwise).
        if (!finished) await host.exec(SWEEP_SH, { timeoutMs: 10_000 }).catch(() => undefined);
      }
    } else {
      facts.restore = fail('the newest archive holds no regular file small enough to sample', `${wrapper} list ::${newest.name}`);
    }
  }

  if (ctx.options.allowMutating) await gatherMutating(ctx, e, facts, budget);
  return facts;
}

/**
 * Extract the sample into a fresh scratch dir (in RAM where the node has a tmpfs: a sampled secrets
 * file must not land on disk; removed by the traps), then hash restored and live files.
 */
export function restoreScript(wrapper: string, archive: string, sample: SampleCandidate[], runId: string, timeoutSec: number): string {
  const quoted = sample.map((c) => shq(c.path)).join(' ');
  const lines = [
    scratchSh('S'),
    `d="$S/restore-${runId}"`,
    `mkdir "$d" && cd "$d" || { echo 'EXTRACT\t97'; exit 0; }`,
    `${borgCmd(wrapper, timeoutSec, `extract ::${shq(archive)} ${quoted}`)} >&2; printf 'EXTRACT\\t%s\\n' $?`,
    'h() { if [ -f "$1" ]; then sha256sum < "$1" | cut -d" " -f1; else echo -; fi; }',
    'i=0',
    `for p in ${quoted}; do`,
    `  if [ -e "/$p" ]; then m=$(stat -c %Y "/$p"); else m=-; fi`,
    `  printf 'FILE\\t%s\\t%s\\t%s\\t%s\\n' "$i" "$m" "$(h "/$p")" "$(h "$d/$p")"`,
    '  i=$((i+1))',
    'done',
  ];
  return lines.join('\n');
}

/** The canary round trip and the PostgreSQL round trip, each cleaning up in a trap and again from here. */
async function gatherMutating(ctx: SuiteContext, e: BackupExpect, facts: BackupFacts, budget: Budget): Promise<void> {
  const host = ctx.host;
  const runId = randomBytes(4).toString('hex');
  const leftovers: string[] = [];
  const paths = facts.expectedPaths.ok ? facts.expectedPaths.value : [];
  const canaryBase = e.canaryPath ?? paths[0];
  if (!facts.list.ok) facts.canary = fail(`cannot run: ${facts.list.reason}`, facts.list.source);
  else if (!canaryBase) facts.canary = fail('no backed-up path to put the canary in (set backup.paths or backup.canaryPath)', 'expectation');
  else {
    const t = budget.cmdSec(30_000);
    // Always our own `create ::leafcert-canary-RUN` through the job's wrapper (same repo, passphrase
    // and paths as the job), never `systemctl start borgbackup-job-NAME`: the real job also prunes,
    // so its extra archive can push a genuine one out of the retention window, and deleting the
    // job's archive afterwards would then lose that backup. The unit itself is judged read-only
    // (backup.units: unit, timer, last result).
    const script = canaryScript({ wrapper: facts.wrapper, base: canaryBase, paths, runId, timeoutSec: t });
    const src = `${facts.wrapper} create ::${CANARY_PREFIX}${runId}`;
    try {
      ctx.progress('canary round trip');
      const r = await run(host, script, t * 3000 + 15_000);
      facts.canary = { ok: true, value: parseCanary(r.stdout, r.stderr), source: src, excerpt: r.stdout.slice(0, 600) };
    } catch (err) {
      facts.canary = fail(reasonOf(err), src);
    } finally {
      const left = await cleanupCanary(host, facts.wrapper, canaryBase, runId);
      leftovers.push(...left);
    }
  }

  if (!e.postgres) facts.pg = fail('no PostgreSQL in the expectation (backup.postgres)', 'expectation');
  else {
    const t = budget.cmdSec(15_000);
    let prefix = '';
    try {
      if (e.postgres.container) {
        const located = await locateContainers(host);
        const c = located.get(e.postgres.container);
        if (!c) throw new Error(`container ${e.postgres.container} not found on the node`);
        prefix = `nsenter -t ${c.leader} -m -u -i -n -p --`;
      }
      const script = pgScript({ runId, timeoutSec: t, port: e.postgres.port, user: e.postgres.user ?? 'postgres' });
      const src = `pg_dump/pg_restore of scratch databases ${PG_PREFIX}${runId}_{a,b}${e.postgres.container ? ` in container ${e.postgres.container}` : ''}`;
      ctx.progress('PostgreSQL dump/restore round trip');
      const r = await run(host, prefix ? `${prefix} sh -c ${shq(script)}` : script, t * 5000 + 15_000);
      facts.pg = { ok: true, value: parsePg(r.stdout, r.stderr), source: src, excerpt: (r.stdout + r.stderr).slice(0, 600) };
    } catch (err) {
      facts.pg = fail(reasonOf(err), 'PostgreSQL round trip');
    } finally {
      leftovers.push(...(await cleanupPg(host, prefix, runId, e.postgres.port, e.postgres.user ?? 'postgres')));
    }
  }
  facts.leftovers = leftovers;
}

export function canaryScript(o: { wrapper: string; base: string; paths: string[]; runId: string; timeoutSec: number }): string {
  const scratch = `${o.base.replace(/\/+$/, '')}/.leafcert-canary-${o.runId}`;
  const rel = `${scratch.replace(/^\/+/, '')}/canary`;
  const archive = `${CANARY_PREFIX}${o.runId}`;
  const b = (args: string) => borgCmd(o.wrapper, o.timeoutSec, args);
  return [
    `S=${shq(scratch)}; d=''; NEW=''`,
    // Everything we create is removed here, whatever ends the script.
    // Further signals are ignored while cleaning: timeout sends TERM to the script and to its group.
    `cleanup() { trap '' INT TERM HUP PIPE; cd /; rm -rf "$S"; [ -n "$d" ] && rm -rf "$d"; for a in $NEW; do ${b('delete ::"$a"')} >/dev/null 2>&1 && echo "DELETED\t$a"; done; }`,
    `trap cleanup EXIT`,
    `trap 'exit 130' INT TERM HUP`,
    `trap 'exec >/dev/null 2>&1; exit 141' PIPE`,
    `[ -d ${shq(o.base)} ] || { echo "ERR\tcanary base ${o.base} is not a directory"; exit 0; }`,
    `mkdir "$S" || { echo "ERR\tcannot create $S"; exit 0; }`,
    `head -c 4096 /dev/urandom > "$S/canary" && printf 'WROTE\\t%s\\n' "$(sha256sum < "$S/canary" | cut -d' ' -f1)"`,
    `NEW=${shq(archive)}; ${b(`create ::${archive} ${[...new Set([o.base, ...o.paths])].map(shq).join(' ')}`)} >&2; printf 'JOB\\t%s\\n' $?`,
    `printf 'ARCHIVES\\t%s\\n' "$NEW"`,
    `d=$(mktemp -d /tmp/leafcert-canary-${o.runId}.XXXXXX) && cd "$d" || exit 0`,
    `for a in $NEW; do ${b(`extract ::"$a" ${shq(rel)}`)} >&2 && [ -f ${shq(rel)} ] && { printf 'RESTORED\\t%s\\t%s\\n' "$a" "$(sha256sum < ${shq(rel)} | cut -d' ' -f1)"; break; }; done`,
  ].join('\n');
}

export function parseCanary(stdout: string, stderr: string): CanaryResult {
  const get = (k: string) => new RegExp(`^${k}\\t(.*)$`, 'm').exec(stdout)?.[1];
  const err = get('ERR');
  if (err) throw new Error(err);
  const job = get('JOB');
  const archives = (get('ARCHIVES') ?? '').trim();
  const restored = get('RESTORED')?.split('\t');
  const deleted = [...stdout.matchAll(/^DELETED\t(.*)$/gm)].map((m) => m[1]);
  const log = `${stdout}\n${stderr}`.trim().slice(0, 1500);
  if (job === undefined) throw new Error(`the canary script stopped before the job ran: ${stderr.trim().split('\n').at(-1) ?? ''}`);
  return {
    jobRc: Number(job),
    mode: 'wrapper',
    archive: restored?.[0] ?? archives,
    written: get('WROTE') ?? null,
    restored: restored?.[1] ?? null,
    cleaned: archives.split(/\s+/).filter(Boolean).every((a) => deleted.includes(a)),
    log,
  };
}

/** Our own pass after the script: remove what a killed script could not, and report what was found. */
async function cleanupCanary(host: Host, wrapper: string, base: string, runId: string): Promise<string[]> {
  const scratch = `${base.replace(/\/+$/, '')}/.leafcert-canary-${runId}`;
  const archive = `${CANARY_PREFIX}${runId}`;
  const script = [
    `for p in ${shq(scratch)} /tmp/leafcert-canary-${runId}.*; do [ -e "$p" ] && { echo "LEFT\t$p"; rm -rf "$p"; }; done`,
    `if ${borgCmd(wrapper, 30, '--lock-wait 20 list --short')} 2>/dev/null | grep -qx ${shq(archive)}; then echo "LEFT\tarchive ::${archive}"; ${borgCmd(wrapper, 30, `--lock-wait 20 delete ::${archive}`)} >/dev/null 2>&1; fi`,
    'true',
  ].join('\n');
  try {
    const r = await host.exec(script, { timeoutMs: 70_000 });
    return [...r.stdout.matchAll(/^LEFT\t(.*)$/gm)].map((m) => m[1]);
  } catch (err) {
    return [`cleanup pass failed: ${reasonOf(err)}`];
  }
}

function pgPrelude(o: { port?: number; user: string }): string {
  // Prefer the versioned server binaries (Debian's wrappers need a registered cluster).
  return [
    `B=''; for x in /run/current-system/sw/bin /usr/lib/postgresql/*/bin; do [ -x "$x/pg_dump" ] && B=$x; done`,
    `[ -n "$B" ] || B=$(dirname "$(command -v pg_dump)")`,
    `P=${o.port ? `"-p ${o.port}"` : "''"}`,
    // A command, not a function: it must run under `timeout`. ($B and $P hold no spaces.)
    `Q="runuser -u ${o.user} -- $B/psql -X -q -At -v ON_ERROR_STOP=1 $P"`,
  ].join('\n');
}

export function pgScript(o: { runId: string; timeoutSec: number; port?: number; user: string }): string {
  const a = `${PG_PREFIX}${o.runId}_a`;
  const bdb = `${PG_PREFIX}${o.runId}_b`;
  const T = `timeout -k 5 ${o.timeoutSec}`;
  const sum = `select count(*) || ' ' || coalesce(md5(string_agg(id::text || ':' || v, ',' order by id)), '-') from leafcert_probe`;
  return [
    'cd /',
    pgPrelude(o),
    `d=''`,
    `cleanup() { trap '' INT TERM HUP PIPE; cd /; $Q -d postgres -c 'DROP DATABASE IF EXISTS ${a}' -c 'DROP DATABASE IF EXISTS ${bdb}' </dev/null >/dev/null 2>&1 && echo 'DROPPED'; [ -n "$d" ] && rm -rf "$d"; }`,
    'trap cleanup EXIT',
    `trap 'exit 130' INT TERM HUP`,
    `trap 'exec >/dev/null 2>&1; exit 141' PIPE`,
    `d=$(mktemp -d /tmp/leafcert-pg-${o.runId}.XXXXXX) && chown ${o.user} "$d" || { echo 'ERR\tmktemp failed'; exit 0; }`,
    `${T} $Q -d postgres -c 'CREATE DATABASE ${a}' </dev/null || { echo 'ERR\tCREATE DATABASE failed'; exit 0; }`,
    `${T} $Q -d ${a} -c "create table leafcert_probe(id int primary key, v text)" -c "insert into leafcert_probe select g, md5(g::text) from generate_series(1,1000) g" </dev/null || { echo 'ERR\tfilling the scratch table failed'; exit 0; }`,
    `${T} runuser -u ${o.user} -- "$B/pg_dump" $P -Fc -f "$d/dump" ${a} </dev/null || { echo 'ERR\tpg_dump failed'; exit 0; }`,
    `${T} $Q -d postgres -c 'CREATE DATABASE ${bdb}' </dev/null || { echo 'ERR\tCREATE DATABASE failed'; exit 0; }`,
    `${T} runuser -u ${o.user} -- "$B/pg_restore" $P --no-owner -d ${bdb} "$d/dump" </dev/null || { echo 'ERR\tpg_restore failed'; exit 0; }`,
    `printf 'SRC\\t%s\\n' "$(${T} $Q -d ${a} -c "${sum}" </dev/null)"`,
    `printf 'DST\\t%s\\n' "$(${T} $Q -d ${bdb} -c "${sum}" </dev/null)"`,
  ].join('\n');
}

export function parsePg(stdout: string, stderr: string): PgRoundTrip {
  const get = (k: string) => new RegExp(`^${k}\\t(.*)$`, 'm').exec(stdout)?.[1];
  const err = get('ERR');
  const why = (e: string) => `${e}: ${stderr.trim().split('\n').slice(-2).join(' ').slice(0, 300)}`;
  // pg_dump / pg_restore failing IS the finding; a scratch database that cannot be made is not.
  if (err === 'pg_dump failed' || err === 'pg_restore failed') {
    return { source: null, restored: null, cleaned: /^DROPPED$/m.test(stdout), log: `${stdout}\n${stderr}`.trim().slice(0, 1500), failedStep: why(err) };
  }
  if (err) throw new Error(why(err));
  const row = (v: string | undefined) => {
    const m = /^(\d+) ([0-9a-f]{32}|-)$/.exec((v ?? '').trim());
    return m ? { rows: Number(m[1]), md5: m[2] } : null;
  };
  return { source: row(get('SRC')), restored: row(get('DST')), cleaned: /^DROPPED$/m.test(stdout), log: `${stdout}\n${stderr}`.trim().slice(0, 1500) };
}

async function cleanupPg(host: Host, prefix: string, runId: string, port: number | undefined, user: string): Promise<string[]> {
  const script = [
    'cd /',
    pgPrelude({ port, user }),
    `for db in $($Q -d postgres -c "select datname from pg_database where datname like '${PG_PREFIX}${runId}%'" </dev/null); do echo "LEFT\tdatabase $db"; $Q -d postgres -c "DROP DATABASE IF EXISTS $db" </dev/null >/dev/null 2>&1; done`,
    `for p in /tmp/leafcert-pg-${runId}.*; do [ -e "$p" ] && { echo "LEFT\t$p"; rm -rf "$p"; }; done`,
    'true',
  ].join('\n');
  try {
    const r = await host.exec(prefix ? `${prefix} sh -c ${shq(script)}` : script, { timeoutMs: 30_000 });
    return [...r.stdout.matchAll(/^LEFT\t(.*)$/gm)].map((m) => m[1]);
  } catch (err) {
    return [`cleanup pass failed: ${reasonOf(err)}`];
  }
}

// ---------------------------------------------------------------- evaluate (pure)

function outcome(id: string, title: string, subject: string, severity: Severity, status: Outcome['status'], message: string, evidence: Outcome['evidence']): Outcome {
  return { id, title, subject, severity, status, message, evidence, checklist: CHECKLIST };
}

function stepError(id: string, title: string, subject: string, severity: Severity, s: { reason: string; source: string; excerpt?: string }): Outcome {
  return outcome(id, title, subject, severity, 'error', s.reason, { source: s.source, ...(s.excerpt ? { excerpt: s.excerpt } : {}) });
}

function fmtAge(sec: number): string {
  const h = Math.floor(sec / 3600);
  const m = Math.floor((sec % 3600) / 60);
  return h >= 48 ? `${Math.floor(h / 24)}d ${h % 24}h` : `${h}h ${m}m`;
}

/** Checks that need the repository (its lock): skipped while the job runs. */
const REPO_CHECKS = new Set(['backup.archive-age', 'backup.archive-paths', 'backup.repo-check', 'backup.restore-sample', 'backup.canary-roundtrip']);
export const JOB_RUNNING_REASON = 'the backup job is running now; certification does not compete for the repository lock — rerun after it ends';

export function evaluate(f: BackupFacts, e: BackupExpect, ctx: { options: { allowMutating: boolean } }): Outcome[] {
  const all = evaluateFacts(f, e, ctx);
  const running = f.jobRunning;
  if (!running) return all;
  // Keep a skip the expectation asked for; everything else that needs the repository is skipped, never passed.
  return all.map((o) => REPO_CHECKS.has(o.id) && !(o.status === 'skipped' && /expectation|--allow-mutating/.test(o.evidence.source ?? ''))
    ? { ...o, status: 'skipped' as const, message: `${JOB_RUNNING_REASON} (${running.source}: ${running.state})`, evidence: { ...o.evidence, source: running.source, observed: running.state } }
    : o);
}

function evaluateFacts(f: BackupFacts, e: BackupExpect, ctx: { options: { allowMutating: boolean } }): Outcome[] {
  const out: Outcome[] = [];
  const job = f.job;
  const repo = f.list.ok ? f.list.value.repository.location : `${f.wrapper}'s repository`;

  // Units (NixOS names them borgbackup-job-NAME; the deployment guide's borgbackup-NAME is wrong).
  {
    const id = 'backup.units';
    const title = 'Backup job unit and timer exist';
    const subject = `borgbackup-job-${job}.service`;
    const u = f.units;
    if (!u.ok && 'skipped' in u) {
      out.push(outcome(id, title, subject, 'high', 'skipped', `cannot check systemd units: ${u.skipped}`, { source: u.source, observed: u.skipped }));
    } else if (!u.ok) out.push(stepError(id, title, subject, 'high', u));
    else {
      const byId = new Map(u.value.map((x) => [x.Id, x]));
      const svc = byId.get(`borgbackup-job-${job}.service`);
      const tmr = byId.get(`borgbackup-job-${job}.timer`);
      const guide = byId.get(`borgbackup-${job}.service`);
      const missing: string[] = [];
      if (!svc || svc.LoadState !== 'loaded') missing.push(`borgbackup-job-${job}.service`);
      if (e.timer !== false && (!tmr || tmr.LoadState !== 'loaded')) missing.push(`borgbackup-job-${job}.timer`);
      const note = guide && guide.LoadState === 'loaded'
        ? ''
        : ` (the deployment guide's \`systemctl start borgbackup-${job}\` names a unit that does not exist on NixOS)`;
      const observed = u.value.map((x) => `${x.Id}: ${x.LoadState}${x.ActiveState ? `/${x.ActiveState}` : ''}${x.Result ? ` result=${x.Result}` : ''}`);
      if (missing.length) {
        out.push(outcome(id, title, subject, 'high', 'fail', `missing: ${missing.join(', ')}${note}`, { source: u.source, expected: { service: `borgbackup-job-${job}.service`, timer: e.timer !== false }, observed, excerpt: u.excerpt }));
      } else if (e.timer !== false && tmr?.ActiveState && tmr.ActiveState !== 'active') {
        out.push(outcome(id, title, subject, 'high', 'fail', `borgbackup-job-${job}.timer is ${tmr.ActiveState}: the job does not run on schedule`, { source: u.source, expected: 'timer active', observed, excerpt: u.excerpt }));
      } else if (svc?.Result && svc.Result !== 'success') {
        out.push(outcome(id, title, subject, 'high', 'fail', `borgbackup-job-${job}.service last result: ${svc.Result}`, { source: u.source, expected: 'Result=success', observed, excerpt: u.excerpt }));
      } else {
        out.push(outcome(id, title, subject, 'high', 'pass', `borgbackup-job-${job}.service${e.timer !== false ? ' and .timer' : ''} loaded${note}`, { source: u.source, expected: { service: `borgbackup-job-${job}.service`, timer: e.timer !== false }, observed, excerpt: u.excerpt }));
      }
    }
  }

  // Newest archive age, judged by the node's clock.
  {
    const id = 'backup.archive-age';
    const title = 'Newest archive is recent';
    const maxSec = parseDuration(e.maxAge) / 1000;
    if (!f.list.ok) out.push(stepError(id, title, repo, 'high', f.list));
    else if (!f.clock.ok) out.push(stepError(id, title, repo, 'high', f.clock));
    else if (!f.newest) {
      out.push(outcome(id, title, repo, 'high', 'fail', `the repository holds no completed archive (${f.list.value.archives.length} in total)`, { source: f.list.source, expected: `newest archive younger than ${e.maxAge}`, observed: f.list.value.archives.map((a) => a.name), excerpt: f.list.excerpt }));
    } else {
      const at = borgTimeToEpoch(f.newest.start, f.clock.value.tz);
      const age = f.clock.value.now - at;
      const ev = { source: f.list.source, expected: `younger than ${e.maxAge}`, observed: { archive: f.newest.name, start: f.newest.start, nodeTz: f.clock.value.tz, ageSeconds: age }, excerpt: f.list.excerpt };
      if (age < -300) out.push(outcome(id, title, repo, 'high', 'fail', `newest archive ${f.newest.name} is dated ${fmtAge(-age)} in the node's future: clock or timestamp wrong`, ev));
      else if (age > maxSec) out.push(outcome(id, title, repo, 'high', 'fail', `newest archive ${f.newest.name} is ${fmtAge(age)} old (max ${e.maxAge})`, ev));
      else out.push(outcome(id, title, repo, 'high', 'pass', `newest archive ${f.newest.name} is ${fmtAge(Math.max(0, age))} old (max ${e.maxAge})`, ev));
    }
  }

  // Expected paths are in the newest archive.
  {
    const id = 'backup.archive-paths';
    const title = 'Newest archive holds every backed-up path';
    const subject = f.newest?.name ?? repo;
    if (!f.list.ok) out.push(stepError(id, title, subject, 'high', f.list));
    else if (!f.newest) out.push(outcome(id, title, subject, 'high', 'fail', 'no completed archive to look into', { source: f.list.source }));
    else if (!e.paths) out.push(outcome(id, title, subject, 'high', 'skipped', 'no paths in the expectation (backup.paths): the archive\'s own command line cannot show a path it left out', { source: 'expectation backup.paths' }));
    else if (!f.contents) out.push(outcome(id, title, subject, 'high', 'error', 'archive contents not gathered', { source: 'backup probe' }));
    else if (!f.contents.ok) out.push(stepError(id, title, subject, 'high', f.contents));
    else {
      const roots = f.contents.value.roots;
      const counts = Object.fromEntries(e.paths.map((p) => [p, roots[p.replace(/^\/+/, '').replace(/\/+$/, '')] ?? 0]));
      const missing = e.paths.filter((p) => counts[p] === 0);
      const ev = { source: f.contents.source, expected: e.paths, observed: { entriesUnder: counts, totalEntries: f.contents.value.entries } };
      if (missing.length) out.push(outcome(id, title, subject, 'high', 'fail', `${f.newest.name} lacks ${missing.join(', ')}`, ev));
      else out.push(outcome(id, title, subject, 'high', 'pass', `${f.newest.name} holds all ${e.paths.length} expected path(s)`, ev));
    }
  }

  // borg check --repository-only.
  {
    const id = 'backup.repo-check';
    const title = 'Repository passes borg check';
    if (e.check === false) out.push(outcome(id, title, repo, 'critical', 'skipped', 'disabled in the expectation (backup.check: false)', { source: 'expectation backup.check' }));
    else if (!f.list.ok) out.push(stepError(id, title, repo, 'critical', f.list));
    else if (!f.check) out.push(outcome(id, title, repo, 'critical', 'error', 'borg check did not run', { source: 'backup probe' }));
    else if (!f.check.ok) out.push(stepError(id, title, repo, 'critical', f.check));
    else if (/^rc \d+/.test(f.check.value.output)) {
      const lines = f.check.value.output.split('\n').filter((l) => l.trim() && !/^rc \d+$/.test(l));
      out.push(outcome(id, title, repo, 'critical', 'fail', `borg check found problems: ${lines.slice(-2).join(' | ').slice(0, 300)}`, { source: f.check.source, expected: 'rc 0', observed: f.check.value.output.split('\n')[0], excerpt: f.check.excerpt }));
    } else out.push(outcome(id, title, repo, 'critical', 'pass', 'borg check --repository-only: no problems', { source: f.check.source, expected: 'rc 0', observed: 'rc 0', excerpt: f.check.excerpt }));
  }

  // Restore sample equals the unchanged live files.
  {
    const id = 'backup.restore-sample';
    const title = 'Files restored from the newest archive equal the live files';
    const subject = f.newest?.name ?? repo;
    if (e.restoreProbe === false) out.push(outcome(id, title, subject, 'high', 'skipped', 'disabled in the expectation (backup.restoreProbe: false)', { source: 'expectation backup.restoreProbe' }));
    else if (!f.list.ok) out.push(stepError(id, title, subject, 'high', f.list));
    else if (!f.newest) out.push(outcome(id, title, subject, 'high', 'fail', 'no completed archive to restore from', { source: f.list.source }));
    else if (!f.restore) out.push(outcome(id, title, subject, 'high', 'error', f.contents && !f.contents.ok ? `archive not readable: ${f.contents.reason}` : !f.clock.ok ? f.clock.reason : 'restore probe did not run', { source: 'backup probe' }));
    else if (!f.restore.ok) out.push(stepError(id, title, subject, 'high', f.restore));
    else {
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
        out.push(outcome(id, title, subject, 'high', 'fail', parts.join('; '), ev));
      } else if (!compared.length) {
        out.push(outcome(id, title, subject, 'high', 'error', `every sampled file changed since the archive was made (${changed.length}): nothing to compare`, ev));
      } else {
        out.push(outcome(id, title, subject, 'high', 'pass', `${compared.length} restored file(s) equal the live ones${changed.length ? ` (${changed.length} changed since the archive, excluded)` : ''}`, ev));
      }
    }
  }

  // Mutating round trips.
  const left = f.leftovers ?? [];
  {
    const id = 'backup.canary-roundtrip';
    const title = 'A canary file goes through backup and restore';
    const subject = `borgbackup-job-${job}`;
    if (!ctx.options.allowMutating) out.push(outcome(id, title, subject, 'high', 'skipped', MUTATING_REASON, { source: 'run option --allow-mutating' }));
    else if (!f.canary) out.push(outcome(id, title, subject, 'high', 'error', 'canary round trip did not run', { source: 'backup probe' }));
    else if (!f.canary.ok) out.push(stepError(id, title, subject, 'high', f.canary));
    else {
      const c = f.canary.value;
      const canaryLeft = left.filter((l) => /canary/.test(l));
      const ev = { source: f.canary.source, expected: { sha256: c.written, cleanedUp: true }, observed: { archive: c.archive, restoredSha256: c.restored, mode: c.mode, leftovers: canaryLeft }, excerpt: c.log.slice(0, 600) };
      if (c.jobRc === 124 || c.jobRc === 137) out.push(outcome(id, title, subject, 'high', 'error', 'borg create did not finish within the timeout', ev));
      else if (c.jobRc !== 0) out.push(outcome(id, title, subject, 'high', 'fail', `borg create failed (rc ${c.jobRc}): ${c.log.split('\n').filter((l) => l.trim()).at(-1) ?? ''}`.slice(0, 300), ev));
      else if (!c.written) out.push(outcome(id, title, subject, 'high', 'error', 'the canary file could not be written', ev));
      else if (!c.restored) out.push(outcome(id, title, subject, 'high', 'fail', `the canary was not found in the new archive ${c.archive || '(none created)'}`, ev));
      else if (c.restored !== c.written) out.push(outcome(id, title, subject, 'high', 'fail', 'the restored canary differs from the one written', ev));
      else if (canaryLeft.length || !c.cleaned) out.push(outcome(id, title, subject, 'high', 'fail', `round trip worked but cleanup left: ${canaryLeft.join(', ') || 'the canary archive'}`, ev));
      else out.push(outcome(id, title, subject, 'high', 'pass', `canary restored from ${c.archive} with the same sha256; canary and archive removed`, ev));
    }
  }
  {
    const id = 'backup.pg-roundtrip';
    const title = 'A PostgreSQL dump restores to the same data';
    const subject = e.postgres?.container ? `postgresql in ${e.postgres.container}` : 'postgresql';
    if (!ctx.options.allowMutating) out.push(outcome(id, title, subject, 'high', 'skipped', MUTATING_REASON, { source: 'run option --allow-mutating' }));
    else if (!e.postgres) out.push(outcome(id, title, subject, 'high', 'skipped', 'no PostgreSQL in the expectation (backup.postgres)', { source: 'expectation backup.postgres' }));
    else if (!f.pg) out.push(outcome(id, title, subject, 'high', 'error', 'PostgreSQL round trip did not run', { source: 'backup probe' }));
    else if (!f.pg.ok) out.push(stepError(id, title, subject, 'high', f.pg));
    else {
      const p = f.pg.value;
      const pgLeft = left.filter((l) => /database|leafcert-pg/.test(l));
      const ev = { source: f.pg.source, expected: p.source, observed: { restored: p.restored, leftovers: pgLeft }, excerpt: p.log.slice(0, 600) };
      if (p.failedStep) out.push(outcome(id, title, subject, 'high', 'fail', `the dump/restore round trip failed: ${p.failedStep}`, ev));
      else if (!p.source || !p.restored) out.push(outcome(id, title, subject, 'high', 'error', 'row count/checksum not read from both databases', ev));
      else if (p.source.rows !== p.restored.rows || p.source.md5 !== p.restored.md5) {
        out.push(outcome(id, title, subject, 'high', 'fail', `restored database differs: ${p.restored.rows} rows md5 ${p.restored.md5} vs ${p.source.rows} rows md5 ${p.source.md5}`, ev));
      } else if (pgLeft.length || !p.cleaned) out.push(outcome(id, title, subject, 'high', 'fail', `round trip worked but cleanup left: ${pgLeft.join(', ') || 'scratch databases'}`, ev));
      else out.push(outcome(id, title, subject, 'high', 'pass', `dump of ${p.source.rows} rows restored with the same checksum; scratch databases dropped`, ev));
    }
  }
  return out;
}

export const backupSuite: Suite<BackupExpect, BackupFacts> = {
  name: 'backup',
  key: 'backup',
  schema: SCHEMA,
  gather,
  evaluate: (facts, expect, ctx) => evaluate(facts, expect, ctx),
  checkIds: [
    'backup.units',
    'backup.archive-age',
    'backup.archive-paths',
    'backup.repo-check',
    'backup.restore-sample',
    'backup.canary-roundtrip',
    'backup.pg-roundtrip',
  ],
};
