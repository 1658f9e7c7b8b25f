// The config checks issue 9 added (the deployment as its guide writes it): defined here so
// suites/config.ts stays short; suites/config.ts registers them after its own, in this order.
import type { CheckSpec } from '../../src/core/checks.js';

export const GATE_CHECKS = {
  hsts: {
    title: 'HTTPS virtual hosts send Strict-Transport-Security',
    severity: 'medium',
    checklist: ['tls', 'hardening'],
    description: 'Every forceSSL/onlySSL virtual host sends Strict-Transport-Security on every location (nginx drops server-level add_header in a location that sets its own).',
    fix: 'Add `add_header Strict-Transport-Security "max-age=63072000; includeSubDomains" always;` to services.nginx.virtualHosts.<name>.extraConfig (and to locations with their own add_header).',
  },
  'vhost-serves': {
    title: 'TLS virtual hosts proxy or serve something',
    severity: 'high',
    checklist: ['tls'],
    description: 'Every TLS virtual host has a location with proxyPass, root, alias or return, or a root/globalRedirect: otherwise it answers with nginx\'s default page.',
    fix: 'Set services.nginx.virtualHosts.<name>.locations."/".proxyPass to the service (container address and port), or root.',
  },
  'secret-reach': {
    title: 'Secret files units in containers read exist there',
    severity: 'high',
    checklist: ['secrets'],
    description: 'Every EnvironmentFile and LoadCredential of a unit inside a container names a file that exists in the container (a bindMount, a credential given to it, or declared inside it), not a host path.',
    fix: 'Give the container the file as a credential: "--load-credential=NAME:/run/agenix/NAME" in containers.<c>.extraFlags and LoadCredential = [ "NAME" ] on the unit (or a bindMount).',
  },
  'secret-owner': {
    title: 'Owners and groups that secrets name are declared',
    severity: 'high',
    checklist: ['secrets'],
    description: 'Every user and group named by age.secrets/sops.secrets, environment.etc and systemd.tmpfiles is declared in users.users/users.groups of the same system.',
    fix: 'Declare users.groups.<name> (and add the service users to it), or name an existing user/group in the secret.',
  },
  'backup-db-dump': {
    title: 'PostgreSQL is dumped before it is backed up',
    severity: 'high',
    checklist: ['backups'],
    description: 'Where PostgreSQL runs, services.postgresqlBackup is enabled (or a borg preHook runs pg_dump): a copy of a live data directory is not a consistent backup.',
    fix: 'Set services.postgresqlBackup.enable = true in the system that runs PostgreSQL and include its location in the borg paths.',
  },
  'backup-offsite': {
    title: 'Backups leave the machine',
    severity: 'high',
    checklist: ['backups'],
    description: 'Every borg job writes to a repository on another machine (ssh://…), not a local path on the node it protects.',
    fix: 'Set services.borgbackup.jobs.<name>.repo = "ssh://user@backup-host/./repo".',
  },
  'backup-encryption': {
    title: 'Backups are encrypted',
    severity: 'high',
    checklist: ['backups', 'secrets'],
    description: 'Every borg job sets encryption.mode to an encrypting mode (repokey/keyfile, not none or authenticated*); NixOS has no default for it.',
    fix: 'Set services.borgbackup.jobs.<name>.encryption.mode = "repokey-blake2" with encryption.passCommand reading a root-only file.',
  },
  'state-version': {
    title: 'The host and every container set system.stateVersion',
    severity: 'medium',
    checklist: ['hardening'],
    description: 'system.stateVersion is set explicitly on the host and inside every container, so a NixOS upgrade does not silently change state defaults (database versions, data paths).',
    fix: 'Set system.stateVersion (and containers.<name>.config.system.stateVersion) to the release first deployed.',
  },
  'container-limits': {
    title: 'Every container unit has resource limits',
    severity: 'high',
    checklist: ['resource-limits'],
    description: 'systemd.services."container@NAME" (or the slice it runs in) sets MemoryMax/CPUQuota; limits on units inside a container leave the rest of it unlimited.',
    fix: 'Set systemd.services."container@NAME".serviceConfig.MemoryMax and CPUQuota.',
  },
  'container-port-reach': {
    title: 'Ports the deployment connects to are open in the containers\' firewalls',
    severity: 'high',
    checklist: ['network-policies'],
    description: 'Every port of a container that nginx proxies to, Prometheus scrapes or another unit connects to (URLs in its environment) is open in that container\'s own firewall.',
    fix: 'Add the port to containers.<name>.config.networking.firewall.allowedTCPPorts.',
  },
  'trusted-bridge': {
    title: 'No container interface is a trusted interface',
    severity: 'high',
    checklist: ['network-policies', 'hardening'],
    description: 'networking.firewall.trustedInterfaces holds no bridge or veth the containers sit on: otherwise root in a container reaches every host port.',
    fix: 'Remove the bridge from networking.firewall.trustedInterfaces; open single ports with networking.firewall.interfaces.<bridge>.allowedTCPPorts.',
  },
  'alert-rules': {
    title: 'Monitoring has alert rules and an Alertmanager',
    severity: 'medium',
    checklist: ['monitoring'],
    description: 'Every enabled Prometheus has alert rules (rules or ruleFiles) and alertmanagers to send them to.',
    fix: 'Add services.prometheus.rules (or ruleFiles) and services.prometheus.alertmanagers.',
  },
  'cert-names': {
    title: 'Shared ACME certificates name the virtual hosts served with them',
    severity: 'high',
    checklist: ['tls'],
    description: 'A TLS virtual host with useACMEHost = "X" is served with security.acme.certs.X as declared: X must exist (declared, or a virtual host X with enableACME) and its domain/extraDomainNames must cover the host\'s serverName and serverAliases (wildcards cover one label).',
    fix: 'Add the missing names to security.acme.certs.<X>.extraDomainNames (or the serverAliases of the enableACME host X), or set enableACME = true on the virtual host itself.',
  },
  evaluates: {
    title: 'The configuration evaluates',
    severity: 'critical',
    checklist: ['documentation'],
    description: 'No module assertion fails and no option NixOS uses is left without a value (borg encryption.mode, a TLS certificate, Grafana\'s secret_key): nixos-rebuild would reject the configuration.',
    fix: 'Give the option named a value (or fix what the assertion says).',
  },
} satisfies Record<string, CheckSpec>;
