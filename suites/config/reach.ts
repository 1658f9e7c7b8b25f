// Who can reach what inside the deployment: containers by address, whether a container's own
// firewall opens a port, and the ports the deployment itself needs reached (nginx proxyPass,
// Prometheus scrape targets, clients' URLs in unit environments).
import { optionPath, sections, type Container, type Manifest } from '../../src/core/manifest.js';

const bare = (a: string | null) => (a ?? '').replace(/\/\d+$/, '');

/** The container a host name or address names (its localAddress, `NAME.containers`, or NAME). */
export function containerAt(m: Manifest, host: string): Container | undefined {
  const h = host.replace(/^\[|\]$/g, '');
  return m.containers.find((c) => bare(c.localAddress) === h || bare(c.localAddress6) === h || h === `${c.name}.containers` || h === c.name);
}

/** Whether the container's own firewall lets `port` in on its network interface. */
export function innerOpen(c: Container, port: number): { open: boolean; why: string } {
  const fw = c.config.firewall;
  if (!c.privateNetwork) return { open: true, why: 'the container shares the host network (no privateNetwork)' };
  if (!fw.enable) return { open: true, why: `${fw.path}.enable is false` };
  const trusted = fw.trustedInterfaces.filter((i) => i !== 'lo');
  if (trusted.length) return { open: true, why: `${fw.path}.trustedInterfaces = ${JSON.stringify(trusted)}` };
  const inRanges = (rs: { from: number; to: number }[]) => rs.some((r) => port >= r.from && port <= r.to);
  if (fw.allowedTCPPorts.includes(port) || inRanges(fw.allowedTCPPortRanges)) return { open: true, why: `${fw.path}.allowedTCPPorts opens ${port}` };
  const ifc = fw.interfaces.find((i) => i.allowedTCPPorts.includes(port) || inRanges(i.allowedTCPPortRanges));
  if (ifc) return { open: true, why: `${ifc.path}.allowedTCPPorts opens ${port}` };
  return { open: false, why: `${fw.path}.allowedTCPPorts does not open ${port}` };
}

/** Whether anything reaches `port` of a private-network container from outside it. */
export function reachable(m: Manifest, c: Container, port: number): { open: boolean; why: string } {
  const fwd = c.forwardPorts.find((f) => Number(f.containerPort ?? f.hostPort) === port);
  if (fwd) return { open: true, why: `${c.path}.forwardPorts forwards host port ${fwd.hostPort} to it` };
  const nat = m.host.networking.nat;
  const dest = nat.enable ? nat.forwardPorts.find((f) => { const [h, p] = String(f.destination ?? '').split(/:(?=\d+(?:-\d+)?$)/); return containerAt(m, h) === c && natPorts(p, f.sourcePort).includes(port); }) : undefined;
  if (dest) return { open: true, why: `networking.nat.forwardPorts forwards ${dest.sourcePort} to it` };
  return innerOpen(c, port);
}

/** The destination ports of a networking.nat.forwardPorts entry: its destination's port or range
 * ("ip:80", "ip:8000-8010"), else the source port or range ("8000:8010") — DNAT keeps the port. */
export function natPorts(destPort: string | undefined, sourcePort: unknown): number[] {
  const [a, b] = (destPort ?? String(sourcePort ?? '')).split(/[-:]/).map(Number);
  if (!a) return [];
  const to = b && b >= a && b - a < 64 ? b : a;
  return Array.from({ length: to - a + 1 }, (_, i) => a + i);
}

export interface Need { from: string; target: Container; port: number; what: string; path: string }

const URL_RE = /(?:^|[\s,;=("'@/])(\d{1,3}(?:\.\d{1,3}){3}|[A-Za-z0-9-]+\.containers|\[[0-9a-fA-F:]+\]):(\d{1,5})\b/g;

/** Every port of a container that another part of the deployment connects to. */
export function needs(m: Manifest): Need[] {
  const out: Need[] = [];
  for (const { where, container: self, node } of sections(m)) {
    const add = (hostPort: string, what: string, path: string, defPort?: number) => {
      const mm = /^(?:([a-z+]+):\/\/)?([^/:\s]+|\[[^\]]+\])(?::(\d+))?/.exec(hostPort.trim());
      if (!mm) return;
      const target = containerAt(m, mm[2]);
      const port = Number(mm[3] ?? (mm[1] === 'https' ? 443 : mm[1] === 'http' ? 80 : defPort));
      if (!target || target === self || !port) return;
      out.push({ from: where, target, port, what, path });
    };
    for (const v of node.nginx.enable ? node.nginx.virtualHosts : []) {
      for (const l of v.locations) if (l.proxyPass) add(l.proxyPass, `nginx ${v.name} location ${l.name} proxyPass`, l.path);
    }
    if (node.prometheus.enable) {
      for (const s of node.prometheus.scrapeConfigs) for (const t of s.targets) add(t, `Prometheus scrape job ${s.job ?? '?'}`, optionPath(node.prometheus.path, 'scrapeConfigs'));
    }
    if (where === 'host') {
      // The container firewall judged here is TCP's (allowedTCPPorts): UDP forwards are not needs.
      const tcp = (f: { proto?: unknown; protocol?: unknown }) => String(f.proto ?? f.protocol ?? 'tcp') === 'tcp';
      for (const f of node.networking.nat.enable ? node.networking.nat.forwardPorts.filter(tcp) : []) {
        const [h, p] = String(f.destination ?? '').split(/:(?=\d+(?:-\d+)?$)/);
        for (const port of natPorts(p, f.sourcePort)) add(`${h}:${port}`, `networking.nat.forwardPorts ${f.sourcePort}`, optionPath(node.networking.nat.path, 'forwardPorts'));
      }
      for (const c of m.containers) {
        for (const f of c.privateNetwork ? c.forwardPorts.filter(tcp) : []) {
          const port = Number(f.containerPort ?? f.hostPort);
          if (port) out.push({ from: 'host', target: c, port, what: `${c.path}.forwardPorts ${f.hostPort}`, path: optionPath(c.path, 'forwardPorts') });
        }
      }
    }
    for (const u of node.units) {
      for (const [k, v] of Object.entries(u.environment)) {
        if (typeof v !== 'string') continue;
        for (const x of v.matchAll(URL_RE)) add(`${x[1]}:${x[2]}`, `${u.name}.service ${k}`, optionPath(u.path, 'environment', k));
      }
    }
  }
  return out;
}
