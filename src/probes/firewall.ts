// The firewall facts of a node, in one round trip (firewall.sh: iptables-save, ip6tables-save,
// `nft -j list ruleset`, the listening sockets from /proc/net/tcp{,6} or `ss -Hltn`) plus, in parallel, TCP connects from the harness to the ports
// an expectation names: what the rules say and what a client on the network sees.
import { probeScript, scriptCommand } from '../core/script.js';
import { lookup } from 'node:dns/promises';
import { ParseError, type Host, type NodeSpec, type TransportSession } from '../core/types.js';
import { parseDuration } from '../core/units.js';
import type { Drift, FirewallModel, Port } from './firewall-model.js';
import { iptablesModel, parseIptablesSave, type ForwardPort } from './iptables.js';
import { nftModel, parseNftJson, vmapAccepts } from './nft.js';
import { MARK, splitSections, type Section } from './sections.js';
import { parseProcNetTcp } from './listeners.js';
import { parseSsListen, type Listener } from './ss.js';
import { probeTcpAdaptive, type AdaptiveProbes, type KnownPort, type TcpProbe } from './tcp.js';

/** A part of the firewall that could not be read or parsed (its check becomes `error`). */
export interface FirewallReadError {
  source: string;
  message: string;
  excerpt?: string;
}

export interface FirewallFacts {
  /** The command sent to the node. */
  script: string;
  raw: Record<string, Section>;
  v4?: FirewallModel;
  v6?: FirewallModel;
  /** Why v6 was not evaluated. */
  v6Note?: string;
  /** Whether IPv6 is up on the node (/proc/net/if_inet6: an address on an interface other than lo); absent when not read. */
  ipv6?: { enabled: boolean; why: string };
  nft?: ReturnType<typeof nftModel>;
  nftNote?: string;
  listening?: Listener[];
  errors: FirewallReadError[];
  target?: string;
  probes: { open: TcpProbe[]; closed: TcpProbe[] };
  /** How long a silent port was waited for, and why that long (adaptive unless the expectation fixes it). */
  probeTimeoutMs: number;
  probeTimeoutWhy?: string;
}

export type FirewallNodeFacts = Omit<FirewallFacts, 'probes' | 'target' | 'probeTimeoutMs' | 'probeTimeoutWhy'>;

const PARTS = ['iptables-save', 'ip6tables-save', 'nft'];
/** The command that prints the node's firewall, as sent. */
export const FIREWALL_SCRIPT = scriptCommand(probeScript('firewall.sh'), [MARK]);

/**
 * /proc/net/if_inet6 → whether IPv6 is up: an address (global or link-local) on an interface other
 * than lo. Lines: address (32 hex), ifindex, prefix length, scope, flags (hex), interface name.
 */
export function parseIfInet6(text: string): { enabled: boolean; why: string } {
  const addrs: string[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const m = /^\s*([0-9a-f]{32})\s+[0-9a-f]+\s+[0-9a-f]{2}\s+[0-9a-f]{2}\s+[0-9a-f]{2}\s+(\S+)$/.exec(line);
    if (!m) throw new ParseError('/proc/net/if_inet6', 'not an if_inet6 line', line);
    const addr = m[1].match(/.{4}/g)!.map((g) => g.replace(/^0+(?=.)/, '')).join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
    if (m[2] !== 'lo') addrs.push(`${m[2]} ${addr}`);
  }
  return addrs.length
    ? { enabled: true, why: `IPv6 is up on the node (${addrs.slice(0, 3).join(', ')}${addrs.length > 3 ? ', …' : ''})` }
    : { enabled: false, why: 'IPv6 is off on the node (no inet6 address but on lo)' };
}

/** The IPv6 filter of a node where IPv6 is up but ip6tables-save shows no filter table: nothing filters IPv6. */
function noV6Filter(why: string): FirewallModel {
  return {
    backend: 'iptables', family: 'ipv6', present: false, hooked: false, trusted: [], allowed: [], refuse: 'unknown', drift: [], dnat: [], ruleCount: 0,
    notEnforced: [`no IPv6 filter table loaded although ${why}`],
    defaultOpen: ['no IPv6 filter table: nothing refuses IPv6'],
  };
}

/** Strict: turn firewall.sh's output into facts (also used by unit tests with fixtures). */
export function parseFirewallOutput(output: string, o: { extraRules?: string[]; trusted?: string[]; forwardPorts?: ForwardPort[] }, stderr = ''): FirewallNodeFacts {
  const facts: FirewallNodeFacts = { script: FIREWALL_SCRIPT, raw: {}, errors: [] };
  const s = splitSections(output, 'firewall probe', PARTS, stderr);
  for (const p of PARTS) facts.raw[p] = s.get(p)!;
  // Listening sockets come from /proc/net/tcp{,6} read by the shell, or from ss on a node with long tables.
  const listen = s.get('listen');
  const ss = s.get('ss');
  if (!listen && !ss) throw new ParseError('firewall probe', 'probe output lacks section(s) listen or ss', output.slice(0, 400));
  if (listen) facts.raw.listen = listen;
  if (ss) facts.raw.ss = ss;
  const attempt = <T>(source: string, text: string, fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (e) {
      if (e instanceof ParseError) {
        facts.errors.push({ source, message: e.message, excerpt: e.excerpt ?? text.slice(0, 300) });
        return undefined;
      }
      throw e;
    }
  };
  const extra = o.extraRules ?? [];
  const v4 = s.get('iptables-save')!;
  if (v4.rc === 0) facts.v4 = attempt('iptables-save', v4.text, () => iptablesModel(parseIptablesSave(v4.text, 'iptables-save'), 'ipv4', extra, { trusted: o.trusted, forwardPorts: o.forwardPorts }));
  else if (v4.rc !== 127) facts.errors.push({ source: 'iptables-save', message: `iptables-save exited ${v4.rc}: ${v4.stderr.trim()}` });
  // IPv6 judged only where it is up (section absent: not read, IPv6 not judged as before).
  const if6 = s.get('if_inet6');
  if (if6) {
    facts.raw.if_inet6 = if6;
    facts.ipv6 = if6.rc === 0 ? attempt('/proc/net/if_inet6', if6.text, () => parseIfInet6(if6.text)) : { enabled: false, why: `IPv6 is not in the kernel (${if6.stderr.trim() || 'no /proc/net/if_inet6'})` };
  }
  const v6on = facts.ipv6?.enabled === true;
  const v6 = s.get('ip6tables-save')!;
  const unread = v6.rc === 127 ? 'ip6tables-save not installed' : v6.rc !== 0 ? `ip6tables-save exited ${v6.rc}: ${v6.stderr.trim()}` : undefined;
  if (unread && v6on && v4.rc !== 127) facts.errors.push({ source: 'ip6tables-save', message: `${unread}, and ${facts.ipv6!.why}: the IPv6 firewall cannot be read` });
  else if (unread) facts.v6Note = unread;
  else if (!/^\*filter$/m.test(v6.text)) {
    if (v6on) facts.v6 = noV6Filter(facts.ipv6!.why);
    else facts.v6Note = `no IPv6 filter table loaded${facts.ipv6 ? `; ${facts.ipv6.why}` : ''}`;
  } else facts.v6 = attempt('ip6tables-save', v6.text, () => iptablesModel(parseIptablesSave(v6.text, 'ip6tables-save'), 'ipv6', extra, { trusted: o.trusted, forwardPorts: o.forwardPorts }));
  const nft = s.get('nft')!;
  if (nft.rc === 127) facts.nftNote = 'nft not installed';
  else if (nft.rc !== 0) facts.nftNote = `nft exited ${nft.rc}: ${nft.stderr.trim()}`;
  else {
    const rs = attempt('nft -j list ruleset', nft.text, () => parseNftJson(nft.text));
    if (rs) facts.nft = attempt('nft -j list ruleset', nft.text, () => nftModel(rs, extra, { trusted: o.trusted, forwardPorts: o.forwardPorts }));
    // iptables-nft: ports a verdict map opens in nixos-fw, which iptables-save prints without them.
    if (rs) for (const [m, fam] of [[facts.v4, 'ip'], [facts.v6, 'ip6']] as const) m?.allowed.push(...(attempt('nft -j list ruleset', nft.text, () => vmapAccepts(rs, fam)) ?? []));
  }
  if (v4.rc === 127 && nft.rc === 127) facts.errors.push({ source: 'iptables-save, nft', message: 'neither iptables-save nor nft is installed on the node: cannot read its firewall' });
  if (listen?.rc === 0) facts.listening = attempt('/proc/net/tcp, /proc/net/tcp6', listen.text, () => parseProcNetTcp(listen.text, '/proc/net/tcp, /proc/net/tcp6'));
  else if (ss?.rc === 0) facts.listening = attempt('ss -Hltn', ss.text, () => parseSsListen(ss.text));
  return facts;
}

/** The single ports of a list (ranges are not probed). */
export function intPorts(list: Port[] | undefined): number[] {
  return (list ?? []).filter((p): p is number => typeof p === 'number');
}

/** The ports a node's firewall expectation has probed from outside, and how (gather and early alike). */
export function outsideProbing(node: NodeSpec, e: { open?: Port[]; closed?: number[]; probeTimeout?: string }) {
  return {
    open: intPorts(e.open),
    closed: e.closed ?? [],
    probeTimeoutMs: e.probeTimeout ? parseDuration(e.probeTimeout) : undefined,
    sshPort: node.transport === 'ssh' ? node.ssh.port : undefined,
  };
}

/**
 * The node's firewall (one exec) and, at the same time (they are independent), TCP connects from
 * the harness to `target` for every `open` and `closed` port; a silent port is waited for a bounded
 * multiple of the round trip measured to `rttPort` (ssh's) and of the answers (probeTcpAdaptive),
 * or `probeTimeoutMs` when the expectation fixes it.
 */
export async function gatherFirewall(
  host: Host,
  o: { target?: string; open: number[]; closed: number[]; probeTimeoutMs?: number; rttPort?: number; timeoutMs: number; extraRules?: string[]; trusted?: string[]; forwardPorts?: ForwardPort[] },
  early?: Promise<EarlyProbes | undefined>,
): Promise<FirewallFacts> {
  const { target, open, closed } = o;
  const outside = async (): Promise<AdaptiveProbes | undefined> => {
    if (!target) return undefined;
    const known = sessionProbe(host, target, open);
    const all = [...open, ...closed];
    const e = await early?.catch(() => undefined);
    if (e?.target === target) {
      // Started before the connection (earlyProbes): what they did not cover is the ssh port, which
      // the session answers for, or probed now.
      const rest = all.filter((p) => !e.ports.includes(p) && p !== known?.probe.port);
      const late = rest.length ? await probeTcpAdaptive(target, rest, { fixedMs: o.probeTimeoutMs, seed: known }) : undefined;
      const probes = all.map((p) => (e.ports.includes(p) ? e.result.probes[e.ports.indexOf(p)] : p === known?.probe.port ? known.probe : late!.probes[rest.indexOf(p)]));
      return { probes, timeoutMs: e.result.timeoutMs, why: e.result.why };
    }
    return probeTcpAdaptive(target, all, { rttPort: o.rttPort, fixedMs: o.probeTimeoutMs, known });
  };
  const [r, tcp] = await Promise.all([host.exec(FIREWALL_SCRIPT, { timeoutMs: o.timeoutMs }), outside()]);
  const probes = tcp ? { open: tcp.probes.slice(0, open.length), closed: tcp.probes.slice(open.length) } : { open: [], closed: [] };
  return { ...parseFirewallOutput(r.stdout, o, r.stderr), target, probes, probeTimeoutMs: tcp?.timeoutMs ?? o.probeTimeoutMs ?? 0, probeTimeoutWhy: tcp?.why };
}

/** Outside-in probes started before the node's connection (the firewall suite's `early`). */
export interface EarlyProbes {
  /** The address they went to (the node's host, resolved as a connect resolves it). */
  target: string;
  ports: number[];
  result: AdaptiveProbes;
}

/**
 * The outside-in probes need no ssh session, so they start with the connection rather than after
 * it (the ssh handshake and a silent port's wait overlap: ~0.1 s less per node on the lab). The
 * ssh port, when expected open, is left to the session itself (no second sshd on the node), and
 * the session's TCP connect seeds the adaptive wait when it comes (until then the ceiling, looked
 * at again every floor).
 */
export async function earlyProbes(
  host: string,
  o: { open: number[]; closed: number[]; probeTimeoutMs?: number; sshPort?: number; session: Promise<TransportSession | undefined>; signal?: AbortSignal },
): Promise<EarlyProbes> {
  const { address: target } = await lookup(host);
  const ports = [...o.open, ...o.closed].filter((p) => !(p === o.sshPort && o.open.includes(p)));
  const lateSeed = o.session.then((s) => (s ? sessionKnown(s, target) : undefined));
  const result = await probeTcpAdaptive(target, ports, { fixedMs: o.probeTimeoutMs, lateSeed, signal: o.signal });
  return { target, ports, result };
}

/** The firewall in force: the pinned backend, else whichever NixOS firewall is present. */
export function firewallInForce(f: FirewallNodeFacts, pinned?: 'iptables' | 'nftables'): { models: FirewallModel[]; backend?: string; note?: string; conflict?: string; natDrift: Drift[] } {
  const ipt = f.v4?.present ? 'iptables' : undefined;
  const nft = f.nft?.present ? 'nftables' : undefined;
  const conflict = ipt && nft ? 'both the iptables nixos-fw chains and table inet nixos-fw are loaded' : undefined;
  const backend = pinned ?? ipt ?? nft;
  // A DNAT in a native nft table (not iptables-nft's ip/ip6 nat, read through iptables-save) bypasses
  // nixos-fw whichever backend filters: judged on an iptables node too.
  // And iptables-nft's DNATs (an xt target in nft's JSON, read through iptables-save) on an nftables node.
  const natDrift = backend === 'iptables'
    ? (f.nft?.natDrift ?? []).filter((d) => d.table !== 'ip nat' && d.table !== 'ip6 nat').map(({ rule, why }) => ({ rule: `nft: ${rule}`, why }))
    : [f.v4, f.v6].flatMap((m) => (m?.drift ?? []).filter((d) => d.rule.startsWith('-t nat') && d.why.startsWith('DNAT')).map((d) => ({ rule: `${m!.family}: ${d.rule}`, why: d.why })));
  if (!backend) return { models: [], note: 'neither a nixos-fw chain (iptables-save) nor table inet nixos-fw (nft) is loaded', natDrift };
  if (backend === 'iptables') {
    if (!f.v4) return { models: [], backend, note: 'iptables-save gave no usable output', natDrift };
    return { models: f.v6 ? [f.v4, f.v6] : [f.v4], backend, conflict, natDrift };
  }
  if (!f.nft) return { models: [], backend, note: f.nftNote ?? 'nft gave no usable output', natDrift };
  return { models: [f.nft], backend, conflict, natDrift };
}

/** Where a backend's rules came from, for evidence. */
export function firewallSource(backend?: string): string {
  return backend === 'nftables' ? 'nft -j list ruleset' : 'iptables-save; ip6tables-save';
}

/** The rules worth showing an auditor: nft's JSON head, or iptables' nixos-fw / INPUT / PREROUTING rules. */
export function firewallExcerpt(f: FirewallNodeFacts, backend?: string): string {
  if (backend === 'nftables') return (f.raw.nft?.text ?? '').slice(0, 600);
  return (f.raw['iptables-save']?.text ?? '').split('\n').filter((l) => /nixos-fw|INPUT|PREROUTING/.test(l) && l.startsWith('-A')).join('\n');
}

/** A TCP probe's outcome with what listens on that port on the node (when ss was read). */
export function describeProbe(p: TcpProbe, listening?: Listener[]): string {
  const l = listening?.filter((x) => x.port === p.port).map((x) => `${x.address}:${x.port}`) ?? [];
  const ctx = listening ? (l.length ? `; node listens on ${l.join(', ')}` : '; nothing listens on it on the node') : '';
  return `${p.detail} after ${p.ms} ms${ctx}`;
}

/**
 * The harness's own ssh session is an outside-in TCP connect to the ssh port that succeeded: when
 * that port is expected open on the same address, it is the evidence, and no second connect starts
 * one more sshd on the node. Its TCP connect time seeds the adaptive wait.
 */
export function sessionProbe(host: Host, target: string, open: number[]): KnownPort | undefined {
  const s = host.session;
  return s && open.includes(s.port) ? sessionKnown(s, target) : undefined;
}

/** The ssh session to `target` as a port already seen open, its TCP connect the round trip it seeds. */
function sessionKnown(s: TransportSession, target: string): KnownPort | undefined {
  if (s.address !== target) return undefined;
  const ms = s.tcpConnectMs;
  const via = `the harness's own ssh session to ${s.address}:${s.port} (TCP connect${ms === undefined ? '' : ` ${ms.toFixed(1)} ms`}, at ${s.at}; still open)`;
  return {
    probe: { host: target, port: s.port, state: 'open', ms: Math.round(ms ?? 0), rtt: ms, detail: 'connected (the ssh session)', via },
    sampleMs: ms,
    what: "the round trip of the ssh session's TCP connect",
  };
}
