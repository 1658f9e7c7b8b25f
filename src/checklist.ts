// The deployment guide's production checklist, item by item. Which checks evidence an item is not
// kept here: each check names its items where it is defined (defineChecks' `checklist`, the same
// field every result carries), and `checks` below reads them from the registry (src/core/checks.ts),
// so the map cannot drift from what reports say. The registry holds the checks of the suites
// imported so far: the engine, scripts/gen-checklist.js and the tests load them all (src/suites.ts);
// this module must not import them (suites/checklist.ts imports it). docs/checklist.md is generated
// from this file (scripts/gen-checklist.js). Items no command can settle (documentation, runbooks)
// are `manual`: the report says what a person must confirm, and never counts them as passed.
import { allChecks, checkDef } from './core/checks.js';

export interface ChecklistItem {
  id: string;
  /** The guide's wording, shortened. */
  title: string;
  /** What "done" means for a leaf node, and how leafcert judges it. */
  description: string;
  /** Check ids that evidence this item: the registered checks that name it, in registration order. */
  readonly checks: string[];
  /** For items (or parts) that need a person: what they must confirm. */
  manual?: string[];
}

type ItemText = Omit<ChecklistItem, 'checks'>;

const ITEMS: ItemText[] = [
  {
    id: 'secrets',
    title: 'Secrets configured and protected',
    description:
      'Secret files exist with the declared mode/owner, hold real values (no @PLACEHOLDER@, changeme, empty), and no secret sits where others can read it (Nix store, unit Environment=, /proc/*/environ, store htpasswd); no trust authentication in PostgreSQL; no CA private key on the node.',
  },
  {
    id: 'tls',
    title: 'TLS certificates valid',
    description:
      'Every public endpoint completes a TLS handshake from outside with a chain to the expected CA, names in the SAN, not expired or not-yet-valid by both clocks, enough days left, TLS 1.2+ only and a strong key; nothing is DNATed past nginx.',
  },
  {
    id: 'tls-renewal',
    title: 'TLS auto-renewal configured',
    description:
      "ACME certificates: the acme renewal timers exist and ran recently (systemctl list-timers 'acme*'). Self-managed certificates: days left against the renewal window (renewBeforeDays); nothing renews them, so a runbook must. The served certificate's days left (tls.min-days-left) shows a renewal that did not happen.",
  },
  {
    id: 'monitoring',
    title: 'Monitoring and alerting active',
    description:
      'Prometheus answers, every scrape target is up (down ones named with their error), the expected alert rules are loaded, Grafana is healthy where expected, and the public health endpoints answer as declared (port 80 redirecting to https).',
  },
  {
    id: 'backups',
    title: 'Backup procedures tested',
    description:
      'The NixOS borg job exists (borgbackup-job-NAME.service/.timer, not the guide\'s borgbackup-NAME), its newest archive is recent and holds every backed-up path, the repository passes borg check (with backup.checkEvery at most once per window: inside it the check is skipped, naming the last clean check this harness remembers), and files restored from the newest archive equal the live ones. With --allow-mutating: a canary file and a PostgreSQL dump go through a full backup/restore round trip, leaving nothing behind.',
  },
  {
    id: 'resource-limits',
    title: 'Resource limits set',
    description:
      'Containers and services have the declared memory/CPU limits in their unit (declared) and in the cgroup files of their processes (enforced); the limits fit the node; a slice with limits is actually used; the guide\'s Performance Tuning runs as declared (boot.kernel.sysctl in each network namespace that keeps it, units\' LimitNOFILE in systemd and in the running process).',
  },
  {
    id: 'hardening',
    title: 'Security hardening applied',
    description:
      'Containers have their own namespaces (user namespace where declared), no CAP_SYS_ADMIN and no_new_privs; PostgreSQL runs the declared settings with no pending restart and no trust lines; AppArmor is on with policies loaded; sshd takes keys only, with strong algorithms and tight limits (sshd -T); network and kernel parameters as the DevSec linux-baseline asks; no world-writable or unexpected setuid files in the system\'s directories (docs/hardening.md).',
  },
  {
    id: 'network-policies',
    title: 'Network policies configured',
    description:
      "The NixOS firewall is on with a default drop, allows exactly the declared ports (checked from outside too) with no drift; containers cannot reach host-only or other containers' private ports; inner firewalls allow what is declared; services listen only where declared.",
  },
  {
    id: 'audit-logging',
    title: 'Audit logging enabled',
    description:
      'Kernel audit is on (auditctl -s), rules are loaded (auditctl -l is not "No rules"), the NixOS rule loader (audit-rules-nixos.service / audit.service) succeeded, and auditd runs where expected. Skipped, never passed, where the platform cannot show it (containers, emulated nodes).',
  },
  {
    id: 'documentation',
    title: 'Documentation updated',
    description: 'Cannot be settled by a command: reported as manual with what a person must confirm. Containers found that the expectation does not name are flagged as undocumented.',
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
    manual: [
      'A restore runbook exists and was exercised: `borg-job-NAME list`, then `cd $(mktemp -d) && borg-job-NAME extract ::ARCHIVE PATH`, then the PostgreSQL restore; leafcert run --allow-mutating on a pre-production node is a record of that.',
      'Runbooks exist for: certificate renewal (or its failure), a container that does not start, PostgreSQL out of disk/connections, a Prometheus alert firing, and rotating each secret.',
      'Each runbook names its owner and was reviewed within the organisation\'s review period.',
    ],
  },
];

/** The items, each with the checks that name it (read from the registry when asked). */
export const CHECKLIST: ChecklistItem[] = ITEMS.map((item) => ({
  ...item,
  get checks(): string[] {
    return allChecks().filter((c) => c.checklist.includes(item.id)).map((c) => c.id);
  },
}));

export const CHECKLIST_IDS = CHECKLIST.map((i) => i.id);

/** Items a check id evidences: its definition's `checklist` (none for an unknown id). */
export function itemsForCheck(checkId: string): string[] {
  return [...(checkDef(checkId)?.checklist ?? [])];
}

export function checklistItem(id: string): ChecklistItem | undefined {
  return CHECKLIST.find((i) => i.id === id);
}

/** docs/checklist.md, generated: one section per item, its checks, and what a person confirms. */
export function renderChecklistMarkdown(): string {
  const lines = [
    '# Production checklist → leafcert checks',
    '',
    '<!-- Generated from src/checklist.ts and the checks\' definitions (their `checklist`) by scripts/gen-checklist.js; test/checklist.test.ts fails when this file is stale. -->',
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
