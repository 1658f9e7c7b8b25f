// `nft -j list ruleset` → the NixOS nftables firewall's shape (nixos-facts §1,
// firewall-nftables.nix): table inet nixos-fw, chain input (hook input, policy drop: trusted
// iifname accept, ct state vmap → input-allow, log/reject), chain input-allow (`[iifname X] tcp|udp
// dport <port|set|range> accept`, temp-ports, ping, ICMPv6, DHCPv6, extraInputRules).
// Match ops are "==" (nft ≥ 0.9.x) or "in" (older), right sides scalar or {set:[…]}. Every table's
// nat prerouting chains are read too (natForwards): a dnat there bypasses the input filter.
import { ParseError } from '../core/types.js';
import type { AllowRule, Dnat, Drift, FirewallModel, PortRange } from './firewall-model.js';
import { forwardMatches, type ForwardPort } from './iptables.js';

type J = any; // nft JSON is a tagged union too wide to type usefully here

export interface NftRuleset {
  tables: { family: string; name: string }[];
  chains: { family: string; table: string; name: string; hook?: string; policy?: string; type?: string; prio?: number }[];
  sets: { family: string; table: string; name: string; elem: J[] }[];
  rules: { family: string; table: string; chain: string; handle?: number; comment?: string; expr: J[] }[];
}

export function parseNftJson(text: string, source = 'nft -j list ruleset'): NftRuleset {
  let doc: J;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new ParseError(source, `not JSON: ${(e as Error).message}`, text.slice(0, 200));
  }
  if (!doc || !Array.isArray(doc.nftables)) throw new ParseError(source, 'no "nftables" array', text.slice(0, 200));
  const rs: NftRuleset = { tables: [], chains: [], sets: [], rules: [] };
  for (const o of doc.nftables) {
    if (o.table) rs.tables.push({ family: o.table.family, name: o.table.name });
    else if (o.chain) rs.chains.push(o.chain);
    else if (o.set) rs.sets.push({ family: o.set.family, table: o.set.table, name: o.set.name, elem: o.set.elem ?? [] });
    else if (o.rule) {
      if (!Array.isArray(o.rule.expr)) throw new ParseError(source, `rule without expr in chain ${o.rule.chain}`, JSON.stringify(o).slice(0, 200));
      rs.rules.push(o.rule);
    }
  }
  return rs;
}

// ---- rendering (for evidence, drift text and declared extraInputRules) ----

function val(v: J): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string' || typeof v === 'number') return String(v);
  if (Array.isArray(v)) return v.map(val).join(',');
  if (v.set) return `{ ${(v.set as J[]).map((e) => (Array.isArray(e) ? `${val(e[0])} : ${verdict(e[1])}` : val(e))).join(', ')} }`;
  if (v.range) return `${val(v.range[0])}-${val(v.range[1])}`;
  if (v.prefix) return `${v.prefix.addr}/${v.prefix.len}`;
  if (v.concat) return (v.concat as J[]).map(val).join(' . ');
  if (v.payload) return `${v.payload.protocol} ${v.payload.field}`;
  if (v.meta) return v.meta.key === 'l4proto' || v.meta.key === 'nfproto' || v.meta.key === 'iifname' || v.meta.key === 'oifname' || v.meta.key === 'iif' ? `${v.meta.key === 'l4proto' || v.meta.key === 'nfproto' ? 'meta ' : ''}${v.meta.key}` : `meta ${v.meta.key}`;
  if (v.ct) return `ct ${v.ct.key}`;
  if (v['&']) return `${val(v['&'][0])} & ${val(v['&'][1])}`;
  if (v.fib) return `fib ${(v.fib.flags ?? []).join(' . ')} ${v.fib.result}`;
  return JSON.stringify(v);
}
function verdict(v: J): string {
  if (!v || typeof v !== 'object') return String(v);
  const k = Object.keys(v)[0];
  if (k === 'jump' || k === 'goto') return `${k} ${v[k].target}`;
  return k;
}

export function renderRule(expr: J[]): string {
  return expr
    .map((e) => {
      if (e.match) {
        const op = e.match.op === '==' || e.match.op === 'in' ? '' : `${e.match.op} `;
        return `${val(e.match.left)} ${op}${val(e.match.right)}`;
      }
      if (e.vmap) return `${val(e.vmap.key)} vmap ${val(e.vmap.data)}`;
      if (e.log !== undefined) return `log${e.log?.prefix ? ` prefix "${e.log.prefix}"` : ''}`;
      if (e.reject !== undefined) return e.reject?.type === 'tcp reset' ? 'reject with tcp reset' : 'reject';
      if (e.counter !== undefined) return 'counter';
      if (e.limit) return `limit rate ${e.limit.rate}/${e.limit.per}`;
      if (e.dnat) return `dnat to ${val(e.dnat.addr)}${e.dnat.port !== undefined ? `:${val(e.dnat.port)}` : ''}`;
      if (e.redirect !== undefined) return `redirect${e.redirect?.port !== undefined ? ` to :${val(e.redirect.port)}` : ''}`;
      for (const k of ['accept', 'drop', 'jump', 'goto', 'return', 'continue']) if (k in e) return verdict(e);
      return JSON.stringify(e);
    })
    .join(' ');
}

// ---- recognition ----

function matchOn(e: J): { left: J; right: J; op: string } | undefined {
  return e?.match ? e.match : undefined;
}
function isEq(m: { op: string }): boolean {
  return m.op === '==' || m.op === 'in';
}
function scalarsOf(right: J): J[] {
  // A set {set:[…]}, or a flag list as nft prints `ct state established,related` (["established", …]).
  if (Array.isArray(right)) return right;
  return right && typeof right === 'object' && Array.isArray(right.set) ? right.set : [right];
}
function toRange(v: J, source: string): PortRange {
  if (typeof v === 'number') return { from: v, to: v };
  if (v && Array.isArray(v.range) && typeof v.range[0] === 'number' && typeof v.range[1] === 'number') return { from: v.range[0], to: v.range[1] };
  throw new ParseError(source, `unexpected port value ${JSON.stringify(v)}`);
}

/** Statements that neither match nor decide (a counter, a log line): a rule is judged without them. */
const deciding = (expr: J[]): J[] => expr.filter((e) => e?.counter === undefined && e?.log === undefined);

/** `[iifname X] tcp|udp dport <ports> [counter] accept` → AllowRule, else undefined. */
function asAllow(all: J[], rendered: string): AllowRule | undefined {
  const expr = deciding(all);
  if (!expr.length || !('accept' in expr[expr.length - 1])) return undefined;
  const ms = expr.slice(0, -1).map(matchOn);
  if (ms.some((m) => !m || !isEq(m))) return undefined;
  let iface: string | undefined;
  let k = 0;
  if (ms.length === 2) {
    if (ms[0]!.left?.meta?.key !== 'iifname' || typeof ms[0]!.right !== 'string') return undefined;
    iface = ms[0]!.right;
    k = 1;
  } else if (ms.length !== 1) return undefined;
  const p = ms[k]!.left?.payload;
  if (!p || (p.protocol !== 'tcp' && p.protocol !== 'udp') || p.field !== 'dport') return undefined;
  const ports = scalarsOf(ms[k]!.right).map((v) => toRange(v, 'nft input-allow'));
  return { proto: p.protocol, ports, iface, rule: rendered };
}

/**
 * What an accept rule opens, as iptables.ts scopeOf: `all` = every port (at most restricted to
 * interfaces), `ports` = some TCP/UDP ports (a protocol alone = all its ports), `none` = restricted
 * by something else or only established traffic.
 */
export type NftScope = { kind: 'all'; ifaces?: string[] } | { kind: 'ports'; allow: AllowRule } | { kind: 'none' };

export function nftScope(all: J[], rendered: string): NftScope {
  const expr = deciding(all);
  if (!expr.length || !('accept' in expr[expr.length - 1])) return { kind: 'none' };
  let ifaces: string[] | undefined;
  let proto: string | undefined;
  let ports: PortRange[] | undefined;
  for (const e of expr.slice(0, -1)) {
    const m = matchOn(e);
    if (!m) return { kind: 'none' };
    const eq = isEq(m);
    const vals = scalarsOf(m.right);
    if (m.left?.meta?.key === 'iifname' && eq && !ifaces && vals.every((v) => typeof v === 'string')) ifaces = vals.map(String);
    // One address family (meta nfproto ipv6) is every port of that family: no restriction on ports.
    else if (m.left?.meta?.key === 'nfproto' && eq) continue;
    else if (m.left?.ct?.key === 'state') {
      const hasNew = vals.includes('new');
      if (eq ? !hasNew : m.op === '!=' ? hasNew : true) return { kind: 'none' };
    } else if (eq && (m.left?.meta?.key === 'l4proto' || (m.left?.payload?.protocol === 'ip' && m.left.payload.field === 'protocol') || (m.left?.payload?.protocol === 'ip6' && m.left.payload.field === 'nexthdr')) && vals.length === 1 && !proto) proto = String(vals[0]);
    else if (eq && (m.left?.payload?.protocol === 'tcp' || m.left?.payload?.protocol === 'udp') && m.left.payload.field === 'dport' && !ports) {
      if (proto && proto !== m.left.payload.protocol) return { kind: 'none' };
      proto = m.left.payload.protocol;
      ports = vals.map((v) => toRange(v, 'nft rule'));
    } else return { kind: 'none' };
  }
  if (proto === undefined) return { kind: 'all', ifaces };
  if (proto !== 'tcp' && proto !== 'udp') return { kind: 'none' };
  if (ifaces && ifaces.length !== 1) return { kind: 'none' };
  return { kind: 'ports', allow: { proto, ports: ports ?? [{ from: 1, to: 65535 }], iface: ifaces?.[0], rule: rendered } };
}

/**
 * On an iptables-nft node, the ports a verdict map opens in iptables' own chains (INPUT, nixos-fw of
 * table ip|ip6 filter): `tcp dport vmap { 6379 : accept }` is a rule iptables-save cannot print (it
 * shows "-A nixos-fw -p tcp", no target), so only nft's JSON says which ports it accepts.
 */
export function vmapAccepts(rs: NftRuleset, family: 'ip' | 'ip6'): AllowRule[] {
  return rs.rules.filter((x) => x.family === family && x.table === 'filter' && (x.chain === 'nixos-fw' || x.chain === 'INPUT'))
    .flatMap((r) => vmapAllow(r.expr, `nft ${family} filter ${r.chain}: ${renderRule(r.expr)}`));
}

/** The ports a `tcp|udp dport vmap { port : accept | jump nixos-fw-accept, … }` statement accepts. */
function vmapAllow(expr: J[], rule: string): AllowRule[] {
  const out: AllowRule[] = [];
  for (const e of deciding(expr)) {
    const key = e?.vmap?.key?.payload;
    if (!key || (key.protocol !== 'tcp' && key.protocol !== 'udp') || key.field !== 'dport') continue;
    const data: J[] = e.vmap.data?.set ?? [];
    const ports = data.filter((d) => Array.isArray(d) && d[1] && ('accept' in d[1] || d[1].jump?.target === 'nixos-fw-accept' || d[1].goto?.target === 'nixos-fw-accept')).map((d) => toRange(d[0], 'nft vmap'));
    if (ports.length) out.push({ proto: key.protocol, ports, rule, inserted: true });
  }
  return out;
}

const SHAPE_INPUT_ALLOW = [
  /^meta l4proto \. th dport @temp-ports accept$/,
  /^icmp type echo-request (limit rate \S+ )?accept$/,
  /^icmpv6 type != \{ .* \} accept$/,
  /^ip6 daddr fe80::\/64 udp dport 546 accept$/,
];

/**
 * Interpret `nft -j list ruleset` as a NixOS firewall. Long (over 80 lines) on purpose: it walks
 * table inet nixos-fw in NixOS's order (input hook → input-allow → refuse, then other tables and
 * temp-ports), each step reading what the previous ones recorded in the one model.
 */
/**
 * Every dnat/redirect reachable from a `type nat hook prerouting` chain, in any table (jumps and
 * gotos followed inside it): such ports bypass the input filter. Declared = an extraRules line as nft
 * prints it, or a declared forwardPorts entry in NixOS's own table nixos-nat.
 */
function natForwards(rs: NftRuleset, declared: Set<string>, forwards: ForwardPort[]): { dnat: Dnat[]; drift: (Drift & { table: string })[] } {
  const out = { dnat: [] as Dnat[], drift: [] as (Drift & { table: string })[] };
  const walk = (family: string, table: string, chain: string, seen: Set<string>) => {
    if (seen.has(chain)) return;
    seen.add(chain);
    for (const r of rs.rules.filter((x) => x.family === family && x.table === table && x.chain === chain)) {
      for (const e of r.expr) {
        const t = e?.jump?.target ?? e?.goto?.target;
        if (typeof t === 'string') walk(family, table, t, seen);
      }
      const nat = r.expr.find((e) => e?.dnat || e?.redirect !== undefined);
      if (!nat) continue;
      const text = renderRule(r.expr);
      let proto = 'all';
      let ports: PortRange[] = [{ from: 0, to: 65535 }];
      let iface: string | undefined;
      for (const m of r.expr.map(matchOn)) {
        if (!m || !isEq(m)) continue;
        if (m.left?.meta?.key === 'iifname' && typeof m.right === 'string') iface = m.right;
        else if ((m.left?.payload?.protocol === 'tcp' || m.left?.payload?.protocol === 'udp') && m.left.payload.field === 'dport') {
          proto = m.left.payload.protocol;
          ports = scalarsOf(m.right).map((v) => toRange(v, 'nft nat rule'));
        } else if (m.left?.meta?.key === 'l4proto' && typeof m.right === 'string') proto = m.right;
      }
      const rule = `table ${family} ${table} chain ${chain}: ${text}`;
      let ds: Dnat[];
      const map = nat.dnat?.addr?.map;
      if (map) {
        // NixOS's forwardPorts (nat-nftables.nix): dnat to meta l4proto . th dport map { tcp . 8080 : 10.0.0.1 . 80, … },
        // the key possibly led by ip daddr (loopbackIPs): one forward per element.
        const key: J[] = map.key?.concat ?? [map.key];
        const pi = key.findIndex((k) => k?.meta?.key === 'l4proto');
        const di = key.findIndex((k) => k?.payload?.field === 'dport');
        ds = (map.data?.set ?? []).map((el: J): Dnat => {
          const k: J[] = Array.isArray(el) && el[0]?.concat ? el[0].concat : [];
          const v: J[] = Array.isArray(el) && el[1]?.concat ? el[1].concat : Array.isArray(el) ? [el[1]] : [];
          if (di < 0 || k[di] === undefined || v[0] === undefined) throw new ParseError('nft nat rule', `unreadable dnat map element ${JSON.stringify(el)}`, text);
          return { proto: pi >= 0 ? String(k[pi]) : proto, port: toRange(k[di], 'nft dnat map'), to: `${val(v[0])}${v[1] !== undefined ? `:${val(v[1])}` : ''}`, iface, rule };
        });
      } else {
        const to = nat.dnat ? `${val(nat.dnat.addr)}${nat.dnat.port !== undefined ? `:${val(nat.dnat.port)}` : ''}` : String(val(nat.redirect?.port) || '?');
        ds = ports.map((port): Dnat => ({ proto, port, to, iface, rule }));
      }
      out.dnat.push(...ds);
      const forwarded = table === 'nixos-nat' && ds.every((d) => forwards.some((f) => forwardMatches(f, d)));
      if (!declared.has(text) && !forwarded) {
        const what = [...new Set(ds.map((d) => `${d.port.from === d.port.to ? d.port.from : `${d.port.from}-${d.port.to}`} to ${d.to}`))].join(', ');
        out.drift.push({ table: `${family} ${table}`, rule, why: `DNAT of ${what} bypasses the input filter (${table === 'nixos-nat' ? "not in the expectation's forwardPorts" : 'undeclared'})` });
      }
    }
  };
  for (const c of rs.chains.filter((x) => x.type === 'nat' && x.hook === 'prerouting')) walk(c.family, c.table, c.name, new Set());
  return out;
}

export function nftModel(rs: NftRuleset, declaredExtra: string[] = [], opts: { trusted?: string[]; forwardPorts?: ForwardPort[] } = {}): FirewallModel & { tempPorts: string[]; otherTables: string[]; natDrift: (Drift & { table: string })[] } {
  const declared = new Set(declaredExtra.map((s) => s.trim().replace(/\s+/g, ' ')));
  const T = 'nixos-fw';
  const inFw = <X extends { family: string; table: string }>(x: X) => x.family === 'inet' && x.table === T;
  const nat = natForwards(rs, declared, opts.forwardPorts ?? []);
  const model: FirewallModel & { tempPorts: string[]; otherTables: string[]; natDrift: (Drift & { table: string })[] } = {
    backend: 'nftables', family: 'inet', present: rs.tables.some((t) => t.family === 'inet' && t.name === T), hooked: false,
    notEnforced: [], defaultOpen: [], trusted: [], allowed: [], refuse: 'drop', drift: nat.drift.map(({ rule, why }) => ({ rule, why })), dnat: nat.dnat, ruleCount: 0, tempPorts: [],
    otherTables: rs.tables.filter((t) => !(t.family === 'inet' && t.name === T)).map((t) => `${t.family} ${t.name}`),
    natDrift: nat.drift,
  };
  const drift = (rule: string, why: string) => model.drift.push({ rule, why } satisfies Drift);
  if (!model.present) {
    model.notEnforced.push('no table inet nixos-fw');
    if (!rs.chains.some((c) => c.hook === 'input' && c.policy === 'drop')) model.defaultOpen.push('no input hook chain with policy drop');
    return model;
  }
  const input = rs.chains.find((c) => inFw(c) && c.name === 'input');
  if (!input) model.notEnforced.push('table inet nixos-fw has no chain input');
  else if (input.hook !== 'input') model.notEnforced.push(`chain input is not hooked to input (hook ${input.hook ?? 'none'})`);

  // lo is always trusted (NixOS appends it); the expectation's trusted interfaces when it gave them.
  const trustedIf = (i: string, nixosForm: boolean) => i === 'lo' || (opts.trusted ? opts.trusted.includes(i) : nixosForm);
  /** An accept that opens every port on a non-trusted interface: the firewall is off there. */
  const judgeAccept = (text: string, expr: J[], where: string, nixosForm: boolean, afterVmap: boolean) => {
    const sc = nftScope(expr, text);
    if (sc.kind === 'ports' && afterVmap) model.defaultOpen.push(`"${text}" accepts ${sc.allow.proto} ports in chain input after what input-allow did not accept (the refuse path)`);
    if (sc.kind !== 'all') return;
    const open = sc.ifaces ? sc.ifaces.filter((i) => !trustedIf(i, nixosForm)) : undefined;
    if (open && !open.length) return;
    const on = open ? `on interface ${open.join(', ')} (not a trusted interface)` : 'on every interface';
    model.notEnforced.push(`"${text}" accepts everything ${on} ${where}`);
    model.defaultOpen.push(`"${text}" accepts every port ${on}`);
  };
  let reachesAllow = false;
  let afterVmap = false;
  for (const r of rs.rules.filter((x) => inFw(x) && x.chain === 'input')) {
    const text = renderRule(r.expr);
    const m0 = matchOn(r.expr[0]);
    if (r.expr.length === 2 && m0 && isEq(m0) && m0.left?.meta?.key === 'iifname' && 'accept' in r.expr[1]) {
      model.trusted.push(...scalarsOf(m0.right).map(String));
      judgeAccept(text, r.expr, 'in chain input', true, afterVmap);
      model.ruleCount++;
    } else if (r.expr.length === 1 && r.expr[0].vmap?.key?.ct?.key === 'state') {
      afterVmap = true;
      const data: J[] = r.expr[0].vmap.data?.set ?? [];
      const jumps = data.filter((e) => Array.isArray(e) && (e[1]?.jump?.target === 'input-allow' || e[1]?.goto?.target === 'input-allow')).map((e) => e[0]);
      reachesAllow = jumps.includes('new');
      const accepts = data.filter((e) => Array.isArray(e) && e[1] && 'accept' in e[1]).map((e) => e[0]);
      if (accepts.some((s: string) => s !== 'established' && s !== 'related')) {
        drift(text, `ct state vmap accepts ${accepts.join(', ')} (NixOS accepts only established, related)`);
        model.notEnforced.push(`ct state vmap accepts ${accepts.filter((s: string) => s !== 'established' && s !== 'related').join(', ')} without input-allow`);
      } else model.ruleCount++;
    } else if (r.expr.some((e) => e.log !== undefined) && !r.expr.some((e) => 'accept' in e)) {
      model.ruleCount++;
    } else if (r.expr.some((e) => e.reject !== undefined) && r.expr.length <= 2) {
      model.refuse = 'reject';
      model.ruleCount++;
    } else if (declared.has(text)) {
      model.ruleCount++;
    } else {
      drift(text, 'rule in chain input beyond NixOS\'s layout');
      // A port accepted ahead of input-allow is open all the same: counted, as well as drift.
      const sc = nftScope(r.expr, text);
      if (sc.kind === 'ports') model.allowed.push(sc.allow);
      model.allowed.push(...vmapAllow(r.expr, text));
      if (r.expr.length === 1 && 'accept' in r.expr[0]) model.notEnforced.push(`"${text}" in chain input accepts everything`);
      else judgeAccept(text, r.expr, 'in chain input', false, afterVmap);
      // A jump to a hand-made chain of the table: its accepts, with this rule's matches, are judged too.
      const seen = new Set(['input', 'input-allow']);
      const walk = (path: J[], into: string | undefined, via: string) => {
        if (!into || seen.has(into)) return;
        seen.add(into);
        for (const x of rs.rules.filter((y) => inFw(y) && y.chain === into)) {
          const expr = [...path.filter((e) => matchOn(e)), ...x.expr];
          const t = renderRule(x.expr);
          const sub = nftScope(expr, `${via} → ${t}`);
          if (sub.kind === 'ports') model.allowed.push(sub.allow);
          judgeAccept(`${via} → ${t}`, expr, 'in chain input', false, afterVmap);
          const next = x.expr.find((e) => e?.jump || e?.goto);
          walk(expr.filter((e) => matchOn(e)), next?.jump?.target ?? next?.goto?.target, `${via} → ${t}`);
        }
      };
      const j = r.expr.find((e) => e?.jump || e?.goto);
      walk(r.expr, j?.jump?.target ?? j?.goto?.target, text);
    }
  }
  model.hooked = !!input && input.hook === 'input' && reachesAllow;
  // rejectPackets ends chain input with an unconditional reject; otherwise the policy must drop.
  const inputRules = rs.rules.filter((x) => inFw(x) && x.chain === 'input');
  const last = inputRules[inputRules.length - 1];
  const endsInReject = !!last && last.expr.length === 1 && last.expr[0].reject !== undefined;
  if (input && input.policy !== 'drop' && !endsInReject) model.defaultOpen.push(`chain input has policy ${input.policy ?? 'accept'}, not drop`);
  if (input && !reachesAllow) model.notEnforced.push('chain input has no ct state vmap sending new connections to input-allow');

  for (const r of rs.rules.filter((x) => inFw(x) && x.chain === 'input-allow')) {
    const text = renderRule(r.expr);
    const allow = asAllow(r.expr, text);
    if (allow) {
      model.allowed.push(allow);
      // NixOS writes no counter or log beside its port accepts: the port counts, the rule is drift.
      if (deciding(r.expr).length !== r.expr.length && !declared.has(text)) drift(text, 'rule in input-allow beyond NixOS\'s layout (a counter or log beside the accept: hand-made)');
      else model.ruleCount++;
    } else if (SHAPE_INPUT_ALLOW.some((re) => re.test(text)) || declared.has(text)) {
      model.ruleCount++;
    } else {
      drift(text, 'rule in input-allow beyond NixOS\'s layout (undeclared extraInputRules?)');
      // A protocol alone (every port), or an interface accepted wholesale: open all the same.
      const sc = nftScope(r.expr, text);
      if (sc.kind === 'ports') model.allowed.push(sc.allow);
      model.allowed.push(...vmapAllow(r.expr, text));
      judgeAccept(text, r.expr, 'in input-allow', false, false);
    }
  }
  const temp = rs.sets.find((s) => inFw(s) && s.name === 'temp-ports');
  for (const e of temp?.elem ?? []) {
    const t = val(e?.elem?.val ?? e);
    model.tempPorts.push(t);
    drift(`set temp-ports element ${t}`, 'port opened temporarily (nixos-firewall-tool open): temp-ports must be empty');
    // temp-ports elements are "proto . port(s)": they do open the port.
    const c = e?.concat ?? e?.elem?.val?.concat;
    if (Array.isArray(c) && (c[0] === 'tcp' || c[0] === 'udp')) {
      try {
        model.allowed.push({ proto: c[0], ports: [toRange(c[1], 'nft temp-ports')], rule: `temp-ports ${t}`, inserted: true });
      } catch {
        /* odd element: still drift, already recorded */
      }
    }
  }
  const known = new Set(['input', 'input-allow', 'rpfilter', 'rpfilter-allow', 'output', 'output-allow', 'forward', 'forward-allow']);
  for (const c of rs.chains.filter((c) => inFw(c) && !known.has(c.name))) drift(`chain ${c.name}`, 'chain not in NixOS\'s nixos-fw table layout');
  return model;
}
