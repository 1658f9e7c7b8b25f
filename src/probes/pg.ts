// PostgreSQL facts through psql ON the node (or inside its container), as the postgres OS user over
// the unix socket. Why psql and not the pg client over an ssh2 forwardOut stream: NixOS (and the lab)
// authenticate local socket connections of the postgres user by `peer`, so this needs no password,
// no role for leafcert and no TCP listener, and it runs as the superuser, which is what makes
// pg_settings.sourcefile and pg_hba_file_rules readable at all (both are superuser-only). Over TCP
// we would need a password (no `trust` on TCP is one of the things we check). One query, one exec:
// the server answers with a single JSON document.
import { createHash } from 'node:crypto';
import { sh } from '../core/quote.js';
import { ParseError, type Host } from '../core/types.js';
import { missingReason, scanContainers } from './containers.js';
import { containerHost } from '../transport/container.js';

export interface PgSettingRow {
  name: string;
  setting: string;
  unit: string | null;
  source: string;
  sourcefile: string | null;
  pending_restart: boolean;
}

/** A per-database / per-role default (ALTER DATABASE … SET, ALTER ROLE … SET): it wins over pg_settings in those sessions. */
export interface PgRoleSetting {
  /** Database name; null: every database. */
  database: string | null;
  /** Role name; null: every role. */
  role: string | null;
  name: string;
  value: string;
}

export interface PgHbaRow {
  line_number: number;
  type: string | null;
  database: string[] | null;
  user_name: string[] | null;
  address: string | null;
  netmask: string | null;
  auth_method: string | null;
  options: string[] | null;
  error: string | null;
}

export interface PgFacts {
  version: string;
  hbaFile: string | null;
  settings: PgSettingRow[];
  hba: PgHbaRow[];
  /** pg_conf_load_time() and the hba file's mtime (ISO strings; absent in facts from before they were read). */
  loadedAt?: string;
  hbaModified?: string | null;
  /** pg_db_role_setting rows for the named settings (absent in facts from before it was read). */
  overrides?: PgRoleSetting[];
  /**
   * Where the configuration files (as PostgreSQL reads them now) and the running server may differ
   * (absent in facts from before it was read): see PgFileSetting.
   */
  fileSettings?: PgFileSetting[];
}

/**
 * One setting of the configuration files beside its running value: the last pg_file_settings entry
 * of a name (the one a reload would apply) joined with pg_settings, kept only when the two are not
 * plainly equal (the text differs, the entry has an error, or a setting the server took from a file
 * is in no file any more). Only settings whose running value comes from a file or the default: a
 * command-line or session value is not what a reload changes.
 */
export interface PgFileSetting {
  name: string;
  /** The file's value as written (null: the setting is in no file now). */
  setting: string | null;
  applied: boolean | null;
  error: string | null;
  sourcefile: string | null;
  sourceline: number | null;
  /** pg_settings.setting, unit, vartype, source, sourcefile (null: no such setting). */
  running: string | null;
  unit: string | null;
  vartype: string | null;
  source: string | null;
  runningFile: string | null;
}

const SETTING_NAME = /^[a-z_][a-z0-9_.]*$/;

/** The one query: the named settings plus any setting waiting for a restart, per-database/role overrides of the named ones, and the hba rules. */
export function pgQuery(names: string[]): string {
  for (const n of names) if (!SETTING_NAME.test(n)) throw new ParseError('postgres expectation', `"${n}" is not a setting name`);
  const list = names.map((n) => `'${n}'`).join(',');
  return [
    'select json_build_object(',
    `'version', current_setting('server_version'),`,
    `'hbaFile', current_setting('hba_file'),`,
    // pg_hba_file_rules reads the file as it is now: a file changed after the last load is not what runs.
    `'loadedAt', pg_conf_load_time(), 'hbaModified', (pg_stat_file(current_setting('hba_file'), true)).modification,`,
    `'settings', (select coalesce(json_agg(t order by t.name), '[]') from (select name, setting, unit, source, sourcefile, pending_restart from pg_settings where name = any(array[${list || "''"}]::text[]) or pending_restart) t),`,
    `'hba', (select coalesce(json_agg(h order by h.line_number), '[]') from (select line_number, type, database, user_name, address, netmask, auth_method, options, error from pg_hba_file_rules) h),`,
    // ALTER DATABASE/ROLE … SET: what the sessions of that database or role run with instead.
    `'overrides', (select coalesce(json_agg(o order by o.database, o.role, o.name), '[]') from (select d.datname as database, r.rolname as role, split_part(c, '=', 1) as name, substr(c, strpos(c, '=') + 1) as value from pg_db_role_setting x left join pg_database d on d.oid = x.setdatabase left join pg_roles r on r.oid = x.setrole, unnest(x.setconfig) c where split_part(c, '=', 1) = any(array[${list || "''"}]::text[])) o),`,
    // The files as a reload would apply them (ALTER SYSTEM without a reload): PgFileSetting.
    `'fileSettings', (select coalesce(json_agg(fs order by fs.name), '[]') from (select coalesce(f.name, s.name) as name, f.setting, f.applied, f.error, f.sourcefile, f.sourceline, s.setting as running, s.unit, s.vartype, s.source, s.sourcefile as "runningFile"`,
    `from (select * from pg_file_settings x where x.seqno = (select max(y.seqno) from pg_file_settings y where lower(y.name) = lower(x.name))) f full join pg_settings s on lower(s.name) = lower(f.name)`,
    `where (f.seqno is not null or s.source = 'configuration file') and (s.source is null or s.source in ('configuration file', 'default')) and (f.error is not null or f.seqno is null or s.setting is distinct from f.setting)) fs)`,
    ')',
  ].join(' ');
}

/**
 * Shell: run the query as the postgres OS user with psql (peer auth over the default socket). A
 * one-liner kept in TypeScript (not a .sh file) because its text is asserted by tests: values are
 * quoted by sh``, for su's shell a second time.
 */
export function psqlCommand(sql: string, opts: { osUser?: string; database?: string; port?: number } = {}): string {
  const user = opts.osUser ?? 'postgres';
  const args = sh`-XAtq -v ON_ERROR_STOP=1 -d ${opts.database ?? 'postgres'}` + (opts.port ? sh` -p ${opts.port}` : '') + sh` -c ${sql}`;
  return [
    // cwd must be readable by the postgres user (runuser keeps it).
    'cd /',
    'P=$(command -v psql || ls /run/current-system/sw/bin/psql /usr/lib/postgresql/*/bin/psql 2>/dev/null | tail -n1)',
    '[ -n "$P" ] || { echo "leafcert: psql not found on the node" >&2; exit 127; }',
    // su's -c string: "$P" expanded by this shell, then the arguments quoted once more for su's shell.
    sh`if command -v runuser >/dev/null; then runuser -u ${user} -- "$P" ` + args + sh`; else su -s /bin/sh ${user} -c "\\"$P\\" "${args}; fi`,
    'rc=$?',
    // psql failed: is a server there at all? (pgrep -c prints 0 when none; nothing when pgrep is missing.)
    `[ "$rc" = 0 ] || echo "${PROCS_MARK}$(pgrep -c -x '${SERVER_COMM}' 2>/dev/null)" >&2`,
    'exit "$rc"',
  ].join('; ');
}

/** Marks the count of server processes psqlCommand adds to stderr when psql fails. */
export const PROCS_MARK = 'leafcert-postgres-processes: ';
/** The server's process name: postgres (postmaster in old releases; nixpkgs' wrapProgram makes it .postgres-wrapp, comm's 15 characters). */
const SERVER_COMM = 'postgres|postmaster|\\.postgres-wrapp';

/** What gatherPostgres needs to know: the postgres expectation satisfies it. */
export interface PgTarget {
  /** nixos-container the server runs in; absent = on the node itself. */
  container?: string;
  /** Settings whose effective values to read (listen_addresses is always read). */
  settings?: Record<string, unknown>;
  osUser?: string;
  database?: string;
  port?: number;
}

export interface PostgresFacts {
  /** Where psql ran, for evidence. */
  where: string;
  command: string;
  problem?: string;
  /** The container was not found: a finding, not an error of leafcert. */
  missingContainer?: boolean;
  /** No server process and no server on the socket: the declared PostgreSQL is not running (a finding). */
  notRunning?: boolean;
  pg?: PgFacts;
}

/**
 * The server's settings and hba rules, read with psql on the node or inside `target.container`
 * (entered through the container transport after one locator scan, cached per run): two round
 * trips with a container, one without. A refusing server, a failed login or garbled output is a
 * `problem`; a missing container is `missingContainer`.
 */
export async function gatherPostgres(node: Host, target: PgTarget, timeoutMs: number): Promise<PostgresFacts> {
  let host = node;
  let where = `node ${node.name}`;
  if (target.container) {
    const scan = await scanContainers(node, timeoutMs);
    const why = missingReason(scan, target.container);
    if (why) return { where: `container ${target.container}`, command: scan.command, problem: why, missingContainer: true };
    const leader = scan.containers.get(target.container)!.leader!;
    host = containerHost(node, leader, target.container);
    where = `container ${target.container} (leader ${leader})`;
  }
  const names = [...new Set([...Object.keys(target.settings ?? {}), 'listen_addresses'])];
  const sql = pgQuery(names);
  // For evidence: what ran, as a reader would type it (the executed line is psqlCommand's).
  const command = `runuser -u ${target.osUser ?? 'postgres'} -- psql -XAt -c "${sql}"`;
  const r = await host.exec(psqlCommand(sql, target), { timeoutMs });
  if (r.code !== 0) return { where, command, ...notAnswering(r.stderr, r.stdout, r.code, where) };
  try {
    return { where, command, pg: parsePgFacts(r.stdout, `psql on ${where}`) };
  } catch (e) {
    if (e instanceof ParseError) return { where, command, problem: e.message };
    throw e;
  }
}

/**
 * Why psql got no answer. No server process (psqlCommand's count, PROCS_MARK) and no server on the
 * socket (missing, or refusing: a stale one) is a fact: the server is not running. A process that is
 * there (starting, stopping, on another socket) or a count that is missing is not.
 */
export function notAnswering(stderr: string, stdout: string, code: number | null, where: string): { problem: string; notRunning?: true } {
  const procs = new RegExp(`^${PROCS_MARK}(\\d*)$`, 'm').exec(stderr);
  const own = stderr.split('\n').filter((l) => !l.startsWith(PROCS_MARK)).join('\n');
  const problem = psqlFailure(own || stdout, code);
  const noSocket = /No such file or directory|Connection refused/.test(own) && /socket/i.test(own) && !/psql not found/.test(own);
  if (!noSocket || !procs || procs[1] === '') return { problem: procs?.[1] === '' && noSocket ? `${problem} (pgrep could not say whether a postgres process runs)` : problem };
  const n = Number(procs[1]);
  const line = own.split('\n').map((l) => l.trim()).find((l) => /socket/.test(l)) ?? '';
  if (n === 0) return { problem: `PostgreSQL is not running (${where}): no postgres process, and no server on its socket (${line})`, notRunning: true };
  return { problem: `${problem} (${n} postgres process(es) run: starting up, shutting down, or on another socket or port)` };
}

/** A plain reason for a failed psql run. */
export function psqlFailure(stderr: string, code: number | null): string {
  const line = stderr.split('\n').map((l) => l.trim()).filter(Boolean).find((l) => /FATAL|could not connect|connection to server|No such file|refused|psql not found|not exist|failed/i.test(l)) ?? stderr.trim().split('\n')[0] ?? '';
  if (/Connection refused|No such file or directory|could not connect|Is the server running/i.test(stderr)) return `PostgreSQL refuses the connection (not running or not listening on the socket): ${line}`;
  if (/authentication failed|no pg_hba.conf entry|password/i.test(stderr)) return `PostgreSQL rejected the postgres user (authentication): ${line}`;
  if (/psql not found/.test(stderr) || code === 127) return 'psql not found on the node';
  return `psql exited ${code ?? 'by signal'}: ${line || 'no message'}`;
}

export function parsePgFacts(text: string, source: string): PgFacts {
  const line = text.trim();
  let j: any;
  try {
    j = JSON.parse(line);
  } catch (e) {
    throw new ParseError(source, `not JSON: ${(e as Error).message}`, text.slice(0, 300));
  }
  if (!j || typeof j.version !== 'string' || !Array.isArray(j.settings) || !Array.isArray(j.hba)) {
    throw new ParseError(source, 'expected { version, hbaFile, settings[], hba[] }', line.slice(0, 300));
  }
  for (const s of j.settings) {
    if (typeof s?.name !== 'string' || typeof s.setting !== 'string' || typeof s.pending_restart !== 'boolean') {
      throw new ParseError(source, 'a pg_settings row lacks name/setting/pending_restart', JSON.stringify(s).slice(0, 200));
    }
  }
  for (const h of j.hba) {
    if (typeof h?.line_number !== 'number') throw new ParseError(source, 'a pg_hba_file_rules row lacks line_number', JSON.stringify(h).slice(0, 200));
  }
  // Redacted at parse time, so no fact, evidence or report ever holds an LDAP bind password or RADIUS secret.
  const hba = (j.hba as PgHbaRow[]).map((h) => (Array.isArray(h.options) ? { ...h, options: h.options.map(redactHbaOption) } : h));
  const overrides: PgRoleSetting[] = [];
  for (const o of Array.isArray(j.overrides) ? j.overrides : []) {
    if (typeof o?.name !== 'string' || typeof o.value !== 'string') throw new ParseError(source, 'a pg_db_role_setting row lacks name/value', JSON.stringify(o).slice(0, 200));
    overrides.push({ database: typeof o.database === 'string' ? o.database : null, role: typeof o.role === 'string' ? o.role : null, name: o.name, value: o.value });
  }
  const when = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const fileSettings = j.fileSettings === undefined ? undefined : parseFileSettings(j.fileSettings, source);
  return { version: j.version, hbaFile: j.hbaFile ?? null, settings: j.settings, hba, overrides, ...(when(j.loadedAt) ? { loadedAt: j.loadedAt, hbaModified: when(j.hbaModified) ?? null } : {}), ...(fileSettings ? { fileSettings } : {}) };
}

function parseFileSettings(rows: unknown, source: string): PgFileSetting[] {
  if (!Array.isArray(rows)) throw new ParseError(source, 'fileSettings is not an array', JSON.stringify(rows).slice(0, 200));
  const strOrNull = (v: unknown) => v === null || typeof v === 'string';
  return rows.map((r: any) => {
    const ok = r && typeof r.name === 'string' && strOrNull(r.setting) && (r.applied === null || typeof r.applied === 'boolean') && strOrNull(r.error)
      && strOrNull(r.sourcefile) && (r.sourceline === null || typeof r.sourceline === 'number') && strOrNull(r.running) && strOrNull(r.unit)
      && strOrNull(r.vartype) && strOrNull(r.source) && strOrNull(r.runningFile);
    if (!ok) throw new ParseError(source, 'a pg_file_settings row lacks name/setting/applied/error/running', JSON.stringify(r).slice(0, 200));
    return { name: r.name, setting: r.setting, applied: r.applied, error: r.error, sourcefile: r.sourcefile, sourceline: r.sourceline, running: r.running, unit: r.unit, vartype: r.vartype, source: r.source, runningFile: r.runningFile };
  });
}

/** `ldapbindpasswd=…`, `radiussecrets=…` → `key=<redacted sha256:XXXXXXXX>` (first 8 hex: tells two values apart, reveals nothing). */
export function redactHbaOption(opt: string): string {
  const i = opt.indexOf('=');
  if (i < 0 || !/passw|secret/i.test(opt.slice(0, i))) return opt;
  return `${opt.slice(0, i)}=<redacted sha256:${createHash('sha256').update(opt.slice(i + 1)).digest('hex').slice(0, 8)}>`;
}

/** pg_hba line as it would read in the file, for evidence. */
export function hbaLine(h: PgHbaRow): string {
  return [h.type, (h.database ?? []).join(','), (h.user_name ?? []).join(','), h.address ?? '', h.netmask ?? '', h.auth_method, ...(h.options ?? []).map(redactHbaOption)]
    .filter((x) => x !== '' && x !== null)
    .join(' ');
}
