// PostgreSQL (checklist: hardening, secrets): the effective settings (pg_settings, after unit
// normalisation: 2GB = 262144 × 8kB) equal the declared ones with no ALTER DATABASE/ROLE … SET
// giving sessions another value, nothing waits for a restart, the
// access rules (pg_hba_file_rules) trust nobody on TCP and nobody but the postgres user locally,
// and the server listens where declared. Reached with psql on the node (inside the container when
// the database lives in one) as the postgres OS user: see src/probes/pg.ts for why.
import type { Outcome, Suite, SuiteContext } from '../src/core/types.js';
import { defineChecks, outcome } from '../src/core/checks.js';
import { optionPath, type Container, type Manifest, type NodeSection } from '../src/core/manifest.js';
import { pgExpectedValue, pgSettingValue, UnitError, type PgValue } from '../src/core/units.js';
import { gatherPostgres, hbaLine, type PgFacts, type PgHbaRow, type PgRoleSetting, type PgSettingRow, type PostgresFacts } from '../src/probes/pg.js';

export type { PostgresFacts };

// In the order of the suite's results (and of today's checkIds).
const CHECKS = defineChecks('postgres', {
  setting: {
    title: 'Effective setting as declared',
    severity: 'medium',
    checklist: ['hardening'],
    description: 'The value PostgreSQL runs with (pg_settings, after unit normalisation: 2GB = 262144 × 8kB) equals the declared one, and no per-database or per-role default (ALTER DATABASE/ROLE … SET, pg_db_role_setting) gives sessions another value; the message names the file or the ALTER that set it.',
    fix: 'Set the value in services.postgresql.settings.<name> and redeploy; remove ALTER SYSTEM overrides (postgresql.auto.conf) that shadow it.',
  },
  'pending-restart': {
    title: 'No setting waits for a restart',
    severity: 'medium',
    checklist: ['hardening'],
    description: 'No setting in pg_settings has pending_restart: what is configured is what runs.',
    fix: 'Restart PostgreSQL (systemctl restart postgresql, inside the container if it runs in one) in a maintenance window.',
  },
  'hba-host-trust': {
    title: 'No trust on TCP (host) lines',
    severity: 'critical',
    checklist: ['hardening', 'secrets'],
    description: 'No host/hostssl/hostnossl line of pg_hba_file_rules uses trust: over TCP every login needs a credential; unparseable lines are reported. pg_hba_file_rules reads the file as it is now: a file changed after the server last loaded its configuration (pg_stat_file mtime > pg_conf_load_time()) fails, since the rules in force are then not the file\'s.',
    fix: 'Use scram-sha-256 (or cert) on host lines in services.postgresql.authentication.',
  },
  'hba-local-trust': {
    title: 'No trust on local lines but for postgres',
    severity: 'high',
    checklist: ['hardening', 'secrets'],
    description: 'Local (socket) lines of pg_hba_file_rules trust nobody but the postgres user and recorded exceptions (localTrustUsers); a file changed after the last load fails, as for host lines.',
    fix: 'Use peer (or scram-sha-256) on local lines in services.postgresql.authentication, or record the exception in localTrustUsers.',
  },
  'listen-addresses': {
    title: 'Listens where declared',
    severity: 'medium',
    checklist: ['network-policies'],
    description: 'listen_addresses equals the declared set of addresses; listening on * or 0.0.0.0 is reported as high.',
    fix: "Set services.postgresql.settings.listen_addresses (or services.postgresql.enableTCPIP) to the declared addresses.",
  },
});

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

async function gather(ctx: SuiteContext, expect: PostgresExpect): Promise<PostgresFacts> {
  return gatherPostgres(ctx.host, expect, ctx.options.timeoutMs);
}

// --- evaluate (pure) ---

/** Expected value in the row's own terms: a bare number means the setting's unit, as in postgresql.conf. */
export function expectedFor(row: PgSettingRow, value: string | number | boolean): PgValue {
  const actual = pgSettingValue(row.setting, row.unit);
  if ((typeof value === 'number' || /^-?\d+(\.\d+)?$/.test(String(value))) && (actual.kind === 'bytes' || actual.kind === 'ms')) {
    return pgSettingValue(String(value), row.unit);
  }
  return pgExpectedValue(value, actual.kind);
}

const showRow = (r: PgSettingRow) => `${r.name} = ${r.setting}${r.unit ? ` ${r.unit}` : ''} (source: ${r.source}${r.sourcefile ? `, ${r.sourcefile}` : ''}${r.pending_restart ? ', pending restart' : ''})`;

type CheckDef = (typeof CHECKS)[keyof typeof CHECKS];

/** The checks this expectation plans, with their subjects, in result order. */
function planned(expect: PostgresExpect): { def: CheckDef; subject: string }[] {
  return [
    ...Object.keys(expect.settings ?? {}).map((n) => ({ def: CHECKS.setting, subject: `setting ${n}` })),
    { def: CHECKS['pending-restart'], subject: 'server' },
    ...(expect.noTrust !== false
      ? [
          { def: CHECKS['hba-host-trust'], subject: 'pg_hba host lines' },
          { def: CHECKS['hba-local-trust'], subject: 'pg_hba local lines' },
        ]
      : []),
    ...(expect.listenAddresses ? [{ def: CHECKS['listen-addresses'], subject: 'listen_addresses' }] : []),
  ];
}

/** Where a pg_db_role_setting row applies, as the ALTER that made it. */
const overrideText = (o: PgRoleSetting) =>
  o.database !== null && o.role !== null ? `ALTER ROLE ${o.role} IN DATABASE ${o.database} SET ${o.name} = ${o.value}`
    : o.database !== null ? `ALTER DATABASE ${o.database} SET ${o.name} = ${o.value}`
      : o.role !== null ? `ALTER ROLE ${o.role} SET ${o.name} = ${o.value}` : `ALTER ROLE ALL SET ${o.name} = ${o.value}`;

/** Overrides whose value differs from the declared one (an unreadable value counts as different). */
function differingOverrides(row: PgSettingRow, want: PgValue, overrides: PgRoleSetting[]): PgRoleSetting[] {
  return overrides.filter((o) => {
    try {
      const got = expectedFor(row, o.value);
      return !(got.kind === want.kind && (typeof got.value === 'number' && typeof want.value === 'number' ? Math.abs(got.value - want.value) < 1e-9 : String(got.value) === String(want.value)));
    } catch (e) {
      if (!(e instanceof UnitError)) throw e;
      return true;
    }
  });
}

function settingOutcome(name: string, value: string | number | boolean, row: PgSettingRow | undefined, version: string, src: string, overrides: PgRoleSetting[] = []): Outcome {
  const subject = `setting ${name}`;
  if (!row) return outcome(CHECKS.setting, subject, 'error', `PostgreSQL has no setting "${name}" (typo, or not in version ${version})`, { expected: value, observed: null, source: src });
  let want: PgValue;
  try {
    want = expectedFor(row, value);
  } catch (e) {
    if (!(e instanceof UnitError)) throw e;
    return outcome(CHECKS.setting, subject, 'error', `expected value ${JSON.stringify(value)}: ${e.message}`, { expected: value, observed: row.setting, source: src });
  }
  const got = pgSettingValue(row.setting, row.unit);
  const same = got.kind === want.kind && (typeof got.value === 'number' && typeof want.value === 'number' ? Math.abs(got.value - want.value) < 1e-9 : String(got.value) === String(want.value));
  const unit = row.unit ? ` × ${row.unit}` : '';
  // ALTER DATABASE/ROLE … SET wins over the server value in those sessions: the application's own.
  const differ = differingOverrides(row, want, overrides);
  const overridden = differ.length ? `; sessions run with another value: ${differ.map(overrideText).join('; ')}` : '';
  return outcome(
    CHECKS.setting,
    subject,
    same && !differ.length ? 'pass' : 'fail',
    same ? `${name} = ${value} (${row.setting}${unit}, from ${row.source})${overridden}` : `${name} is ${row.setting}${unit}, expected ${value} (set by ${row.source}${row.sourcefile ? ` in ${row.sourcefile}` : ''})${overridden}`,
    { expected: { value, normalised: want }, observed: { ...row, normalised: got, ...(overrides.length ? { overrides: overrides.map(overrideText) } : {}) }, source: src, excerpt: [showRow(row), ...overrides.map(overrideText)].join('\n') },
  );
}

function hbaOutcomes(pg: PgFacts, expect: PostgresExpect, src: string): Outcome[] {
  const errors = pg.hba.filter((h) => h.error);
  const hostTrust = pg.hba.filter((h) => h.type !== 'local' && h.auth_method === 'trust');
  const allowed = new Set(['postgres', ...(expect.localTrustUsers ?? [])]);
  const localTrust = pg.hba.filter((h) => h.type === 'local' && h.auth_method === 'trust' && (h.user_name ?? []).some((u) => !allowed.has(u)));
  const hbaSrc = `pg_hba_file_rules (${pg.hbaFile ?? 'hba_file'}) via ${src}`;
  const excerpt = pg.hba.map((h) => `${h.line_number}: ${h.error ? `ERROR ${h.error}` : hbaLine(h)}`).join('\n');
  const errNote = errors.length ? `; the file has ${errors.length} unparseable line(s): ${errors.map((e) => `${e.line_number}: ${e.error}`).join('; ')}` : '';
  const lines = (hs: PgHbaRow[]) => hs.map((h) => `line ${h.line_number} (${hbaLine(h)})`).join(', ');
  // The file changed after the server last loaded it: the rules in force are not the file's (a trust
  // line loaded, then removed from the file without a reload, still lets everyone in). As with a
  // setting pending a restart, configured ≠ running is a finding: fail, whatever the file says.
  const stale = pg.loadedAt && pg.hbaModified && Date.parse(pg.hbaModified) > Date.parse(pg.loadedAt)
    ? `; ${pg.hbaFile ?? 'pg_hba.conf'} was changed (${pg.hbaModified}) after PostgreSQL last loaded its configuration (${pg.loadedAt}): the rules in force are not the file's and cannot be read (reload PostgreSQL, then check again)`
    : '';
  const verdict = (bad: boolean) => (bad || stale ? 'fail' : errors.length ? 'error' : 'pass');
  return [
    outcome(
      CHECKS['hba-host-trust'],
      'pg_hba host lines',
      verdict(hostTrust.length > 0),
      hostTrust.length
        ? `trust on ${lines(hostTrust)}: anyone who can connect is any user, superuser included${errNote}${stale}`
        : `no host line uses trust (${pg.hba.filter((h) => h.type !== 'local').length} host lines)${errNote}${stale}`,
      { expected: 'no host/hostssl/hostnossl line with auth_method trust', observed: hostTrust.map(hbaLine), source: hbaSrc, excerpt },
    ),
    outcome(
      CHECKS['hba-local-trust'],
      'pg_hba local lines',
      verdict(localTrust.length > 0),
      localTrust.length
        ? `trust on ${lines(localTrust)}: any local OS user can log in as ${[...new Set(localTrust.flatMap((h) => h.user_name ?? []))].join(', ')}${errNote}${stale}`
        : `local trust only for ${[...allowed].join(', ')} if at all${errNote}${stale}`,
      { expected: { trustAllowedFor: [...allowed] }, observed: localTrust.map(hbaLine), source: hbaSrc, excerpt },
    ),
  ];
}

function listenOutcome(row: PgSettingRow | undefined, declared: string[], src: string): Outcome {
  const got = row ? row.setting.split(',').map((s) => s.trim()).filter(Boolean).sort() : undefined;
  const want = [...new Set(declared.map((s) => s.trim()).filter(Boolean))].sort();
  const same = !!got && got.length === want.length && got.every((g, i) => g === want[i]);
  return outcome(
    CHECKS['listen-addresses'],
    'listen_addresses',
    !got ? 'error' : same ? 'pass' : 'fail',
    !got ? 'listen_addresses not reported' : same ? `listen_addresses = ${row!.setting}` : `listen_addresses = ${row!.setting}, expected ${want.join(',')}`,
    { expected: want, observed: got ?? null, source: src, excerpt: row ? showRow(row) : undefined },
    // Listening everywhere is the worse finding.
    { severity: got?.includes('*') || got?.includes('0.0.0.0') ? 'high' : 'medium' },
  );
}

function evaluate(facts: PostgresFacts, expect: PostgresExpect): Outcome[] {
  if (!facts.pg) {
    // Every planned check says why it could not run: a report must not go quiet about the database.
    const evidence = () => ({ expected: 'a PostgreSQL answering as the postgres user', observed: facts.problem, source: `${facts.command} on ${facts.where}` });
    return planned(expect).map((p) => outcome(p.def, p.subject, facts.missingContainer ? 'fail' : 'error', facts.problem ?? 'not gathered', evidence(), { severity: 'high' }));
  }
  const pg = facts.pg;
  const rows = new Map(pg.settings.map((s) => [s.name, s]));
  const src = `${facts.command} on ${facts.where} (PostgreSQL ${pg.version})`;
  const out = Object.entries(expect.settings ?? {}).map(([name, value]) => settingOutcome(name, value, rows.get(name), pg.version, src, (pg.overrides ?? []).filter((o) => o.name === name)));
  const pending = pg.settings.filter((s) => s.pending_restart);
  out.push(
    outcome(
      CHECKS['pending-restart'],
      'server',
      pending.length ? 'fail' : 'pass',
      pending.length ? `changed but not in effect until a restart: ${pending.map((p) => p.name).join(', ')}` : 'no setting is pending a restart',
      { expected: 'pending_restart = false for all settings', observed: pending.map(showRow), source: src },
    ),
  );
  if (expect.noTrust !== false) out.push(...hbaOutcomes(pg, expect, src));
  if (expect.listenAddresses) out.push(listenOutcome(rows.get('listen_addresses'), expect.listenAddresses, src));
  return out;
}

// --- plan (leafcert plan --from-nix) ---

/** Records the NixOS option path a value came from; `at` starts at the suite's key (['postgres', 'port']). */
export type { Cite } from '../src/core/manifest.js';
import type { Cite } from '../src/core/manifest.js';

/** The PostgreSQL servers a manifest declares, host first, then containers in manifest order. */
export function declaredPostgres(m: Manifest): { where?: Container; node: NodeSection }[] {
  return [{ node: m.host } as { where?: Container; node: NodeSection }, ...m.containers.map((c) => ({ where: c, node: c.config }))].filter((x) => x.node.postgresql.enable);
}

/** The expectation of the first PostgreSQL declared (host, then containers), or undefined when none is. */
export function fromManifest(m: Manifest, cite: Cite): PostgresExpect | undefined {
  const pgs = declaredPostgres(m);
  if (!pgs.length) return undefined;
  const { where, node } = pgs[0];
  const pg = node.postgresql;
  const p: PostgresExpect = {};
  if (where) {
    p.container = where.name;
    cite(['postgres', 'container'], where.path);
  }
  const settings = Object.fromEntries(Object.entries(pg.settings).filter((e): e is [string, string | number | boolean] => /^[a-z_][a-z0-9_.]*$/.test(e[0]) && e[1] !== null && !Array.isArray(e[1])));
  if (Object.keys(settings).length) {
    p.settings = settings;
    for (const k of Object.keys(settings)) cite(['postgres', 'settings', k], optionPath(pg.path, 'settings', k));
  }
  const la = typeof pg.settings.listen_addresses === 'string' ? pg.settings.listen_addresses : pg.enableTCPIP ? '*' : 'localhost';
  p.listenAddresses = la.split(',').map((s) => s.trim()).filter(Boolean);
  cite(['postgres', 'listenAddresses'], typeof pg.settings.listen_addresses === 'string' ? optionPath(pg.path, 'settings', 'listen_addresses') : optionPath(pg.path, 'enableTCPIP'));
  p.noTrust = true;
  cite(['postgres', 'noTrust'], optionPath(pg.path, 'authentication'));
  if (typeof pg.settings.port === 'number') {
    p.port = pg.settings.port;
    cite(['postgres', 'port'], optionPath(pg.path, 'settings', 'port'));
  }
  return p;
}

export const postgresSuite: Suite<PostgresExpect, PostgresFacts> = {
  name: 'postgres',
  key: 'postgres',
  schema,
  gather,
  evaluate: (facts, expect) => evaluate(facts, expect),
  checkIds: Object.values(CHECKS).map((c) => c.id),
  checks: Object.values(CHECKS),
  fromManifest,
};
export { evaluate as evaluatePostgres };
