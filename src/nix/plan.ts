// `leafcert plan --from-nix`: a manifest becomes inventory expectations, so nothing is written
// twice. Each emitted value cites the NixOS option path it came from, as a YAML comment next to it
// and in the returned `optionPaths` map (inventory location → option path). The `config`
// expectation points at the manifest, so `run` also applies the static policy checks.
import { dirname, relative, resolve } from 'node:path';
import { Document, isMap, isScalar, isSeq, type Node } from 'yaml';
import { optionPath, type Container, type Manifest, type NodeSection, type Value } from './manifest.js';
import { fromManifest as healthFromManifest } from '../../suites/health.js';
import { fromManifest as firewallFromManifest } from '../../suites/firewall.js';
import { fromManifest as tlsFromManifest } from '../../suites/tls.js';
import { declaredPostgres, fromManifest as postgresFromManifest } from '../../suites/postgres.js';
import { declaredPrometheus, fromManifest as monitoringFromManifest } from '../../suites/monitoring.js';
import { fromManifest as isolationFromManifest } from '../../suites/isolation.js';
import { fromManifest as limitsFromManifest, innerLimitedUnits } from '../../suites/limits.js';
import { fromManifest as backupFromManifest } from '../../suites/backup.js';
import { fromManifest as configFromManifest } from '../../suites/config.js';
import { fromManifest as secretsFromManifest } from '../../suites/secrets.js';
import { fromManifest as auditFromManifest } from '../../suites/audit.js';
import { fromManifest as checklistFromManifest } from '../../suites/checklist.js';

export interface PlanNode { name: string; host: string }

export interface PlanOptions {
  /** Manifest file, as given (its path is written relative to the inventory). */
  manifestFile: string;
  /** Where the inventory will be written (for relative paths); default: the current directory. */
  outFile?: string;
  nodes?: PlanNode[];
  /** Name of the expectation set; default the manifest's hostName or "leaf". */
  expect?: string;
  /** PEM CA the tls suite trusts (relative to the inventory); default "ca.pem". */
  ca?: string;
  ssh?: { user?: string; identityFile?: string; knownHosts?: string };
  /** Suite keys known to this build (others are not emitted, and reported in `skipped`). */
  suiteKeys: string[];
}

export interface Plan {
  inventory: Record<string, unknown>;
  /** "expectations.leaf.firewall.open" → "networking.firewall.allowedTCPPorts". */
  optionPaths: Record<string, string>;
  /** Things the manifest declares that no registered suite can check yet, one line each. */
  notes: string[];
  yaml: string;
}

type Seg = string | number;

export function planInventory(m: Manifest, opts: PlanOptions): Plan {
  const outDir = dirname(resolve(opts.outFile ?? 'inventory.yaml'));
  const name = opts.expect ?? m.host.networking.hostName ?? 'leaf';
  const nodes = opts.nodes?.length ? opts.nodes : [{ name: m.host.networking.hostName ?? 'leaf', host: m.host.networking.hostName ?? 'leaf' }];
  const has = (k: string) => opts.suiteKeys.includes(k);
  const paths: [Seg[], string][] = [];
  const notes: string[] = [];
  const cite = (segs: Seg[], path: string) => paths.push([['expectations', name, ...segs], path]);
  const exp: Record<string, unknown> = {};
  const host = m.host;

  // firewall: the host's declared allowances; closed = every port something inside declares.
  if (has('firewall')) exp.firewall = firewallFromManifest(m, cite);

  // tls: every vhost that serves HTTPS.
  const tlsHosts = host.nginx.enable ? host.nginx.virtualHosts.filter((v) => v.forceSSL || v.onlySSL || v.addSSL) : [];
  const tls = has('tls') ? tlsFromManifest(m, cite, { ca: opts.ca }) : undefined;
  if (tls) {
    exp.tls = tls;
    if (!opts.ca) notes.push('tls: no --ca given; the expectations trust "ca.pem" next to the inventory');
  } else if (!has('tls') && tlsHosts.length) notes.push(`tls: ${tlsHosts.length} HTTPS virtual host(s) declared, but the tls suite is not in this build`);

  // health: what nginx itself declares — forceSSL answers plain HTTP with a redirect to https.
  const health = has('health') ? healthFromManifest(m, cite) : undefined;
  if (health) {
    exp.health = health;
    notes.push('health: only the forceSSL redirects are derived; add the application health URLs (e.g. https://api…/health with json: { status: ok })');
  }

  // containers (isolation suite).
  if (m.containers.length) {
    if (has('containers')) exp.containers = isolationFromManifest(m, cite);
    else notes.push(`containers: ${m.containers.length} container(s) declared, but the isolation suite is not in this build`);
  }

  // limits: container@NAME units, host units and slices with limits.
  if (has('limits')) {
    const l = limitsFromManifest(m, cite);
    const innerLimited = innerLimitedUnits(m);
    if (innerLimited.length) notes.push(`limits: units inside containers with limits are not emitted (the limits suite checks host units): ${innerLimited.join(', ')}`);
    if (l) exp.limits = l;
  }

  // postgres: the first PostgreSQL declared (host, then containers); pgs is read by backup too.
  const pgs = declaredPostgres(m);
  const postgres = has('postgres') ? postgresFromManifest(m, cite) : undefined;
  if (postgres) {
    exp.postgres = postgres;
    const where = pgs[0].where;
    if (pgs.length > 1) notes.push(`postgres: ${pgs.length} PostgreSQL servers declared; the postgres suite takes one, so only ${where ? `container ${where.name}` : 'the host'}'s is emitted`);
  }

  // backup: the first borg job of the host.
  const backup = has('backup') ? backupFromManifest(m, cite) : undefined;
  if (backup) {
    exp.backup = backup;
    if (host.borg.length > 1) notes.push(`backup: ${host.borg.length} borg jobs declared; only ${backup.job} is emitted (the backup suite takes one job)`);
  }

  // monitoring: Prometheus (and Grafana) where they are declared.
  const monitoring = has('monitoring') ? monitoringFromManifest(m, cite) : undefined;
  if (monitoring) {
    exp.monitoring = monitoring;
    const { where, prom } = declaredPrometheus(m)!;
    if (where && (prom.address === '127.0.0.1' || prom.address === 'localhost')) {
      notes.push(`monitoring: Prometheus listens on ${prom.address} inside container ${where.name}; the monitoring suite must reach it from the node (it does so through the container's address unless address is set)`);
    }
  }

  // secrets: the host files the configuration reads secrets from (they must not be world-readable).
  const secrets = has('secrets') ? secretsFromManifest(m, cite) : undefined;
  if (secrets) exp.secrets = secrets;

  // audit: what security.audit / auditd / apparmor declare.
  if (has('audit')) exp.audit = auditFromManifest(m, cite);

  // checklist (tls-renewal): ACME vhosts' renewal timers; self-managed certificates' days left.
  const checklist = has('checklist') ? checklistFromManifest(m, cite) : undefined;
  if (checklist) exp.checklist = checklist;

  for (const key of ['health', 'secrets', 'audit', 'limits', 'postgres', 'backup', 'monitoring']) {
    if (!has(key)) notes.push(`${key}: the ${key} suite is not in this build; no ${key} expectations emitted`);
  }

  // config: the manifest itself, so `run` applies the static policy checks too.
  const config = has('config') ? configFromManifest(m, cite, { manifestFile: opts.manifestFile, outDir }) : undefined;
  if (config) exp.config = config;

  const inventory: Record<string, unknown> = {
    version: 1,
    ...(opts.ssh && Object.values(opts.ssh).some((v) => v !== undefined)
      ? { defaults: { ssh: Object.fromEntries(Object.entries(opts.ssh).filter(([, v]) => v !== undefined)) } }
      : {}),
    nodes: nodes.map((n) => ({ name: n.name, host: n.host, expect: name })),
    expectations: { [name]: exp },
  };

  const doc = new Document(inventory);
  doc.commentBefore =
    ` Generated by \`leafcert plan --from-nix ${opts.manifestFile}\` (${m.generator}, manifest version ${m.version}).\n` +
    ' Each value cites the NixOS option it came from. Regenerate instead of editing; put exceptions in `waivers`.';
  const optionPaths: Record<string, string> = {};
  for (const [segs, path] of paths) {
    annotate(doc, segs, ` ${path}`);
    optionPaths[segs.map(String).join('.')] = path;
  }
  // The same map in the inventory itself, so `run` can cite each expectation's option path in the
  // evidence of the checks it drives (comments are lost to a YAML parser).
  inventory.optionPaths = optionPaths;
  doc.set('optionPaths', doc.createNode(optionPaths));
  const yaml = doc.toString({ lineWidth: 0 });
  return { inventory, optionPaths, notes, yaml: yaml.endsWith('\n') ? yaml : yaml + '\n' };
}

/** A trailing comment on a scalar, or a comment line above the key of a collection. */
function annotate(doc: Document, segs: Seg[], text: string): void {
  const parent = doc.getIn(segs.slice(0, -1), true) as Node | undefined;
  const last = segs[segs.length - 1];
  if (isMap(parent)) {
    const pair = parent.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === last);
    if (!pair) return;
    if (isScalar(pair.value)) pair.value.comment = text;
    else if (isScalar(pair.key)) pair.key.commentBefore = text;
  } else if (isSeq(parent)) {
    const item = parent.items[Number(last)] as Node | undefined;
    if (!item) return;
    if (isScalar(item)) item.comment = text;
    else item.commentBefore = text;
  }
}
