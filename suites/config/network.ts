// Network policy in the manifest: services bound to every address (config.wildcard-bind), ports
// DNATed past nginx (config.dnat-bypass), firewall ports nothing serves (config.port-unserved) and
// bridges nothing uses (config.unused-bridge).
import { optionPath, sections, type Container, type Manifest } from '../../src/core/manifest.js';
import { prefix, type Finding } from './finding.js';
import { needs, reachable } from './reach.js';
import { shellCommands } from './shell.js';

const WILDCARDS = new Set(['0.0.0.0', '::', '[::]', '[::0]', '::0', '*', '']);

// ── wildcard binds ──────────────────────────────────────────────────────────────────────────
const BIND_KEY = /(HOST|ADDR|ADDRESS|BIND|LISTEN)$/i;

export function wildcardFindings(m: Manifest): Finding[] {
  const out: Finding[] = [];
  const needed = needs(m);
  for (const { where, node, container: c } of sections(m)) {
    const p = prefix(where);
    const local = c?.localAddress?.replace(/\/\d+$/, '');
    for (const l of node.listeners) {
      // nginx and sshd are the host's public entry points: the firewall governs them.
      if (where === 'host' && (l.service === 'nginx' || l.service === 'sshd')) continue;
      const addrs = l.address.split(/[\s,]+/).filter(Boolean);
      const wild = (addrs.length ? addrs : ['']).filter((a) => WILDCARDS.has(a));
      // Inside a private network a wildcard bind is an exposure only if something gets in.
      const reach = c && c.privateNetwork && wild.length ? reachable(m, c, l.port) : undefined;
      if (reach && !reach.open) {
        out.push({ subject: `${p}${l.service}:${l.port}`, pass: true, optionPath: l.path, observed: l.address, expected: 'not reachable from outside the container',
          message: `${l.service} listens on ${l.address}:${l.port} inside ${where}, but nothing reaches that port (${reach.why}; no forward leads there)` });
        continue;
      }
      const clients = c ? needed.filter((n) => n.target === c && n.port === l.port) : [];
      const to = clients.length && local ? `the container's localAddress ${local} (where ${[...new Set(clients.map((n) => n.from))].join(', ')} reach it; 127.0.0.1 would cut them off)` : `127.0.0.1${where === 'host' ? '' : local ? ` (or the container's localAddress ${local} if other containers need it)` : ''}`;
      if (wild.length && reach) {
        out.push({ subject: `${p}${l.service}:${l.port}`, pass: false, optionPath: l.path, observed: l.address, expected: 'a specific address',
          message: `${l.service} listens on ${l.address}:${l.port} (${l.path}) and ${where} lets that port in (${reach.why}): every host that can route to ${where} reaches it. Bind it to ${to}, and open the port only to the clients that need it.` });
        continue;
      }
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
        const fw = c?.config.firewall;
        const shut = c && c.privateNetwork && fw!.enable && !fw!.trustedInterfaces.some((i) => i !== 'lo') && !fw!.allowedTCPPorts.length && !fw!.allowedTCPPortRanges.length && !fw!.interfaces.some((i) => i.allowedTCPPorts.length) && !c.forwardPorts.length;
        if (shut) {
          out.push({ subject: `${p}${u.name}.service ${e.key}`, pass: true, optionPath: e.path, observed: `${e.key}=${e.value}`, expected: 'not reachable from outside the container',
            message: `${u.name}.service listens on every address (${e.key}=${e.value}) inside ${where}, but its firewall opens no port, so nothing reaches it` });
          continue;
        }
        out.push({ subject: `${p}${u.name}.service ${e.key}`, pass: false, optionPath: e.path, observed: `${e.key}=${e.value}`, expected: 'a specific address',
          message: `${u.name}.service is told to listen on every address (${e.key}=${e.value}, ${e.path}). Set it to 127.0.0.1${where === 'host' ? '' : ' or the container\'s localAddress'}.` });
      }
    }
  }
  return out;
}

// ── DNAT in extraCommands ───────────────────────────────────────────────────────────────────
const IPTABLES = /^(?:\S*\/)?(?:iptables|ip6tables|ip46tables)(?:-nft|-legacy)?$/;

/** DNAT/REDIRECT rules extraCommands adds when the shell runs it (teardown `-D` rules add nothing). */
export function dnatRules(extraCommands: string): { line: string; dport?: number; to?: string; iface?: string; dest?: string }[] {
  const adds = (cmd: string) => {
    const words = cmd.split(/\s+/);
    if (IPTABLES.test(words[0])) return /-j\s+(DNAT|REDIRECT)\b/.test(cmd) && words.some((w) => ['-A', '-I', '--append', '--insert'].includes(w));
    return /^(?:\S*\/)?nft$/.test(words[0]) && /\badd\s+rule\b/.test(cmd) && /\bdnat\s+to\b|\bredirect\b/.test(cmd);
  };
  return shellCommands(extraCommands).filter(adds).map((line) => ({
    line,
    dport: Number(/--dport\s+(\d+)/.exec(line)?.[1] ?? /dport\s+(\d+)/.exec(line)?.[1]) || undefined,
    to: /--to-destination\s+(\S+)|dnat\s+to\s+(\S+)/.exec(line)?.slice(1).find(Boolean),
    iface: /-i\s+(\S+)/.exec(line)?.[1],
    dest: /-d\s+(\S+)/.exec(line)?.[1],
  }));
}

/** A rule NixOS's NAT module writes for a declared networking.nat.forwardPorts entry. */
function ownForward(line: string, forwards: Record<string, unknown>[]): boolean {
  if (!/-A\s+nixos-nat-(pre|out)\b/.test(line)) return false;
  const dport = /--dport\s+(\S+)/.exec(line)?.[1];
  const to = /--to-destination\s+(\S+)/.exec(line)?.[1];
  return forwards.some((f) => String(f.sourcePort).replace('-', ':') === dport && (to === undefined || String(f.destination) === to || String(f.destination).replace(/:(\d+)-(\d+)$/, ':$1') === to));
}

export function dnatFindings(m: Manifest): Finding[] {
  const out: Finding[] = [];
  for (const { where, node } of sections(m)) {
    const fw = node.firewall;
    const path = optionPath(fw.path, 'extraCommands');
    const forwards = node.networking.nat.enable ? node.networking.nat.forwardPorts : [];
    for (const r of dnatRules(fw.extraCommands)) {
      if (ownForward(r.line, forwards)) continue;
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
  out.push(...forwardFindings(m));
  if (!out.length) {
    out.push({ subject: 'firewall extraCommands', pass: true, optionPath: optionPath(m.host.firewall.path, 'extraCommands'), observed: 'no DNAT/REDIRECT rules', expected: 'no DNAT in extraCommands', message: 'no port is DNATed in firewall extraCommands' });
  }
  return out;
}


// Ports of data stores, brokers and dashboards: published as they are, nothing stands in front of them.
const INTERNAL_PORTS: Record<number, string> = { 5432: 'PostgreSQL', 6379: 'Redis', 4222: 'NATS', 6222: 'NATS cluster', 8222: 'NATS monitoring', 6333: 'Qdrant', 6334: 'Qdrant gRPC', 9090: 'Prometheus', 9093: 'Alertmanager', 9100: 'node exporter', 3000: 'Grafana', 3306: 'MySQL', 27017: 'MongoDB', 11211: 'memcached', 9200: 'Elasticsearch' };

/**
 * Container forwardPorts (systemd-nspawn --port) and networking.nat.forwardPorts publish a container
 * port by DNAT before the host firewall's INPUT chain: a data store or broker published that way is
 * reachable from anywhere, past nginx and past allowedTCPPorts.
 */
function forwardFindings(m: Manifest): Finding[] {
  const out: Finding[] = [];
  const internal = (c: Container | undefined, port: number) => {
    const l = c?.config.listeners.find((x) => x.port === port && x.service !== 'nginx' && x.service !== 'sshd');
    return l ? `${l.service}` : INTERNAL_PORTS[port];
  };
  const publish = (subject: string, path: string, observed: unknown, what: string, hostPort: string) => out.push({ subject, pass: false, optionPath: path, observed, expected: 'internal services reached through nginx, never published',
    message: `${path} publishes ${what} on host port ${hostPort} by DNAT, which happens before the host firewall's INPUT rules: it is reachable from every network the host is on, past nginx and past allowedTCPPorts. Remove the forward; clients in other containers reach it over the container network, operators over SSH.` });
  for (const c of m.containers.filter((x) => x.privateNetwork)) {
    c.forwardPorts.forEach((f, i) => {
      const port = Number(f.containerPort ?? f.hostPort);
      const svc = Number.isInteger(port) ? internal(c, port) : undefined;
      if (svc) publish(`container ${c.name} forward ${String(f.hostPort)} → ${port}`, optionPath(c.path, 'forwardPorts'), f, `${svc} of container ${c.name} (port ${port}, entry ${i})`, String(f.hostPort));
    });
  }
  const nat = m.host.networking.nat;
  for (const f of nat.enable ? nat.forwardPorts : []) {
    const [addr, p] = String(f.destination ?? '').split(/:(?=\d+(?:-\d+)?$)/);
    const port = Number(p ?? String(f.sourcePort ?? '').split(':')[0]);
    const c = m.containers.find((x) => x.localAddress?.split('/')[0] === addr);
    const svc = Number.isInteger(port) ? internal(c, port) : undefined;
    if (svc) publish(`NAT forward ${String(f.sourcePort)} → ${String(f.destination)}`, optionPath(nat.path, 'forwardPorts'), f, `${svc}${c ? ` of container ${c.name}` : ''} (${String(f.destination)})`, String(f.sourcePort));
  }
  return out;
}

// ── firewall ports vs declared services ─────────────────────────────────────────────────────
export function portFindings(m: Manifest): Finding[] {
  const out: Finding[] = [];
  const fw = m.host.firewall;
  if (!fw.enable) return [{ subject: 'host firewall', pass: false, optionPath: optionPath(fw.path, 'enable'), observed: false, expected: true, message: `${optionPath(fw.path, 'enable')} is false: every listening port is open` }];
  const served = new Map<number, string>();
  for (const l of m.host.listeners) served.set(l.port, l.service);
  // A virtual host's own `listen` entries (e.g. an admin host on 8443) are nginx's ports too.
  if (m.host.nginx.enable) for (const v of m.host.nginx.virtualHosts) for (const l of v.listen) if (typeof l.port === 'number') served.set(l.port, `nginx ${v.name}`);
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
    ...fw.interfaces.flatMap((i) => [
      ...i.allowedTCPPorts.map((port) => ({ port, path: optionPath(i.path, 'allowedTCPPorts') })),
      ...i.allowedTCPPortRanges.filter((r) => r.to - r.from < 64).flatMap((r) => Array.from({ length: r.to - r.from + 1 }, (_, k) => ({ port: r.from + k, path: optionPath(i.path, 'allowedTCPPortRanges') }))),
    ]),
  ];
  // A reversed range: iptables opens to..from (--dport 9000:900 is read as 900:9000), nftables refuses the ruleset.
  const ranges = [
    ...fw.allowedTCPPortRanges.map((r) => ({ r, path: optionPath(fw.path, 'allowedTCPPortRanges') })),
    ...fw.interfaces.flatMap((i) => i.allowedTCPPortRanges.map((r) => ({ r, path: optionPath(i.path, 'allowedTCPPortRanges') }))),
  ];
  for (const { r, path } of ranges.filter(({ r }) => r.from > r.to)) {
    out.push({ subject: `tcp/${r.from}-${r.to}`, pass: false, optionPath: path, observed: r, expected: 'from ≤ to',
      message: `${path} has a reversed range { from = ${r.from}; to = ${r.to}; }: the iptables backend opens ${r.to}-${r.from} (${r.from - r.to + 1} ports), the nftables backend fails to load the ruleset. Write { from = ${r.to}; to = ${r.from}; } if that is meant, or the ports the services use.` });
  }
  // Ranges too wide to list port by port: one finding each (nothing declared serves hundreds of ports).
  const wide = ranges.filter(({ r }) => r.to - r.from >= 64);
  for (const { r, path } of wide) {
    const inside = [...served].filter(([p]) => p >= r.from && p <= r.to).sort(([a], [b]) => a - b).map(([p, by]) => `${p} (${by})`);
    out.push({ subject: `tcp/${r.from}-${r.to}`, pass: false, optionPath: path, observed: { ports: r.to - r.from + 1, served: inside }, expected: 'a declared service per opened port',
      message: `${path} opens ${r.to - r.from + 1} TCP ports (${r.from}-${r.to})${inside.length ? `, of which only ${inside.join(', ')} are served by a declared service` : ' and no declared service listens on any of them'}: anything that later listens there is exposed. Open the ports the services use, one by one.` });
  }
  const dnat = new Map(dnatRules(fw.extraCommands).filter((r) => r.dport).map((r) => [r.dport!, r.to]));
  for (const a of allowed) {
    const by = served.get(a.port);
    out.push(by
      ? { subject: `tcp/${a.port}`, pass: true, optionPath: a.path, observed: by, expected: 'a declared service', message: `tcp/${a.port} is opened for ${by}` }
      : { subject: `tcp/${a.port}`, pass: false, optionPath: a.path, observed: 'no declared host service listens on it', expected: 'a declared service',
          message: `${a.path} opens tcp/${a.port} but no service declared on the host listens on it${!m.host.nginx.enable && m.host.nginx.virtualHosts.length && (a.port === 80 || a.port === 443) ? ` (virtual hosts are declared, but ${optionPath(m.host.nginx.path, 'enable')} is false)` : ''}${dnat.has(a.port) ? ` (it is DNATed to ${dnat.get(a.port)}, which never passes this rule)` : ''}. Remove ${a.port} from ${a.path}, or declare the service that should answer there.` });
  }
  if (!allowed.length && !wide.length) out.push({ subject: 'host firewall', pass: true, optionPath: optionPath(fw.path, 'allowedTCPPorts'), observed: [], expected: 'a declared service per port', message: 'the host firewall opens no TCP port' });
  return out;
}

export function bridgeFindings(m: Manifest): Finding[] {
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

