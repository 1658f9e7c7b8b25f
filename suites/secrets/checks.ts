// The secrets suite's checks, defined once (in the order of its results).
import { defineChecks } from '../../src/core/checks.js';

// In the order of the suite's results (and of today's checkIds).
export const CHECKS = defineChecks('secrets', {
  'file-permissions': {
    title: 'Secret file exists with its mode and owner',
    severity: 'high',
    checklist: ['secrets'],
    description: 'Each declared secret file exists, is a regular file with the declared mode, owner and group, has no POSIX ACL (whose named users and groups may read it whatever the mode shows), and is never readable or writable by others (critical when it is).',
    fix: 'Create the file with its mode and owner (systemd.tmpfiles.rules, or the secret manager that writes it: sops-nix/agenix `mode`, `owner`, `group`); never leave o+r.',
  },
  placeholder: {
    title: 'Secret values are real',
    severity: 'high',
    checklist: ['secrets'],
    description: 'No value of a declared or discovered secret file is empty, an @NAME@ substitution, your_*_here, changeme or another placeholder, an unexpanded template (${X}, $X, {{ x }}, __X__, %X%, REPLACE-ME), nor a well-known weak value (secret, password, admin, test, 123456, one repeated character: a known credential); values are read and classified on the node, only fingerprints leave it. An unreadable file is an error.',
    fix: 'Write the real value into the secret file (or the secret manager that deploys it): a random one (openssl rand -hex 32) where the value is yours to choose; make sure the deployment step that fills templates runs; restart the service that reads it.',
  },
  exposure: {
    title: 'Secret values not readable elsewhere',
    severity: 'critical',
    checklist: ['secrets'],
    description: "No value of a declared or discovered secret file appears in a world-readable file under the scan roots (default /etc, /var/lib, /var/www, /srv, /home, /root, /run, /tmp, /var/tmp; directories others cannot enter are skipped; files of 2 MiB or more are named, not searched), a store file a unit references, a log under /var/log readable by non-root users (each up to 64 MiB; compressed logs are named, not read), the journal where systemd runs (newest 100000 messages), a core dump (up to 256 MiB), a process's command line (/proc/PID/cmdline, readable by every user), a unit's Environment or another process's environment (except declared consumers, and a unit's own EnvironmentFile values in that unit's processes); unreadable unit environments, journal or core dumps make it an error. Values shorter than 12 characters or well-known (see secrets.placeholder) are not searched, and said so: they turn up by chance in unrelated files; of an env file found by its name only the secret-named keys are searched.",
    fix: 'Pass secrets by file (systemd.services.<name>.serviceConfig.EnvironmentFile or LoadCredential), never as a command-line argument, never through environment, serviceConfig.Environment or a Nix string that lands in /nix/store; never log them (services.journald.extraConfig, the service\'s log level), keep core dumps off (systemd.coredump.extraConfig = "Storage=none") and remove the logs or dumps that hold them; rotate a value that leaked.',
  },
  htpasswd: {
    title: 'htpasswd files hold no plain or world-readable passwords',
    severity: 'high',
    checklist: ['secrets'],
    description: 'htpasswd files (named so, or named by auth_basic_user_file) hold hashed entries only, are not world-readable and are not in /nix/store.',
    fix: 'Use services.nginx.virtualHosts.<name>.basicAuthFile with a file of hashed entries (htpasswd -B) outside the store, mode 0640; not basicAuth (it lands in the store).',
  },
  'ca-key': {
    title: 'No CA private key on the node',
    severity: 'critical',
    checklist: ['secrets', 'tls'],
    description: 'No private key under the key paths belongs to a CA: its public key matches no CA:TRUE certificate (on the node or in caCerts) and it is not named like a CA key; without openssl to compare, found keys make it an error.',
    fix: 'Keep the CA key offline: remove it from the node and deploy only the issued certificate and its own key (services.nginx.virtualHosts.<name>.sslCertificate / sslCertificateKey).',
  },
  'discovered-permissions': {
    title: 'Secret files the services use are readable only by them',
    severity: 'high',
    checklist: ['secrets'],
    description: "The secret files found on the node without being listed — nginx's ssl_certificate_key, sshd's host keys, ACME keys, borg passphrase and key files, units' EnvironmentFile and LoadCredential sources, agenix and sops outputs, and files under the scan roots named like secrets (*.env, .env, *secret*, *passphrase*, *credentials*, in a secret(s) directory) that others can read — have no bits for others (critical when they do), group bits only for root's group or the using service's group (not judged for a file found by its name), and the owner root or the service's user. A file declared under `files` is judged there instead (declare it to allow another group).",
    fix: 'Let the module that deploys the file set its mode: nginx keys root:nginx 0640 (security.acme.certs.<name>.group = "nginx" for ACME, or the file behind services.nginx.virtualHosts.<name>.sslCertificateKey), services.openssh.hostKeys (0600 root), the file behind services.borgbackup.jobs.<job>.encryption.passCommand 0600 root, sources of systemd.services.<name>.serviceConfig.EnvironmentFile / LoadCredential 0600 root, age.secrets.<name>.mode / sops.secrets.<name>.mode "0400" with owner and group; never o+r.',
  },
});
