// The backup suite's checks, defined once (in the order of its results).
import { defineChecks } from '../../src/core/checks.js';

export const CHECKS = defineChecks('backup', {
  units: {
    title: 'Backup job unit and timer exist',
    severity: 'high',
    checklist: ['backups'],
    description: 'borgbackup-job-NAME.service (and its .timer unless startAt = []) is loaded, the timer is active and enabled (UnitFileState enabled, as NixOS\'s wantedBy = [ "timers.target" ] shows it; disabled, linked or anything else does not start at the next boot) and the last run succeeded; the deployment guide\'s borgbackup-NAME does not exist on NixOS and the message says so. Skipped where PID 1 is not systemd.',
    fix: 'Declare services.borgbackup.jobs.<job> with a startAt schedule and redeploy; look at `journalctl -u borgbackup-job-<job>` for why the last run failed.',
  },
  'archive-age': {
    title: 'Newest archive is recent',
    severity: 'high',
    checklist: ['backups'],
    description: 'The newest archive that is neither *.failed nor a leafcert canary is younger than maxAge, judged by the node\'s own clock (borg prints node-local times). A job that cannot use its repository fails here, naming the cause: the wrapper borg-job-NAME not installed, the repository missing or not a borg repository, the passphrase command failing or its passphrase wrong (the checks that need the listing are then skipped, pointing here); a held lock (maybe a running backup), a timeout or garbled output is an error.',
    fix: 'Make the job run on schedule (services.borgbackup.jobs.<job>.startAt) and succeed; check the repository is reachable with the job\'s passphrase (services.borgbackup.jobs.<job>.encryption.passCommand).',
  },
  'archive-paths': {
    title: 'Newest archive holds every backed-up path',
    severity: 'high',
    checklist: ['backups'],
    description: 'Every expected path has entries in the newest archive (one borg list pass through awk on the node counts them).',
    fix: 'List the path in services.borgbackup.jobs.<job>.paths, and check services.borgbackup.jobs.<job>.exclude does not drop it.',
  },
  'repo-check': {
    title: 'Repository passes borg check',
    severity: 'critical',
    checklist: ['backups'],
    description: '`borg check --repository-only` through the job wrapper finds no problems; "errors found" is a fail, a held lock or a timeout an error (a job that cannot use its repository fails backup.archive-age, and this check is skipped pointing there). With backup.checkEvery (e.g. 24h) it runs at most once per window per node and repository: the harness remembers the last clean check in its state directory (--state-dir, never on the node), and a run inside the window is skipped naming that check, its age and when the next is due.',
    fix: 'Repair or re-create the repository (`borg check --repair` after a copy of it), and find what damaged it (disk, quota, concurrent writers).',
  },
  'restore-sample': {
    title: 'Files restored from the newest archive equal the live files',
    severity: 'high',
    checklist: ['backups'],
    description: 'A sample of small files extracted from the newest archive into RAM-backed scratch has the sha256 of the live files; files changed since the archive are excluded and listed.',
    fix: 'Find why the archive differs (a job that no longer runs, stale paths, a repository restored from elsewhere) and run the job (services.borgbackup.jobs.<job>) again.',
  },
  'canary-roundtrip': {
    title: 'A canary file goes through backup and restore',
    severity: 'high',
    checklist: ['backups'],
    description: 'With --allow-mutating: a random canary file in a backed-up path goes into an archive made through the job\'s wrapper, is extracted with the same sha256, and canary and archive are removed.',
    fix: 'Make `borg-job-<job> create` work (repository space and quota, passphrase, services.borgbackup.jobs.<job>.paths), then rerun with --allow-mutating.',
  },
  'pg-roundtrip': {
    title: 'A PostgreSQL dump restores to the same data',
    severity: 'high',
    checklist: ['backups'],
    description: 'With --allow-mutating: a scratch database of 1000 rows is dumped with pg_dump -Fc and restored with pg_restore into another, with the same row count and checksum; both are dropped.',
    fix: 'Use pg_dump/pg_restore of the server\'s own version (services.postgresql.package) and let the postgres user create databases; then rerun with --allow-mutating.',
  },
  encryption: {
    title: 'Repository is encrypted, in the declared mode',
    severity: 'high',
    checklist: ['backups', 'secrets'],
    description: 'The encryption mode borg reports for the job\'s repository (`list --json`: encryption.mode, no extra borg call) is neither none nor authenticated* (those do not encrypt), and equals backup.encryption when the expectation declares it (plan: services.borgbackup.jobs.<job>.encryption.mode): a job re-pointed at, or re-initialised as, another repository is caught.',
    fix: 'Back up to a repository initialised with the declared mode: services.borgbackup.jobs.<job>.encryption.mode = "repokey-blake2" with encryption.passCommand; an existing unencrypted repository cannot be converted, create a new one (borg init -e repokey-blake2) and move the job to it.',
  },
  'off-node': {
    title: 'Repository is on another machine',
    severity: 'high',
    checklist: ['backups'],
    description: 'When the expectation declares offNode: true (plan: services.borgbackup.jobs.<job>.repo is remote), the location borg reports for the repository (`list --json`: repository.location) is remote (ssh://…) and not this node\'s loopback; a local path fails. offNode: false (a declared on-node repository, which config.backup-offsite flags) or no offNode: skipped.',
    fix: 'Point services.borgbackup.jobs.<job>.repo at a repository on another machine (ssh://user@backup-host/./repo; services.borgbackup.repos on that machine), append-only there.',
  },
});
