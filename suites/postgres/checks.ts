// The postgres suite's checks, defined once (in the order of its results).
import { defineChecks } from '../../src/core/checks.js';

export const CHECKS = defineChecks('postgres', {
  running: {
    title: 'Declared PostgreSQL is running',
    severity: 'high',
    checklist: ['hardening'],
    description: 'The declared server answers psql on its unix socket (as the postgres OS user, inside its container when it runs in one). No postgres process and no server on the socket (socket missing or connection refused) fails: the database is down, and every other postgres check is skipped pointing here. A server that refuses psql otherwise, a timeout or garbled output is an error.',
    fix: 'Start PostgreSQL (systemctl start postgresql, inside the container if it runs in one) and find why it stopped: journalctl -u postgresql.',
  },
  setting: {
    title: 'Effective setting as declared',
    severity: 'medium',
    checklist: ['hardening'],
    description: 'The value PostgreSQL runs with (pg_settings, after unit normalisation: 2GB = 262144 × 8kB) equals the declared one, and no per-database or per-role default (ALTER DATABASE/ROLE … SET, pg_db_role_setting) gives sessions another value; the message names the file or the ALTER that set it.',
    fix: 'Set the value in services.postgresql.settings.<name> and redeploy; remove ALTER SYSTEM overrides (postgresql.auto.conf) that shadow it.',
  },
  'pending-restart': {
    title: 'No setting waits for a restart or a reload',
    severity: 'medium',
    checklist: ['hardening'],
    description: 'What is configured is what runs: no setting in pg_settings has pending_restart, and the configuration files as PostgreSQL reads them now (pg_file_settings: postgresql.conf, postgresql.auto.conf, includes; the last entry of each name) hold no value that differs from the running one after unit normalisation, none that cannot be applied without a restart, none that is invalid, and no setting the running server took from a file is gone from the files (ALTER SYSTEM SET/RESET without a reload). Each is named with its file.',
    fix: 'Reload PostgreSQL (systemctl reload postgresql, or SELECT pg_reload_conf()) for reloadable settings, restart it in a maintenance window for the others; remove ALTER SYSTEM overrides (ALTER SYSTEM RESET …) that differ from services.postgresql.settings.',
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
  'hba-password': {
    title: 'No cleartext or md5 passwords on TCP lines',
    severity: 'high',
    checklist: ['hardening', 'secrets'],
    description: 'No host/hostnossl/hostnogssenc line of pg_hba_file_rules uses a method whose client sends the password in cleartext (password, and ldap, radius, pam, bsd, which pass it on as typed): on such a line it crosses the network unencrypted unless the client happens to use SSL (hostssl and hostgssenc lines are encrypted and pass). md5 on a TCP line that is not loopback (127.0.0.0/8, ::1, localhost, samehost) fails with severity medium: an md5 hash stolen from pg_authid logs in as the password itself, and md5 lets a role keep or fall back from scram-sha-256 (NixOS\'s own default lines use md5 on loopback only). Unparseable lines and a file changed after the last load are reported as for the trust checks.',
    fix: 'Use scram-sha-256 (or cert) on TCP lines in services.postgresql.authentication, or hostssl for a method that needs the password as typed; re-set md5 passwords with password_encryption = scram-sha-256.',
  },
  'listen-addresses': {
    title: 'Listens where declared',
    severity: 'medium',
    checklist: ['network-policies'],
    description: 'listen_addresses equals the declared set of addresses; listening on * or 0.0.0.0 is reported as high.',
    fix: "Set services.postgresql.settings.listen_addresses (or services.postgresql.enableTCPIP) to the declared addresses.",
  },
});

export type PgCheckDef = (typeof CHECKS)[keyof typeof CHECKS];
