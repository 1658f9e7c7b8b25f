// iptables-save → the NixOS firewall's shape (nixos-facts §1, firewall-iptables.nix):
// INPUT → nixos-fw: trusted `-i IF`, DHCP from ve-+/vz-+/vt-+/ns-+, conntrack, TCP/UDP ports and
// ranges (optionally `-i IF`), ICMP(v6), extraCommands, final jump to nixos-fw-log-refuse.
// Whatever does not fit that shape and order is drift. An accept that opens every port on a
// non-trusted interface ahead of the refuse path (scopeOf) is the firewall off there. Every DNAT
// reachable from nat PREROUTING is reported, since such ports bypass nixos-fw entirely.
import { ParseError } from '../core/types.js';
import type { AllowRule, Dnat, FirewallModel, PortRange } from './firewall-model.js';
import { parsePortToken } from './firewall-model.js';

export interface IptRule {
  table: string;
  chain: string;
  /** The line as printed, without "-A CHAIN". */
  spec: string;
  line: string;
  lineNo: number;
  args: IptArg[];
}

export interface IptArg {
  flag: string;
  values: string[];
  negated: boolean;
}

export interface IptablesSave {
  tables: Map<string, { policies: Map<string, string>; chains: Set<string>; rules: IptRule[] }>;
}

/** Split a rule like the shell would: double quotes group (iptables-save quotes --log-prefix etc.). */
export function tokenize(s: string): { tok: string; quoted: boolean }[] {
  const out: { tok: string; quoted: boolean }[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) out.push(m[1] !== undefined ? { tok: m[1].replace(/\\(.)/g, '$1'), quoted: true } : { tok: m[2], quoted: false });
  return out;
}

function parseArgs(tokens: { tok: string; quoted: boolean }[]): IptArg[] {
  const args: IptArg[] = [];
  let neg = false;
  for (const t of tokens) {
    if (!t.quoted && t.tok === '!') {
      neg = true;
      continue;
    }
    if (!t.quoted && /^--?[a-zA-Z]/.test(t.tok)) {
      args.push({ flag: t.tok, values: [], negated: neg });
      neg = false;
    } else if (args.length) {
      // "-s ! x" (old style) is not printed by iptables-save; a stray "!" before a value negates its flag.
      if (neg) args[args.length - 1].negated = true;
      neg = false;
      args[args.length - 1].values.push(t.tok);
    } else {
      throw new Error(`value "${t.tok}" before any option`);
    }
  }
  return args;
}

export function parseIptablesSave(text: string, source = 'iptables-save'): IptablesSave {
  const tables: IptablesSave['tables'] = new Map();
  let cur: string | undefined;
  const lines = text.split('\n');
  let sawCommit = false;
  lines.forEach((raw, i) => {
    const line = raw.trimEnd();
    const where = `${source} line ${i + 1}`;
    if (!line || line.startsWith('#')) return;
    if (line.startsWith('*')) {
      cur = line.slice(1);
      if (!/^[a-z]+$/.test(cur)) throw new ParseError(where, `bad table header`, line);
      tables.set(cur, { policies: new Map(), chains: new Set(), rules: [] });
      return;
    }
    if (line === 'COMMIT') {
      if (!cur) throw new ParseError(where, 'COMMIT outside a table', line);
      cur = undefined;
      sawCommit = true;
      return;
    }
    if (!cur) throw new ParseError(where, 'line outside a *table block', line);
    const t = tables.get(cur)!;
    const chain = /^:(\S+) (\S+) \[\d+:\d+\]$/.exec(line);
    if (chain) {
      t.chains.add(chain[1]);
      if (chain[2] !== '-') t.policies.set(chain[1], chain[2]);
      return;
    }
    const rule = /^-A (\S+) (.*)$/.exec(line);
    if (rule) {
      let args: IptArg[];
      try {
        args = parseArgs(tokenize(rule[2]));
      } catch (e) {
        throw new ParseError(where, (e as Error).message, line);
      }
      t.rules.push({ table: cur, chain: rule[1], spec: rule[2], line, lineNo: i + 1, args });
      return;
    }
    throw new ParseError(where, 'not an iptables-save line', line);
  });
  if (cur) throw new ParseError(source, `table ${cur} has no COMMIT (truncated output?)`);
  if (!sawCommit && tables.size === 0 && text.trim() !== '') throw new ParseError(source, 'no tables in output', text.slice(0, 200));
  return { tables };
}

function get(r: IptRule, flag: string, alt?: string): IptArg | undefined {
  return r.args.find((a) => a.flag === flag || (alt !== undefined && a.flag === alt));
}
function flags(r: IptRule): string[] {
  return r.args.map((a) => a.flag);
}
/** Rule has exactly these flags (order-insensitive), with -m tcp/-m udp tolerated. */
function only(r: IptRule, allowed: string[]): boolean {
  return flags(r).every((f) => allowed.includes(f));
}
function target(r: IptRule): string | undefined {
  return get(r, '-j')?.values[0];
}

const DHCP_IFACES = new Set(['ve-+', 'vz-+', 'vt-+', 'ns-+']);

type Phase = 'trusted' | 'dhcp' | 'conntrack' | 'port' | 'icmp' | 'extra' | 'final';
const ORDER: Phase[] = ['trusted', 'dhcp', 'conntrack', 'port', 'icmp', 'extra', 'final'];

/** Recognise one rule of chain nixos-fw. */
function classify(r: IptRule, family: string): { phase: Phase; allow?: AllowRule; trusted?: string } {
  const i = get(r, '-i');
  const p = get(r, '-p');
  const m = r.args.filter((a) => a.flag === '-m').map((a) => a.values[0]);
  const tgt = target(r);
  const anyNeg = r.args.some((a) => a.negated);
  if (tgt === 'nixos-fw-log-refuse' && r.args.length === 1) return { phase: 'final' };
  if (tgt === 'nixos-fw-accept' && !anyNeg) {
    if (i && r.args.length === 2) return { phase: 'trusted', trusted: i.values[0] };
    if (m.includes('conntrack') && only(r, ['-m', '--ctstate', '-j'])) {
      const states = new Set((get(r, '--ctstate')?.values[0] ?? '').split(','));
      if (states.size === 2 && states.has('RELATED') && states.has('ESTABLISHED')) return { phase: 'conntrack' };
    }
    if (p && (p.values[0] === 'tcp' || p.values[0] === 'udp') && get(r, '--dport', '--destination-port') && only(r, ['-i', '-p', '-m', '--dport', '--destination-port', '-j'])) {
      const proto = p.values[0] as 'tcp' | 'udp';
      const portTok = get(r, '--dport', '--destination-port')!.values[0];
      if (proto === 'udp' && portTok === '67' && i && DHCP_IFACES.has(i.values[0])) return { phase: 'dhcp' };
      const ports = [parsePortToken(portTok, 'iptables-save')];
      return { phase: 'port', allow: { proto, ports, iface: i?.values[0], rule: r.line } };
    }
    // NixOS never writes multiport, but an added one still opens ports: count them, and it is drift.
    const dports = get(r, '--dports');
    if (p && (p.values[0] === 'tcp' || p.values[0] === 'udp') && m.includes('multiport') && dports && only(r, ['-i', '-p', '-m', '--dports', '-j'])) {
      const ports = dports.values[0].split(',').map((x) => parsePortToken(x, 'iptables-save'));
      return { phase: 'extra', allow: { proto: p.values[0] as 'tcp' | 'udp', ports, iface: i?.values[0], rule: r.line } };
    }
    if (family === 'ipv4' && p?.values[0] === 'icmp' && get(r, '--icmp-type')) return { phase: 'icmp' };
    if (family === 'ipv6' && (p?.values[0] === 'ipv6-icmp' || p?.values[0] === 'icmpv6') && only(r, ['-p', '-m', '--icmpv6-type', '--limit', '--limit-burst', '-j'])) return { phase: 'icmp' };
    if (family === 'ipv6' && get(r, '-d')?.values[0] === 'fe80::/64' && p?.values[0] === 'udp' && get(r, '--dport')?.values[0] === '546') return { phase: 'icmp' };
  }
  // A port accepted straight (-j ACCEPT, not through nixos-fw-accept) is not how NixOS writes it,
  // but it opens the port all the same: count it, and it is drift.
  if (tgt === 'ACCEPT' && !anyNeg && p && (p.values[0] === 'tcp' || p.values[0] === 'udp') && only(r, ['-i', '-p', '-m', '--dport', '--destination-port', '--dports', '-j'])) {
    const tok = get(r, '--dport', '--destination-port')?.values[0] ?? get(r, '--dports')?.values[0];
    if (tok) return { phase: 'extra', allow: { proto: p.values[0] as 'tcp' | 'udp', ports: tok.split(',').map((x) => parsePortToken(x, 'iptables-save')), iface: i?.values[0], rule: r.line } };
  }
  if (family === 'ipv6' && tgt === 'DROP' && (p?.values[0] === 'ipv6-icmp' || p?.values[0] === 'icmpv6') && get(r, '--icmpv6-type')) return { phase: 'icmp' };
  return { phase: 'extra' };
}

/**
 * What an accepting rule opens, judged from its matches (its own and those of the jumps that led to
 * it): `all` = every port (at most restricted to one interface: the firewall is off there), `ports`
 * = some TCP/UDP ports (a protocol alone = all its ports), `none` = restricted by something else
 * (source, mark, set, …) or only accepting established traffic: drift, not an opening.
 */
export type Scope = { kind: 'all'; iface?: string; ifaceNeg?: boolean } | { kind: 'ports'; proto: 'tcp' | 'udp'; ports: PortRange[]; iface?: string } | { kind: 'none' };

export function scopeOf(args: IptArg[]): Scope {
  let iface: string | undefined;
  let ifaceNeg = false;
  let proto: string | undefined;
  let portTok: string | undefined;
  for (const a of args) {
    switch (a.flag) {
      case '-j': case '--jump': case '-g': case '--goto': case '-m': case '--match': case '--comment':
        break;
      case '-i': case '--in-interface':
        if (iface !== undefined) return { kind: 'none' };
        iface = a.values[0];
        ifaceNeg = a.negated;
        break;
      case '-p': case '--protocol':
        if (a.negated) return { kind: 'none' };
        if (a.values[0] !== 'all') proto = a.values[0];
        break;
      case '--dport': case '--destination-port': case '--dports': case '--destination-ports':
        if (a.negated || portTok !== undefined) return { kind: 'none' };
        portTok = a.values[0];
        break;
      case '--ctstate': case '--state': {
        // Only a state that lets NEW connections through opens anything.
        const hasNew = (a.values[0] ?? '').split(',').includes('NEW');
        if (a.negated ? hasNew : !hasNew) return { kind: 'none' };
        break;
      }
      default:
        return { kind: 'none' };
    }
  }
  if (proto === undefined && portTok === undefined) return { kind: 'all', iface, ifaceNeg };
  if (ifaceNeg || (proto !== 'tcp' && proto !== 'udp')) return { kind: 'none' };
  const ports = portTok === undefined ? [{ from: 1, to: 65535 }] : portTok.split(',').map((x) => parsePortToken(x, 'iptables-save'));
  return { kind: 'ports', proto, ports, iface };
}

/** A declared port forward (networking.nat.forwardPorts): NixOS writes it in nixos-nat-pre (nat table ip nixos-nat, chain pre, on nftables). */
export interface ForwardPort {
  proto: string;
  /** A port or "a-b" (NixOS writes "a:b"). */
  sourcePort: number | string;
  /** "addr[:port]" as NixOS's destination, as iptables-save prints --to-destination. */
  destination: string;
  /** networking.nat.externalInterface (the rule's -i / iifname), when set. */
  iface?: string;
}

/** Does a DNAT found in the rules do exactly what a declared forward says? */
export function forwardMatches(f: ForwardPort, d: Dnat): boolean {
  const r = typeof f.sourcePort === 'number' ? { from: f.sourcePort, to: f.sourcePort } : parsePortToken(String(f.sourcePort).replace('-', ':'), 'forwardPorts');
  return (f.proto ?? 'tcp') === d.proto && r.from === d.port.from && r.to === d.port.to && f.destination === d.to && (f.iface === undefined || d.iface === undefined || f.iface === d.iface);
}

const BUILTIN = new Set(['INPUT', 'FORWARD', 'OUTPUT', 'PREROUTING', 'POSTROUTING']);
const accepting = (t: string | undefined) => t === 'ACCEPT' || t === 'nixos-fw-accept';

/** Normalise a rule for comparison with declared extraCommands: drop -w, implicit -m tcp/udp, -I → -A. */
export function normaliseRule(rule: string): string {
  const toks = tokenize(rule.trim()).map((t) => t.tok);
  const out: string[] = [];
  let table = 'filter';
  for (let k = 0; k < toks.length; k++) {
    const t = toks[k];
    if (k === 0 && /(^|\/)(ip6?tables|ip46tables)$/.test(t)) continue;
    if (t === '-w' || t === '--wait') continue;
    if (t === '-t' || t === '--table') {
      table = toks[++k];
      continue;
    }
    if ((t === '-m' || t === '--match') && (toks[k + 1] === 'tcp' || toks[k + 1] === 'udp')) {
      k++;
      continue;
    }
    if (t === '-I' || t === '--insert' || t === '--append') {
      out.push('-A', toks[++k]);
      if (/^\d+$/.test(toks[k + 1] ?? '')) k++;
      continue;
    }
    out.push(t);
  }
  return `${table} ${out.join(' ')}`;
}

/**
 * Interpret one family's iptables-save as a NixOS firewall. Long (over 80 lines) on purpose: it
 * walks NixOS's chain layout in order (INPUT → nixos-fw → nixos-fw-accept/refuse-log/refuse, then
 * nat PREROUTING), each step reading what the previous ones recorded in the one model; split into
 * helpers it would pass that half-built model and the drift list through every one of them.
 */
export function iptablesModel(save: IptablesSave, family: 'ipv4' | 'ipv6', declaredExtra: string[] = [], opts: { trusted?: string[]; forwardPorts?: ForwardPort[] } = {}): FirewallModel {
  const filter = save.tables.get('filter');
  const declared = new Set(declaredExtra.map(normaliseRule));
  const isDeclared = (r: IptRule) => declared.has(normaliseRule(`-t ${r.table} ${r.line}`));
  const model: FirewallModel = {
    backend: 'iptables', family, present: false, hooked: false, notEnforced: [], defaultOpen: [], trusted: [], allowed: [],
    refuse: 'unknown', drift: [], dnat: [], ruleCount: 0,
  };
  const drift = (r: IptRule, why: string) => model.drift.push({ rule: `-t ${r.table} ${r.line}`, why });
  // lo is always trusted (NixOS appends it); the expectation's trusted interfaces when it gave them.
  const trustedIf = (i: string, nixosForm: boolean) => i === 'lo' || (opts.trusted ? opts.trusted.includes(i) : nixosForm);
  /**
   * An accepting rule reached ahead of the refuse path (`path`: the rules that led to it): every
   * port on a non-trusted interface is the firewall off there; some ports are counted open.
   */
  const judgeAccept = (path: IptRule[], where: string, inserted: boolean, nixosForm = false) => {
    const s = scopeOf(path.flatMap((r) => r.args));
    const rule = path.map((r) => r.line).join(' → ');
    if (s.kind === 'ports') model.allowed.push({ proto: s.proto, ports: s.ports, iface: s.iface, rule, inserted });
    if (s.kind !== 'all') return;
    if (s.iface && !s.ifaceNeg && trustedIf(s.iface, nixosForm)) return;
    const on = s.iface ? `on ${s.ifaceNeg ? 'every interface but ' : 'interface '}${s.iface}${s.ifaceNeg ? '' : ' (not a trusted interface)'}` : '';
    model.notEnforced.push(`"${rule}" accepts everything ${on ? `${on} ` : ''}${where}`);
    model.defaultOpen.push(`"${rule}" accepts every port ${on || 'on every interface'}`);
  };
  /** Follow a jump into a user chain: its accepts are judged with the jump's matches as well. */
  const walk = (chain: string, path: IptRule[], where: string, seen: Set<string>) => {
    if (seen.has(chain) || !filter) return;
    seen.add(chain);
    for (const r of filter.rules.filter((x) => x.chain === chain)) {
      const t = target(r);
      if (accepting(t)) judgeAccept([...path, r], where, true);
      else if (t && filter.chains.has(t) && !BUILTIN.has(t) && !t.startsWith('nixos-fw')) walk(t, [...path, r], where, seen);
    }
  };
  if (!filter) {
    model.notEnforced.push('no filter table');
    model.defaultOpen.push('no filter table: nothing refuses');
  }
  if (filter) {
    model.present = filter.chains.has('nixos-fw');
    const input = filter.rules.filter((r) => r.chain === 'INPUT');
    const jumpAt = input.findIndex((r) => target(r) === 'nixos-fw' && r.args.length === 1);
    model.hooked = jumpAt >= 0;
    if (!model.present) model.notEnforced.push('no nixos-fw chain in the filter table');
    if (!model.hooked) {
      model.notEnforced.push(`INPUT does not jump to nixos-fw (INPUT policy ${filter.policies.get('INPUT') ?? '?'})`);
    }
    input.forEach((r, k) => {
      if (k === jumpAt) return;
      if (isDeclared(r)) return;
      const tgt = target(r);
      const ahead = jumpAt < 0 || k < jumpAt;
      if (accepting(tgt) && ahead) {
        const uncond = r.args.length === 1;
        judgeAccept([r], 'before nixos-fw sees it', true);
        drift(r, uncond ? 'accepts all input ahead of nixos-fw' : 'accept in INPUT ahead of nixos-fw (not NixOS-managed)');
      } else {
        // A chain jumped to ahead of nixos-fw: what it accepts is accepted before nixos-fw sees it.
        if (ahead && tgt && filter.chains.has(tgt) && !BUILTIN.has(tgt) && !tgt.startsWith('nixos-fw')) walk(tgt, [r], 'before nixos-fw sees it', new Set());
        drift(r, 'rule in INPUT besides the jump to nixos-fw');
      }
    });
    // nixos-fw itself, in NixOS's order. A rule is out of order when a later rule belongs to an
    // earlier phase: that blames the inserted rule, not the NixOS rules it was put in front of.
    const fwRules = filter.rules.filter((x) => x.chain === 'nixos-fw');
    const classes = fwRules.map((r) => classify(r, family));
    const idx = classes.map((c) => ORDER.indexOf(c.phase));
    const laterMin: number[] = [];
    for (let k = idx.length - 1, min = Infinity; k >= 0; k--) {
      laterMin[k] = min;
      min = Math.min(min, idx[k]);
    }
    const seen = new Map<string, number>();
    fwRules.forEach((r, k) => {
      const c = classes[k];
      seen.set(r.spec, (seen.get(r.spec) ?? 0) + 1);
      if (seen.get(r.spec) === 2) drift(r, 'rule appears more than once in nixos-fw');
      // extraCommands come after ICMP: an extra rule is only "out of order" ahead of the port rules.
      const outOfOrder = laterMin[k] < idx[k] && !(c.phase === 'extra' && laterMin[k] >= ORDER.indexOf('icmp'));
      if (c.trusted) {
        model.trusted.push(c.trusted);
        // A declared extraCommands line (iptables -A nixos-fw -i wg0 -j nixos-fw-accept) is intended.
        if (!isDeclared(r)) judgeAccept([r], 'in nixos-fw', false, true);
      }
      if (c.allow) {
        // A port accept ahead of the conntrack rule is where `nixos-firewall-tool open` (-I) puts it.
        if (outOfOrder) c.allow.inserted = true;
        model.allowed.push(c.allow);
      } else if (c.phase === 'extra' && !isDeclared(r)) {
        // An accept NixOS does not write (a widened conntrack state, a protocol alone, an interface
        // with -j ACCEPT) or a jump to a hand-made chain: judged by what it opens.
        const t = target(r);
        if (accepting(t)) judgeAccept([r], 'in nixos-fw', outOfOrder);
        else if (t && filter.chains.has(t) && !BUILTIN.has(t) && !t.startsWith('nixos-fw')) walk(t, [r], 'in nixos-fw', new Set());
      }
      if (c.phase === 'extra') {
        if (!isDeclared(r)) drift(r, 'not part of the NixOS firewall layout (undeclared extra rule)');
      } else if (outOfOrder) {
        drift(r, c.allow ? "inserted ahead of NixOS's own rules (nixos-firewall-tool open / iptables -I)" : `out of NixOS's order (${c.phase} rule ahead of earlier-phase rules)`);
      } else {
        model.ruleCount++;
      }
    });
    const nixosFw = filter.rules.filter((x) => x.chain === 'nixos-fw');
    if (model.present && (!nixosFw.length || target(nixosFw[nixosFw.length - 1]) !== 'nixos-fw-log-refuse')) {
      model.defaultOpen.push('nixos-fw does not end in the jump to nixos-fw-log-refuse');
    }
    // Helper chains.
    const refuse = filter.rules.filter((x) => x.chain === 'nixos-fw-refuse');
    const tgts = refuse.map(target);
    if (refuse.length === 1 && tgts[0] === 'DROP' && refuse[0].args.length === 1) model.refuse = 'drop';
    else if (refuse.length === 2 && tgts.every((t) => t === 'REJECT')) model.refuse = 'reject';
    else if (model.present) {
      refuse.forEach((r) => drift(r, 'nixos-fw-refuse is neither DROP nor NixOS\'s REJECT pair'));
      if (!refuse.some((r) => target(r) === 'DROP' || target(r) === 'REJECT')) model.defaultOpen.push(`nixos-fw-refuse does not drop or reject (${tgts.join(', ') || 'empty'})`);
    }
    const logRefuse = filter.rules.filter((x) => x.chain === 'nixos-fw-log-refuse');
    if (model.present && (!logRefuse.length || target(logRefuse[logRefuse.length - 1]) !== 'nixos-fw-refuse')) {
      model.defaultOpen.push('nixos-fw-log-refuse does not end in the jump to nixos-fw-refuse');
    }
    // Without the jump, INPUT's own policy decides what happens to everything.
    const policy = filter.policies.get('INPUT') ?? 'ACCEPT';
    if (!model.hooked && policy === 'ACCEPT') model.defaultOpen.push('INPUT policy ACCEPT and nothing refuses');
    for (const r of filter.rules.filter((x) => x.chain === 'nixos-fw-accept')) {
      if (!(target(r) === 'ACCEPT' && r.args.length === 1)) drift(r, 'nixos-fw-accept should only ACCEPT');
    }
    for (const r of filter.rules.filter((x) => x.chain === 'nixos-fw-log-refuse')) {
      const t = target(r);
      if (t === 'LOG' || t === 'nixos-fw-refuse') continue;
      drift(r, 'nixos-fw-log-refuse should only LOG and refuse');
    }
    // The refuse path accepts nothing, anywhere in it: an ACCEPT (or a RETURN back to an INPUT whose
    // policy accepts, or a hand-made chain that accepts) there lets what no rule allows through.
    const inputAccepts = (filter.policies.get('INPUT') ?? 'ACCEPT') === 'ACCEPT';
    const refusePath = (chain: string, seen: Set<string>): IptRule[] => {
      if (seen.has(chain)) return [];
      seen.add(chain);
      return filter.rules.filter((x) => x.chain === chain).flatMap((r) => {
        const t = target(r);
        if (accepting(t) || (t === 'RETURN' && inputAccepts && (chain === 'nixos-fw-log-refuse' || chain === 'nixos-fw-refuse'))) return [r];
        if (t && filter.chains.has(t) && !BUILTIN.has(t) && t !== 'nixos-fw' && t !== 'nixos-fw-accept') return refusePath(t, seen);
        return [];
      });
    };
    if (model.present) {
      const seen = new Set<string>();
      for (const r of [...refusePath('nixos-fw-log-refuse', seen), ...refusePath('nixos-fw-refuse', seen)]) model.defaultOpen.push(`"${r.line}" accepts in the refuse path (what nothing allows)`);
    }
  }
  const nat = save.tables.get('nat');
  if (nat) {
    // Every DNAT/REDIRECT reachable from PREROUTING, through any chain it jumps to (Docker's DOCKER,
    // nixos-nat-pre, hand-made ones): such ports bypass nixos-fw. Declared = an extraRules line, or a
    // declared forwardPorts entry in NixOS's own nixos-nat-pre.
    const natWalk = (chain: string, path: IptRule[], seen: Set<string>) => {
      if (seen.has(chain)) return;
      seen.add(chain);
      for (const r of nat.rules.filter((x) => x.chain === chain)) {
        const tgt = target(r);
        if (tgt === 'DNAT' || tgt === 'REDIRECT') {
          const dport = get(r, '--dport', '--destination-port')?.values[0];
          const to = get(r, '--to-destination', '--to-ports')?.values[0] ?? '?';
          const port = dport ? parsePortToken(dport, 'iptables-save') : { from: 0, to: 65535 };
          const rule = `-t nat ${[...path, r].map((x) => x.line).join(' → ')}`;
          const d: Dnat = { proto: get(r, '-p')?.values[0] ?? 'all', port, to, iface: get(r, '-i')?.values[0], rule };
          model.dnat.push(d);
          const forwarded = r.chain === 'nixos-nat-pre' && (opts.forwardPorts ?? []).some((f) => forwardMatches(f, d));
          if (!isDeclared(r) && !forwarded) {
            const why = r.chain === 'nixos-nat-pre' ? "not in the expectation's forwardPorts" : 'undeclared';
            model.drift.push({ rule, why: `DNAT of ${dport ?? 'all ports'} to ${to} bypasses nixos-fw (${why})` });
          }
        } else if (tgt && nat.chains.has(tgt) && !BUILTIN.has(tgt)) natWalk(tgt, [...path, r], seen);
      }
    };
    natWalk('PREROUTING', [], new Set());
    const dup = new Map<string, number>();
    for (const r of nat.rules) {
      dup.set(r.line, (dup.get(r.line) ?? 0) + 1);
      if (dup.get(r.line) === 2) drift(r, 'nat rule appears more than once (extraCommands re-appended on reload?)');
    }
  }
  return model;
}
