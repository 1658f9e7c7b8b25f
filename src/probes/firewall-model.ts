// Backend-neutral shape of a NixOS firewall, filled by probes/iptables.ts or probes/nft.ts.
import { ParseError } from '../core/types.js';

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

// ---- port sets: allowances compared as merged intervals, keyed "tcp" / "udp" / "tcp@eth0" ----

/** A port or an "a-b" range as written in an expectation. */
export type Port = number | string;

export function toRange(p: Port): PortRange {
  if (typeof p === 'number') return { from: p, to: p };
  const [a, b] = p.split('-').map(Number);
  return { from: Math.min(a, b), to: Math.max(a, b) };
}

/** Merge ranges into sorted disjoint intervals so "80,81" equals "80-81" (nft may auto-merge). */
export function mergeRanges(rs: PortRange[]): PortRange[] {
  const s = [...rs].sort((a, b) => a.from - b.from);
  const out: PortRange[] = [];
  for (const r of s) {
    const last = out[out.length - 1];
    if (last && r.from <= last.to + 1) last.to = Math.max(last.to, r.to);
    else out.push({ ...r });
  }
  return out;
}

export function setText(rs: PortRange[]): string {
  return mergeRanges(rs).map(rangeText).join(',') || '(none)';
}

/** Key → merged intervals of what a model allows. */
export function observedAllow(model: FirewallModel): Map<string, PortRange[]> {
  const m = new Map<string, PortRange[]>();
  for (const a of model.allowed) {
    const k = a.iface ? `${a.proto}@${a.iface}` : a.proto;
    m.set(k, mergeRanges([...(m.get(k) ?? []), ...a.ports]));
  }
  return m;
}

/** One line per key whose intervals differ: "tcp: expected 22,80, observed 22". */
export function diffAllow(exp: Map<string, PortRange[]>, obs: Map<string, PortRange[]>): string[] {
  const out: string[] = [];
  for (const k of new Set([...exp.keys(), ...obs.keys()])) {
    const a = setText(exp.get(k) ?? []);
    const b = setText(obs.get(k) ?? []);
    if (a !== b) out.push(`${k}: expected ${a}, observed ${b}`);
  }
  return out;
}

export function allowText(m: Map<string, PortRange[]>): Record<string, string> {
  return Object.fromEntries([...m.entries()].sort().map(([k, v]) => [k, setText(v)]));
}

/** Key → merged intervals from ports as written, e.g. [["tcp", [22, "80-81"]], ["tcp@eth0", [9100]]]. */
export function allowMap(entries: [string, Port[] | undefined][]): Map<string, PortRange[]> {
  const m = new Map<string, PortRange[]>();
  for (const [k, ps] of entries) if (ps?.length) m.set(k, mergeRanges([...(m.get(k) ?? []), ...ps.map(toRange)]));
  return m;
}

/** Ranges as an expectation writes ports: 22, or "6333-6334". */
export const portsOf = (ranges: PortRange[]): Port[] => ranges.map((r) => (r.from === r.to ? r.from : `${r.from}-${r.to}`));

/** The single ports of ranges narrower than 64 ports (wider ones are not spelled out). */
export const expandRanges = (ranges: PortRange[]): number[] => ranges.filter((r) => r.to - r.from < 64).flatMap((r) => Array.from({ length: r.to - r.from + 1 }, (_, i) => r.from + i));
