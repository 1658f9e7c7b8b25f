// PostgreSQL faults, made the way an operator would: ALTER SYSTEM + reload (or without), ALTER DATABASE … SET, a pg_hba
// line + reload, a restart with listen_addresses changed, the server stopped. All run inside the alchemist container as postgres.
import type { Fault, FaultContext } from './types.js';

const DATA = '/var/lib/postgresql/15/main';
const PG = '/usr/lib/postgresql/15/bin';
const asPg = (sql: string) => `cd / && setpriv --reuid postgres --regid postgres --init-groups -- ${PG}/psql -XqAt -v ON_ERROR_STOP=1 ${sql.split(';').filter((s) => s.trim()).map((s) => `-c "${s.trim()}"`).join(' ')}`;
const inPg = (ctx: FaultContext, cmd: string) => ctx.containerExec('alchemist', cmd).then(() => undefined);
const pgCtl = (args: string) => `cd / && setpriv --reuid postgres --regid postgres --init-groups -- ${PG}/pg_ctl -D ${DATA} ${args}`;
const restartPg = `${pgCtl('-l /run/postgresql/postgresql.log -w -t 60 restart -m fast')} >/dev/null`;

function hbaFault(name: string, line: string, breaks: string, catches: string[]): Fault {
  return {
    name,
    area: 'postgres',
    breaks,
    catches,
    needs: 'full',
    // First match wins in pg_hba: the line goes on top, as a NixOS `authentication` entry would.
    apply: (ctx) => inPg(ctx, `cp -p ${DATA}/pg_hba.conf ${DATA}/pg_hba.conf.leafcert-fault && { echo '${line}'; cat ${DATA}/pg_hba.conf.leafcert-fault; } > ${DATA}/pg_hba.conf && ${asPg('SELECT pg_reload_conf()')}`),
    heal: (ctx) => inPg(ctx, `if [ -f ${DATA}/pg_hba.conf.leafcert-fault ]; then cat ${DATA}/pg_hba.conf.leafcert-fault > ${DATA}/pg_hba.conf && rm ${DATA}/pg_hba.conf.leafcert-fault; fi; ${asPg('SELECT pg_reload_conf()')}`),
  };
}

export const faults: Fault[] = [
  {
    name: 'postgres-setting-changed',
    area: 'postgres',
    breaks: 'work_mem differs from the declared value (ALTER SYSTEM SET work_mem = 64MB + reload)',
    catches: ['postgres.setting'],
    needs: 'full',
    apply: (ctx) => inPg(ctx, asPg(`ALTER SYSTEM SET work_mem = '64MB'; SELECT pg_reload_conf()`)),
    heal: (ctx) => inPg(ctx, asPg('ALTER SYSTEM RESET work_mem; SELECT pg_reload_conf()')),
  },
  {
    name: 'postgres-pending-restart',
    area: 'postgres',
    breaks: 'shared_buffers was changed and waits for a restart (ALTER SYSTEM + reload, no restart)',
    catches: ['postgres.pending-restart'],
    needs: 'full',
    apply: (ctx) => inPg(ctx, asPg(`ALTER SYSTEM SET shared_buffers = '512MB'; SELECT pg_reload_conf()`)),
    heal: (ctx) => inPg(ctx, asPg('ALTER SYSTEM RESET shared_buffers; SELECT pg_reload_conf()')),
  },
  {
    name: 'postgres-setting-per-database',
    area: 'postgres',
    breaks: 'the application database runs with another work_mem (ALTER DATABASE alchemist SET work_mem = 64MB): pg_settings, as the postgres database sees it, still says 4MB',
    catches: ['postgres.setting'],
    needs: 'full',
    apply: (ctx) => inPg(ctx, asPg(`ALTER DATABASE alchemist SET work_mem = '64MB'`)),
    heal: (ctx) => inPg(ctx, asPg('ALTER DATABASE alchemist RESET work_mem')),
  },
  {
    name: 'postgres-setting-unreloaded',
    area: 'postgres',
    breaks: 'work_mem is changed in postgresql.auto.conf (ALTER SYSTEM SET work_mem = 64MB) without a reload: the server still runs 4MB, the next reload (any nixos-rebuild switch) applies 64MB',
    catches: ['postgres.pending-restart'],
    needs: 'full',
    apply: (ctx) => inPg(ctx, asPg(`ALTER SYSTEM SET work_mem = '64MB'`)),
    heal: (ctx) => inPg(ctx, asPg('ALTER SYSTEM RESET work_mem')),
  },
  {
    name: 'postgres-stopped',
    area: 'postgres',
    breaks: 'the declared PostgreSQL is stopped (pg_ctl stop -m fast): no server process, no socket',
    catches: ['postgres.running'],
    needs: 'full',
    apply: (ctx) => inPg(ctx, `${pgCtl('-m fast -w -t 60 stop')} >/dev/null`),
    // Started again inside the container's cgroups (containerExec), where the service ran.
    heal: (ctx) => inPg(ctx, `${pgCtl('status')} >/dev/null || ${pgCtl('-l /run/postgresql/postgresql.log -w -t 60 start')} >/dev/null`),
  },
  hbaFault('postgres-hba-password', 'host all all 0.0.0.0/0 password', 'pg_hba takes cleartext passwords over TCP from anywhere (method password on a host line, + reload)', ['postgres.hba-password']),
  hbaFault('postgres-hba-md5', 'host all all 10.233.0.0/16 md5', 'pg_hba takes md5 password logins from the container network instead of scram-sha-256 (+ reload)', ['postgres.hba-password']),
  hbaFault('postgres-hba-trust', 'host all all 10.233.0.0/16 trust', 'pg_hba trusts every TCP connection from the container network (+ reload)', ['postgres.hba-host-trust']),
  hbaFault('postgres-hba-local-trust', 'local all all trust', 'pg_hba trusts every local (socket) user as any role (+ reload)', ['postgres.hba-local-trust']),
  {
    name: 'postgres-hba-trust-unloaded',
    area: 'postgres',
    breaks: 'a trust line for the container network is loaded (pg_hba.conf + reload), then the file is put back without a reload: the server still trusts every TCP login from 10.233.0.0/16 while the file reads clean',
    catches: ['postgres.hba-host-trust'],
    needs: 'full',
    // The file goes back a second later (its mtime, second-grained, then follows the load time).
    apply: (ctx) => inPg(ctx, `cp -p ${DATA}/pg_hba.conf ${DATA}/pg_hba.conf.leafcert-fault && { echo 'host all all 10.233.0.0/16 trust'; cat ${DATA}/pg_hba.conf.leafcert-fault; } > ${DATA}/pg_hba.conf && ${asPg('SELECT pg_reload_conf()')} >/dev/null && sleep 1.2 && cat ${DATA}/pg_hba.conf.leafcert-fault > ${DATA}/pg_hba.conf`),
    heal: (ctx) => inPg(ctx, `if [ -f ${DATA}/pg_hba.conf.leafcert-fault ]; then cat ${DATA}/pg_hba.conf.leafcert-fault > ${DATA}/pg_hba.conf && rm ${DATA}/pg_hba.conf.leafcert-fault; fi; sleep 1.2; ${asPg('SELECT pg_reload_conf()')}`),
  },
  {
    name: 'postgres-listen-all',
    area: 'postgres',
    breaks: "PostgreSQL listens on every address (listen_addresses = '*', restarted)",
    catches: ['postgres.listen-addresses'],
    needs: 'full',
    apply: (ctx) => inPg(ctx, `${asPg(`ALTER SYSTEM SET listen_addresses = '*'`)} && ${restartPg}`),
    heal: (ctx) => inPg(ctx, `${asPg('ALTER SYSTEM RESET listen_addresses')} && ${restartPg}`),
  },
];
