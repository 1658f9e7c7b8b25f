// `leafcert plan --from-nix`: a manifest becomes inventory expectations, so nothing is written
// twice. Each emitted value cites the NixOS option path it came from, as a YAML comment next to it
// and in the returned `optionPaths` map (inventory location → option path). Each suite plans its
// own expectation (its `fromManifest`); this module loops over them in the inventory's order and
// says what it could not emit. The `config` expectation points at the manifest, so `run` also
// applies the static policy checks.
import { dirname, resolve } from 'node:path';
import { Document, isMap, isScalar, isSeq, type Node } from 'yaml';
import type { Manifest } from './manifest.js';
import type { Suite } from '../core/types.js';
import { suites } from '../suites.js';
import { declaredPostgres } from '../../suites/postgres.js';
import { declaredPrometheus } from '../../suites/monitoring.js';
import { innerLimitedUnits } from '../../suites/limits.js';
import { shellCommands } from '../../suites/config/shell.js';
import { optionPath } from '../core/manifest.js';
import { LIMIT_OPTION, manifestLimits } from '../probes/limits.js';

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
  /** What ACME virtual hosts are trusted against (public roots); default the system bundle. */
  acmeCa?: string;
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

/**
 * The order planned expectations have always been written in (the YAML and its option-path map
 * follow it, so a different order would change every planned inventory); src/suites.ts orders reports.
 */
const PLAN_ORDER = ['firewall', 'tls', 'health', 'containers', 'limits', 'postgres', 'backup', 'monitoring', 'secrets', 'audit', 'checklist', 'config', 'hardening', 'tuning'];

/** Suites whose absence from this build is noted after the planned ones (tls and containers say so in place). */
const NOTED_IF_ABSENT = ['health', 'secrets', 'audit', 'limits', 'postgres', 'backup', 'monitoring'];

const tlsHostCount = (m: Manifest) => (m.host.nginx.enable ? m.host.nginx.virtualHosts.filter((v) => v.forceSSL || v.onlySSL || v.addSSL).length : 0);

/** What plan says besides a suite's expectation (stderr notes): `e` is what it emitted, if anything. */
function notesFor(key: string, m: Manifest, e: any, opts: PlanOptions): string[] {
  switch (key) {
    case 'tls':
      return e && !opts.ca && e.some((t: { ca: string }) => t.ca === 'ca.pem') ? ['tls: no --ca given; the expectations of self-managed certificates trust "ca.pem" next to the inventory'] : [];
    case 'health':
      return e ? ['health: only the forceSSL redirects are derived; add the application health URLs (e.g. https://api…/health with json: { status: ok })'] : [];
    case 'limits': {
      // Emitted as containerServices when the limits suite is there; said here otherwise.
      const inner = innerLimitedUnits(m);
      return inner.length && !e?.containerServices ? [`limits: units inside containers with limits are not emitted: ${inner.join(', ')}`] : [];
    }
    case 'postgres': {
      const pgs = declaredPostgres(m);
      const where = pgs[0]?.where;
      return e && pgs.length > 1 ? [`postgres: ${pgs.length} PostgreSQL servers declared; the postgres suite takes one, so only ${where ? `container ${where.name}` : 'the host'}'s is emitted`] : [];
    }
    case 'backup':
      return e && m.host.borg.length > 1 ? [`backup: ${m.host.borg.length} borg jobs declared; only ${e.job} is emitted (the backup suite takes one job)`] : [];
    case 'monitoring': {
      const d = e ? declaredPrometheus(m) : undefined;
      return d?.where && (d.prom.address === '127.0.0.1' || d.prom.address === 'localhost')
        ? [`monitoring: Prometheus listens on ${d.prom.address} inside container ${d.where.name}; the monitoring suite must reach it from the node (it does so through the container's address unless address is set)`]
        : [];
    }
    default:
      return [];
  }
}

/** Said in place of a suite this build lacks, where the manifest declares what it would check. */
function absentNote(key: string, m: Manifest): string[] {
  if (key === 'tls' && tlsHostCount(m)) return [`tls: ${tlsHostCount(m)} HTTPS virtual host(s) declared, but the tls suite is not in this build`];
  if (key === 'containers' && m.containers.length) return [`containers: ${m.containers.length} container(s) declared, but the isolation suite is not in this build`];
  return [];
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

  // Each suite plans its own expectation from the manifest (its fromManifest), citing option paths.
  const bySuiteKey = new Map<string, Suite<any, any>>(suites.map((s) => [s.key, s]));
  const from = { ca: opts.ca, manifestFile: opts.manifestFile, outDir };
  for (const key of PLAN_ORDER) {
    const suite = bySuiteKey.get(key);
    if (!has(key) || !suite?.fromManifest) {
      notes.push(...absentNote(key, m));
      continue;
    }
    let e = suite.fromManifest(m, cite, from);
    if (key === 'firewall' && e) {
      rulesAsRun(e, m, name, paths);
      forwardedNotClosed(e, m, name, paths);
    }
    if (key === 'secrets') e = withContainerSecrets(e, m, cite);
    if (key === 'tls' && e) acmeTrust(e, m, name, paths, opts.acmeCa ?? ACME_CA);
    if (key === 'limits') e = withContainerServices(e, m, cite);
    if (key === 'monitoring' && e) alertRulesByName(e, m, name, paths);
    if (e !== undefined) exp[key] = e;
    notes.push(...notesFor(key, m, e, opts));
  }
  for (const key of NOTED_IF_ABSENT) {
    if (!has(key)) notes.push(`${key}: the ${key} suite is not in this build; no ${key} expectations emitted`);
  }

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

const IPTABLES = /^(?:\S*\/)?(?:iptables|ip6tables|ip46tables)(?:-nft|-legacy)?$/;

/**
 * The rules extraCommands adds when the firewall runs it (continued lines joined, functions run
 * where called, teardown and chain creation left out): firewall.extraRules never holds shell syntax.
 */
export function extraRuleCommands(extraCommands: string): string[] {
  return shellCommands(extraCommands)
    .map((c) => c.replace(/\s+\d?>\s*\S+/g, '').replace(/\s+/g, ' ').trim())
    .filter((c) => IPTABLES.test(c.split(/\s+/)[0]) && /\s(-A|-I|--append|--insert)\s/.test(` ${c} `));
}

function rulesAsRun(e: any, m: Manifest, name: string, paths: [Seg[], string][]): void {
  if (!e.extraRules) return;
  const rules = extraRuleCommands(m.host.firewall.extraCommands);
  if (rules.length) e.extraRules = rules;
  else {
    delete e.extraRules;
    const i = paths.findIndex(([s]) => s.join('.') === ['expectations', name, 'firewall', 'extraRules'].join('.'));
    if (i >= 0) paths.splice(i, 1);
  }
}

/** Ports the host forwards (networking.nat.forwardPorts, containers' forwardPorts) answer from
 * outside through DNAT: they are never expected closed, whatever the container declares. */
function forwardedNotClosed(e: any, m: Manifest, name: string, paths: [Seg[], string][]): void {
  if (!e.closed) return;
  const fwd = new Set<number>();
  const add = (v: unknown) => {
    const [a, b] = String(v ?? '').split(/[-:]/).map(Number);
    if (a) for (let p = a; p <= (b && b >= a && b - a < 1024 ? b : a); p++) fwd.add(p);
  };
  if (m.host.networking.nat.enable) for (const f of m.host.networking.nat.forwardPorts) if (String(f.proto ?? 'tcp') === 'tcp') add(f.sourcePort);
  for (const c of m.containers) if (c.privateNetwork) for (const f of c.forwardPorts) if (String(f.protocol ?? 'tcp') === 'tcp') add(f.hostPort);
  e.closed = e.closed.filter((p: number) => !fwd.has(p));
  if (e.closed.length) return;
  delete e.closed;
  const i = paths.findIndex(([segs]) => segs.join('.') === ['expectations', name, 'firewall', 'closed'].join('.'));
  if (i >= 0) paths.splice(i, 1);
}

/**
 * Secret files of units inside containers, as the host sees them: the source of the bind mount
 * or credential that brings them in, else the file under the container's root; with the mode,
 * owner and group age.secrets/sops.secrets declare for that file.
 */
function withContainerSecrets(e: any, m: Manifest, cite: (at: Seg[], path: string) => void): any {
  const files: any[] = e?.files ? [...e.files] : [];
  const start = files.length;
  const from: string[] = [];
  const idOf = (s: string) => (/^\d+$/.test(s) ? (s === '0' ? 'root' : undefined) : s);
  for (const c of m.containers) {
    // hostPath null binds the same path (nixos-containers: --bind=MOUNTPOINT).
    const binds: { src: string; dst: string }[] = c.bindMounts.map((b) => ({ src: b.hostPath ?? b.mountPoint, dst: b.mountPoint }));
    const creds = new Map<string, string>();
    for (const f of c.extraFlags) {
      const b = /^--bind(?:-ro)?=([^:]+)(?::([^:]+))?/.exec(f);
      if (b) binds.push({ src: b[1], dst: b[2] ?? b[1] });
      const cr = /^--load-credential=([^:]+):(\/.+)$/.exec(f);
      if (cr) creds.set(cr[1], cr[2]);
    }
    const onHost = (p: string) => {
      // The container's system credentials (/run/credentials/@system/NAME) come from --load-credential.
      const sys = /^\/run\/credentials\/@system\/([^/]+)$/.exec(p);
      if (sys) return creds.get(sys[1]) ?? '';
      if (p.startsWith('/run/credentials/')) return '';
      const b = binds.find((x) => p === x.dst || p.startsWith(x.dst.replace(/\/?$/, '/')));
      return b ? b.src + p.slice(b.dst.length) : `${m.system.containerStateDirectory}/${c.name}${p}`;
    };
    for (const u of c.config.units) {
      const list = (v: unknown) => ([] as unknown[]).concat(v ?? []).map(String).flatMap((s) => s.split(/\s+/)).filter(Boolean);
      const reads = [
        ...list(u.serviceConfig.EnvironmentFile).map((f) => ({ host: f.startsWith('/') || f.startsWith('-/') ? onHost(f.replace(/^-/, '')) : '', format: 'env', key: 'EnvironmentFile' })),
        ...list(u.serviceConfig.LoadCredential).map((x) => {
          const [id, ...rest] = x.split(':');
          const p = rest.join(':');
          // ID:NAME (a relative path) loads the credential NAME the container itself was given.
          return { host: p.startsWith('/') ? onHost(p) : /[/%]/.test(p) ? '' : creds.get(p || id) ?? '', format: 'raw', key: 'LoadCredential' };
        }),
      ];
      for (const r of reads) {
        if (!r.host || r.host.includes('%') || r.host.startsWith('/nix/store/') || files.some((f) => f.path === r.host)) continue;
        const decl = m.host.secretFiles.find((s) => s.target === r.host);
        const owner = decl ? idOf(decl.owner) : undefined;
        const group = decl ? idOf(decl.group) : undefined;
        files.push({ path: r.host, format: r.format, ...(decl && /^0?[0-7]{3}$/.test(decl.mode) ? { mode: decl.mode.padStart(4, '0') } : {}), ...(owner ? { owner } : {}), ...(group ? { group } : {}) });
        from.push(optionPath(u.path, 'serviceConfig', r.key));
      }
    }
  }
  if (files.length === start) return e;
  from.forEach((p, i) => cite(['secrets', 'files', start + i, 'path'], p));
  return { ...(e ?? {}), files };
}

const ACME_CA = '/etc/ssl/certs/ca-certificates.crt';

/**
 * Each TLS endpoint's own trust: an ACME certificate chains to the public roots, not to the
 * internal CA (--ca) that self-managed certificates are checked against.
 */
function acmeTrust(e: any[], m: Manifest, name: string, paths: [Seg[], string][], bundle: string): void {
  const nginx = m.host.nginx;
  // The tls suite plans one endpoint per TLS virtual host, in this order.
  const hosts = nginx.enable ? nginx.virtualHosts.filter((v) => v.forceSSL || v.onlySSL || v.addSSL) : [];
  hosts.forEach((v, i) => {
    if (!e[i] || !(v.enableACME || v.useACMEHost)) return;
    e[i].ca = bundle;
    paths.push([['expectations', name, 'tls', i, 'ca'], optionPath(v.path, v.enableACME ? 'enableACME' : 'useACMEHost')]);
  });
}

/** Limits of units inside containers (the limits suite checks them through systemd in the container). */
function withContainerServices(e: any, m: Manifest, cite: (at: Seg[], path: string) => void): any {
  const cs: Record<string, Record<string, unknown>> = {};
  for (const c of m.containers) {
    for (const u of c.config.units) {
      const spec = manifestLimits(u.serviceConfig);
      if (!spec) continue;
      const unit = `${u.name}.service`;
      (cs[c.name] ??= {})[unit] = spec;
      for (const k of Object.keys(spec)) cite(['limits', 'containerServices', c.name, unit, k], optionPath(u.path, 'serviceConfig', LIMIT_OPTION[k]));
    }
  }
  return Object.keys(cs).length ? { ...(e ?? {}), containerServices: cs } : e;
}

/** Alert names in Prometheus rule texts (YAML or JSON, as services.prometheus.rules takes them). */
export function alertNames(rules: string[]): string[] {
  const out = new Set<string>();
  for (const r of rules) for (const x of r.matchAll(/["']?alert["']?\s*:\s*["']?([A-Za-z_:][A-Za-z0-9_:]*)/g)) out.add(x[1]);
  return [...out];
}

/** The monitoring expectation's rules: the alerts Prometheus is declared with (ruleFiles are not readable here). */
function alertRulesByName(e: any, m: Manifest, name: string, paths: [Seg[], string][]): void {
  const d = declaredPrometheus(m);
  const p = d?.node.prometheus;
  const names = p ? alertNames(p.rules) : [];
  if (!p || !names.length) return;
  e.rules = names;
  const at = ['expectations', name, 'monitoring', 'rules'].join('.');
  const i = paths.findIndex(([s]) => s.join('.') === at);
  const cited = optionPath(p.path, 'rules');
  if (i >= 0) paths[i] = [paths[i][0], cited];
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
