// The plan's firewall expectation, from the NixOS manifest.
import { optionPath, type Manifest } from '../../src/core/manifest.js';
import { expandRanges, portsOf } from '../../src/probes/firewall-model.js';
import type { ForwardPort } from '../../src/probes/iptables.js';
import type { FirewallExpect } from './expect.js';

/**
 * The plan's firewall expectation: the host's declared allowances; closed = every port something
 * inside (containers' firewalls and listeners) or a host service declares, minus what is opened.
 */
export function fromManifest(m: Manifest, cite: (segs: (string | number)[], optionPath: string) => void): FirewallExpect {
  const fw = m.host.firewall;
  const at = (k: string) => optionPath(fw.path, k);
  const f: FirewallExpect = { open: [...fw.allowedTCPPorts, ...portsOf(fw.allowedTCPPortRanges)] };
  cite(['firewall', 'open'], at('allowedTCPPorts') + (fw.allowedTCPPortRanges.length ? ` + ${at('allowedTCPPortRanges')}` : ''));
  // Ports opened on some interface are not expected closed either: the harness's interface is unknown.
  const openSet = new Set([...fw.allowedTCPPorts, ...expandRanges(fw.allowedTCPPortRanges), ...fw.interfaces.flatMap((i) => [...i.allowedTCPPorts, ...expandRanges(i.allowedTCPPortRanges)])]);
  const inner = m.containers.flatMap((c) => [...c.config.firewall.allowedTCPPorts, ...expandRanges(c.config.firewall.allowedTCPPortRanges), ...c.config.listeners.map((l) => l.port)]);
  const closed = [...new Set([...inner, ...m.host.listeners.map((l) => l.port)].filter((p) => !openSet.has(p)))].sort((a, b) => a - b);
  if (closed.length) {
    f.closed = closed;
    cite(['firewall', 'closed'], `ports declared inside containers (containers.<name>.config.networking.firewall.allowedTCPPorts, listeners) and host services, minus ${at('allowedTCPPorts')}`);
  }
  const udp = [...fw.allowedUDPPorts, ...portsOf(fw.allowedUDPPortRanges)];
  if (udp.length) {
    f.udp = udp;
    cite(['firewall', 'udp'], at('allowedUDPPorts'));
  }
  if (fw.interfaces.length) {
    f.interfaces = Object.fromEntries(fw.interfaces.map((i) => {
      const tcp = [...i.allowedTCPPorts, ...portsOf(i.allowedTCPPortRanges)];
      const u = [...i.allowedUDPPorts, ...portsOf(i.allowedUDPPortRanges)];
      return [i.name, { ...(tcp.length ? { tcp } : {}), ...(u.length ? { udp: u } : {}) }];
    }));
    for (const i of fw.interfaces) cite(['firewall', 'interfaces', i.name], i.path);
  }
  f.trusted = fw.trustedInterfaces;
  cite(['firewall', 'trusted'], at('trustedInterfaces'));
  f.refuse = fw.rejectPackets ? 'reject' : 'drop';
  cite(['firewall', 'refuse'], at('rejectPackets'));
  if (fw.backend !== 'firewalld') {
    f.backend = fw.backend;
    cite(['firewall', 'backend'], at('backend'));
  }
  const extra = fw.extraCommands.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  if (extra.length) {
    f.extraRules = extra;
    cite(['firewall', 'extraRules'], at('extraCommands'));
  }
  // networking.nat.forwardPorts (only written when nat is enabled), restricted to the external interface.
  const nat = m.host.networking.nat;
  const fwd = nat.enable ? nat.forwardPorts.flatMap((x): ForwardPort[] => {
    const sp = x.sourcePort;
    const dest = x.destination;
    if ((typeof sp !== 'number' && typeof sp !== 'string') || typeof dest !== 'string') return [];
    return [{ proto: x.proto === 'udp' ? 'udp' : 'tcp', sourcePort: typeof sp === 'string' ? sp.replace(':', '-') : sp, destination: dest, ...(nat.externalInterface ? { iface: nat.externalInterface } : {}) }];
  }) : [];
  if (fwd.length) {
    f.forwardPorts = fwd;
    cite(['firewall', 'forwardPorts'], optionPath(nat.path, 'forwardPorts'));
  }
  return f;
}
