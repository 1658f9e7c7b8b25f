// The deployment guide's production checklist, item by item, and the checks that evidence each.
// Reports tag every result with its items (Outcome.checklist); docs/checklist.md is generated from
// this file (scripts/gen-checklist.js) and a test keeps the two, and every suite's checkIds, in step.
// Items no command can settle (documentation, runbooks) are `manual`: the report says what a
// person must confirm, and never counts them as passed.

export interface ChecklistItem {
  id: string;
  /** The guide's wording, shortened. */
  title: string;
  /** What "done" means for a leaf node, and how leafcert judges it. */
  description: string;
  /** Check ids that evidence this item. */
  checks: string[];
  /** For items (or parts) that need a person: what they must confirm. */
  manual?: string[];
}

export const CHECKLIST: ChecklistItem[] = [
  {
    id: 'secrets',
    title: 'Secrets configured and protected',
    description:
      'Secret files exist with the declared mode/owner, hold real values (no @PLACEHOLDER@, changeme, empty), and no secret sits where others can read it (Nix store, unit Environment=, /proc/*/environ, store htpasswd); no trust authentication in PostgreSQL; no CA private key on the node.',
    checks: [
      'secrets.file-permissions',
      'secrets.placeholder',
      'secrets.exposure',
      'secrets.htpasswd',
      'secrets.ca-key',
      'postgres.hba-host-trust',
      'postgres.hba-local-trust',
      'config.secret-in-store',
      'config.placeholder',
      'config.pg-trust',
    ],
  },
  {
    id: 'tls',
    title: 'TLS certificates valid',
    description:
      'Every public endpoint completes a TLS handshake from outside with a chain to the expected CA, names in the SAN, not expired or not-yet-valid by both clocks, enough days left, TLS 1.2+ only and a strong key; nothing is DNATed past nginx.',
    checks: [
      'tls.handshake',
      'tls.chain',
      'tls.hostname',
      'tls.not-expired',
      'tls.not-yet-valid',
      'tls.min-days-left',
      'tls.min-protocol',
      'tls.key-strength',
      'secrets.ca-key',
      'config.dnat-bypass',
    ],
  },
  {
    id: 'tls-renewal',
    title: 'TLS auto-renewal configured',
    description:
      "ACME certificates: the acme renewal timers exist and ran recently (systemctl list-timers 'acme*'). Self-managed certificates: days left against the renewal window (renewBeforeDays); nothing renews them, so a runbook must. The served certificate's days left (tls.min-days-left) shows a renewal that did not happen.",
    checks: ['checklist.tls-renewal', 'tls.min-days-left'],
  },
  {
    id: 'monitoring',
    title: 'Monitoring and alerting active',
    description:
      'Prometheus answers, every scrape target is up (down ones named with their error), the expected alert rules are loaded, Grafana is healthy where expected, and the public health endpoints answer as declared (port 80 redirecting to https).',
    checks: [
      'monitoring.prometheus-ready',
      'monitoring.targets-up',
      'monitoring.rules-loaded',
      'monitoring.grafana-health',
      'health.status',
      'health.json',
      'health.latency',
      'health.redirect',
    ],
  },
  {
    id: 'backups',
    title: 'Backup procedures tested',
    description:
      'The NixOS borg job exists (borgbackup-job-NAME.service/.timer, not the guide\'s borgbackup-NAME), its newest archive is recent and holds every backed-up path, the repository passes borg check, and files restored from the newest archive equal the live ones. With --allow-mutating: a canary file and a PostgreSQL dump go through a full backup/restore round trip, leaving nothing behind.',
    checks: [
      'backup.units',
      'backup.archive-age',
      'backup.archive-paths',
      'backup.repo-check',
      'backup.restore-sample',
      'backup.canary-roundtrip',
      'backup.pg-roundtrip',
      'config.backup-declared',
      'config.backup-paths',
    ],
  },
  {
    id: 'resource-limits',
    title: 'Resource limits set',
    description:
      'Containers and services have the declared memory/CPU limits in their unit (declared) and in the cgroup files of their processes (enforced); the limits fit the node; a slice with limits is actually used.',
    checks: ['limits.declared', 'limits.enforced', 'limits.memory-budget', 'limits.slice-used', 'config.unused-slice'],
  },
  {
    id: 'hardening',
    title: 'Security hardening applied',
    description:
      'Containers have their own namespaces (user namespace where declared), no CAP_SYS_ADMIN and no_new_privs; PostgreSQL runs the declared settings with no pending restart and no trust lines; AppArmor is on with policies loaded.',
    checks: [
      'isolation.container-present',
      'isolation.namespaces',
      'isolation.user-namespace',
      'isolation.capabilities',
      'isolation.no-new-privs',
      'isolation.unexpected-container',
      'postgres.setting',
      'postgres.pending-restart',
      'postgres.hba-host-trust',
      'postgres.hba-local-trust',
      'audit.apparmor',
      'config.container-private-users',
      'config.container-cap-sys-admin',
      'config.pg-trust',
      'config.apparmor-policies',
    ],
  },
  {
    id: 'network-policies',
    title: 'Network policies configured',
    description:
      "The NixOS firewall is on with a default drop, allows exactly the declared ports (checked from outside too) with no drift; containers cannot reach host-only or other containers' private ports; inner firewalls allow what is declared; services listen only where declared.",
    checks: [
      'firewall.enabled',
      'firewall.default-drop',
      'firewall.allowed-ports',
      'firewall.drift',
      'firewall.port-open',
      'firewall.port-closed',
      'isolation.namespaces',
      'isolation.reachability',
      'isolation.inner-firewall',
      'postgres.listen-addresses',
      'config.wildcard-bind',
      'config.dnat-bypass',
      'config.port-unserved',
      'config.unused-bridge',
    ],
  },
  {
    id: 'audit-logging',
    title: 'Audit logging enabled',
    description:
      'Kernel audit is on (auditctl -s), rules are loaded (auditctl -l is not "No rules"), the NixOS rule loader (audit-rules-nixos.service / audit.service) succeeded, and auditd runs where expected. Skipped, never passed, where the platform cannot show it (containers, emulated nodes).',
    checks: ['audit.enabled', 'audit.rules', 'audit.rules-unit', 'audit.auditd', 'config.audit-rules'],
  },
  {
    id: 'documentation',
    title: 'Documentation updated',
    description: 'Cannot be settled by a command: reported as manual with what a person must confirm. Containers found that the expectation does not name are flagged as undocumented.',
    checks: ['checklist.documentation', 'isolation.unexpected-container'],
    manual: [
      'The node\'s inventory entry and NixOS configuration are the ones in version control, and docs describe its containers, ports and data paths as deployed.',
      'The deployment guide\'s commands work on this node: `systemctl start borgbackup-job-NAME` (not `borgbackup-NAME`), restores `cd` into an empty directory first, no `nixos-container show-info`/`show-config`/`update`/`destroy` for declarative containers, `journalctl _TRANSPORT=audit` (not `-u audit`) for audit events, no `curl -k`.',
      'Secrets are documented by name and location only (never by value), with who may rotate them.',
    ],
  },
  {
    id: 'runbooks',
    title: 'Runbooks prepared',
    description: 'Cannot be settled by a command: reported as manual with what a person must confirm.',
    checks: ['checklist.runbooks'],
    manual: [
      'A restore runbook exists and was exercised: `borg-job-NAME list`, then `cd $(mktemp -d) && borg-job-NAME extract ::ARCHIVE PATH`, then the PostgreSQL restore; leafcert run --allow-mutating on a pre-production node is a record of that.',
      'Runbooks exist for: certificate renewal (or its failure), a container that does not start, PostgreSQL out of disk/connections, a Prometheus alert firing, and rotating each secret.',
      'Each runbook names its owner and was reviewed within the organisation\'s review period.',
    ],
  },
];

export const CHECKLIST_IDS = CHECKLIST.map((i) => i.id);

/** Items a check id evidences (via the map). */
export function itemsForCheck(checkId: string): string[] {
  return CHECKLIST.filter((i) => i.checks.includes(checkId)).map((i) => i.id);
}

export function checklistItem(id: string): ChecklistItem | undefined {
  return CHECKLIST.find((i) => i.id === id);
}

/** docs/checklist.md, generated: one section per item, its checks, and what a person confirms. */
export function renderChecklistMarkdown(): string {
  const lines = [
    '# Production checklist → leafcert checks',
    '',
    '<!-- Generated from src/checklist.ts by scripts/gen-checklist.js; test/checklist.test.ts fails when this file is stale. -->',
    '',
    "Every item of the deployment guide's production checklist and the checks that evidence it. Each",
    'result in the JUnit, TAP and JSON reports carries the items it evidences (Outcome.checklist). Items',
    'that no command can settle are reported as `manual` with what a person must confirm, never as passes.',
    'Mutating checks (backup round trips) run only with `--allow-mutating`; without it they are `skipped`.',
    '',
    '| item | title | checks |',
    '|---|---|---|',
    ...CHECKLIST.map((i) => `| \`${i.id}\` | ${i.title} | ${i.checks.length} |`),
    '',
  ];
  for (const i of CHECKLIST) {
    lines.push(`## \`${i.id}\` — ${i.title}`, '', i.description, '', ...i.checks.map((c) => `- \`${c}\``), '');
    if (i.manual?.length) lines.push('A person must confirm:', '', ...i.manual.map((m) => `- [ ] ${m}`), '');
  }
  return lines.join('\n');
}
