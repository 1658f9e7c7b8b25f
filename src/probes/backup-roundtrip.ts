// The mutating round trips of the backup probe (only with --allow-mutating, on a pre-production
// node): a canary file through `borg create` / `borg extract`, and a PostgreSQL scratch database
// through pg_dump / pg_restore. Each script removes what it made in a shell trap (EXIT, and
// INT/TERM/HUP/PIPE so a vanished client still triggers it), and our own cleanup pass afterwards
// removes and names anything a killed script could not.
// The scripts stay in TypeScript (not .sh files): their text is asserted by tests, every value in
// them is quoted with shq or is one of our own names ([a-z0-9_-]).
import { factMissing, factOk, reasonOf, type Fact } from '../core/fact.js';
import { shq } from '../core/quote.js';
import type { Host } from '../core/types.js';
import { nsenterCommand } from '../transport/container.js';
import { borgCmd } from './borg.js';
import { locateContainers } from './containers.js';

export const CANARY_PREFIX = 'leafcert-canary-';
export const PG_PREFIX = 'leafcert_rt_';

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

/** A round trip's fact, and what our cleanup pass still found (and removed) afterwards. */
export interface RoundTrip<T> {
  fact: Fact<T>;
  leftovers: string[];
}

async function run(host: Host, command: string, timeoutMs: number) {
  return host.exec(command, { timeoutMs: Math.max(1000, timeoutMs) });
}

/**
 * Always our own `create ::leafcert-canary-RUN` through the job's wrapper (same repo, passphrase and
 * paths as the job), never `systemctl start borgbackup-job-NAME`: the real job also prunes, so its
 * extra archive can push a genuine one out of the retention window, and deleting the job's archive
 * afterwards would then lose that backup. The unit itself is judged read-only (backup.units: unit,
 * timer, last result).
 */
export async function canaryRoundTrip(host: Host, o: { wrapper: string; base: string; paths: string[]; runId: string; timeoutSec: number }, progress: (m: string) => void): Promise<RoundTrip<CanaryResult>> {
  const src = `${o.wrapper} create ::${CANARY_PREFIX}${o.runId}`;
  let fact: Fact<CanaryResult>;
  try {
    progress('canary round trip');
    const r = await run(host, canaryScript(o), o.timeoutSec * 3000 + 15_000);
    fact = factOk(parseCanary(r.stdout, r.stderr), src, r.stdout.slice(0, 600));
  } catch (err) {
    fact = factMissing(reasonOf(err), src);
  }
  return { fact, leftovers: await cleanupCanary(host, o.wrapper, o.base, o.runId) };
}

/** The dump/restore round trip on the node, or inside the container `o.container` (entered from the node). */
export async function pgRoundTrip(host: Host, o: { container?: string; port?: number; user?: string; runId: string; timeoutSec: number }, progress: (m: string) => void): Promise<RoundTrip<PgRoundTrip>> {
  const user = o.user ?? 'postgres';
  let leader: number | undefined;
  let fact: Fact<PgRoundTrip>;
  try {
    if (o.container) {
      const c = (await locateContainers(host)).get(o.container);
      if (!c) throw new Error(`container ${o.container} not found on the node`);
      leader = c.leader;
    }
    const script = pgScript({ runId: o.runId, timeoutSec: o.timeoutSec, port: o.port, user });
    const src = `pg_dump/pg_restore of scratch databases ${PG_PREFIX}${o.runId}_{a,b}${o.container ? ` in container ${o.container}` : ''}`;
    progress('PostgreSQL dump/restore round trip');
    const r = await run(host, inContainer(leader, script), o.timeoutSec * 5000 + 15_000);
    fact = factOk(parsePg(r.stdout, r.stderr), src, (r.stdout + r.stderr).slice(0, 600));
  } catch (err) {
    fact = factMissing(reasonOf(err), 'PostgreSQL round trip');
  }
  return { fact, leftovers: await cleanupPg(host, leader, o.runId, o.port, user) };
}

/** The script itself, or the same entered into the container's namespaces (the container transport's nsenter). */
function inContainer(leader: number | undefined, script: string): string {
  return leader === undefined ? script : nsenterCommand(leader, script);
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

async function cleanupPg(host: Host, leader: number | undefined, runId: string, port: number | undefined, user: string): Promise<string[]> {
  const script = [
    'cd /',
    pgPrelude({ port, user }),
    `for db in $($Q -d postgres -c "select datname from pg_database where datname like '${PG_PREFIX}${runId}%'" </dev/null); do echo "LEFT\tdatabase $db"; $Q -d postgres -c "DROP DATABASE IF EXISTS $db" </dev/null >/dev/null 2>&1; done`,
    `for p in /tmp/leafcert-pg-${runId}.*; do [ -e "$p" ] && { echo "LEFT\t$p"; rm -rf "$p"; }; done`,
    'true',
  ].join('\n');
  try {
    const r = await host.exec(inContainer(leader, script), { timeoutMs: 30_000 });
    return [...r.stdout.matchAll(/^LEFT\t(.*)$/gm)].map((m) => m[1]);
  } catch (err) {
    return [`cleanup pass failed: ${reasonOf(err)}`];
  }
}
