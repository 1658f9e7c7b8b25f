// The postgres suite's judgement: pure functions from the facts of src/probes/pg.ts to outcomes.
import { outcome } from '../../src/core/checks.js';
import type { Outcome } from '../../src/core/types.js';
import { pgExpectedValue, pgSettingValue, UnitError, type PgValue } from '../../src/core/units.js';
import { hbaLine, type PgFacts, type PgFileSetting, type PgHbaRow, type PgRoleSetting, type PgSettingRow } from '../../src/probes/pg.js';
import { CHECKS } from './checks.js';

/** What the judges read of the expectation (the suite's PostgresExpect). */
export interface HbaExpect {
  localTrustUsers?: string[];
}

/** Expected value in the row's own terms: a bare number means the setting's unit, as in postgresql.conf. */
export function expectedFor(row: Pick<PgSettingRow, 'setting' | 'unit'>, value: string | number | boolean): PgValue {
  const actual = pgSettingValue(row.setting, row.unit);
  if ((typeof value === 'number' || /^-?\d+(\.\d+)?$/.test(String(value))) && (actual.kind === 'bytes' || actual.kind === 'ms')) {
    return pgSettingValue(String(value), row.unit);
  }
  return pgExpectedValue(value, actual.kind);
}

const sameValue = (a: PgValue, b: PgValue) => a.kind === b.kind && (typeof a.value === 'number' && typeof b.value === 'number' ? Math.abs(a.value - b.value) < 1e-9 : String(a.value) === String(b.value));

export const showRow = (r: PgSettingRow) => `${r.name} = ${r.setting}${r.unit ? ` ${r.unit}` : ''} (source: ${r.source}${r.sourcefile ? `, ${r.sourcefile}` : ''}${r.pending_restart ? ', pending restart' : ''})`;

/** Where a pg_db_role_setting row applies, as the ALTER that made it. */
const overrideText = (o: PgRoleSetting) =>
  o.database !== null && o.role !== null ? `ALTER ROLE ${o.role} IN DATABASE ${o.database} SET ${o.name} = ${o.value}`
    : o.database !== null ? `ALTER DATABASE ${o.database} SET ${o.name} = ${o.value}`
      : o.role !== null ? `ALTER ROLE ${o.role} SET ${o.name} = ${o.value}` : `ALTER ROLE ALL SET ${o.name} = ${o.value}`;

/** Overrides whose value differs from the declared one (an unreadable value counts as different). */
function differingOverrides(row: PgSettingRow, want: PgValue, overrides: PgRoleSetting[]): PgRoleSetting[] {
  return overrides.filter((o) => {
    try {
      return !sameValue(expectedFor(row, o.value), want);
    } catch (e) {
      if (!(e instanceof UnitError)) throw e;
      return true;
    }
  });
}

export function settingOutcome(name: string, value: string | number | boolean, row: PgSettingRow | undefined, version: string, src: string, overrides: PgRoleSetting[] = []): Outcome {
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
  const same = sameValue(got, want);
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

const BOOL: Record<string, string> = { on: 'on', of: 'off', off: 'off', t: 'on', tr: 'on', tru: 'on', true: 'on', f: 'off', fa: 'off', fal: 'off', fals: 'off', false: 'off', y: 'on', ye: 'on', yes: 'on', n: 'off', no: 'off', 1: 'on', 0: 'off' };

/** The file's value equals the running one once both are in the same terms; undefined: cannot tell. */
export function fileMatchesRunning(f: PgFileSetting): boolean | undefined {
  if (f.setting === null || f.running === null) return undefined;
  try {
    switch (f.vartype) {
      case 'bool': {
        const a = BOOL[f.setting.trim().toLowerCase()];
        return a === undefined ? undefined : a === BOOL[f.running.toLowerCase()];
      }
      case 'enum':
        return f.setting.trim().toLowerCase() === f.running.toLowerCase();
      case 'integer':
      case 'real':
        return sameValue(expectedFor({ setting: f.running, unit: f.unit }, f.setting.trim()), pgSettingValue(f.running, f.unit));
      default:
        return f.setting === f.running;
    }
  } catch (e) {
    if (!(e instanceof UnitError)) throw e;
    return undefined;
  }
}

const where = (f: PgFileSetting) => (f.sourcefile ? ` in ${f.sourcefile}${f.sourceline ? `:${f.sourceline}` : ''}` : '');
const running = (f: PgFileSetting) => `${f.running}${f.unit ? ` ${f.unit}` : ''}`;

/** Settings pending a restart (pg_settings), and configuration files that differ from what runs (pg_file_settings). */
export function pendingOutcome(pg: PgFacts, src: string): Outcome {
  const restart = pg.settings.filter((s) => s.pending_restart);
  const restartNames = new Set(restart.map((s) => s.name.toLowerCase()));
  const lines: string[] = [];
  const unsure: string[] = [];
  for (const f of pg.fileSettings ?? []) {
    if (restartNames.has(f.name.toLowerCase())) continue;
    if (f.setting === null) {
      lines.push(`${f.name}: in no configuration file any more, still running ${running(f)} from ${f.runningFile ?? 'a file'} (a reload applies the default or another file's value)`);
    } else if (f.error) {
      lines.push(/could not be applied/.test(f.error)
        ? `${f.name} = ${f.setting}${where(f)} waits for a restart (running ${running(f)})`
        : `${f.name} = ${f.setting}${where(f)} cannot be applied: ${f.error}`);
    } else if (f.running !== null) {
      const same = fileMatchesRunning(f);
      if (same === false) lines.push(`${f.name} = ${f.setting}${where(f)} waits for a reload (running ${running(f)}, from ${f.source})`);
      else if (same === undefined) unsure.push(`${f.name} = ${f.setting}${where(f)} (running ${running(f)})`);
    }
  }
  const parts = [
    ...(restart.length ? [`changed but not in effect until a restart: ${restart.map((p) => p.name).join(', ')}`] : []),
    ...(lines.length ? [`the configuration files differ from what runs: ${lines.join('; ')}`] : []),
  ];
  const ev = {
    expected: 'pending_restart = false for all settings; the configuration files (pg_file_settings) hold what runs',
    observed: { pendingRestart: restart.map(showRow), files: lines, ...(unsure.length ? { notCompared: unsure } : {}) },
    source: pg.fileSettings ? `pg_settings, pg_file_settings via ${src}` : src,
  };
  if (parts.length) return outcome(CHECKS['pending-restart'], 'server', 'fail', parts.join('; '), ev);
  if (unsure.length) return outcome(CHECKS['pending-restart'], 'server', 'error', `cannot compare the configuration files' value with the running one: ${unsure.join('; ')}`, ev);
  return outcome(CHECKS['pending-restart'], 'server', 'pass', pg.fileSettings ? 'no setting is pending a restart or a reload' : 'no setting is pending a restart', ev);
}

/** pg_hba methods whose client sends the password as typed (PostgreSQL docs, "Password Authentication", LDAP, RADIUS, PAM, BSD). */
const CLEARTEXT = new Set(['password', 'ldap', 'radius', 'pam', 'bsd']);
/** TCP line types that also match connections without SSL or GSSAPI encryption. */
const MAYBE_PLAIN = new Set(['host', 'hostnossl', 'hostnogssenc']);

/** A host line's address only reaches this machine's loopback (or the server's own addresses: samehost). */
export function loopbackOnly(h: PgHbaRow): boolean {
  const a = (h.address ?? '').toLowerCase();
  if (a === 'localhost' || a === 'samehost') return true;
  const v4 = /^127\.\d+\.\d+\.\d+$/.test(a);
  if (v4) return prefixLen(h.netmask) >= 8;
  if (a === '::1') return prefixLen(h.netmask) === 128;
  return false;
}

/** Prefix length of a dotted or colon netmask (pg_hba_file_rules gives the mask of a CIDR line); -1 when unreadable. */
function prefixLen(mask: string | null): number {
  if (!mask) return -1;
  if (mask.includes('.')) {
    const bits = mask.split('.').map((o) => Number(o).toString(2).padStart(8, '0')).join('');
    return /^1*0*$/.test(bits) ? bits.indexOf('0') < 0 ? 32 : bits.indexOf('0') : -1;
  }
  const groups = mask.split('::')[0].split(':').filter(Boolean);
  const bits = groups.map((g) => parseInt(g, 16).toString(2).padStart(16, '0')).join('');
  return /^1*$/.test(bits) ? bits.length : -1;
}

export function hbaOutcomes(pg: PgFacts, expect: HbaExpect, src: string): Outcome[] {
  const errors = pg.hba.filter((h) => h.error);
  const hostTrust = pg.hba.filter((h) => h.type !== 'local' && h.auth_method === 'trust');
  const allowed = new Set(['postgres', ...(expect.localTrustUsers ?? [])]);
  const localTrust = pg.hba.filter((h) => h.type === 'local' && h.auth_method === 'trust' && (h.user_name ?? []).some((u) => !allowed.has(u)));
  const cleartext = pg.hba.filter((h) => MAYBE_PLAIN.has(h.type ?? '') && CLEARTEXT.has(h.auth_method ?? ''));
  const md5 = pg.hba.filter((h) => h.type !== null && h.type !== 'local' && h.auth_method === 'md5' && !loopbackOnly(h));
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
  const tcp = pg.hba.filter((h) => h.type !== null && h.type !== 'local' && !h.error);
  const passwordMsg = [
    ...(cleartext.length ? [`the password crosses the network in cleartext on ${lines(cleartext)} (a client without SSL sends it as typed)`] : []),
    ...(md5.length ? [`md5 on ${lines(md5)}, reachable from beyond loopback (use scram-sha-256)`] : []),
  ].join('; ');
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
    outcome(
      CHECKS['hba-password'],
      'pg_hba host lines',
      verdict(cleartext.length + md5.length > 0),
      passwordMsg
        ? `${passwordMsg}${errNote}${stale}`
        : `no TCP line sends a cleartext password or uses md5 beyond loopback (${tcp.length} TCP lines: ${[...new Set(tcp.map((h) => h.auth_method))].join(', ') || 'none'})${errNote}${stale}`,
      { expected: 'no password/ldap/radius/pam/bsd on host/hostnossl/hostnogssenc lines; no md5 on TCP lines beyond loopback', observed: { cleartext: cleartext.map(hbaLine), md5: md5.map(hbaLine) }, source: hbaSrc, excerpt },
      // md5 alone: the weaker finding.
      cleartext.length || !md5.length ? {} : { severity: 'medium' },
    ),
  ];
}

export function listenOutcome(row: PgSettingRow | undefined, declared: string[], src: string): Outcome {
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
