// PostgreSQL (checklist: hardening, secrets): the effective settings (pg_settings, after unit
// normalisation: 2GB = 262144 × 8kB) equal the declared ones, nothing waits for a restart, the
// access rules (pg_hba_file_rules) trust nobody on TCP and nobody but the postgres user locally,
// and the server listens where declared. Reached with psql on the node (inside the container when
// the database lives in one) as the postgres OS user: see src/probes/pg.ts for why.
import type { Host, Outcome, Suite, SuiteContext } from '../src/types.js';
import { ParseError } from '../src/types.js';
import { pgExpectedValue, pgSettingValue, UnitError, type PgValue } from '../src/units.js';
import { missingReason, scanContainers } from '../src/probes/containers.js';
import { containerHost } from '../src/transport/container.js';
import { hbaLine, parsePgFacts, pgQuery, psqlCommand, psqlFailure, type PgFacts, type PgSettingRow } from '../src/probes/pg.js';

export interface PostgresExpect {
  /** nixos-container the server runs in; absent = on the node itself. */
  container?: string;
  /** Effective settings, in postgresql.conf's units ("2GB", "10MB", 200, "on", 1.1). */
  settings?: Record<string, string | number | boolean>;
  /** listen_addresses, as a set. */
  listenAddresses?: string[];
  /** Check pg_hba for trust (default true). */
  noTrust?: boolean;
  /** Users besides postgres allowed `trust` on local (socket) lines: a recorded exception. */
  localTrustUsers?: string[];
  port?: number;
  database?: string;
  /** OS user psql runs as (peer auth). Default postgres. */
  osUser?: string;
}

export const schema = {
  type: 'object',
  additionalProperties: false,
  // `postgres: {}` names nothing to check: ask for settings, listen addresses, noTrust or a container.
  anyOf: ['settings', 'noTrust', 'listenAddresses', 'container'].map((k) => ({ required: [k] })),
  properties: {
    container: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9-]*$' },
    settings: {
      type: 'object',
      minProperties: 1,
      propertyNames: { pattern: '^[a-z_][a-z0-9_.]*$' },
      additionalProperties: { type: ['string', 'number', 'boolean'] },
    },
    listenAddresses: { type: 'array', items: { type: 'string', minLength: 1 } },
    noTrust: { type: 'boolean' },
    localTrustUsers: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
    port: { type: 'integer', minimum: 1, maximum: 65535 },
    database: { type: 'string', minLength: 1 },
    osUser: { type: 'string', pattern: '^[a-z_][a-z0-9_-]*$' },
  },
};

export interface PostgresFacts {
  /** Where psql ran, for evidence. */
  where: string;
  command: string;
  problem?: string;
  /** The container was not found: a finding, not an error of leafcert. */
  missingContainer?: boolean;
  pg?: PgFacts;
}

async function gather(ctx: SuiteContext, expect: PostgresExpect): Promise<PostgresFacts> {
  let host: Host = ctx.host;
  let where = `node ${ctx.host.name}`;
  if (expect.container) {
    const scan = await scanContainers(ctx.host, ctx.options.timeoutMs);
    const why = missingReason(scan, expect.container);
    if (why) return { where: `container ${expect.container}`, command: scan.command, problem: why, missingContainer: true };
    const leader = scan.containers.get(expect.container)!.leader!;
    host = containerHost(ctx.host, leader, expect.container);
    where = `container ${expect.container} (leader ${leader})`;
  }
  const names = [...new Set([...Object.keys(expect.settings ?? {}), 'listen_addresses'])];
  const sql = pgQuery(names);
  const command = `runuser -u ${expect.osUser ?? 'postgres'} -- psql -XAt -c "${sql}"`;
  const r = await host.exec(psqlCommand(sql, expect), { timeoutMs: ctx.options.timeoutMs });
  if (r.code !== 0) return { where, command, problem: psqlFailure(r.stderr || r.stdout, r.code) };
  try {
    return { where, command, pg: parsePgFacts(r.stdout, `psql on ${where}`) };
  } catch (e) {
    if (e instanceof ParseError) return { where, command, problem: e.message };
    throw e;
  }
}

// --- evaluate (pure) ---

const CHECK = {
  setting: 'postgres.setting',
  pending: 'postgres.pending-restart',
  hostTrust: 'postgres.hba-host-trust',
  localTrust: 'postgres.hba-local-trust',
  listen: 'postgres.listen-addresses',
} as const;

/** Expected value in the row's own terms: a bare number means the setting's unit, as in postgresql.conf. */
export function expectedFor(row: PgSettingRow, value: string | number | boolean): PgValue {
  const actual = pgSettingValue(row.setting, row.unit);
  if ((typeof value === 'number' || /^-?\d+(\.\d+)?$/.test(String(value))) && (actual.kind === 'bytes' || actual.kind === 'ms')) {
    return pgSettingValue(String(value), row.unit);
  }
  return pgExpectedValue(value, actual.kind);
}

const showRow = (r: PgSettingRow) => `${r.name} = ${r.setting}${r.unit ? ` ${r.unit}` : ''} (source: ${r.source}${r.sourcefile ? `, ${r.sourcefile}` : ''}${r.pending_restart ? ', pending restart' : ''})`;

function evaluate(facts: PostgresFacts, expect: PostgresExpect): Outcome[] {
  const out: Outcome[] = [];
  const settings = Object.entries(expect.settings ?? {});
  const noTrust = expect.noTrust !== false;
  const planned: { id: string; subject: string; title: string; checklist: string[] }[] = [
    ...settings.map(([n]) => ({ id: CHECK.setting, subject: `setting ${n}`, title: 'Effective setting as declared', checklist: ['hardening'] })),
    { id: CHECK.pending, subject: 'server', title: 'No setting waits for a restart', checklist: ['hardening'] },
    ...(noTrust
      ? [
          { id: CHECK.hostTrust, subject: 'pg_hba host lines', title: 'No trust on TCP (host) lines', checklist: ['hardening', 'secrets'] },
          { id: CHECK.localTrust, subject: 'pg_hba local lines', title: 'No trust on local lines but for postgres', checklist: ['hardening', 'secrets'] },
        ]
      : []),
    ...(expect.listenAddresses ? [{ id: CHECK.listen, subject: 'listen_addresses', title: 'Listens where declared', checklist: ['network-policies'] }] : []),
  ];
  if (!facts.pg) {
    // Every planned check says why it could not run: a report must not go quiet about the database.
    for (const p of planned) {
      out.push({ ...p, status: facts.missingContainer ? 'fail' : 'error', severity: 'high', message: facts.problem ?? 'not gathered', evidence: { expected: 'a PostgreSQL answering as the postgres user', observed: facts.problem, source: `${facts.command} on ${facts.where}` } });
    }
    return out;
  }
  const pg = facts.pg;
  const rows = new Map(pg.settings.map((s) => [s.name, s]));
  const src = `${facts.command} on ${facts.where} (PostgreSQL ${pg.version})`;
  for (const [name, value] of settings) {
    const base = { id: CHECK.setting, subject: `setting ${name}`, title: 'Effective setting as declared', checklist: ['hardening'], severity: 'medium' as const };
    const row = rows.get(name);
    if (!row) {
      out.push({ ...base, status: 'error', message: `PostgreSQL has no setting "${name}" (typo, or not in version ${pg.version})`, evidence: { expected: value, observed: null, source: src } });
      continue;
    }
    let want: PgValue;
    try {
      want = expectedFor(row, value);
    } catch (e) {
      if (!(e instanceof UnitError)) throw e;
      out.push({ ...base, status: 'error', message: `expected value ${JSON.stringify(value)}: ${e.message}`, evidence: { expected: value, observed: row.setting, source: src } });
      continue;
    }
    const got = pgSettingValue(row.setting, row.unit);
    const same = got.kind === want.kind && (typeof got.value === 'number' && typeof want.value === 'number' ? Math.abs(got.value - want.value) < 1e-9 : String(got.value) === String(want.value));
    out.push({
      ...base,
      status: same ? 'pass' : 'fail',
      message: same ? `${name} = ${value} (${row.setting}${row.unit ? ` × ${row.unit}` : ''}, from ${row.source})` : `${name} is ${row.setting}${row.unit ? ` × ${row.unit}` : ''}, expected ${value} (set by ${row.source}${row.sourcefile ? ` in ${row.sourcefile}` : ''})`,
      evidence: { expected: { value, normalised: want }, observed: { ...row, normalised: got }, source: src, excerpt: showRow(row) },
    });
  }
  const pending = pg.settings.filter((s) => s.pending_restart);
  out.push({
    id: CHECK.pending,
    subject: 'server',
    title: 'No setting waits for a restart',
    checklist: ['hardening'],
    severity: 'medium',
    status: pending.length ? 'fail' : 'pass',
    message: pending.length ? `changed but not in effect until a restart: ${pending.map((p) => p.name).join(', ')}` : 'no setting is pending a restart',
    evidence: { expected: 'pending_restart = false for all settings', observed: pending.map(showRow), source: src },
  });
  if (noTrust) {
    const errors = pg.hba.filter((h) => h.error);
    const hostTrust = pg.hba.filter((h) => h.type !== 'local' && h.auth_method === 'trust');
    const allowed = new Set(['postgres', ...(expect.localTrustUsers ?? [])]);
    const localTrust = pg.hba.filter((h) => h.type === 'local' && h.auth_method === 'trust' && (h.user_name ?? []).some((u) => !allowed.has(u)));
    const hbaSrc = `pg_hba_file_rules (${pg.hbaFile ?? 'hba_file'}) via ${src}`;
    const excerpt = pg.hba.map((h) => `${h.line_number}: ${h.error ? `ERROR ${h.error}` : hbaLine(h)}`).join('\n');
    const errNote = errors.length ? `; the file has ${errors.length} unparseable line(s): ${errors.map((e) => `${e.line_number}: ${e.error}`).join('; ')}` : '';
    out.push({
      id: CHECK.hostTrust,
      subject: 'pg_hba host lines',
      title: 'No trust on TCP (host) lines',
      checklist: ['hardening', 'secrets'],
      severity: 'critical',
      status: hostTrust.length ? 'fail' : errors.length ? 'error' : 'pass',
      message: hostTrust.length
        ? `trust on ${hostTrust.map((h) => `line ${h.line_number} (${hbaLine(h)})`).join(', ')}: anyone who can connect is any user, superuser included${errNote}`
        : `no host line uses trust (${pg.hba.filter((h) => h.type !== 'local').length} host lines)${errNote}`,
      evidence: { expected: 'no host/hostssl/hostnossl line with auth_method trust', observed: hostTrust.map(hbaLine), source: hbaSrc, excerpt },
    });
    out.push({
      id: CHECK.localTrust,
      subject: 'pg_hba local lines',
      title: 'No trust on local lines but for postgres',
      checklist: ['hardening', 'secrets'],
      severity: 'high',
      status: localTrust.length ? 'fail' : errors.length ? 'error' : 'pass',
      message: localTrust.length
        ? `trust on ${localTrust.map((h) => `line ${h.line_number} (${hbaLine(h)})`).join(', ')}: any local OS user can log in as ${[...new Set(localTrust.flatMap((h) => h.user_name ?? []))].join(', ')}${errNote}`
        : `local trust only for ${[...allowed].join(', ')} if at all${errNote}`,
      evidence: { expected: { trustAllowedFor: [...allowed] }, observed: localTrust.map(hbaLine), source: hbaSrc, excerpt },
    });
  }
  if (expect.listenAddresses) {
    const row = rows.get('listen_addresses');
    const got = row ? row.setting.split(',').map((s) => s.trim()).filter(Boolean).sort() : undefined;
    const want = [...new Set(expect.listenAddresses.map((s) => s.trim()).filter(Boolean))].sort();
    const same = !!got && got.length === want.length && got.every((g, i) => g === want[i]);
    out.push({
      id: CHECK.listen,
      subject: 'listen_addresses',
      title: 'Listens where declared',
      checklist: ['network-policies'],
      severity: got?.includes('*') || got?.includes('0.0.0.0') ? 'high' : 'medium',
      status: !got ? 'error' : same ? 'pass' : 'fail',
      message: !got ? 'listen_addresses not reported' : same ? `listen_addresses = ${row!.setting}` : `listen_addresses = ${row!.setting}, expected ${want.join(',')}`,
      evidence: { expected: want, observed: got ?? null, source: src, excerpt: row ? showRow(row) : undefined },
    });
  }
  return out;
}

export const postgresSuite: Suite<PostgresExpect, PostgresFacts> = {
  name: 'postgres',
  key: 'postgres',
  schema,
  gather,
  evaluate: (facts, expect) => evaluate(facts, expect),
  checkIds: Object.values(CHECK),
};
export { evaluate as evaluatePostgres };
