// PostgreSQL (checklist: hardening, secrets): the declared server runs and answers; the effective
// settings (pg_settings, after unit normalisation: 2GB = 262144 × 8kB) equal the declared ones with
// no ALTER DATABASE/ROLE … SET giving sessions another value; nothing waits for a restart or a reload
// (pg_file_settings); the access rules (pg_hba_file_rules) trust nobody on TCP and nobody but the
// postgres user locally, and send no password in cleartext or md5 beyond loopback; the server listens
// where declared. Reached with psql on the node (inside the container when the database lives in
// one) as the postgres OS user: see src/probes/pg.ts for why. Checks: suites/postgres/checks.ts;
// judges: suites/postgres/judge.ts.
import type { Outcome, Suite, SuiteContext } from '../src/core/types.js';
import { outcome } from '../src/core/checks.js';
import { optionPath, type Container, type Manifest, type NodeSection } from '../src/core/manifest.js';
import { gatherPostgres, type PostgresFacts } from '../src/probes/pg.js';
import { CHECKS, type PgCheckDef } from './postgres/checks.js';
import { hbaOutcomes, listenOutcome, pendingOutcome, settingOutcome } from './postgres/judge.js';

export type { PostgresFacts };
export { expectedFor } from './postgres/judge.js';

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

// --- evaluate (pure; the judges are in suites/postgres/judge.ts) ---

/** The checks this expectation plans, with their subjects, in result order. */
function planned(expect: PostgresExpect): { def: PgCheckDef; subject: string }[] {
  return [
    { def: CHECKS.running, subject: 'server' },
    ...Object.keys(expect.settings ?? {}).map((n) => ({ def: CHECKS.setting, subject: `setting ${n}` })),
    { def: CHECKS['pending-restart'], subject: 'server' },
    ...(expect.noTrust !== false
      ? [
          { def: CHECKS['hba-host-trust'], subject: 'pg_hba host lines' },
          { def: CHECKS['hba-local-trust'], subject: 'pg_hba local lines' },
          { def: CHECKS['hba-password'], subject: 'pg_hba host lines' },
        ]
      : []),
    ...(expect.listenAddresses ? [{ def: CHECKS['listen-addresses'], subject: 'listen_addresses' }] : []),
  ];
}

/** No answer from the server: why, for every planned check (a report must not go quiet about the database). */
function unanswered(facts: PostgresFacts, expect: PostgresExpect): Outcome[] {
  const evidence = { expected: 'a PostgreSQL answering as the postgres user', observed: facts.problem, source: `${facts.command} on ${facts.where}` };
  const problem = facts.problem ?? 'not gathered';
  // Not running is the finding of postgres.running; what depends on an answer is skipped, pointing there.
  if (facts.notRunning) {
    return planned(expect).map((p) => (p.def === CHECKS.running
      ? outcome(p.def, p.subject, 'fail', problem, evidence)
      : outcome(p.def, p.subject, 'skipped', `not judged: PostgreSQL is not running (${CHECKS.running.id} fails)`, evidence)));
  }
  return planned(expect).map((p) => outcome(p.def, p.subject, facts.missingContainer ? 'fail' : 'error', problem, evidence, { severity: 'high' }));
}

function evaluate(facts: PostgresFacts, expect: PostgresExpect): Outcome[] {
  if (!facts.pg) return unanswered(facts, expect);
  const pg = facts.pg;
  const rows = new Map(pg.settings.map((s) => [s.name, s]));
  const src = `${facts.command} on ${facts.where} (PostgreSQL ${pg.version})`;
  const out = [outcome(CHECKS.running, 'server', 'pass', `PostgreSQL ${pg.version} answers on its socket (${facts.where})`, { expected: 'a PostgreSQL answering as the postgres user', observed: `PostgreSQL ${pg.version}`, source: src })];
  out.push(...Object.entries(expect.settings ?? {}).map(([name, value]) => settingOutcome(name, value, rows.get(name), pg.version, src, (pg.overrides ?? []).filter((o) => o.name === name))));
  out.push(pendingOutcome(pg, src));
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
