// TLS virtual hosts that send HSTS (config.hsts) and serve something (config.vhost-serves);
// secret files units inside containers read exist there (config.secret-reach); the owners and
// groups secrets name are declared (config.secret-owner).
import { optionPath, sections, type Manifest, type NodeSection, type VirtualHost } from '../../src/core/manifest.js';
import { prefix, type Finding } from './finding.js';
import { userns } from './containers.js';

const tlsHosts = (node: NodeSection) => node.nginx.virtualHosts.filter((v) => v.forceSSL || v.onlySSL || v.addSSL);
const addHeaders = (text: string) => text.split('\n').map((l) => l.replace(/#.*/, '').trim()).filter((l) => /^add_header\s/.test(l));
const hsts = (lines: string[]) => lines.find((l) => /^add_header\s+["']?Strict-Transport-Security["']?\s/i.test(l));
const ACME = /^\/\.well-known\/acme-challenge/;

/**
 * The server-level `add_header Strict-Transport-Security …` line a virtual host sends, and where it
 * is declared: its own extraConfig, else the http level (inherited only when the server sets no add_header).
 */
export function serverHsts(v: VirtualHost, httpLevel: string): { line: string; from: 'vhost' | 'http' } | undefined {
  const own = addHeaders(v.extraConfig);
  const line = hsts(own.length ? own : addHeaders(httpLevel));
  return line ? { line, from: own.length ? 'vhost' : 'http' } : undefined;
}

/** Where the served response lacks HSTS: nginx inherits add_header only into blocks that set none. */
function hstsGaps(v: VirtualHost, httpLevel: string): { server?: string; missing: string[] } {
  const server = serverHsts(v, httpLevel)?.line;
  const missing: string[] = [];
  for (const l of v.locations.filter((x) => !ACME.test(x.name))) {
    const lh = addHeaders(l.extraConfig);
    const eff = lh.length ? hsts(lh) : server;
    if (!eff || /max-age\s*=\s*0\b/.test(eff)) missing.push(l.name);
  }
  if (!server || /max-age\s*=\s*0\b/.test(server)) missing.unshift('(server)');
  return { server, missing };
}

export function hstsFindings(m: Manifest): Finding[] {
  const out: Finding[] = [];
  for (const { where, node } of sections(m)) {
    const httpLevel = `${node.nginx.commonHttpConfig}\n${node.nginx.appendHttpConfig}`;
    for (const v of tlsHosts(node)) {
      if (!v.forceSSL && !v.onlySSL) {
        // addSSL serves the same locations over plain HTTP: no redirect, and no HSTS reaches a client
        // that never tried HTTPS. A host that only redirects (globalRedirect goes to https) serves nothing there.
        const redirectOnly = v.globalRedirect || (!v.root && v.locations.filter((l) => !ACME.test(l.name)).every((l) => !l.proxyPass && !l.root && !l.alias && /^30[1278]\s/.test(String(l.return ?? ''))));
        if (redirectOnly) continue;
        out.push({ subject: `${prefix(where)}nginx ${v.name}`, pass: false, optionPath: optionPath(v.path, 'addSSL'), observed: { addSSL: true, forceSSL: false }, expected: 'forceSSL (HTTP redirected to HTTPS)',
          message: `${v.name} sets addSSL: it answers on plain HTTP as well as HTTPS, so requests (and the tokens in them) reach ${v.locations.some((l) => l.proxyPass) ? 'the application' : 'it'} unencrypted. Set ${optionPath(v.path, 'forceSSL')} = true instead of addSSL.` });
        continue;
      }
      const path = optionPath(v.path, 'extraConfig');
      const { missing } = hstsGaps(v, httpLevel);
      const locs = missing.filter((x) => x !== '(server)');
      out.push(missing.length && (missing.includes('(server)') && (locs.length || !v.locations.length) || locs.length)
        ? { subject: `${prefix(where)}nginx ${v.name}`, pass: false, optionPath: path, observed: { withoutHsts: missing }, expected: 'Strict-Transport-Security on every response',
            message: `${v.name} redirects to HTTPS (${v.forceSSL ? 'forceSSL' : 'onlySSL'}) but ${missing.includes('(server)') ? 'sends no Strict-Transport-Security header' : `the locations ${locs.join(', ')} set their own add_header and so drop it`}: a first request over plain HTTP can be downgraded. Add \`add_header Strict-Transport-Security "max-age=63072000; includeSubDomains" always;\` to ${path}${locs.length && !missing.includes('(server)') ? ` and to those locations' extraConfig` : ''}.` }
        : { subject: `${prefix(where)}nginx ${v.name}`, pass: true, optionPath: path, observed: 'HSTS on every location', expected: 'Strict-Transport-Security on every response', message: `${v.name} sends Strict-Transport-Security` });
    }
  }
  return out;
}

const SERVES = /(^|[\s;{])(return|proxy_pass|root|alias|fastcgi_pass|uwsgi_pass|grpc_pass|try_files)\s/;

export function vhostServesFindings(m: Manifest): Finding[] {
  const out: Finding[] = [];
  for (const { where, node } of sections(m)) {
    for (const v of tlsHosts(node)) {
      const locs = v.locations.filter((l) => !ACME.test(l.name));
      const serving = locs.filter((l) => l.proxyPass || l.root || l.alias || l.return !== null || SERVES.test(l.extraConfig)).map((l) => l.name);
      const ok = v.root || v.globalRedirect || SERVES.test(v.extraConfig) || serving.length;
      out.push(ok
        ? { subject: `${prefix(where)}nginx ${v.name}`, pass: true, optionPath: optionPath(v.path, 'locations'), observed: v.root ? { root: v.root } : v.globalRedirect ? { globalRedirect: v.globalRedirect } : { serving }, expected: 'a proxyPass, root or redirect', message: `${v.name} serves ${serving.length ? serving.join(', ') : v.root ?? v.globalRedirect ?? 'its extraConfig'}` }
        : { subject: `${prefix(where)}nginx ${v.name}`, pass: false, optionPath: optionPath(v.path, 'locations'), observed: { locations: locs.map((l) => l.name), root: null }, expected: 'a proxyPass, root or redirect',
            message: `${v.name} is a TLS virtual host with no location that proxies or serves anything and no root: it answers with nginx's default page${node.nginx.enable ? '' : ` (and ${optionPath(node.nginx.path, 'enable')} is false: it is not served at all)`}, never the application. Set ${optionPath(v.path, 'locations', '/', 'proxyPass')} = "http://<container address>:<port>" (or root).` });
    }
  }
  return out;
}

const asList = (v: unknown): string[] => ([] as unknown[]).concat(v ?? []).map(String).flatMap((s) => s.split(/\s+/)).filter(Boolean);
const under = (p: string, dir: string) => p === dir || p.startsWith(dir.endsWith('/') ? dir : dir + '/');

export function secretReachFindings(m: Manifest): Finding[] {
  const out: Finding[] = [];
  for (const c of m.containers) {
    const n = c.config;
    // Bind mounts with their host source (hostPath null binds the same path).
    const bindSrc = new Map(c.bindMounts.map((b) => [b.mountPoint, b.hostPath ?? b.mountPoint]));
    const creds = new Set<string>();
    for (const f of c.extraFlags) {
      const b = /^--bind(?:-ro)?=([^:]+)(?::([^:]+))?/.exec(f);
      if (b) bindSrc.set(b[2] ?? b[1], b[1]);
      const cr = /^--(?:load|set)-credential=([^:]+):/.exec(f);
      if (cr) creds.add(cr[1]);
    }
    const ns = userns(c);
    const provided: { dir: string; how: string; src?: string }[] = [
      ...[...bindSrc].map(([d, src]) => ({ dir: d, how: `bind mount ${d}`, src })),
      { dir: '/run/credentials', how: 'systemd credentials' },
      { dir: '/nix/store', how: 'the store' },
      ...n.secretFiles.map((s) => ({ dir: s.target, how: `${s.path} inside the container` })),
      ...n.etc.map((e) => ({ dir: `/etc/${e.name}`, how: `${e.path} inside the container` })),
      ...n.units.flatMap((u) => asList(u.serviceConfig.StateDirectory).map((d) => ({ dir: `/var/lib/${d.replace(/:.*/, '')}`, how: `${u.name}.service StateDirectory` }))),
      ...n.units.flatMap((u) => asList(u.serviceConfig.RuntimeDirectory).map((d) => ({ dir: `/run/${d.replace(/:.*/, '')}`, how: `${u.name}.service RuntimeDirectory` }))),
      ...n.tmpfiles.rules.map((r) => r.split(/\s+/)[1]).filter((x) => x?.startsWith('/')).map((d) => ({ dir: d, how: 'systemd.tmpfiles inside the container' })),
    ];
    for (const u of n.units) {
      const reads: { file: string; key: string; cred?: string }[] = [
        ...asList(u.serviceConfig.EnvironmentFile).map((f) => ({ file: f.replace(/^-/, ''), key: 'EnvironmentFile' })),
        // ID:PATH; a PATH that is not absolute names a credential the container's system manager got (systemd.exec(5)).
        ...asList(u.serviceConfig.LoadCredential).map((x) => { const [id, ...rest] = x.split(':'); const f = rest.join(':'); return f && !/[/%]/.test(f) ? { file: '', key: 'LoadCredential', cred: f } : { file: f, key: 'LoadCredential', cred: id }; }),
      ];
      for (const r of reads) {
        const subject = `container ${c.name}: ${u.name}.service ${r.key} ${r.file || r.cred}`;
        const path = optionPath(u.path, 'serviceConfig', r.key);
        if (!r.file) {
          const ok = r.cred !== undefined && creds.has(r.cred);
          out.push(ok
            ? { subject, pass: true, optionPath: path, observed: `credential ${r.cred}`, expected: 'a credential the container is given', message: `${u.name}.service gets credential ${r.cred} from ${optionPath(c.path, 'extraFlags')}` }
            : { subject, pass: false, optionPath: path, observed: `credential ${r.cred} with no source`, expected: `--load-credential=${r.cred}:<host file> in ${optionPath(c.path, 'extraFlags')}`,
                message: `${u.name}.service in container ${c.name} loads credential ${r.cred}, but the container is given no such credential: the unit fails to start. Add "--load-credential=${r.cred}:/run/agenix/${r.cred}" to ${optionPath(c.path, 'extraFlags')}.` });
          continue;
        }
        if (!r.file.startsWith('/') || r.file.includes('%')) continue;
        const by = provided.find((p) => under(r.file, p.dir));
        const unreadable = by?.src && ns.on ? bindUnreadable(m, by.src.replace(/\/$/, '') + r.file.slice(by.dir.replace(/\/$/, '').length)) : undefined;
        if (by && unreadable) {
          out.push({ subject, pass: false, optionPath: path, observed: `${by.how} of ${unreadable.file} (${unreadable.why}) under ${ns.how}`, expected: 'a file the unit can read in its user namespace',
            message: `${u.name}.service in container ${c.name} reads ${r.file} through ${by.how} of the host's ${unreadable.file}, but the container runs in a user namespace (${ns.how}) and bind mounts are not idmapped: a file that is ${unreadable.why} on the host shows up owned by nobody inside, so the unit cannot read it. Hand it over as a credential: "--load-credential=NAME:${unreadable.file}" in ${optionPath(c.path, 'extraFlags')} and LoadCredential = [ "NAME" ] on the unit.` });
          continue;
        }
        out.push(by
          ? { subject, pass: true, optionPath: path, observed: by.how, expected: 'the file exists where the unit runs', message: `${r.file} reaches container ${c.name} through ${by.how}` }
          : { subject, pass: false, optionPath: path, observed: `${r.file}: no bindMount, credential or declaration brings it into container ${c.name}`, expected: 'the file exists where the unit runs',
              message: `${u.name}.service in container ${c.name} reads ${r.file} (${path}), but that is a path on the host: nothing brings it into the container (no ${optionPath(c.path, 'bindMounts')} entry, no credential), so the unit ${r.key === 'EnvironmentFile' && !/^-/.test(String(u.serviceConfig.EnvironmentFile)) ? 'fails to start' : 'runs without its secrets'}. Hand it over as a credential: "--load-credential=NAME:${r.file}" in ${optionPath(c.path, 'extraFlags')} and LoadCredential = [ "NAME" ] on the unit (bind mounts are not idmapped under privateUsers).` });
      }
    }
  }
  return out;
}

// Users and groups every NixOS system has (nixos/modules/misc/ids.nix, systemd, dbus, nscd).
/** A host file only root (or a host user/group) can read: what a userns container's bind mount cannot read. */
function bindUnreadable(m: Manifest, file: string): { file: string; why: string } | undefined {
  const decl = m.host.secretFiles.find((s) => s.target === file || under(file, s.target));
  if (decl) return /[4567]$/.test(decl.mode) ? undefined : { file, why: `mode ${decl.mode}, owner ${decl.owner} (${decl.path})` };
  return /^\/run\/(agenix|secrets)(\/|$)/.test(file) ? { file, why: 'root-only (agenix/sops-nix default mode 0400)' } : undefined;
}

const ALWAYS = new Set(['root', 'nobody', 'nogroup', 'wheel', 'users', 'keys', 'systemd-journal', 'systemd-network', 'systemd-resolve', 'systemd-timesync',
  'systemd-coredump', 'systemd-oom', 'messagebus', 'nscd', 'nixbld', 'adm', 'tty', 'disk', 'kmem', 'audio', 'video', 'input', 'kvm', 'render', 'dialout', 'lp', 'shadow', 'utmp']);

/** Users and groups the NixOS modules a node enables declare themselves. */
function moduleDeclared(node: NodeSection): Set<string> {
  const s = new Set<string>();
  if (node.nginx.enable) s.add('nginx');
  if (node.nginx.virtualHosts.some((v) => v.enableACME || v.useACMEHost)) s.add('acme');
  if (node.postgresql.enable) s.add('postgres');
  if (node.grafana.enable) s.add('grafana');
  if (node.prometheus.enable) s.add('prometheus');
  for (const r of node.redis) if (r.enable) s.add(r.name === '' ? 'redis' : `redis-${r.name}`);
  for (const l of node.listeners) {
    if (l.service === 'nats') s.add('nats');
    if (l.service === 'sshd') s.add('sshd');
    if (l.service === 'prometheus-node-exporter') s.add('node-exporter');
  }
  return s;
}
const numeric = (s: string) => /^\+?\d+$/.test(s) || s === '-' || s === '';

export function secretOwnerFindings(m: Manifest): Finding[] {
  const out: Finding[] = [];
  for (const { where, node } of sections(m)) {
    const byModules = moduleDeclared(node);
    const named: { kind: 'user' | 'group'; name: string; by: string; path: string }[] = [];
    const add = (kind: 'user' | 'group', name: string, by: string, path: string) => { if (!numeric(name)) named.push({ kind, name, by, path }); };
    for (const s of node.secretFiles) { add('user', s.owner, s.path, optionPath(s.path, 'owner')); add('group', s.group, s.path, optionPath(s.path, 'group')); }
    for (const e of node.etc) { add('user', e.user, e.path, optionPath(e.path, 'user')); add('group', e.group, e.path, optionPath(e.path, 'group')); }
    for (const r of node.tmpfiles.rules) {
      const [, file, , user, group] = r.split(/\s+/);
      if (user) add('user', user, `tmpfiles ${file}`, optionPath(node.tmpfiles.path, 'rules'));
      if (group) add('group', group, `tmpfiles ${file}`, optionPath(node.tmpfiles.path, 'rules'));
    }
    for (const s of node.tmpfiles.settings) { add('user', s.user, `tmpfiles ${s.name}`, optionPath(s.path, 'user')); add('group', s.group, `tmpfiles ${s.name}`, optionPath(s.path, 'group')); }
    for (const x of named) {
      const declared = ALWAYS.has(x.name) || byModules.has(x.name) || (x.kind === 'user' ? node.users.users : node.users.groups).includes(x.name);
      const decl = optionPath(node.users.path, x.kind === 'user' ? 'users' : 'groups', x.name);
      out.push(declared
        ? { subject: `${prefix(where)}${x.by} ${x.kind} ${x.name}`, pass: true, optionPath: x.path, observed: x.name, expected: `declared in ${decl}`, message: `${x.kind} ${x.name} named by ${x.by} is declared` }
        : { subject: `${prefix(where)}${x.by} ${x.kind} ${x.name}`, pass: false, optionPath: x.path, observed: `${x.kind} ${x.name} is not declared`, expected: `declared in ${decl}`,
            message: `${x.by} gives its file to ${x.kind} "${x.name}" (${x.path}), but no one declares that ${x.kind} ${where === 'host' ? 'on the host' : `in ${where}`}: activation cannot chown it (agenix/tmpfiles fail or leave it root-owned), so the services meant to read it cannot. Declare ${decl} (and add the service users to it), or name an existing ${x.kind}.` });
    }
  }
  return out;
}
