// PostgreSQL against a full lab node over real SSH (psql inside the alchemist container, peer auth):
// healthy → every check passes; each postgres fault → its check fails; heal → pass. Bad input: a
// server that refuses, a container that does not exist. Also records the suite's round trips.
import { describe, expect, it } from 'vitest';
import { postgresSuite } from '../suites/postgres.js';
import { insideSuiteLab, notOk } from './helpers/suite-lab.js';

describe('postgres on a full lab node', () => {
  const t = insideSuiteLab({ name: 'postgres', suite: postgresSuite, roundTrips: 2 });
  const { inventory, run, mine } = t;

  it('a PostgreSQL that refuses the connection: every postgres check is an error with the reason', async () => {
    const stop = await t.lab.exec('leaf-1', `nixos-container run alchemist -- setpriv --reuid postgres --regid postgres --init-groups -- sh -c 'cd / && /usr/lib/postgresql/15/bin/pg_ctl -D /var/lib/postgresql/15/main -m fast -w stop'`);
    expect(stop.code, stop.stderr).toBe(0);
    try {
      const { code, results, stdout } = await run(t.inv);
      const pg = mine(results);
      expect(pg.length).toBeGreaterThan(5);
      for (const r of pg) expect(r).toMatchObject({ status: 'error', message: expect.stringMatching(/^PostgreSQL refuses the connection/) });
      expect(code).toBe(3);
      expect(stdout).not.toMatch(/at .*\.js:\d+/);
    } finally {
      const start = await t.lab.exec('leaf-1', `nixos-container run alchemist -- setpriv --reuid postgres --regid postgres --init-groups -- sh -c 'cd / && /usr/lib/postgresql/15/bin/pg_ctl -D /var/lib/postgresql/15/main -l /run/postgresql/postgresql.log -w -t 60 start >/dev/null'`);
      expect(start.code, start.stderr).toBe(0);
    }
    expect(notOk(mine((await run(t.inv)).results))).toEqual([]);
  });

  it('a database container that does not exist: postgres checks fail naming it', async () => {
    const file = inventory('pg-ghost', (exp) => {
      exp.postgres.container = 'ghost';
      for (const k of ['containers', 'limits', 'secrets']) delete exp[k];
    });
    const { results } = await run(file);
    for (const r of mine(results)) expect(r).toMatchObject({ status: 'fail', message: expect.stringMatching(/"ghost" does not exist/) });
  });
});
