// PostgreSQL against a full lab node over real SSH (psql inside the alchemist container, peer auth):
// healthy → every check passes; each postgres fault → its check fails; heal → pass (a stopped server
// fails postgres.running and skips the rest). Bad input: a container that does not exist. Also
// records the suite's round trips.
import { describe, expect, it } from 'vitest';
import { postgresSuite } from '../suites/postgres.js';
import { insideSuiteLab, notOk } from './helpers/suite-lab.js';

describe('postgres on a full lab node', () => {
  const t = insideSuiteLab({
    name: 'postgres',
    suite: postgresSuite,
    roundTrips: 2,
    detail: {
      // A stopped server is the finding of postgres.running; the rest is skipped pointing there, exit 1 (not 3).
      'postgres-stopped': (results) => {
        const pg = results.filter((r) => r.suite === 'postgres');
        expect(pg.length).toBeGreaterThan(5);
        expect(pg.find((r) => r.id === 'postgres.running')).toMatchObject({ status: 'fail', message: expect.stringMatching(/^PostgreSQL is not running \(container alchemist \(leader \d+\)\): no postgres process, and no server on its socket \(psql: error: connection to server on socket ".*" failed: No such file or directory\)$/) });
        for (const r of pg.filter((x) => x.id !== 'postgres.running')) expect(r, r.id).toMatchObject({ status: 'skipped', message: 'not judged: PostgreSQL is not running (postgres.running fails)' });
      },
      'postgres-setting-unreloaded': (results) => {
        expect(results.find((r) => r.id === 'postgres.pending-restart')!.message).toMatch(/work_mem = 64MB in \/var\/lib\/postgresql\/15\/main\/postgresql.auto.conf:\d+ waits for a reload \(running 4096 kB/);
        // the running value is still the declared one
        expect(results.find((r) => r.id === 'postgres.setting' && r.subject === 'setting work_mem')!.status).toBe('pass');
      },
      'postgres-hba-password': (results) => {
        expect(results.find((r) => r.id === 'postgres.hba-password')).toMatchObject({ severity: 'high', message: expect.stringMatching(/cleartext on line 1 \(host all all 0.0.0.0 0.0.0.0 password\)/) });
      },
      'postgres-hba-md5': (results) => {
        expect(results.find((r) => r.id === 'postgres.hba-password')).toMatchObject({ severity: 'medium', message: expect.stringMatching(/^md5 on line 1 \(host all all 10.233.0.0 255.255.0.0 md5\)/) });
      },
    },
  });
  const { inventory, run, mine } = t;

  it('a database container that does not exist: postgres checks fail naming it', async () => {
    const file = inventory('pg-ghost', (exp) => {
      exp.postgres.container = 'ghost';
      for (const k of ['containers', 'limits', 'secrets']) delete exp[k];
    });
    const { results } = await run(file);
    for (const r of mine(results)) expect(r).toMatchObject({ status: 'fail', message: expect.stringMatching(/"ghost" does not exist/) });
  });
});
