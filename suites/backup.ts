// Checklist "backups tested": the NixOS borg job exists, its newest archive is recent and holds the
// expected paths, the repository checks clean, and a sample restored on the node equals the live
// files. With --allow-mutating, a canary file and a PostgreSQL database go through a full round
// trip. The probe (src/probes/backup.ts) gathers through the job wrapper `borg-job-NAME`; the
// judges (suites/backup/judge.ts) are pure, one per check.
import type { Outcome, Suite, SuiteContext } from '../src/core/types.js';
import { FORMATS } from '../src/core/formats.js';
import { calendarPeriod, formatDaysHours } from '../src/core/calendar.js';
import { parseDuration } from '../src/core/units.js';
import { optionPath, type BorgJob, type Cite, type Manifest } from '../src/core/manifest.js';
import { checkWasClean, gatherBackup, type BackupFacts, type BackupTarget } from '../src/probes/backup.js';
import type { CheckWindowInput } from '../src/probes/check-window.js';
import { CHECKS } from './backup/checks.js';
import { judgeArchiveAge, judgeArchivePaths, judgeCanary, judgeEncryption, judgeOffNode, judgePg, judgeRepoCheck, judgeRestoreSample, judgeUnits, repoPlace } from './backup/judge.js';
import { declaredPostgres } from './postgres.js';

// Moved to the probe modules; re-exported for the callers and tests that import them from here.
export { gatherBackup, newestArchive, parseShow, type BackupFacts, type UnitProps } from '../src/probes/backup.js';
export { canaryScript, CANARY_PREFIX, parseCanary, parsePg, PG_PREFIX, pgScript, type CanaryResult, type PgRoundTrip } from '../src/probes/backup-roundtrip.js';

export interface BackupExpect extends BackupTarget {
  /** Newest archive must be younger than this (e.g. 26h for a daily job). */
  maxAge: string;
  /** A `borgbackup-job-NAME.timer` is expected (false when `startAt = []`). Default true. */
  timer?: boolean;
  /** The repository is declared on another machine: the location borg reports must be remote (backup.off-node). */
  offNode?: boolean;
  /** The declared encryption mode: the repository borg reports must have it (backup.encryption). */
  encryption?: string;
}

const SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['job', 'maxAge'],
  properties: {
    job: { type: 'string', pattern: '^[A-Za-z0-9_.@-]+$', description: 'services.borgbackup.jobs.<job>' },
    maxAge: { type: 'string', format: FORMATS.duration, description: 'Newest archive must be younger than this, e.g. 26h.' },
    paths: { type: 'array', items: { type: 'string', pattern: '^/' }, minItems: 1 },
    timer: { type: 'boolean' },
    offNode: { type: 'boolean', description: 'The repository is declared on another machine (services.borgbackup.jobs.<job>.repo).' },
    encryption: { type: 'string', pattern: '^[a-z0-9-]+$', description: 'Declared services.borgbackup.jobs.<job>.encryption.mode, e.g. repokey-blake2.' },
    check: { type: 'boolean' },
    checkEvery: { type: 'string', format: FORMATS.duration, description: 'At most one borg check per this window (e.g. 24h, 7d), counted from the last clean check this harness remembers (--state-dir); inside it backup.repo-check is skipped, naming that check. Absent: every run.' },
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

async function gather(ctx: SuiteContext, e: BackupExpect): Promise<BackupFacts> {
  const memory = e.checkEvery && e.check !== false ? ctx.options.checkMemory : undefined;
  const checkWindow = e.checkEvery && e.check !== false ? windowInput(ctx, e.checkEvery) : undefined;
  const facts = await gatherBackup(ctx.host, e, { timeoutMs: ctx.options.timeoutMs, allowMutating: ctx.options.allowMutating, progress: (m) => ctx.progress(m), checkWindow });
  // Only a check that ran changes the memory: a clean one is remembered, any other outcome forgets
  // the earlier one, so the next run checks again.
  if (memory && facts.checkStartedAt && facts.list.ok) {
    const { id, location } = facts.list.value.repository;
    if (checkWasClean(facts)) memory.remember({ node: ctx.node.name, location, repositoryId: id, at: facts.checkStartedAt });
    else memory.forget({ node: ctx.node.name, location, at: facts.checkStartedAt });
  }
  return facts;
}

/** backup.checkEvery with what the harness remembers of this node (nothing without a state directory). */
function windowInput(ctx: SuiteContext, every: string): CheckWindowInput {
  const memory = ctx.options.checkMemory;
  if (!memory) return { every, remembered: [], file: 'no state directory', problem: 'this run keeps no harness state' };
  const { checks, problem } = memory.recall(ctx.node.name);
  return { every, remembered: checks, file: memory.file, ...(problem ? { problem } : {}) };
}

/** Checks that need the repository (its lock): skipped while the job runs. */
const REPO_CHECKS = new Set<string>([CHECKS['archive-age'], CHECKS['archive-paths'], CHECKS['repo-check'], CHECKS['restore-sample'], CHECKS['canary-roundtrip'], CHECKS.encryption, CHECKS['off-node']].map((c) => c.id));
export const JOB_RUNNING_REASON = 'the backup job is running now; certification does not compete for the repository lock — rerun after it ends';

export function evaluate(f: BackupFacts, e: BackupExpect, ctx: { options: { allowMutating: boolean } }): Outcome[] {
  const mutating = ctx.options.allowMutating;
  const all = [judgeUnits(f, e), judgeArchiveAge(f, e), judgeArchivePaths(f, e), judgeRepoCheck(f, e), judgeRestoreSample(f, e), judgeCanary(f, mutating), judgePg(f, e, mutating), judgeEncryption(f, e), judgeOffNode(f, e)];
  const running = f.jobRunning;
  if (!running) return all;
  // Keep a skip the expectation asked for; everything else that needs the repository is skipped, never passed.
  return all.map((o) => REPO_CHECKS.has(o.id) && !(o.status === 'skipped' && /expectation|--allow-mutating/.test(o.evidence.source ?? ''))
    ? { ...o, status: 'skipped' as const, message: `${JOB_RUNNING_REASON} (${running.source}: ${running.state})`, evidence: { ...o.evidence, source: running.source, observed: running.state } }
    : o);
}

/**
 * A borg startAt as the newest archive's allowed age: the longest gap between two runs plus slack for
 * the run itself (a twelfth, at least an hour). Several expressions: the job runs on each of them.
 */
export function maxAgeFor(startAt: string | string[]): { maxAge: string; exact: boolean } {
  const table: Record<string, string> = { hourly: '2h', daily: '26h', weekly: '8d', monthly: '32d' };
  const list = ([] as string[]).concat(startAt);
  const each = list.map((s) => (table[s] ? parseDuration(table[s]) / 1000 : withSlack(calendarPeriod(s))));
  if (!each.length || each.some((p) => p === undefined)) return { maxAge: '26h', exact: false };
  if (list.length === 1 && table[list[0]]) return { maxAge: table[list[0]], exact: true };
  return { maxAge: formatDaysHours(Math.min(...(each as number[]))), exact: true };
}
const withSlack = (period: number | undefined) => (period === undefined ? undefined : period + Math.max(3600, period / 12));

/**
 * The job the suite certifies (it takes one): the one that backs up the data — a PostgreSQL dump
 * (services.postgresqlBackup.location) or a database container's state — then state under /var/lib,
 * then the most frequent; the first by name on a tie. A weekly /etc/nixos job is not the backup.
 */
function dataJob(m: Manifest): { job: BorgJob; why: string } | undefined {
  const jobs = m.host.borg;
  if (jobs.length < 2) return jobs[0] ? { job: jobs[0], why: '' } : undefined;
  const under = (p: string, dir: string) => p === dir || dir.startsWith(`${p.replace(/\/$/, '')}/`) || p.startsWith(`${dir.replace(/\/$/, '')}/`);
  const data = [
    ...(m.host.postgresqlBackup?.enable ? [m.host.postgresqlBackup.location] : []),
    ...declaredPostgres(m).flatMap((x) => (x.where ? [`${m.system.containerStateDirectory}/${x.where.name}`] : [])),
  ];
  const score = (j: BorgJob) => ((j.paths ?? []).some((p) => data.some((d) => under(p, d))) ? 2 : 0) + ((j.paths ?? []).some((p) => p.startsWith('/var/lib')) ? 1 : 0);
  const period = (j: BorgJob) => parseDuration(maxAgeFor(j.startAt).maxAge);
  const best = [...jobs].sort((a, b) => score(b) - score(a) || period(a) - period(b))[0];
  const why = score(best) >= 2 ? 'it backs up the database' : score(best) === 1 ? 'it backs up state under /var/lib' : 'the most frequent';
  return { job: best, why: ` (of ${jobs.length} jobs: ${why})` };
}

/** plan: the host's data job (dataJob). Its PostgreSQL round trip goes to the container whose state directory the job backs up. */
export function fromManifest(m: Manifest, cite: Cite): BackupExpect | undefined {
  const picked = dataJob(m);
  if (!picked) return undefined;
  const j = picked.job;
  const { maxAge, exact } = maxAgeFor(j.startAt);
  const b: BackupExpect = { job: j.name, maxAge };
  cite(['backup', 'job'], `${j.path}${picked.why}`);
  cite(['backup', 'maxAge'], `${optionPath(j.path, 'startAt')}${exact ? '' : ' (not a plain period: 26h assumed)'}`);
  if (j.paths?.length) {
    b.paths = j.paths;
    cite(['backup', 'paths'], optionPath(j.path, 'paths'));
  }
  b.timer = !(Array.isArray(j.startAt) && j.startAt.length === 0);
  cite(['backup', 'timer'], optionPath(j.path, 'startAt'));
  // Off-node and encryption as declared: the live repository must be where and what the job says.
  const place = j.repo ? repoPlace(j.repo) : undefined;
  if (place) {
    b.offNode = place.remote && !place.loopback;
    cite(['backup', 'offNode'], optionPath(j.path, 'repo'));
  }
  if (j.encryption.mode && /^[a-z0-9-]+$/.test(j.encryption.mode)) {
    b.encryption = j.encryption.mode;
    cite(['backup', 'encryption'], optionPath(j.path, 'encryption', 'mode'));
  }
  const pgc = declaredPostgres(m).find((x) => x.where && j.paths?.some((p) => p.startsWith(`${m.system.containerStateDirectory}/${x.where!.name}/`)));
  if (pgc?.where) {
    b.postgres = { container: pgc.where.name };
    cite(['backup', 'postgres', 'container'], pgc.where.path);
  }
  return b;
}

export const backupSuite: Suite<BackupExpect, BackupFacts> = {
  name: 'backup',
  key: 'backup',
  schema: SCHEMA,
  gather,
  evaluate: (facts, expect, ctx) => evaluate(facts, expect, ctx),
  checkIds: Object.values(CHECKS).map((c) => c.id),
  checks: Object.values(CHECKS),
  fromManifest,
};
