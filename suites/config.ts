// config: static policy checks on the node's declared NixOS configuration (a manifest from
// nix/lib/manifest.nix): secrets in the store, placeholders, pg trust, wildcard binds, DNAT past
// nginx, container privileges, unused slices and bridges, misplaced backup paths, ports nothing
// serves. No command runs on the node: the manifest probe (src/probes/manifest.ts) reads the file
// on the harness side; the judges live in suites/config/*.ts. `leafcert check-config` runs this
// suite through the engine, on a manifest alone.
import { relative, resolve } from 'node:path';
import type { Outcome, Suite, SuiteContext } from '../src/core/types.js';
import { defineChecks, outcome, type CheckDef } from '../src/core/checks.js';
import type { Cite, Manifest } from '../src/core/manifest.js';
import { gatherManifest, readManifestFacts, type ManifestFacts } from '../src/probes/manifest.js';
import type { Finding } from './config/finding.js';
import { placeholderFindings, secretFindings } from './config/secrets.js';
import { bridgeFindings, dnatFindings, dnatRules, portFindings, wildcardFindings } from './config/network.js';
import { containerFindings, sliceFindings } from './config/containers.js';
import { GATE_CHECKS } from './config/defs.js';
import { hstsFindings, secretOwnerFindings, secretReachFindings, vhostServesFindings } from './config/web-secrets.js';
import { alertRuleFindings, containerLimitFindings, dbDumpFindings, encryptionFindings, evaluationFindings, offsiteFindings, portReachFindings, stateVersionFindings, trustedBridgeFindings } from './config/deploy.js';
import { certNameFindings, tlsProtocolFindings } from './config/certs.js';
import { apparmorFindings, auditFindings, backupDeclaredFindings, backupFindings, hbaMethod, pgFindings } from './config/data.js';

export { dnatRules, hbaMethod, readManifestFacts };

export interface ConfigExpect {
  /** Manifest JSON (`nix eval --json … --apply`, docs/nix.md); relative to the inventory file. */
  manifest: string;
}

export type ConfigFacts = ManifestFacts;

// In the order of the suite's results (and of the former CONFIG_CHECK_IDS).
const CHECKS = defineChecks('config', {
  'secret-in-store': {
    title: 'No secret in a world-readable place (Nix store, unit environment)',
    severity: 'critical',
    checklist: ['secrets'],
    description: 'No secret value is written into the world-readable Nix store or a unit environment: /etc texts, unit environment/Environment, nginx basicAuth, borg passphrase, redis and Grafana settings, TLS keys or htpasswd files given as Nix paths. Values are fingerprinted, never echoed.',
    fix: 'Deliver the secret at run time from a root-only file (agenix/sops-nix, /run/secrets) and point the service at it: serviceConfig.EnvironmentFile or LoadCredential, basicAuthFile, encryption.passCommand, requirePassFile, "$__file{…}" for Grafana.',
  },
  placeholder: {
    title: 'No unsubstituted placeholder values',
    severity: 'high',
    checklist: ['secrets'],
    description: 'No value in the configuration still holds a placeholder (@NAME@, your_…_here, CHANGEME): nothing substitutes them, so the literal placeholder would be the credential.',
    fix: 'Replace the placeholder at the option path named with a value read from a file at run time.',
  },
  'pg-trust': {
    title: 'PostgreSQL authentication has no trust lines',
    severity: 'critical',
    checklist: ['secrets', 'hardening'],
    description: 'services.postgresql.authentication (on the host and in every container) has no trust line, which lets any local user connect as any role without a password.',
    fix: 'Use peer for local sockets and scram-sha-256 for host lines in services.postgresql.authentication.',
  },
  'wildcard-bind': {
    title: 'Internal services are not bound to every address',
    severity: 'high',
    checklist: ['network-policies'],
    description: "No service other than the host's nginx and sshd listens on 0.0.0.0, :: or * (Grafana http_addr, Prometheus/exporter listenAddress, PostgreSQL, redis bind, *_HOST in a unit's environment).",
    fix: "Bind the service to 127.0.0.1 (or the container's localAddress) at the option path named and reach it through nginx.",
  },
  'dnat-bypass': {
    title: 'No port is DNATed past nginx (firewall extraCommands, published data stores)',
    severity: 'critical',
    checklist: ['network-policies', 'tls'],
    description: "networking.firewall.extraCommands DNATs or REDIRECTs no port, and no container forwardPorts or networking.nat.forwardPorts publishes a data store, broker or dashboard (PostgreSQL, Redis, NATS, Qdrant, Prometheus, Grafana…): such a DNAT happens before the host firewall and lets clients reach the service past nginx's TLS, rate limits and auth.",
    fix: 'Remove the rule from networking.firewall.extraCommands and serve the service through a services.nginx.virtualHosts location with proxyPass; for deliberate exposure use networking.nat.forwardPorts.',
  },
  'container-private-users': {
    title: 'Containers run in a user namespace',
    severity: 'high',
    checklist: ['hardening'],
    description: 'Every container has its own user namespace (privateUsers = "pick" or a UID base, or a --private-users flag), so root in the container is not uid 0 on the host.',
    fix: 'Set containers.<name>.privateUsers = "pick" (with idmapped bind mounts for host files it must read).',
  },
  'container-cap-sys-admin': {
    title: 'Containers do not hold host CAP_SYS_ADMIN',
    severity: 'high',
    checklist: ['hardening'],
    description: "No container keeps CAP_SYS_ADMIN in the host's user namespace: it runs in a user namespace or drops the capability, and additionalCapabilities does not add it back.",
    fix: 'Set containers.<name>.privateUsers = "pick", or add "--drop-capability=CAP_SYS_ADMIN" to containers.<name>.extraFlags.',
  },
  'unused-slice': {
    title: 'Slices with limits are used by some unit',
    severity: 'medium',
    checklist: ['resource-limits'],
    description: 'Every systemd.slices.<name> that sets limits holds at least one unit; limits on an empty slice are never enforced.',
    fix: 'Set systemd.services."container@NAME".serviceConfig.Slice = lib.mkForce "<slice>.slice" for the units it should hold, or put the limits on the units and drop the slice.',
  },
  'backup-declared': {
    title: 'A backup job is declared',
    severity: 'high',
    checklist: ['backups'],
    description: 'At least one services.borgbackup.jobs.<name> is declared: the checklist requires backups, and a services.postgresqlBackup dump on the same disk is not one.',
    fix: 'Declare services.borgbackup.jobs.<name> for the containers\' state and the database dumps, with an off-node repository.',
  },
  'backup-paths': {
    title: 'Backup paths reach the data where it lives',
    severity: 'high',
    checklist: ['backups'],
    description: 'No host borg job backs up host paths whose data actually lives inside a container (under /var/lib/nixos-containers/<name>/…).',
    fix: 'Point services.borgbackup.jobs.<name>.paths at /var/lib/nixos-containers/<container>/… and back up a database dump (services.postgresqlBackup) rather than the live data directory.',
  },
  'port-unserved': {
    title: 'Every port the host firewall opens is served by a declared service',
    severity: 'medium',
    checklist: ['network-policies'],
    description: 'Every TCP port networking.firewall opens is served by a declared host service, NAT forward or container forwardPorts; the firewall itself is enabled.',
    fix: 'Remove the port from networking.firewall.allowedTCPPorts (or the interface/range that opens it), or declare the service that should answer there.',
  },
  'unused-bridge': {
    title: 'Every declared bridge is used',
    severity: 'low',
    checklist: ['network-policies'],
    description: 'Every networking.bridges.<name> has interfaces or a container that sets hostBridge to it.',
    fix: 'Set containers.<name>.hostBridge on the containers meant to be on the bridge, or remove networking.bridges.<name> and what refers to it.',
  },
  'audit-rules': {
    title: 'Audit is enabled with rules and auditd',
    severity: 'medium',
    checklist: ['audit-logging'],
    description: 'security.audit is enabled with at least one rule, and security.auditd is enabled so events reach /var/log/audit.',
    fix: 'Set security.audit.enable = true with security.audit.rules (-w rules for secrets, execve of privileged tools) and security.auditd.enable = true.',
  },
  'apparmor-policies': {
    title: 'AppArmor, when enabled, loads policies',
    severity: 'medium',
    checklist: ['hardening'],
    description: 'When security.apparmor.enable is true, security.apparmor.policies is not empty: AppArmor with no policy confines nothing.',
    fix: 'Add security.apparmor.policies for the exposed services, or do not claim AppArmor.',
  },
  ...GATE_CHECKS,
});

const CONFIG_CHECK_IDS = Object.values(CHECKS).map((c) => c.id);

export const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['manifest'],
  properties: {
    manifest: { type: 'string', minLength: 1, description: 'Manifest JSON produced by nix/lib/manifest.nix; relative to the inventory.' },
  },
};

function toOutcome(def: CheckDef, f: Finding, source: string): Outcome {
  const evidence = { expected: f.expected, observed: f.observed, source, excerpt: f.excerpt, optionPath: f.optionPath || undefined };
  // A copy of the checklist per outcome, as before the registry.
  return outcome(def, f.subject, f.skipped ? 'skipped' : f.pass ? 'pass' : 'fail', f.message, evidence, { checklist: [...def.checklist] });
}

/** Every config check on a manifest; `source` names the manifest file for the evidence. */
export function evaluateManifest(m: Manifest, source: string): Outcome[] {
  const out: Outcome[] = [];
  // When a check finds nothing to judge: `clean` (it scanned and found nothing wrong: a pass) or
  // `none` (nothing of the kind is declared: skipped with the reason, never a pass).
  type WhenEmpty = { clean: string } | { none: string; path: string };
  const add = (def: CheckDef, findings: Finding[], whenEmpty?: WhenEmpty) => {
    if (!findings.length) {
      if (!whenEmpty) throw new Error(`${def.id}: no finding and no verdict for an empty manifest section`);
      findings = ['clean' in whenEmpty
        ? { subject: 'manifest', pass: true, optionPath: '', message: whenEmpty.clean }
        : { subject: 'manifest', pass: false, skipped: true, optionPath: whenEmpty.path, message: `not applicable: ${whenEmpty.none}` }];
    }
    for (const f of findings) out.push(toOutcome(def, f, source));
  };
  add(CHECKS['secret-in-store'], secretFindings(m), { clean: 'no secret found in /etc texts, unit environments, nginx basicAuth, borg, redis or grafana settings' });
  add(CHECKS.placeholder, placeholderFindings(m), { clean: 'no placeholder values (@NAME@, your_…_here, CHANGEME)' });
  add(CHECKS['pg-trust'], pgFindings(m), { none: 'no PostgreSQL is enabled on the host or in any container', path: 'services.postgresql' });
  add(CHECKS['wildcard-bind'], wildcardFindings(m), { none: 'no internal service declares a listen address', path: '' });
  add(CHECKS['dnat-bypass'], dnatFindings(m));
  const { users, caps } = containerFindings(m);
  add(CHECKS['container-private-users'], users, { none: 'no containers declared', path: 'containers' });
  add(CHECKS['container-cap-sys-admin'], caps, { none: 'no containers declared', path: 'containers' });
  add(CHECKS['unused-slice'], sliceFindings(m));
  add(CHECKS['backup-declared'], backupDeclaredFindings(m));
  add(CHECKS['backup-paths'], backupFindings(m), { none: 'no borg job declared on the host, so no backup paths to judge (config.backup-declared fails for it)', path: 'services.borgbackup.jobs' });
  add(CHECKS['port-unserved'], portFindings(m));
  add(CHECKS['unused-bridge'], bridgeFindings(m));
  add(CHECKS['audit-rules'], auditFindings(m));
  add(CHECKS['apparmor-policies'], apparmorFindings(m));
  const none = (what: string, path: string) => ({ none: what, path });
  add(CHECKS.hsts, hstsFindings(m), none('no TLS virtual host (forceSSL, onlySSL, addSSL)', 'services.nginx.virtualHosts'));
  add(CHECKS['vhost-serves'], vhostServesFindings(m), none('no TLS virtual host', 'services.nginx.virtualHosts'));
  add(CHECKS['secret-reach'], secretReachFindings(m), none('no unit inside a container reads an EnvironmentFile or credential', 'containers'));
  add(CHECKS['secret-owner'], secretOwnerFindings(m), none('no secret names a user or group (or the manifest lists no users)', 'users'));
  add(CHECKS['backup-db-dump'], dbDumpFindings(m), none('no PostgreSQL is enabled', 'services.postgresql'));
  add(CHECKS['backup-offsite'], offsiteFindings(m), none('no borg job declared (config.backup-declared fails for it)', 'services.borgbackup.jobs'));
  add(CHECKS['backup-encryption'], encryptionFindings(m), none('no borg job declared (config.backup-declared fails for it)', 'services.borgbackup.jobs'));
  add(CHECKS['state-version'], stateVersionFindings(m));
  add(CHECKS['container-limits'], containerLimitFindings(m), none('no containers declared', 'containers'));
  add(CHECKS['container-port-reach'], portReachFindings(m), none('nothing declared connects to a container port', 'containers'));
  add(CHECKS['trusted-bridge'], trustedBridgeFindings(m), { clean: 'no bridge or veth the containers use is a trusted interface' });
  add(CHECKS['alert-rules'], alertRuleFindings(m), none('no Prometheus is enabled', 'services.prometheus'));
  add(CHECKS['cert-names'], certNameFindings(m), none('no TLS virtual host uses an ACME certificate', 'services.nginx.virtualHosts'));
  add(CHECKS['tls-protocols'], tlsProtocolFindings(m), none('no TLS virtual host', 'services.nginx.virtualHosts'));
  add(CHECKS.evaluates, evaluationFindings(m));
  return out;
}

/**
 * plan: the config expectation points at the manifest itself (relative to the inventory being
 * written), so `run` applies these checks too; the checks cite option paths in their evidence.
 */
export function fromManifest(_m: Manifest, cite: Cite, opts: { manifestFile?: string; outDir?: string } = {}): ConfigExpect | undefined {
  if (opts.manifestFile === undefined) return undefined;
  const e = { manifest: relative(opts.outDir ?? resolve('.'), resolve(opts.manifestFile)) || opts.manifestFile };
  cite(['config', 'manifest'], 'the whole manifest: static policy checks cite option paths in their evidence');
  return e;
}

export const configSuite: Suite<ConfigExpect, ConfigFacts> = {
  name: 'config',
  key: 'config',
  schema,
  async gather(ctx: SuiteContext, expect: ConfigExpect): Promise<ConfigFacts> {
    return gatherManifest(ctx.options.baseDir, expect);
  },
  evaluate(facts: ConfigFacts): Outcome[] {
    return evaluateManifest(facts.manifest, `manifest ${facts.file}`);
  },
  checkIds: CONFIG_CHECK_IDS,
  checks: Object.values(CHECKS),
  fromManifest,
};
