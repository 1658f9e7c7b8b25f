import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { notAnswering, parsePgFacts, pgQuery, psqlCommand, psqlFailure } from '../src/probes/pg.js';
import { evaluatePostgres, expectedFor, postgresSuite, type PostgresExpect } from '../suites/postgres.js';
import { ParseError } from '../src/core/types.js';
import { FakeHost } from './helpers/fakes.js';

const fx = (p: string) => readFileSync(new URL(`../fixtures/${p}`, import.meta.url), 'utf8');
const where = { where: 'container alchemist (leader 57)', command: 'runuser -u postgres -- psql -XAt -c "..."' };
const EXP: PostgresExpect = {
  container: 'alchemist',
  settings: { shared_buffers: '128MB', work_mem: '10MB', random_page_cost: 1.1, effective_io_concurrency: 200, max_wal_size: '1GB', jit: true },
  listenAddresses: [''],
};
const status = (out: ReturnType<typeof evaluatePostgres>) => out.map((o) => `${o.id}${o.subject.startsWith('setting') ? `:${o.subject.slice(8)}` : ''}:${o.status}`);
const by = (out: ReturnType<typeof evaluatePostgres>, id: string) => out.find((o) => o.id === id)!;

describe('pg probe', () => {
  it('parses real PostgreSQL 15 output (multi-line json_agg)', () => {
    const pg = parsePgFacts(fx('pg/healthy.json'), 'psql');
    expect(pg.version).toBe('15.10');
    expect(pg.settings.find((s) => s.name === 'shared_buffers')).toMatchObject({ setting: '16384', unit: '8kB', pending_restart: false });
    expect(pg.hba[0]).toMatchObject({ type: 'local', user_name: ['postgres'], auth_method: 'peer' });
    expect(() => parsePgFacts('psql: error', 'psql')).toThrow(ParseError);
    expect(() => parsePgFacts('{"version":"15"}', 'psql')).toThrow(/settings/);
  });
  it('refuses setting names that are not names (the query is built from the expectation)', () => {
    expect(() => pgQuery(["x'; drop table y; --"])).toThrow(ParseError);
    expect(pgQuery(['work_mem'])).toContain(`array['work_mem']::text[]`);
    expect(psqlCommand('select 1')).toContain(`runuser -u 'postgres' --`);
  });
  it('psql failures read plainly', () => {
    expect(psqlFailure('psql: error: connection to server on socket "/run/postgresql/.s.PGSQL.5432" failed: No such file or directory\n\tIs the server running locally and accepting connections on that socket?', 2)).toMatch(/^PostgreSQL refuses the connection/);
    expect(psqlFailure('psql: error: connection to server on socket "/run/postgresql/.s.PGSQL.5432" failed: FATAL:  Peer authentication failed for user "postgres"', 2)).toMatch(/authentication/);
    expect(psqlFailure('leafcert: psql not found on the node', 127)).toBe('psql not found on the node');
  });
  it('normalises units: 2GB = 262144 × 8kB, a bare number is in the setting\'s unit', () => {
    const row = { name: 'shared_buffers', setting: '262144', unit: '8kB', source: 'configuration file', sourcefile: null, pending_restart: false };
    expect(expectedFor(row, '2GB')).toEqual({ kind: 'bytes', value: 2 * 1024 ** 3 });
    expect(expectedFor(row, 262144)).toEqual({ kind: 'bytes', value: 2 * 1024 ** 3 });
    const wm = { ...row, name: 'work_mem', setting: '10240', unit: 'kB' };
    expect(expectedFor(wm, '10MB')).toEqual(expectedFor(wm, 10240));
  });
});

describe('postgres evaluate', () => {
  it('healthy: settings equal after unit normalisation, nothing pending, no trust', () => {
    const out = evaluatePostgres({ ...where, pg: parsePgFacts(fx('pg/healthy.json'), 'psql') }, EXP);
    expect(status(out)).toEqual([
      'postgres.running:pass',
      'postgres.setting:shared_buffers:pass',
      'postgres.setting:work_mem:pass',
      'postgres.setting:random_page_cost:pass',
      'postgres.setting:effective_io_concurrency:pass',
      'postgres.setting:max_wal_size:pass',
      'postgres.setting:jit:pass',
      'postgres.pending-restart:pass',
      'postgres.hba-host-trust:pass',
      'postgres.hba-local-trust:pass',
      'postgres.hba-password:pass',
      'postgres.listen-addresses:pass',
    ]);
  });
  it('a changed setting fails naming the source', () => {
    const out = evaluatePostgres({ ...where, pg: parsePgFacts(fx('pg/healthy.json'), 'psql') }, { ...EXP, settings: { work_mem: '20MB' } });
    expect(by(out, 'postgres.setting')).toMatchObject({ status: 'fail', message: expect.stringMatching(/work_mem is 10240 × kB, expected 20MB \(set by configuration file in \/var\/lib\/postgresql\/15\/postgresql.conf\)/) });
  });
  it('a setting pending restart is a finding (ALTER SYSTEM of shared_buffers + reload, real output)', () => {
    const out = evaluatePostgres({ ...where, pg: parsePgFacts(fx('pg/pending.json'), 'psql') }, EXP);
    expect(out.find((o) => o.id === 'postgres.pending-restart')).toMatchObject({ status: 'fail', message: expect.stringMatching(/shared_buffers/) });
    // the running value is still the old one: the setting check itself still holds
    expect(out.find((o) => o.subject === 'setting shared_buffers')!.status).toBe('pass');
  });
  it('trust lines: host trust critical, local trust for all users fails; unparseable line reported', () => {
    const out = evaluatePostgres({ ...where, pg: parsePgFacts(fx('pg/trust.json'), 'psql') }, EXP);
    const host = out.find((o) => o.id === 'postgres.hba-host-trust')!;
    expect(host).toMatchObject({ status: 'fail', severity: 'critical' });
    expect(host.message).toMatch(/line 6 \(host all all 0.0.0.0 0.0.0.0 trust\)/);
    expect(host.message).toMatch(/unparseable/);
    expect(out.find((o) => o.id === 'postgres.hba-local-trust')).toMatchObject({ status: 'fail', message: expect.stringMatching(/line 1 \(local all all trust\)/) });
  });
  it('local trust for postgres only, or waived users, passes', () => {
    const pg = parsePgFacts(fx('pg/healthy.json'), 'psql');
    pg.hba[0].auth_method = 'trust';
    expect(evaluatePostgres({ ...where, pg }, EXP).find((o) => o.id === 'postgres.hba-local-trust')!.status).toBe('pass');
    pg.hba[1].auth_method = 'trust';
    expect(evaluatePostgres({ ...where, pg }, EXP).find((o) => o.id === 'postgres.hba-local-trust')!.status).toBe('fail');
    expect(evaluatePostgres({ ...where, pg }, { ...EXP, localTrustUsers: ['all'] }).find((o) => o.id === 'postgres.hba-local-trust')!.status).toBe('pass');
  });
  it('listen_addresses compared as a set', () => {
    const out = evaluatePostgres({ ...where, pg: parsePgFacts(fx('pg/healthy.json'), 'psql') }, { listenAddresses: ['localhost', '10.233.1.2'] });
    expect(out.find((o) => o.id === 'postgres.listen-addresses')!.status).toBe('fail');
  });
  it('ALTER DATABASE / ALTER ROLE … SET of a declared setting fails although pg_settings matches (real output); an override equal to the declared value passes', () => {
    const pg = parsePgFacts(fx('pg/overrides.json'), 'psql');
    expect(pg.overrides).toEqual([
      { database: 'alchemist', role: 'alchemist', name: 'effective_io_concurrency', value: '200' },
      { database: 'alchemist', role: null, name: 'work_mem', value: '64MB' },
      { database: null, role: 'alchemist', name: 'random_page_cost', value: '4' },
    ]);
    const out = evaluatePostgres({ ...where, pg }, { settings: { shared_buffers: '256MB', work_mem: '4MB', random_page_cost: 1.1, effective_io_concurrency: 200 } });
    expect(status(out).filter((x) => x.startsWith('postgres.setting'))).toEqual(['postgres.setting:shared_buffers:pass', 'postgres.setting:work_mem:fail', 'postgres.setting:random_page_cost:fail', 'postgres.setting:effective_io_concurrency:pass']);
    expect(out.find((o) => o.subject === 'setting work_mem')!.message).toBe('work_mem = 4MB (4096 × kB, from configuration file); sessions run with another value: ALTER DATABASE alchemist SET work_mem = 64MB');
    expect(out.find((o) => o.subject === 'setting random_page_cost')!.message).toMatch(/ALTER ROLE alchemist SET random_page_cost = 4$/);
    // facts from before overrides were read: judged as before
    const { overrides: _o, ...old } = pg;
    expect(status(evaluatePostgres({ ...where, pg: old }, { settings: { work_mem: '4MB' } }))).toContain('postgres.setting:work_mem:pass');
    expect(pgQuery(['work_mem'])).toContain('pg_db_role_setting');
  });
  it('pg_hba.conf changed after the last load (trust loaded, file put back without a reload): the hba checks fail, the file reads clean (real output)', () => {
    const pg = parsePgFacts(fx('pg/hba-unloaded.json'), 'psql');
    expect(Date.parse(pg.hbaModified!)).toBeGreaterThan(Date.parse(pg.loadedAt!));
    expect(pg.hba.some((h) => h.auth_method === 'trust')).toBe(false);
    const out = evaluatePostgres({ ...where, pg }, { noTrust: true });
    for (const id of ['postgres.hba-host-trust', 'postgres.hba-local-trust']) {
      expect(out.find((o) => o.id === id)).toMatchObject({ status: 'fail', message: expect.stringMatching(/pg_hba.conf was changed \(.*\) after PostgreSQL last loaded its configuration \(.*\): the rules in force are not the file's/) });
    }
    // loaded after the change: the file is what runs
    expect(evaluatePostgres({ ...where, pg: { ...pg, loadedAt: new Date(Date.parse(pg.hbaModified!) + 1000).toISOString() } }, { noTrust: true }).filter((o) => o.status !== 'pass')).toEqual([]);
    // facts without the times (older probe): judged on the file as before
    const { loadedAt: _l, hbaModified: _h, ...old } = pg;
    expect(evaluatePostgres({ ...where, pg: old }, { noTrust: true }).filter((o) => o.status !== 'pass')).toEqual([]);
  });
  it('unknown setting name: error, not pass', () => {
    const out = evaluatePostgres({ ...where, pg: parsePgFacts(fx('pg/healthy.json'), 'psql') }, { settings: { shared_bufers: '2GB' } });
    expect(by(out, 'postgres.setting')).toMatchObject({ status: 'error', message: expect.stringMatching(/no setting "shared_bufers"/) });
  });
  it('a PostgreSQL that refuses for a reason leafcert cannot pin on the node: every planned check is an error with the reason', () => {
    const out = evaluatePostgres({ ...where, problem: 'PostgreSQL refuses the connection (not running or not listening on the socket): ... (2 postgres process(es) run: starting up, shutting down, or on another socket or port)' }, EXP);
    expect(out.length).toBe(12);
    for (const o of out) expect(o).toMatchObject({ status: 'error', message: expect.stringMatching(/refuses/) });
  });
  it('a PostgreSQL that is not running (real psql output, no server process): postgres.running fails saying so, the other checks are skipped pointing at it', () => {
    for (const file of ['pg/not-running.stderr', 'pg/stale-socket.stderr']) {
      const why = notAnswering(fx(file), '', 2, 'container alchemist (leader 57)');
      expect(why, file).toEqual({ notRunning: true, problem: expect.stringMatching(/^PostgreSQL is not running \(container alchemist \(leader 57\)\): no postgres process, and no server on its socket \(psql: error: connection to server on socket "\/var\/run\/postgresql\/.s.PGSQL.5432" failed: (No such file or directory|Connection refused)\)$/) });
      const out = evaluatePostgres({ ...where, ...why }, EXP);
      expect(out.length).toBe(12);
      expect(out[0]).toMatchObject({ id: 'postgres.running', status: 'fail', severity: 'high', message: why.problem });
      for (const o of out.slice(1)) expect(o, o.id).toMatchObject({ status: 'skipped', message: 'not judged: PostgreSQL is not running (postgres.running fails)' });
    }
  });
  it('not running only on facts: a postgres process still there, a count pgrep could not make, an authentication failure, a timeout stay errors', () => {
    const stderr = fx('pg/not-running.stderr');
    expect(notAnswering(stderr.replace('processes: 0', 'processes: 3'), '', 2, 'w')).toEqual({ problem: expect.stringMatching(/^PostgreSQL refuses the connection .*\(3 postgres process\(es\) run: starting up, shutting down, or on another socket or port\)$/) });
    expect(notAnswering(stderr.replace('processes: 0', 'processes: '), '', 2, 'w')).toEqual({ problem: expect.stringMatching(/^PostgreSQL refuses the connection .*\(pgrep could not say whether a postgres process runs\)$/) });
    expect(notAnswering(stderr.split('\n').filter((l) => !l.startsWith('leafcert-')).join('\n'), '', 2, 'w')).toEqual({ problem: expect.stringMatching(/^PostgreSQL refuses the connection/) });
    expect(notAnswering('psql: error: connection to server on socket "/run/postgresql/.s.PGSQL.5432" failed: FATAL:  Peer authentication failed for user "postgres"\nleafcert-postgres-processes: 0', '', 2, 'w')).toEqual({ problem: expect.stringMatching(/authentication/) });
    expect(notAnswering('leafcert: psql not found on the node\nleafcert-postgres-processes: 0', '', 127, 'w')).toEqual({ problem: 'psql not found on the node' });
    // The psql line counts the server's processes only when psql failed, and keeps psql's exit code.
    expect(psqlCommand('select 1')).toMatch(/; rc=\$\?; \[ "\$rc" = 0 \] \|\| echo "leafcert-postgres-processes: \$\(pgrep -c -x 'postgres\|postmaster\|\\.postgres-wrapp' 2>\/dev\/null\)" >&2; exit "\$rc"$/);
  });
  it('a missing container is a failure of the node', () => {
    const out = evaluatePostgres({ ...where, problem: 'container "alchemist" does not exist on the node', missingContainer: true }, EXP);
    for (const o of out) expect(o.status).toBe('fail');
  });
  it('gather runs psql inside the container through nsenter, one exec after the locator', async () => {
    const host = new FakeHost('n');
    const cmds: string[] = [];
    host.exec = async (command: string) => {
      host.roundTrips++;
      cmds.push(command);
      const stdout = cmds.length === 1 ? fx('machinectl/locate-lab.txt') : fx('pg/healthy.json');
      return { code: 0, stdout, stderr: '', command, durationMs: 1 };
    };
    const ctx = { host, node: {} as any, identity: {}, options: { allowMutating: false, timeoutMs: 5000, baseDir: '.' }, progress() {} };
    const facts = await postgresSuite.gather(ctx, EXP);
    expect(facts.pg?.version).toBe('15.10');
    expect(cmds[1]).toMatch(/^nsenter -t 57 -m -u -i -n -p -- sh -c /);
    expect(host.roundTrips).toBe(2);
  });
});

describe('configuration files that differ from what runs (pg_file_settings, real output of the lab\'s PostgreSQL 15)', () => {
  const LAB: PostgresExpect = { settings: { work_mem: '4MB', max_connections: 100, shared_buffers: '256MB' }, noTrust: true };
  it('healthy: the files hold what runs (256MB = 32768 × 8kB and the like are equal), nothing pending', () => {
    const pg = parsePgFacts(fx('pg/healthy-files.json'), 'psql');
    expect(pg.fileSettings!.map((f) => f.name)).toContain('shared_buffers');
    const out = evaluatePostgres({ ...where, pg }, LAB);
    expect(out.filter((o) => o.status !== 'pass').map((o) => `${o.id}: ${o.message}`)).toEqual([]);
    expect(by(out, 'postgres.pending-restart').message).toBe('no setting is pending a restart or a reload');
  });
  it('ALTER SYSTEM SET work_mem / max_connections without a reload: pending-restart fails naming both, the running work_mem still passes postgres.setting', () => {
    const out = evaluatePostgres({ ...where, pg: parsePgFacts(fx('pg/pending-reload.json'), 'psql') }, LAB);
    const p = by(out, 'postgres.pending-restart');
    expect(p.status).toBe('fail');
    expect(p.message).toBe('the configuration files differ from what runs: max_connections = 20 in /var/lib/postgresql/15/main/postgresql.auto.conf:4 waits for a restart (running 100); work_mem = 64MB in /var/lib/postgresql/15/main/postgresql.auto.conf:3 waits for a reload (running 4096 kB, from configuration file)');
    expect(out.find((o) => o.subject === 'setting work_mem')!.status).toBe('pass');
  });
  it('ALTER SYSTEM RESET of a reloaded setting without a reload: the running value is in no file any more', () => {
    const p = by(evaluatePostgres({ ...where, pg: parsePgFacts(fx('pg/setting-removed.json'), 'psql') }, LAB), 'postgres.pending-restart');
    expect(p).toMatchObject({ status: 'fail', message: expect.stringMatching(/statement_timeout: in no configuration file any more, still running 5000 ms from \/var\/lib\/postgresql\/15\/main\/postgresql.auto.conf/) });
  });
  it('a setting pending a restart after a reload is named once; values in other spellings compare equal; a value it cannot compare is an error, never a pass', () => {
    const pg = parsePgFacts(fx('pg/pending-reload.json'), 'psql');
    const row = (over: Partial<NonNullable<typeof pg.fileSettings>[number]>) => ({ name: 'x', setting: 'on', applied: true, error: null, sourcefile: '/p.conf', sourceline: 1, running: 'on', unit: null, vartype: 'bool', source: 'configuration file', runningFile: '/p.conf', ...over });
    const restarted = { ...pg, settings: pg.settings.map((s) => (s.name === 'max_connections' ? { ...s, pending_restart: true } : s)), fileSettings: pg.fileSettings!.filter((f) => f.name !== 'work_mem') };
    expect(by(evaluatePostgres({ ...where, pg: restarted }, LAB), 'postgres.pending-restart').message).toBe('changed but not in effect until a restart: max_connections');
    const same = { ...pg, fileSettings: [row({ name: 'jit', setting: 'yes' }), row({ name: 'wal_level', vartype: 'enum', setting: 'Replica', running: 'replica' }), row({ name: 'statement_timeout', vartype: 'integer', setting: '5min', running: '300000', unit: 'ms' })] };
    expect(by(evaluatePostgres({ ...where, pg: same }, LAB), 'postgres.pending-restart').status).toBe('pass');
    const odd = { ...pg, fileSettings: [row({ name: 'work_mem', vartype: 'integer', setting: '64 zebras', running: '4096', unit: 'kB' })] };
    expect(by(evaluatePostgres({ ...where, pg: odd }, LAB), 'postgres.pending-restart')).toMatchObject({ status: 'error', message: expect.stringMatching(/cannot compare .*work_mem = 64 zebras/) });
    const bad = { ...pg, fileSettings: [row({ name: 'work_mem', vartype: 'integer', setting: '64 zebras', running: '4096', unit: 'kB', applied: false, error: 'setting could not be applied' }), row({ name: 'jit', setting: 'maybe', applied: false, error: 'invalid value for parameter "jit": "maybe"' })] };
    expect(by(evaluatePostgres({ ...where, pg: bad }, LAB), 'postgres.pending-restart').message).toMatch(/work_mem = 64 zebras in \/p.conf:1 waits for a restart .*jit = maybe in \/p.conf:1 cannot be applied: invalid value/);
    expect(pgQuery(['work_mem'])).toContain('pg_file_settings');
    expect(() => parsePgFacts(fx('pg/pending-reload.json').replace('"applied" : true', '"applied" : "yes"').replace('"applied":true', '"applied":"yes"'), 'psql')).toThrow(ParseError);
  });
});

describe('postgres.hba-password: cleartext passwords and md5 on TCP lines (real output of the lab\'s PostgreSQL 15)', () => {
  it('host … 0.0.0.0/0 password and hostnossl … ldap fail (high); md5 on loopback is NixOS\'s default and is not named', () => {
    const out = evaluatePostgres({ ...where, pg: parsePgFacts(fx('pg/hba-cleartext.json'), 'psql') }, { noTrust: true });
    const o = by(out, 'postgres.hba-password');
    expect(o).toMatchObject({ status: 'fail', severity: 'high' });
    expect(o.message).toMatch(/^the password crosses the network in cleartext on line 1 \(host all all 0.0.0.0 0.0.0.0 password\), line 4 \(hostnossl all all :: :: ldap ldapserver=ldap.example.net/);
    expect(o.message).not.toMatch(/md5/);
    expect(by(out, 'postgres.hba-host-trust').status).toBe('pass');
  });
  it('md5 beyond loopback alone fails with severity medium; md5 on 127.0.0.1/32, ::1/128 and samehost is not named', () => {
    const o = by(evaluatePostgres({ ...where, pg: parsePgFacts(fx('pg/hba-md5.json'), 'psql') }, { noTrust: true }), 'postgres.hba-password');
    expect(o).toMatchObject({ status: 'fail', severity: 'medium', message: 'md5 on line 4 (host all all 10.233.0.0 255.255.0.0 md5), reachable from beyond loopback (use scram-sha-256)' });
  });
  it('scram-sha-256, cert, peer, reject, hostssl/hostgssenc … password pass', () => {
    const pg = parsePgFacts(fx('pg/hba-cleartext.json'), 'psql');
    const fine = { ...pg, hba: [
      ...pg.hba.filter((h) => h.auth_method !== 'md5' && h.auth_method !== 'ldap').map((h) => (h.auth_method === 'password' ? { ...h, type: 'hostssl' } : h)),
      { ...pg.hba[0], line_number: 20, type: 'hostgssenc', auth_method: 'password' },
      { ...pg.hba[0], line_number: 21, auth_method: 'cert' },
      { ...pg.hba[0], line_number: 22, auth_method: 'reject' },
      { ...pg.hba[0], line_number: 23, type: 'host', address: '127.0.0.0', netmask: '255.0.0.0', auth_method: 'md5' },
    ] };
    const o = by(evaluatePostgres({ ...where, pg: fine }, { noTrust: true }), 'postgres.hba-password');
    expect(o.status, o.message).toBe('pass');
    // …but a loopback line wider than 127.0.0.0/8 is not loopback, and md5 on hostssl is still md5
    const wide = { ...fine, hba: [...fine.hba, { ...pg.hba[0], line_number: 24, address: '126.0.0.0', netmask: '254.0.0.0', auth_method: 'md5' }, { ...pg.hba[0], line_number: 25, type: 'hostssl', auth_method: 'md5' }] };
    expect(by(evaluatePostgres({ ...where, pg: wide }, { noTrust: true }), 'postgres.hba-password').message).toMatch(/^md5 on line 24 .*, line 25 \(hostssl/);
  });
  it('the healthy lab and NixOS-shaped fixtures pass; noTrust: false plans no hba check', () => {
    expect(by(evaluatePostgres({ ...where, pg: parsePgFacts(fx('pg/healthy.json'), 'psql') }, { noTrust: true }), 'postgres.hba-password').status).toBe('pass');
    expect(evaluatePostgres({ ...where, pg: parsePgFacts(fx('pg/healthy.json'), 'psql') }, { noTrust: false, listenAddresses: [''] }).some((o) => o.id.startsWith('postgres.hba'))).toBe(false);
  });
});

describe('pg_hba secrets (LDAP bind password, RADIUS shared secret)', () => {
  it('never reach facts or reports: redacted to a sha256 prefix, on passes too', () => {
    const pg = parsePgFacts(fx('pg/hba-ldap.json'), 'psql');
    const out = evaluatePostgres({ ...where, pg }, { ...EXP, noTrust: true });
    const hostTrust = out.find((o) => o.id === 'postgres.hba-host-trust')!;
    expect(hostTrust.status).toBe('pass');
    const all = JSON.stringify({ pg, out });
    for (const secret of ['Ld4pB1ndS3cret!', 'R4d1usShar3d']) expect(all.includes(secret), secret).toBe(false);
    expect(hostTrust.evidence.excerpt).toContain('ldapbindpasswd=<redacted sha256:');
    expect(hostTrust.evidence.excerpt).toMatch(/radiussecrets=<redacted sha256:[0-9a-f]{8}>/);
    // options that are no secret stay readable
    expect(hostTrust.evidence.excerpt).toContain('ldapserver=ldap.example.net');
  });
});

describe('postgres schema: an expectation must name something to check', () => {
  it('{} and empty settings are refused; any of settings, noTrust, listenAddresses, container suffices', async () => {
    const { default: Ajv } = await import('ajv');
    const v = new Ajv({ strict: false }).compile(postgresSuite.schema as object);
    expect(v({})).toBe(false);
    expect(v({ port: 5432 })).toBe(false);
    expect(v({ settings: {} })).toBe(false);
    expect(v({ noTrust: true, localTrustUsers: [] })).toBe(false);
    for (const ok of [{ settings: { work_mem: '10MB' } }, { noTrust: true }, { listenAddresses: [] }, { container: 'alchemist' }]) expect(v(ok), JSON.stringify(ok)).toBe(true);
  });
});
