// The firewall inside a container's network namespace, judged with the host firewall's own model
// (iptables.ts: iptablesModel) rather than a line regex: a port accepted straight (`-j ACCEPT` in
// nixos-fw) counts as open, and an unhooked nixos-fw (INPUT no longer jumps to it) or a refuse path
// that accepts is the firewall not in force. An adapter only: iptables.ts is not changed for it.
// nft text (`nft list ruleset`) keeps the input-allow reading of innerFirewallPorts.
import { iptablesModel, parseIptablesSave } from './iptables.js';
import { innerFirewallPorts } from './isolation.js';
import type { Drift, PortRange } from './firewall-model.js';

export interface InnerFirewall {
  backend: 'iptables' | 'nftables';
  /** TCP ports accepted on every interface (interface-bound rules ignored), sorted. */
  ports: number[];
  /** Why the firewall is not in force or lets everything through (empty: in force). */
  notInForce: string[];
  drift: Drift[];
}

const expand = (ranges: PortRange[], into: Set<number>) => {
  for (const r of ranges) for (let p = r.from; p <= r.to; p++) into.add(p);
};

/**
 * The inner firewall from iptables-save (IPv4, the container's netns) or nft list ruleset; undefined
 * when neither holds NixOS's firewall. Throws ParseError on iptables-save it cannot read.
 */
export function innerFirewall(text: string, source: string): InnerFirewall | undefined {
  if (/^:nixos-fw /m.test(text) || /^-A nixos-fw /m.test(text)) {
    const m = iptablesModel(parseIptablesSave(text, source), 'ipv4');
    const ports = new Set<number>();
    for (const a of m.allowed) if (a.proto === 'tcp' && !a.iface) expand(a.ports, ports);
    return { backend: 'iptables', ports: [...ports].sort((a, b) => a - b), notInForce: [...new Set([...m.notEnforced, ...m.defaultOpen])], drift: m.drift };
  }
  const ports = innerFirewallPorts(text);
  return ports ? { backend: 'nftables', ports, notInForce: [], drift: [] } : undefined;
}
