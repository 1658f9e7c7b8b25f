import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parsePgFacts, pgQuery, psqlCommand, psqlFailure } from '../src/probes/pg.js';
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
      'postgres.setting:shared_buffers:pass',
      'postgres.setting:work_mem:pass',
      'postgres.setting:random_page_cost:pass',
      'postgres.setting:effective_io_concurrency:pass',
      'postgres.setting:max_wal_size:pass',
      'postgres.setting:jit:pass',
      'postgres.pending-restart:pass',
      'postgres.hba-host-trust:pass',
      'postgres.hba-local-trust:pass',
      'postgres.listen-addresses:pass',
    ]);
  });
  it('a changed setting fails naming the source', () => {
    const out = evaluatePostgres({ ...where, pg: parsePgFacts(fx('pg/healthy.json'), 'psql') }, { ...EXP, settings: { work_mem: '20MB' } });
    expect(out[0]).toMatchObject({ status: 'fail', message: expect.stringMatching(/work_mem is 10240 × kB, expected 20MB \(set by configuration file in \/var\/lib\/postgresql\/15\/postgresql.conf\)/) });
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
    expect(out[0]).toMatchObject({ status: 'error', message: expect.stringMatching(/no setting "shared_bufers"/) });
  });
  it('a PostgreSQL that refuses: every planned check is an error with the reason', () => {
    const out = evaluatePostgres({ ...where, problem: 'PostgreSQL refuses the connection (not running or not listening on the socket): ...' }, EXP);
    expect(out.length).toBe(10);
    for (const o of out) expect(o).toMatchObject({ status: 'error', message: expect.stringMatching(/refuses/) });
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
