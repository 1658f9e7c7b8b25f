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
import { fromManifest as backupFromManifest } from '../../suites/backup.js';
import { fromManifest as configFromManifest } from '../../suites/config.js';
import { fromManifest as secretsFromManifest } from '../../suites/secrets.js';
import { fromManifest as auditFromManifest } from '../../suites/audit.js';

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

const expand = (ranges: { from: number; to: number }[]) => ranges.filter((r) => r.to - r.from < 64).flatMap((r) => Array.from({ length: r.to - r.from + 1 }, (_, i) => r.from + i));
const uniqSorted = (xs: number[]) => [...new Set(xs)].sort((a, b) => a - b);

function limitSpec(sc: Record<string, Value | undefined>): Record<string, string | number> | undefined {
  const out: Record<string, string | number> = {};
  if (typeof sc.MemoryMax === 'string' || typeof sc.MemoryMax === 'number') out.memoryMax = String(sc.MemoryMax);
  if (typeof sc.MemoryHigh === 'string' || typeof sc.MemoryHigh === 'number') out.memoryHigh = String(sc.MemoryHigh);
  if (typeof sc.CPUQuota === 'string') out.cpuQuota = sc.CPUQuota;
  if (typeof sc.TasksMax === 'number') out.tasksMax = sc.TasksMax;
  else if (sc.TasksMax === 'infinity') out.tasksMax = 'infinity';
  return Object.keys(out).length ? out : undefined;
}
const LIMIT_OPTION: Record<string, string> = { memoryMax: 'MemoryMax', memoryHigh: 'MemoryHigh', cpuQuota: 'CPUQuota', tasksMax: 'TasksMax' };

/** The container runs in its own user namespace (the isolation suite's privateUsers: anything but "no"/0). */
function userns(c: Container): boolean {
  const flag = [...c.extraFlags].reverse().find((f) => /^--private-users(=|$)/.test(f));
  if (flag) {
    const v = flag.split('=')[1] ?? 'yes';
    return v !== 'no' && v !== '0' && v !== 'false';
  }
  return c.privateUsers !== 'no' && c.privateUsers !== 0;
}

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
    if (has('containers')) {
      exp.containers = Object.fromEntries(m.containers.map((c) => {
        const e: Record<string, unknown> = { privateNetwork: c.privateNetwork };
        cite(['containers', c.name, 'privateNetwork'], optionPath(c.path, 'privateNetwork'));
        const u = userns(c);
        e.privateUsers = u;
        cite(['containers', c.name, 'privateUsers'], optionPath(c.path, 'privateUsers'));
        const dropped = c.extraFlags.flatMap((f) => /^--drop-capability=(.*)$/.exec(f)?.[1].split(',') ?? []).filter((x) => x.toLowerCase() !== 'all');
        if (u) {
          // Under a user namespace CAP_SYS_ADMIN stays in the bounding set but is namespace-local.
          e.dropCapabilities = [...new Set(['CAP_SYS_MODULE', ...dropped])];
          cite(['containers', c.name, 'dropCapabilities'], `${optionPath(c.path, 'privateUsers')} (CAP_SYS_ADMIN is namespace-local)`);
        } else if (dropped.length) {
          e.dropCapabilities = [...new Set(['CAP_SYS_ADMIN', 'CAP_SYS_MODULE', ...dropped])];
          cite(['containers', c.name, 'dropCapabilities'], optionPath(c.path, 'extraFlags'));
        }
        const ports = uniqSorted([...c.config.firewall.allowedTCPPorts, ...expand(c.config.firewall.allowedTCPPortRanges)]);
        e.ports = ports;
        cite(['containers', c.name, 'ports'], optionPath(c.config.firewall.path, 'allowedTCPPorts'));
        if (c.privateNetwork && c.config.firewall.enable) {
          e.innerFirewall = true;
          cite(['containers', c.name, 'innerFirewall'], optionPath(c.config.firewall.path, 'enable'));
        }
        return [c.name, e];
      }));
    } else notes.push(`containers: ${m.containers.length} container(s) declared, but the isolation suite is not in this build`);
  }

  // limits: container@NAME units, host units and slices with limits.
  if (has('limits')) {
    const l: Record<string, unknown> = {};
    const containers: Record<string, unknown> = {};
    for (const c of m.containers) {
      const s = limitSpec(c.unit.serviceConfig);
      if (!s) continue;
      containers[c.name] = s;
      for (const k of Object.keys(s)) cite(['limits', 'containers', c.name, k], optionPath(c.unit.path, 'serviceConfig', LIMIT_OPTION[k]));
    }
    if (Object.keys(containers).length) l.containers = containers;
    const services: Record<string, unknown> = {};
    for (const u of host.units.filter((x) => !x.name.startsWith('container@'))) {
      const s = limitSpec(u.serviceConfig);
      if (!s) continue;
      services[`${u.name}.service`] = s;
      for (const k of Object.keys(s)) cite(['limits', 'services', `${u.name}.service`, k], optionPath(u.path, 'serviceConfig', LIMIT_OPTION[k]));
    }
    if (Object.keys(services).length) l.services = services;
    const slices: Record<string, unknown> = {};
    for (const s of host.slices) {
      const spec = limitSpec(s.sliceConfig as Record<string, Value>);
      if (!spec) continue;
      slices[`${s.name}.slice`] = spec;
      for (const k of Object.keys(spec)) cite(['limits', 'slices', `${s.name}.slice`, k], optionPath(s.path, 'sliceConfig', LIMIT_OPTION[k]));
    }
    if (Object.keys(slices).length) l.slices = slices;
    const innerLimited = m.containers.flatMap((c) => c.config.units.filter((u) => limitSpec(u.serviceConfig)).map((u) => `${c.name}/${u.name}`));
    if (innerLimited.length) notes.push(`limits: units inside containers with limits are not emitted (the limits suite checks host units): ${innerLimited.join(', ')}`);
    if (Object.keys(l).length) exp.limits = l;
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
  if (has('checklist') && tlsHosts.length) {
    const acme = tlsHosts.filter((v) => v.enableACME || v.useACMEHost);
    const files = tlsHosts.filter((v) => !v.enableACME && !v.useACMEHost && v.sslCertificate?.startsWith('/'));
    const renewal: Record<string, unknown> = {};
    if (acme.length) {
      renewal.acme = { certs: [...new Set(acme.map((v) => v.useACMEHost ?? v.serverName ?? v.name))] };
      cite(['checklist', 'renewal', 'acme'], acme.map((v) => optionPath(v.path, v.useACMEHost ? 'useACMEHost' : 'enableACME')).join(', '));
    }
    const certs = [...new Set(files.map((v) => v.sslCertificate!))];
    if (certs.length) {
      // 30 days: the usual renewal window (ACME renews 30 days before expiry).
      renewal.certs = certs.map((path) => ({ path, renewBeforeDays: 30 }));
      certs.forEach((c, i) => cite(['checklist', 'renewal', 'certs', i, 'path'], optionPath(files.find((v) => v.sslCertificate === c)!.path, 'sslCertificate')));
    }
    if (Object.keys(renewal).length) exp.checklist = { renewal };
  }

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
