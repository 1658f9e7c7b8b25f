// Static policy checks on a NixOS manifest (the `config` suite and `leafcert check-config`): what is
// wrong in the configuration before it is deployed. Pure: manifest in, Outcomes out. Every outcome
// names the option path to change and says what to change it to; secret values are fingerprinted,
// never echoed.
import type { Outcome, Severity } from '../core/types.js';
import { optionPath, sections, type Container, type Manifest, type NodeSection } from './manifest.js';
import { embeddedSecrets, fingerprint, hasPrivateKeyBlock, inStore, isSecretName, placeholders, secretAssignments } from './secrets.js';

export const CONFIG_CHECKS = {
  'config.secret-in-store': { title: 'No secret in a world-readable place (Nix store, unit environment)', severity: 'critical', checklist: ['secrets'] },
  'config.placeholder': { title: 'No unsubstituted placeholder values', severity: 'high', checklist: ['secrets'] },
  'config.pg-trust': { title: 'PostgreSQL authentication has no trust lines', severity: 'critical', checklist: ['secrets', 'hardening'] },
  'config.wildcard-bind': { title: 'Internal services are not bound to every address', severity: 'high', checklist: ['network-policies'] },
  'config.dnat-bypass': { title: 'No port is DNATed past nginx in firewall extraCommands', severity: 'critical', checklist: ['network-policies', 'tls'] },
  'config.container-private-users': { title: 'Containers run in a user namespace', severity: 'high', checklist: ['hardening'] },
  'config.container-cap-sys-admin': { title: 'Containers do not hold host CAP_SYS_ADMIN', severity: 'high', checklist: ['hardening'] },
  'config.unused-slice': { title: 'Slices with limits are used by some unit', severity: 'medium', checklist: ['resource-limits'] },
  'config.backup-declared': { title: 'A backup job is declared', severity: 'high', checklist: ['backups'] },
  'config.backup-paths': { title: 'Backup paths reach the data where it lives', severity: 'high', checklist: ['backups'] },
  'config.port-unserved': { title: 'Every port the host firewall opens is served by a declared service', severity: 'medium', checklist: ['network-policies'] },
  'config.unused-bridge': { title: 'Every declared bridge is used', severity: 'low', checklist: ['network-policies'] },
  'config.audit-rules': { title: 'Audit is enabled with rules and auditd', severity: 'medium', checklist: ['audit-logging'] },
  'config.apparmor-policies': { title: 'AppArmor, when enabled, loads policies', severity: 'medium', checklist: ['hardening'] },
} as const satisfies Record<string, { title: string; severity: Severity; checklist: string[] }>;

export type ConfigCheckId = keyof typeof CONFIG_CHECKS;
export const CONFIG_CHECK_IDS = Object.keys(CONFIG_CHECKS) as ConfigCheckId[];

interface Finding {
  subject: string;
  pass: boolean;
  /** Nothing to judge (nothing of the kind declared): `skipped` with `message` as the reason, never a pass. */
  skipped?: boolean;
  message: string;
  optionPath: string;
  expected?: unknown;
  observed?: unknown;
  excerpt?: string;
}

const WILDCARDS = new Set(['0.0.0.0', '::', '[::]', '[::0]', '::0', '*', '']);

function outcome(id: ConfigCheckId, f: Finding, source: string): Outcome {
  const c = CONFIG_CHECKS[id];
  return {
    id,
    title: c.title,
    subject: f.subject,
    status: f.skipped ? 'skipped' : f.pass ? 'pass' : 'fail',
    severity: c.severity,
    message: f.message,
    evidence: { expected: f.expected, observed: f.observed, source, excerpt: f.excerpt, optionPath: f.optionPath || undefined },
    checklist: [...c.checklist],
  };
}

const prefix = (where: string) => (where === 'host' ? '' : `${where}: `);

// ── secrets ─────────────────────────────────────────────────────────────────────────────────
function secretFindings(m: Manifest): Finding[] {
  const out: Finding[] = [];
  const bad = (subject: string, path: string, observed: unknown, message: string) => out.push({ subject, pass: false, optionPath: path, observed, expected: 'secret read from a file at run time', message });
  for (const { where, node } of sections(m)) {
    const p = prefix(where);
    for (const e of node.etc) {
      const found = secretAssignments(e.text).map((a) => `${a.key} = ${fingerprint(a.value)}`);
      if (hasPrivateKeyBlock(e.text)) found.push('a PEM private key');
      if (found.length) {
        bad(`${p}/etc/${e.name}`, optionPath(e.path, 'text'), found,
          `/etc/${e.name} comes from ${optionPath(e.path, 'text')}, which is copied into the world-readable /nix/store (mode ${e.mode} applies to the /etc copy only): ${found.length} secret(s). Deliver the file at run time instead (agenix/sops-nix, or a file under /var/lib or /run with mode 0600) and point services at it (EnvironmentFile, LoadCredential).`);
      }
    }
    for (const u of node.units) {
      const keys = Object.entries(u.environment).filter(([k, v]) => isSecretName(k) && v !== null && String(v) !== '');
      const embedded = Object.entries(u.environment).flatMap(([k, v]) => (typeof v === 'string' ? embeddedSecrets(v).map((s) => `${k}→${s}`) : []));
      const envList = ([] as unknown[]).concat(u.serviceConfig.Environment ?? []).map(String);
      const listed = envList.flatMap((line) => secretAssignments(line));
      const found = [
        ...keys.map(([k, v]) => `${k} = ${fingerprint(String(v))}`),
        ...embedded.map((k) => `${k} (inside a JSON value)`),
        ...listed.map((a) => `${a.key} = ${fingerprint(a.value)}`),
      ];
      if (found.length) {
        const path = keys.length || embedded.length ? optionPath(u.path, 'environment') : optionPath(u.path, 'serviceConfig', 'Environment');
        bad(`${p}${u.name}.service environment`, path, found,
          `${u.name}.service gets ${found.length} secret(s) through its environment (${path}): the unit file is in the /nix/store and \`systemctl show -p Environment\` shows them to any local user. Use serviceConfig.EnvironmentFile = "/run/secrets/…" or LoadCredential and read the value from a file.`);
      }
    }
    for (const v of node.nginx.virtualHosts) {
      const auth = [
        ...Object.entries(v.basicAuth).map(([user, pw]) => ({ path: optionPath(v.path, 'basicAuth'), user, pw })),
        ...v.locations.flatMap((l) => Object.entries(l.basicAuth).map(([user, pw]) => ({ path: optionPath(l.path, 'basicAuth'), user, pw }))),
      ];
      for (const a of auth) {
        bad(`${p}nginx ${v.name} basicAuth ${a.user}`, a.path, `${a.user}: ${fingerprint(a.pw)}`,
          `${a.path} writes "${a.user}:{PLAIN}…" into an htpasswd file in the world-readable /nix/store. Use basicAuthFile = "/var/lib/…/htpasswd" (created with htpasswd -B on the node).`);
      }
      if (inStore(v.sslCertificateKey)) {
        bad(`${p}nginx ${v.name} TLS key`, optionPath(v.path, 'sslCertificateKey'), v.sslCertificateKey,
          `${optionPath(v.path, 'sslCertificateKey')} is a Nix path or store path: the private key is copied into the world-readable /nix/store. Give a string path outside the store (e.g. "/var/lib/…/key.pem") or use enableACME.`);
      }
      if (inStore(v.basicAuthFile)) {
        bad(`${p}nginx ${v.name} basicAuthFile`, optionPath(v.path, 'basicAuthFile'), v.basicAuthFile,
          `${optionPath(v.path, 'basicAuthFile')} points into the /nix/store. Give a string path outside the store.`);
      }
    }
    for (const j of node.borg) {
      if (j.encryption.passphrase !== null) {
        bad(`${p}borg job ${j.name} passphrase`, optionPath(j.path, 'encryption', 'passphrase'), fingerprint(j.encryption.passphrase),
          `${optionPath(j.path, 'encryption', 'passphrase')} puts the repository passphrase in the unit environment and the borg-job-${j.name} wrapper in the /nix/store. Remove it and set encryption.passCommand = "cat /var/lib/…/borg-passphrase" (a root-only file).`);
      }
    }
    for (const r of node.redis) {
      if (!r.enable) continue;
      const inline = r.requirePass ?? (typeof r.settings.requirepass === 'string' ? r.settings.requirepass : null);
      if (inline !== null) {
        const path = r.requirePass !== null ? optionPath(r.path, 'requirePass') : optionPath(r.path, 'settings', 'requirepass');
        bad(`${p}redis ${r.name} password`, path, fingerprint(inline),
          `${path} writes the Redis password into redis.conf in the /nix/store. Use requirePassFile = "/run/secrets/redis-password".`);
      }
    }
    if (node.grafana.enable) {
      for (const key of ['admin_password', 'secret_key'] as const) {
        const v = node.grafana.settings.security[key];
        if (typeof v === 'string' && !/^\$__(file|env)\{/.test(v)) {
          const path = optionPath(node.grafana.path, 'settings', 'security', key);
          bad(`${p}grafana ${key}`, path, fingerprint(v),
            `${path} is written into grafana.ini in the /nix/store${v === 'admin' ? ' (and is the well-known default "admin")' : ''}. Use "$__file{/run/credentials/grafana.service/${key}}" with LoadCredential, or "$__file{/run/secrets/…}".`);
        }
      }
    }
  }
  return out;
}

// ── placeholders: walk every string, tracking the option path ────────────────────────────────
function placeholderFindings(m: Manifest): Finding[] {
  const byPath = new Map<string, Set<string>>();
  const walk = (v: unknown, base: string, rel: string[]) => {
    if (typeof v === 'string') {
      const found = placeholders(v);
      if (found.length) {
        const path = optionPath(base, ...rel);
        const set = byPath.get(path) ?? new Set<string>();
        found.forEach((f) => set.add(f));
        byPath.set(path, set);
      }
    } else if (Array.isArray(v)) v.forEach((x) => walk(x, base, rel));
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      const own = typeof o.path === 'string' ? o.path : undefined;
      for (const [k, x] of Object.entries(o)) {
        if (k === 'path' || k === 'name' || k === 'generator') continue;
        if (own !== undefined) walk(x, own, [k]);
        else walk(x, base, [...rel, k]);
      }
    }
  };
  walk(m.host, '', []);
  m.containers.forEach((c) => walk(c, '', []));
  return [...byPath].map(([path, found]) => ({
    subject: path,
    pass: false,
    optionPath: path,
    observed: [...found],
    expected: 'a real value delivered at run time',
    message: `${path} still holds ${[...found].join(', ')}: nothing substitutes these at build or run time, so the literal placeholder is the credential (and it is in the /nix/store). Read the real value from a file at run time.`,
  }));
}

// ── pg_hba trust ────────────────────────────────────────────────────────────────────────────
/** The auth method of one pg_hba line, or undefined for blank/comment/include lines. */
export function hbaMethod(line: string): string | undefined {
  const t = line.replace(/#.*/, '').trim().split(/\s+/).filter(Boolean);
  if (t.length < 4) return undefined;
  if (t[0] === 'local') return t[3];
  if (!/^host/.test(t[0])) return undefined;
  // host DB USER ADDRESS METHOD, or host DB USER IP MASK METHOD.
  const ipMask = t.length >= 6 && !t[3].includes('/') && /^[\d.:a-fA-F]+$/.test(t[4]);
  return ipMask ? t[5] : t[4];
}

function pgFindings(m: Manifest): Finding[] {
  const out: Finding[] = [];
  for (const { where, node } of sections(m)) {
    const pg = node.postgresql;
    if (!pg.enable) continue;
    const path = optionPath(pg.path, 'authentication');
    const trust = pg.authentication.split('\n').filter((l) => hbaMethod(l) === 'trust').map((l) => l.trim());
    out.push(trust.length
      ? { subject: `${prefix(where)}postgresql`, pass: false, optionPath: path, observed: trust, expected: 'no trust lines', excerpt: trust.join('\n'),
          message: `${path} has ${trust.length} trust line(s): any local user (any process in ${where === 'host' ? 'the host' : where}) connects as any role, superuser included, without a password. Use peer for local sockets and scram-sha-256 for host lines.` }
      : { subject: `${prefix(where)}postgresql`, pass: true, optionPath: path, observed: 'no trust lines', expected: 'no trust lines', message: `${path} has no trust lines` });
  }
  return out;
}

// ── wildcard binds ──────────────────────────────────────────────────────────────────────────
const BIND_KEY = /(HOST|ADDR|ADDRESS|BIND|LISTEN)$/i;

function wildcardFindings(m: Manifest): Finding[] {
  const out: Finding[] = [];
  for (const { where, node } of sections(m)) {
    const p = prefix(where);
    for (const l of node.listeners) {
      // nginx and sshd are the host's public entry points: the firewall governs them.
      if (where === 'host' && (l.service === 'nginx' || l.service === 'sshd')) continue;
      const addrs = l.address.split(/[\s,]+/).filter(Boolean);
      const wild = (addrs.length ? addrs : ['']).filter((a) => WILDCARDS.has(a));
      out.push(wild.length
        ? { subject: `${p}${l.service}:${l.port}`, pass: false, optionPath: l.path, observed: l.address, expected: 'a specific address (127.0.0.1, or the container localAddress nginx proxies to)',
            message: `${l.service} listens on ${l.address === '*' ? `every address, port ${l.port}` : `${l.address}:${l.port}`} (${l.path})${where === 'host' ? '' : `, reachable by every host that can route to ${where}`}. Bind it to 127.0.0.1${where === 'host' ? '' : ' or the container\'s localAddress'} and reach it through nginx.` }
        : { subject: `${p}${l.service}:${l.port}`, pass: true, optionPath: l.path, observed: l.address, expected: 'a specific address', message: `${l.service} listens on ${l.address}:${l.port}` });
    }
    for (const u of node.units) {
      const pairs: { key: string; value: string; path: string }[] = [
        ...Object.entries(u.environment).map(([k, v]) => ({ key: k, value: String(v), path: optionPath(u.path, 'environment', k) })),
        ...([] as unknown[]).concat(u.serviceConfig.Environment ?? []).map(String).flatMap((line) => {
          const mm = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
          return mm ? [{ key: mm[1], value: mm[2], path: optionPath(u.path, 'serviceConfig', 'Environment') }] : [];
        }),
      ];
      for (const e of pairs.filter((x) => BIND_KEY.test(x.key))) {
        const host = e.value.replace(/^https?:\/\//, '').replace(/:\d+$/, '');
        if (!WILDCARDS.has(host) || e.value === '') continue;
        out.push({ subject: `${p}${u.name}.service ${e.key}`, pass: false, optionPath: e.path, observed: `${e.key}=${e.value}`, expected: 'a specific address',
          message: `${u.name}.service is told to listen on every address (${e.key}=${e.value}, ${e.path}). Set it to 127.0.0.1${where === 'host' ? '' : ' or the container\'s localAddress'}.` });
      }
    }
  }
  return out;
}

// ── DNAT in extraCommands ───────────────────────────────────────────────────────────────────
export function dnatRules(extraCommands: string): { line: string; dport?: number; to?: string; iface?: string; dest?: string }[] {
  return extraCommands.split('\n').map((l) => l.trim()).filter((l) => !l.startsWith('#') && /-j\s+(DNAT|REDIRECT)\b|\bdnat\s+to\b/.test(l)).map((line) => ({
    line,
    dport: Number(/--dport\s+(\d+)/.exec(line)?.[1] ?? /dport\s+(\d+)/.exec(line)?.[1]) || undefined,
    to: /--to-destination\s+(\S+)|dnat\s+to\s+(\S+)/.exec(line)?.slice(1).find(Boolean),
    iface: /-i\s+(\S+)/.exec(line)?.[1],
    dest: /-d\s+(\S+)/.exec(line)?.[1],
  }));
}

function dnatFindings(m: Manifest): Finding[] {
  const out: Finding[] = [];
  for (const { where, node } of sections(m)) {
    const fw = node.firewall;
    const path = optionPath(fw.path, 'extraCommands');
    for (const r of dnatRules(fw.extraCommands)) {
      const listed = r.dport !== undefined && fw.allowedTCPPorts.includes(r.dport);
      out.push({
        subject: `${prefix(where)}DNAT ${r.dport ?? '?'} → ${r.to ?? '?'}`,
        pass: false,
        optionPath: path,
        observed: r.line,
        excerpt: r.line,
        expected: 'no DNAT in extraCommands; services reached through nginx',
        message: `${path} DNATs port ${r.dport ?? '?'} to ${r.to ?? '?'}${r.iface ? '' : ' on every interface'}${r.dest ? '' : ' for every destination address'}: clients reach the service directly, past nginx's TLS, rate limits and auth (and the rule is appended again on every firewall reload).${listed ? ` Listing ${r.dport} in allowedTCPPorts does nothing for DNATed traffic.` : ''} Remove the rule and serve it through a services.nginx.virtualHosts location with proxyPass = "http://${r.to ?? 'ADDR:PORT'}"; if direct exposure is really wanted, use networking.nat.forwardPorts (bound to externalInterface).`,
      });
    }
  }
  if (!out.length) {
    out.push({ subject: 'firewall extraCommands', pass: true, optionPath: optionPath(m.host.firewall.path, 'extraCommands'), observed: 'no DNAT/REDIRECT rules', expected: 'no DNAT in extraCommands', message: 'no port is DNATed in firewall extraCommands' });
  }
  return out;
}

// ── containers ──────────────────────────────────────────────────────────────────────────────
/**
 * The container's user namespace: `on` = own UID range (pick / a base UID); `namespaced` = any user
 * namespace, "identity" included (no UID isolation, but capabilities are namespace-local).
 */
function userns(c: Container): { on: boolean; namespaced: boolean; how: string; path: string } {
  const flag = [...c.extraFlags].reverse().find((f) => /^--private-users(=|$)/.test(f));
  if (flag !== undefined) {
    const v = flag.split('=')[1] ?? 'yes';
    const on = v === 'pick' || v === 'yes' || (/^\d+$/.test(v) && Number(v) > 0) || /^\d+:\d+$/.test(v);
    return { on, namespaced: on || v === 'identity', how: `extraFlags ${flag}`, path: optionPath(c.path, 'extraFlags') };
  }
  const pu = c.privateUsers;
  const on = pu === 'pick' || (typeof pu === 'number' && pu > 0);
  return { on, namespaced: on || pu === 'identity', how: `privateUsers = ${JSON.stringify(pu)}`, path: optionPath(c.path, 'privateUsers') };
}

function containerFindings(m: Manifest): { users: Finding[]; caps: Finding[] } {
  const users: Finding[] = [];
  const caps: Finding[] = [];
  for (const c of m.containers) {
    const u = userns(c);
    users.push(u.on
      ? { subject: `container ${c.name}`, pass: true, optionPath: u.path, observed: u.how, expected: 'privateUsers = "pick" (or a UID base)', message: `container ${c.name} runs in a user namespace (${u.how})` }
      : { subject: `container ${c.name}`, pass: false, optionPath: u.path, observed: u.how, expected: 'privateUsers = "pick"',
          message: `container ${c.name} has no user namespace (${u.how}): root in the container is uid 0 on the host, and files it writes under /var/lib/nixos-containers/${c.name} are owned by host root. Set ${optionPath(c.path, 'privateUsers')} = "pick" (idmapped bind mounts for host files it must read).` });
    const dropped = c.extraFlags.some((f) => /^--drop-capability=(.*,)?(CAP_SYS_ADMIN|all)(,|$)/i.test(f));
    const added = c.additionalCapabilities.some((x) => /^(CAP_)?SYS_ADMIN$/i.test(x) || x.toLowerCase() === 'all');
    const keeps = added ? !u.namespaced : !u.namespaced && !dropped;
    const observed = { userNamespace: u.namespaced, dropCapability: dropped, additionalCapabilities: c.additionalCapabilities };
    caps.push(keeps
      ? { subject: `container ${c.name}`, pass: false, optionPath: added ? optionPath(c.path, 'additionalCapabilities') : optionPath(c.path, 'extraFlags'), observed, expected: 'CAP_SYS_ADMIN dropped or namespaced',
          message: `container ${c.name} keeps CAP_SYS_ADMIN in the host's user namespace (systemd-nspawn keeps it by default${added ? ', and additionalCapabilities adds it' : ''}): mount, namespace and many kernel interfaces are open to its root. Set ${optionPath(c.path, 'privateUsers')} = "pick", or add "--drop-capability=CAP_SYS_ADMIN" to ${optionPath(c.path, 'extraFlags')}.` }
      : { subject: `container ${c.name}`, pass: true, optionPath: u.namespaced ? u.path : optionPath(c.path, 'extraFlags'), observed, expected: 'CAP_SYS_ADMIN dropped or namespaced',
          message: `container ${c.name}: CAP_SYS_ADMIN is ${u.namespaced ? 'confined to its user namespace' : 'dropped'}` });
  }
  return { users, caps };
}

// ── slices ──────────────────────────────────────────────────────────────────────────────────
const LIMIT_KEY = /^(Memory|CPU|Tasks|IO|StartupCPU|StartupIO|AllowedCPUs)/;

function sliceFindings(m: Manifest): Finding[] {
  const out: Finding[] = [];
  for (const { where, node } of sections(m)) {
    for (const s of node.slices) {
      const limits = Object.fromEntries(Object.entries(s.sliceConfig).filter(([k]) => LIMIT_KEY.test(k)));
      if (!Object.keys(limits).length) continue;
      out.push(s.usedBy.length
        ? { subject: `${prefix(where)}${s.name}.slice`, pass: true, optionPath: s.path, observed: { limits, usedBy: s.usedBy }, expected: 'used by at least one unit', message: `${s.name}.slice (${JSON.stringify(limits)}) holds ${s.usedBy.join(', ')}` }
        : { subject: `${prefix(where)}${s.name}.slice`, pass: false, optionPath: optionPath(s.path, 'sliceConfig'), observed: { limits, usedBy: [] }, expected: 'used by at least one unit',
            message: `${s.name}.slice sets ${Object.entries(limits).map(([k, v]) => `${k}=${v}`).join(' ')} but no unit runs in it (containers stay in machine.slice), so these limits are never enforced. Set systemd.services."container@NAME".serviceConfig.Slice = lib.mkForce "${s.name}.slice" for the containers it should hold, or put the limits on the container@NAME units and drop the slice.` });
    }
  }
  if (!out.length) out.push({ subject: 'systemd slices', pass: false, skipped: true, optionPath: 'systemd.slices', observed: 'no slice sets limits', expected: 'used by at least one unit', message: 'not applicable: no declared slice carries limits' });
  return out;
}

// ── backups ─────────────────────────────────────────────────────────────────────────────────
const under = (p: string, dir: string) => p === dir || p.startsWith(dir.endsWith('/') ? dir : dir + '/');
const asList = (v: unknown): string[] => ([] as unknown[]).concat(v ?? []).map(String);

/** State directories a node section declares (absolute, as seen inside that node). */
function statePaths(node: NodeSection): { dir: string; what: string }[] {
  const out: { dir: string; what: string }[] = [];
  if (node.postgresql.enable) out.push({ dir: node.postgresql.dataDir ?? '/var/lib/postgresql', what: 'PostgreSQL dataDir' });
  if (node.postgresqlBackup.enable) out.push({ dir: node.postgresqlBackup.location, what: 'postgresqlBackup dumps' });
  for (const r of node.redis) if (r.enable) out.push({ dir: `/var/lib/redis-${r.name}`, what: `redis ${r.name}` });
  if (node.grafana.enable) out.push({ dir: '/var/lib/grafana', what: 'Grafana' });
  for (const u of node.units) {
    for (const d of asList(u.serviceConfig.StateDirectory).flatMap((s) => s.split(/\s+/)).filter(Boolean)) out.push({ dir: `/var/lib/${d.replace(/:.*/, '')}`, what: `${u.name}.service StateDirectory` });
    for (const d of asList(u.serviceConfig.ReadWritePaths).flatMap((s) => s.split(/\s+/)).filter((s) => s.startsWith('/'))) out.push({ dir: d.replace(/^-/, ''), what: `${u.name}.service ReadWritePaths` });
  }
  return out;
}

function backupFindings(m: Manifest): Finding[] {
  const out: Finding[] = [];
  const root = m.system.containerStateDirectory;
  const hostState = statePaths(m.host);
  for (const j of m.host.borg) {
    const paths = j.paths ?? [];
    const misplaced: string[] = [];
    const hints: string[] = [];
    for (const p of paths) {
      if (under(p, root)) continue;
      const hostHas = hostState.some((s) => under(s.dir, p) || under(p, s.dir));
      const inside = m.containers.flatMap((c) => statePaths(c.config).filter((s) => under(s.dir, p) || under(p, s.dir)).map((s) => ({ c, s })));
      if (inside.length && !hostHas) {
        misplaced.push(p);
        hints.push(...inside.map(({ c, s }) => `${root}/${c.name}${s.dir} (${s.what} of container ${c.name})`));
      }
    }
    const path = optionPath(j.path, 'paths');
    out.push(misplaced.length
      ? { subject: `borg job ${j.name}`, pass: false, optionPath: path, observed: misplaced, expected: [...new Set(hints)],
          message: `${path} backs up ${misplaced.join(', ')} on the host, but that data lives inside containers: the archives hold empty or missing directories (and failOnWarnings fails the job). Back up ${[...new Set(hints)].join(', ')} instead, and a database dump (services.postgresqlBackup) rather than the live data directory.` }
      : { subject: `borg job ${j.name}`, pass: true, optionPath: path, observed: paths, expected: 'paths where the data lives', message: `borg job ${j.name} backs up ${paths.length} path(s) where the data lives` });
  }
  return out;
}

// A checklist item that requires backups: no job at all is a failure, not "nothing to check".
function backupDeclaredFindings(m: Manifest): Finding[] {
  const jobs = m.host.borg;
  if (!jobs.length) {
    const dumps = sections(m).filter(({ node }) => node.postgresqlBackup.enable).map(({ where }) => where);
    return [{ subject: 'backups', pass: false, optionPath: 'services.borgbackup.jobs', observed: 'no borg job', expected: 'at least one services.borgbackup.jobs.<name>',
      message: `no backup job is declared (services.borgbackup.jobs is empty): nothing copies this node's data off it${dumps.length ? ` (services.postgresqlBackup in ${dumps.join(', ')} only writes dumps to the same disk)` : ''}. Declare a borg job for ${m.system.containerStateDirectory}/<container>/… state and the database dumps, with an off-node repository.` }];
  }
  return [{ subject: 'backups', pass: true, optionPath: 'services.borgbackup.jobs', observed: jobs.map((j) => j.name), expected: 'at least one services.borgbackup.jobs.<name>',
    message: `${jobs.length} borg job(s) declared: ${jobs.map((j) => j.name).join(', ')}` }];
}

// ── firewall ports vs declared services ─────────────────────────────────────────────────────
function portFindings(m: Manifest): Finding[] {
  const out: Finding[] = [];
  const fw = m.host.firewall;
  if (!fw.enable) return [{ subject: 'host firewall', pass: false, optionPath: optionPath(fw.path, 'enable'), observed: false, expected: true, message: `${optionPath(fw.path, 'enable')} is false: every listening port is open` }];
  const served = new Map<number, string>();
  for (const l of m.host.listeners) served.set(l.port, l.service);
  for (const f of m.host.networking.nat.enable ? m.host.networking.nat.forwardPorts : []) {
    const port = Number(String(f.sourcePort ?? '').split(':')[0]);
    if (port) served.set(port, 'networking.nat.forwardPorts');
  }
  for (const c of m.containers) {
    for (const f of c.privateNetwork ? c.forwardPorts : []) if (typeof f.hostPort === 'number') served.set(f.hostPort, `container ${c.name} forwardPorts`);
    if (!c.privateNetwork) for (const l of c.config.listeners) served.set(l.port, `container ${c.name} ${l.service}`);
  }
  const allowed: { port: number; path: string }[] = [
    ...fw.allowedTCPPorts.map((port) => ({ port, path: optionPath(fw.path, 'allowedTCPPorts') })),
    ...fw.allowedTCPPortRanges.filter((r) => r.to - r.from < 64).flatMap((r) => Array.from({ length: r.to - r.from + 1 }, (_, i) => ({ port: r.from + i, path: optionPath(fw.path, 'allowedTCPPortRanges') }))),
    ...fw.interfaces.flatMap((i) => i.allowedTCPPorts.map((port) => ({ port, path: optionPath(i.path, 'allowedTCPPorts') }))),
  ];
  const dnat = new Map(dnatRules(fw.extraCommands).filter((r) => r.dport).map((r) => [r.dport!, r.to]));
  for (const a of allowed) {
    const by = served.get(a.port);
    out.push(by
      ? { subject: `tcp/${a.port}`, pass: true, optionPath: a.path, observed: by, expected: 'a declared service', message: `tcp/${a.port} is opened for ${by}` }
      : { subject: `tcp/${a.port}`, pass: false, optionPath: a.path, observed: 'no declared host service listens on it', expected: 'a declared service',
          message: `${a.path} opens tcp/${a.port} but no service declared on the host listens on it${dnat.has(a.port) ? ` (it is DNATed to ${dnat.get(a.port)}, which never passes this rule)` : ''}. Remove ${a.port} from ${a.path}, or declare the service that should answer there.` });
  }
  if (!allowed.length) out.push({ subject: 'host firewall', pass: true, optionPath: optionPath(fw.path, 'allowedTCPPorts'), observed: [], expected: 'a declared service per port', message: 'the host firewall opens no TCP port' });
  return out;
}

function bridgeFindings(m: Manifest): Finding[] {
  const out = m.host.networking.bridges.map((b): Finding => {
    const users = m.containers.filter((c) => c.hostBridge === b.name).map((c) => `container ${c.name}`);
    const used = users.length > 0 || b.interfaces.length > 0;
    return used
      ? { subject: `bridge ${b.name}`, pass: true, optionPath: b.path, observed: [...users, ...b.interfaces], expected: 'a container or interface attached', message: `bridge ${b.name} is used by ${[...users, ...b.interfaces].join(', ')}` }
      : { subject: `bridge ${b.name}`, pass: false, optionPath: b.path, observed: 'no container sets hostBridge to it and it has no interfaces', expected: 'a container or interface attached',
          message: `bridge ${b.name} (${b.path}) has no interfaces and no container uses it (containers.<name>.hostBridge); NAT, trustedInterfaces and addresses that name it cover nothing${m.host.firewall.trustedInterfaces.includes(b.name) ? ' (and it is a trusted interface: anything later attached to it bypasses the firewall)' : ''}. Set hostBridge = "${b.name}" on the containers meant to be on it, or remove the bridge and what refers to it.` };
  });
  if (!out.length) out.push({ subject: 'bridges', pass: false, skipped: true, optionPath: 'networking.bridges', observed: [], expected: 'every bridge used', message: 'not applicable: no bridges declared' });
  return out;
}

function auditFindings(m: Manifest): Finding[] {
  const s = m.host.security;
  const problems: string[] = [];
  if (s.audit.enable === false) problems.push(`${optionPath(s.audit.path, 'enable')} is false: the kernel audit trail is off`);
  else if (!s.audit.rules.length) problems.push(`${optionPath(s.audit.path, 'rules')} is empty: audit is on but watches nothing (add -w rules for secrets, /etc/nixos-containers, execve of privileged tools)`);
  if (!s.auditd.enable) problems.push(`${optionPath(s.auditd.path, 'enable')} is false: events only reach the journal; enable auditd for /var/log/audit`);
  const observed = { enable: s.audit.enable, rules: s.audit.rules.length, auditd: s.auditd.enable };
  return [problems.length
    ? { subject: 'audit', pass: false, optionPath: s.audit.path, observed, expected: { enable: true, rules: '≥ 1', auditd: true }, message: problems.join('; ') }
    : { subject: 'audit', pass: true, optionPath: s.audit.path, observed, expected: { enable: true, rules: '≥ 1', auditd: true }, message: `audit enabled with ${s.audit.rules.length} rule(s) and auditd` }];
}

function apparmorFindings(m: Manifest): Finding[] {
  const a = m.host.security.apparmor;
  if (a.enable && !a.policies.length) {
    return [{ subject: 'apparmor', pass: false, optionPath: optionPath(a.path, 'policies'), observed: { enable: true, policies: 0 }, expected: 'policies loaded',
      message: `${optionPath(a.path, 'enable')} is true but ${optionPath(a.path, 'policies')} is empty: AppArmor confines nothing. Add policies for the exposed services, or do not claim AppArmor.` }];
  }
  return [{ subject: 'apparmor', pass: a.enable, skipped: !a.enable, optionPath: a.path, observed: { enable: a.enable, policies: a.policies.length }, expected: 'no empty AppArmor claim',
    message: a.enable ? `AppArmor loads ${a.policies.length} polic${a.policies.length === 1 ? 'y' : 'ies'}` : `not applicable: AppArmor is not enabled (${optionPath(a.path, 'enable')}), so nothing is claimed` }];
}

/** Every config check on a manifest; `source` names the manifest file for the evidence. */
export function evaluateManifest(m: Manifest, source: string): Outcome[] {
  const out: Outcome[] = [];
  // When a check finds nothing to judge: `clean` (it scanned and found nothing wrong: a pass) or
  // `none` (nothing of the kind is declared: skipped with the reason, never a pass).
  type WhenEmpty = { clean: string } | { none: string; path: string };
  const add = (id: ConfigCheckId, findings: Finding[], whenEmpty?: WhenEmpty) => {
    if (!findings.length) {
      if (!whenEmpty) throw new Error(`${id}: no finding and no verdict for an empty manifest section`);
      findings = ['clean' in whenEmpty
        ? { subject: 'manifest', pass: true, optionPath: '', message: whenEmpty.clean }
        : { subject: 'manifest', pass: false, skipped: true, optionPath: whenEmpty.path, message: `not applicable: ${whenEmpty.none}` }];
    }
    for (const f of findings) out.push(outcome(id, f, source));
  };
  add('config.secret-in-store', secretFindings(m), { clean: 'no secret found in /etc texts, unit environments, nginx basicAuth, borg, redis or grafana settings' });
  add('config.placeholder', placeholderFindings(m), { clean: 'no placeholder values (@NAME@, your_…_here, CHANGEME)' });
  add('config.pg-trust', pgFindings(m), { none: 'no PostgreSQL is enabled on the host or in any container', path: 'services.postgresql' });
  add('config.wildcard-bind', wildcardFindings(m), { none: 'no internal service declares a listen address', path: '' });
  add('config.dnat-bypass', dnatFindings(m));
  const { users, caps } = containerFindings(m);
  add('config.container-private-users', users, { none: 'no containers declared', path: 'containers' });
  add('config.container-cap-sys-admin', caps, { none: 'no containers declared', path: 'containers' });
  add('config.unused-slice', sliceFindings(m));
  add('config.backup-declared', backupDeclaredFindings(m));
  add('config.backup-paths', backupFindings(m), { none: 'no borg job declared on the host, so no backup paths to judge (config.backup-declared fails for it)', path: 'services.borgbackup.jobs' });
  add('config.port-unserved', portFindings(m));
  add('config.unused-bridge', bridgeFindings(m));
  add('config.audit-rules', auditFindings(m));
  add('config.apparmor-policies', apparmorFindings(m));
  return out;
}
