// Backend-neutral shape of a NixOS firewall, filled by probes/iptables.ts or probes/nft.ts.
import { ParseError } from '../types.js';

export interface PortRange {
  from: number;
  to: number;
}

/** One "allowed port(s)" rule of the NixOS shape. */
export interface AllowRule {
  proto: 'tcp' | 'udp';
  ports: PortRange[];
  /** Per-interface rule (networking.firewall.interfaces.<if>); undefined = every interface. */
  iface?: string;
  /** The rule as printed (iptables-save line or rendered nft rule). */
  rule: string;
  /** Inserted ahead of NixOS's own rules (nixos-firewall-tool does `-I`). */
  inserted?: boolean;
}

export interface Drift {
  rule: string;
  why: string;
}

/** Ports forwarded by DNAT before the filter sees them (they bypass nixos-fw). */
export interface Dnat {
  proto: string;
  port: PortRange;
  to: string;
  iface?: string;
  rule: string;
}

export interface FirewallModel {
  backend: 'iptables' | 'nftables';
  family: string;
  /** nixos-fw chain / inet nixos-fw table exists. */
  present: boolean;
  /** INPUT jumps to nixos-fw (iptables) / input hook with policy drop reaches input-allow (nft). */
  hooked: boolean;
  /** Why the filter is not in force, if it is not (missing chains/jump, shadowing accept). */
  notEnforced: string[];
  /** Why packets nothing allows are not refused (policy accept, refuse chain accepting, no final refuse). */
  defaultOpen: string[];
  trusted: string[];
  allowed: AllowRule[];
  refuse: 'drop' | 'reject' | 'unknown';
  drift: Drift[];
  dnat: Dnat[];
  /** Every rule that was understood as NixOS's own, for evidence. */
  ruleCount: number;
}

export function rangeText(r: PortRange): string {
  return r.from === r.to ? String(r.from) : `${r.from}-${r.to}`;
}

export function parsePortToken(tok: string, source: string, sep = ':'): PortRange {
  const parts = tok.split(sep);
  const nums = parts.map((p) => (/^\d+$/.test(p) ? Number(p) : NaN));
  if (nums.length > 2 || nums.some((n) => !Number.isInteger(n) || n < 0 || n > 65535)) {
    throw new ParseError(source, `"${tok}" is not a port or port range`, tok);
  }
  return { from: nums[0], to: nums[nums.length - 1] };
}
