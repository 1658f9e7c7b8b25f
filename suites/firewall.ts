// firewall: the node's NixOS firewall (nixos-fw via iptables-save or inet nixos-fw via nft -j)
// equals the expectation, has no drift, and — seen from the harness — expected-open ports answer
// and expected-closed ports do not.
import type { Outcome, Suite, SuiteContext } from '../src/types.js';
import { ParseError } from '../src/types.js';
import { parseDuration } from '../src/units.js';
import { section, splitSections, type Section } from '../src/probes/sections.js';
import { iptablesModel, parseIptablesSave } from '../src/probes/iptables.js';
import { nftModel, parseNftJson } from '../src/probes/nft.js';
import { parseSsListen, type Listener } from '../src/probes/ss.js';
import { probeTcpMany, type TcpProbe } from '../src/probes/tcp.js';
import { rangeText, type FirewallModel, type PortRange } from '../src/probes/firewall-model.js';

type Port = number | string;

export interface FirewallExpect {
  /** Pin the backend; default: whichever NixOS firewall is found. */
  backend?: 'iptables' | 'nftables';
  /** TCP ports (or "a-b" ranges) allowed on every interface; integer ports are also probed open from the harness. */
  open: Port[];
  /** TCP ports that must not answer from the harness (filtered or refused). */
  closed?: number[];
  /** UDP ports/ranges allowed on every interface (declared state only: UDP cannot be probed reliably). */
  udp?: Port[];
  /** Per-interface allowances (networking.firewall.interfaces.<if>). */
  interfaces?: Record<string, { tcp?: Port[]; udp?: Port[] }>;
  /** Trusted interfaces; `lo` is always added, as NixOS does. */
  trusted?: string[];
  /** How refused packets are handled (networking.firewall.rejectPackets). With `drop`, an
   *  expected-closed port that answers RST fails port-closed: the firewall did not stop it. */
  refuse?: 'drop' | 'reject';
  /** Declared extra rules (extraCommands / extraInputRules) that are not drift, as written in the config. */
  extraRules?: string[];
  /** Outside-in connect timeout, e.g. "1.5s". */
  probeTimeout?: string;
}

const portItem = { oneOf: [{ type: 'integer', minimum: 1, maximum: 65535 }, { type: 'string', pattern: '^[0-9]{1,5}-[0-9]{1,5}$' }] };
const portList = { type: 'array', items: portItem };

export const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['open'],
  properties: {
    backend: { enum: ['iptables', 'nftables'] },
    open: portList,
    // `closed: []` would look like a checked promise and check nothing: omit the key instead.
    closed: { type: 'array', minItems: 1, items: { type: 'integer', minimum: 1, maximum: 65535 } },
    udp: portList,
    interfaces: {
      type: 'object',
      additionalProperties: { type: 'object', additionalProperties: false, properties: { tcp: portList, udp: portList } },
    },
    trusted: { type: 'array', items: { type: 'string', minLength: 1 } },
    refuse: { enum: ['drop', 'reject'] },
    extraRules: { type: 'array', items: { type: 'string', minLength: 1 } },
    probeTimeout: { type: 'string' },
  },
};

interface ProbeError {
  source: string;
  message: string;
  excerpt?: string;
}

export interface FirewallFacts {
  script: string;
  raw: Record<string, Section>;
  v4?: FirewallModel;
  v6?: FirewallModel;
  /** Why v6 was not evaluated. */
  v6Note?: string;
  nft?: ReturnType<typeof nftModel>;
  nftNote?: string;
  listening?: Listener[];
  errors: ProbeError[];
  target?: string;
  probes: { open: TcpProbe[]; closed: TcpProbe[] };
  probeTimeoutMs: number;
}

const PARTS = ['iptables-save', 'ip6tables-save', 'nft', 'ss'];
export const FIREWALL_SCRIPT = [
  section('iptables-save', 'iptables-save'),
  section('ip6tables-save', 'ip6tables-save'),
  section('nft', 'nft -j list ruleset'),
  section('ss', 'ss -Hltn'),
].join('; ');

const CHECKLIST = ['network-policies'];

/** Pure: turn the probe script's output into facts (also used by unit tests with fixtures). */
export function parseFirewallOutput(output: string, expect: FirewallExpect): Omit<FirewallFacts, 'probes' | 'target' | 'probeTimeoutMs'> {
  const facts: Omit<FirewallFacts, 'probes' | 'target' | 'probeTimeoutMs'> = { script: FIREWALL_SCRIPT, raw: {}, errors: [] };
  const s = splitSections(output, 'firewall probe', PARTS);
  for (const p of PARTS) facts.raw[p] = s.get(p)!;
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
  const extra = expect.extraRules ?? [];
  const v4 = s.get('iptables-save')!;
  if (v4.rc === 0) facts.v4 = attempt('iptables-save', v4.text, () => iptablesModel(parseIptablesSave(v4.text, 'iptables-save'), 'ipv4', extra));
  else if (v4.rc !== 127) facts.errors.push({ source: 'iptables-save', message: `iptables-save exited ${v4.rc}: ${v4.stderr.trim()}` });
  const v6 = s.get('ip6tables-save')!;
  if (v6.rc === 127) facts.v6Note = 'ip6tables-save not installed';
  else if (v6.rc !== 0) facts.v6Note = `ip6tables-save exited ${v6.rc}: ${v6.stderr.trim()}`;
  else if (!/^\*filter$/m.test(v6.text)) facts.v6Note = 'no IPv6 filter table loaded';
  else facts.v6 = attempt('ip6tables-save', v6.text, () => iptablesModel(parseIptablesSave(v6.text, 'ip6tables-save'), 'ipv6', extra));
  const nft = s.get('nft')!;
  if (nft.rc === 127) facts.nftNote = 'nft not installed';
  else if (nft.rc !== 0) facts.nftNote = `nft exited ${nft.rc}: ${nft.stderr.trim()}`;
  else facts.nft = attempt('nft -j list ruleset', nft.text, () => nftModel(parseNftJson(nft.text), extra));
  if (v4.rc === 127 && nft.rc === 127) facts.errors.push({ source: 'iptables-save, nft', message: 'neither iptables-save nor nft is installed on the node: cannot read its firewall' });
  const ss = s.get('ss')!;
  if (ss.rc === 0) facts.listening = attempt('ss -Hltn', ss.text, () => parseSsListen(ss.text));
  return facts;
}

export function intPorts(list: Port[] | undefined): number[] {
  return (list ?? []).filter((p): p is number => typeof p === 'number');
}

async function gather(ctx: SuiteContext, expect: FirewallExpect): Promise<FirewallFacts> {
  const timeoutMs = expect.probeTimeout ? parseDuration(expect.probeTimeout) : 1500;
  const target = ctx.host.address ?? ctx.node.host;
  const open = intPorts(expect.open);
  const closed = expect.closed ?? [];
  // The node-side facts and the harness-side probes are independent: run them together.
  const [r, probes] = await Promise.all([
    ctx.host.exec(FIREWALL_SCRIPT, { timeoutMs: ctx.options.timeoutMs }),
    target
      ? probeTcpMany(target, [...open, ...closed], timeoutMs).then((all) => ({ open: all.slice(0, open.length), closed: all.slice(open.length) }))
      : Promise.resolve({ open: [], closed: [] }),
  ]);
  return { ...parseFirewallOutput(r.stdout, expect), target, probes, probeTimeoutMs: timeoutMs };
}

// ---- evaluation helpers ----

function toRange(p: Port): PortRange {
  if (typeof p === 'number') return { from: p, to: p };
  const [a, b] = p.split('-').map(Number);
  return { from: Math.min(a, b), to: Math.max(a, b) };
}

/** Merge ranges into sorted disjoint intervals so "80,81" equals "80-81" (nft may auto-merge). */
function merge(rs: PortRange[]): PortRange[] {
  const s = [...rs].sort((a, b) => a.from - b.from);
  const out: PortRange[] = [];
  for (const r of s) {
    const last = out[out.length - 1];
    if (last && r.from <= last.to + 1) last.to = Math.max(last.to, r.to);
    else out.push({ ...r });
  }
  return out;
}

function setText(rs: PortRange[]): string {
  return merge(rs).map(rangeText).join(',') || '(none)';
}

/** Key → merged intervals, e.g. "tcp" / "tcp@eth0". */
function expectedAllow(e: FirewallExpect): Map<string, PortRange[]> {
  const m = new Map<string, PortRange[]>();
  const add = (k: string, ps: Port[] | undefined) => {
    if (ps?.length) m.set(k, merge([...(m.get(k) ?? []), ...ps.map(toRange)]));
  };
  add('tcp', e.open);
  add('udp', e.udp);
  for (const [iface, v] of Object.entries(e.interfaces ?? {})) {
    add(`tcp@${iface}`, v.tcp);
    add(`udp@${iface}`, v.udp);
  }
  return m;
}

function observedAllow(model: FirewallModel): Map<string, PortRange[]> {
  const m = new Map<string, PortRange[]>();
  for (const a of model.allowed) {
    const k = a.iface ? `${a.proto}@${a.iface}` : a.proto;
    m.set(k, merge([...(m.get(k) ?? []), ...a.ports]));
  }
  return m;
}

function diffAllow(exp: Map<string, PortRange[]>, obs: Map<string, PortRange[]>): string[] {
  const out: string[] = [];
  for (const k of new Set([...exp.keys(), ...obs.keys()])) {
    const a = setText(exp.get(k) ?? []);
    const b = setText(obs.get(k) ?? []);
    if (a !== b) out.push(`${k}: expected ${a}, observed ${b}`);
  }
  return out;
}

function allowText(m: Map<string, PortRange[]>): Record<string, string> {
  return Object.fromEntries([...m.entries()].sort().map(([k, v]) => [k, setText(v)]));
}

/** The firewall in force: the pinned backend, else whichever NixOS firewall is present. */
function chooseModels(f: FirewallFacts, e: FirewallExpect): { models: FirewallModel[]; backend?: string; note?: string; conflict?: string } {
  const ipt = f.v4?.present ? 'iptables' : undefined;
  const nft = f.nft?.present ? 'nftables' : undefined;
  const conflict = ipt && nft ? 'both the iptables nixos-fw chains and table inet nixos-fw are loaded' : undefined;
  const backend = e.backend ?? ipt ?? nft;
  if (!backend) return { models: [], note: 'neither a nixos-fw chain (iptables-save) nor table inet nixos-fw (nft) is loaded' };
  if (backend === 'iptables') {
    if (!f.v4) return { models: [], backend, note: 'iptables-save gave no usable output' };
    return { models: f.v6 ? [f.v4, f.v6] : [f.v4], backend, conflict };
  }
  if (!f.nft) return { models: [], backend, note: f.nftNote ?? 'nft gave no usable output' };
  return { models: [f.nft], backend, conflict };
}

function sourceOf(backend?: string): string {
  return backend === 'nftables' ? 'nft -j list ruleset' : 'iptables-save; ip6tables-save';
}

function excerptOf(f: FirewallFacts, backend?: string): string {
  if (backend === 'nftables') return (f.raw.nft?.text ?? '').slice(0, 600);
  return (f.raw['iptables-save']?.text ?? '').split('\n').filter((l) => /nixos-fw|INPUT|PREROUTING/.test(l) && l.startsWith('-A')).join('\n');
}

function describeProbe(p: TcpProbe, listening?: Listener[]): string {
  const l = listening?.filter((x) => x.port === p.port).map((x) => `${x.address}:${x.port}`) ?? [];
  const ctx = listening ? (l.length ? `; node listens on ${l.join(', ')}` : '; nothing listens on it on the node') : '';
  return `${p.detail} after ${p.ms} ms${ctx}`;
}

function evaluate(f: FirewallFacts, e: FirewallExpect): Outcome[] {
  const out: Outcome[] = [];
  const base = { checklist: CHECKLIST };
  const errorFor = (id: string, title: string, subject: string, severity: Outcome['severity']) => {
    const err = f.errors[0];
    out.push({
      ...base, id, title, subject, severity, status: 'error',
      message: `could not read the firewall: ${err.source}: ${err.message}`,
      evidence: { source: err.source, excerpt: err.excerpt, observed: f.errors.map((x) => `${x.source}: ${x.message}`) },
    });
  };
  const { models, backend, note, conflict } = chooseModels(f, e);
  const parseBroken = f.errors.some((x) => x.source !== 'ss -Hltn' && (backend === 'nftables' ? x.source.startsWith('nft') : x.source.includes('iptables')));
  const src = sourceOf(backend);
  const exc = excerptOf(f, backend);

  // firewall.enabled
  if (parseBroken || (!backend && f.errors.length)) errorFor('firewall.enabled', 'NixOS firewall is loaded and in force', 'nixos-fw', 'critical');
  else {
    const problems: string[] = [];
    if (note) problems.push(note);
    if (e.backend && !(e.backend === 'iptables' ? f.v4?.present : f.nft?.present)) problems.push(`expected the ${e.backend} backend, found ${f.v4?.present ? 'iptables' : f.nft?.present ? 'nftables' : 'none'}`);
    for (const m of models) {
      if (!m.present) problems.push(`${m.family}: not loaded`);
      problems.push(...m.notEnforced.map((x) => `${m.family}: ${x}`));
    }
    const ok = problems.length === 0;
    out.push({
      ...base, id: 'firewall.enabled', title: 'NixOS firewall is loaded and in force', subject: 'nixos-fw', severity: 'critical',
      status: ok ? 'pass' : 'fail',
      message: ok
        ? `${backend} nixos-fw in force for ${models.map((m) => m.family).join(' and ')}${f.v6Note && backend === 'iptables' ? ` (IPv6: ${f.v6Note})` : ''}; refused packets: ${models[0].refuse}`
        : [...new Set(problems)].join('; '),
      evidence: {
        expected: { backend: e.backend ?? 'any', hooked: true, policy: backend === 'nftables' ? 'drop' : 'INPUT -j nixos-fw' },
        observed: { backend: backend ?? 'none', families: models.map((m) => ({ family: m.family, present: m.present, hooked: m.hooked, refuse: m.refuse, notEnforced: m.notEnforced })), v6: f.v6Note, nft: f.nftNote },
        source: src, excerpt: exc,
      },
    });
  }

  // firewall.default-drop
  if (parseBroken || (!backend && f.errors.length)) errorFor('firewall.default-drop', 'Packets nothing allows are dropped or rejected', 'default policy', 'critical');
  else {
    const open = models.length ? models.flatMap((m) => m.defaultOpen.map((x) => `${m.family}: ${x}`)) : [note ?? 'no NixOS firewall'];
    const refuse = [...new Set(models.map((m) => m.refuse))].join('/');
    out.push({
      ...base, id: 'firewall.default-drop', title: 'Packets nothing allows are dropped or rejected', subject: 'default policy', severity: 'critical',
      status: open.length ? 'fail' : 'pass',
      message: open.length ? open.join('; ') : `everything not allowed is ${refuse === 'reject' ? 'rejected' : refuse === 'drop' ? 'dropped' : refuse}`,
      evidence: { expected: e.refuse ?? 'drop or reject', observed: { refuse, defaultOpen: open }, source: src, excerpt: exc },
    });
  }

  // firewall.allowed-ports
  if (parseBroken) errorFor('firewall.allowed-ports', 'Declared allowed ports equal the expectation', 'allowed ports', 'high');
  else if (!models.length) {
    out.push({
      ...base, id: 'firewall.allowed-ports', title: 'Declared allowed ports equal the expectation', subject: 'allowed ports', severity: 'high',
      status: 'fail', message: `no NixOS firewall rules to compare: ${note}`, evidence: { expected: allowText(expectedAllow(e)), observed: 'no nixos-fw', source: src },
    });
  } else {
    const exp = expectedAllow(e);
    const trustedExp = [...new Set([...(e.trusted ?? []), 'lo'])].sort();
    const problems: string[] = [];
    const observed: Record<string, unknown> = {};
    for (const m of models) {
      const obs = observedAllow(m);
      observed[m.family] = { allowed: allowText(obs), trusted: [...new Set(m.trusted)].sort() };
      problems.push(...diffAllow(exp, obs).map((d) => `${m.family} ${d}`));
      const tr = [...new Set(m.trusted)].sort();
      if (tr.join(',') !== trustedExp.join(',')) problems.push(`${m.family} trusted interfaces: expected ${trustedExp.join(',')}, observed ${tr.join(',') || '(none)'}`);
    }
    out.push({
      ...base, id: 'firewall.allowed-ports', title: 'Declared allowed ports equal the expectation', subject: 'allowed ports', severity: 'high',
      status: problems.length ? 'fail' : 'pass',
      message: problems.length ? problems.join('; ') : `allowed ${Object.entries(allowText(exp)).map(([k, v]) => `${k} ${v}`).join('; ') || 'nothing'}; trusted ${trustedExp.join(',')}`,
      evidence: { expected: { allowed: allowText(exp), trusted: trustedExp }, observed, source: src, excerpt: exc },
    });
  }

  // firewall.drift
  if (parseBroken) errorFor('firewall.drift', 'No rules beyond the declared firewall', 'rules', 'high');
  else {
    const drift = models.flatMap((m) => m.drift.map((d) => `${m.family}: ${d.rule} — ${d.why}`));
    if (conflict) drift.push(conflict);
    if (e.refuse) for (const m of models) if (m.refuse !== e.refuse) drift.push(`${m.family}: refused packets are handled by ${m.refuse}, expected ${e.refuse}`);
    if (!models.length) drift.push(`no NixOS firewall to compare: ${note}`);
    out.push({
      ...base, id: 'firewall.drift', title: 'No rules beyond the declared firewall', subject: 'rules', severity: 'high',
      status: drift.length ? 'fail' : 'pass',
      message: drift.length ? `${drift.length} rule(s) beyond the declared NixOS firewall: ${drift.slice(0, 3).join('; ')}${drift.length > 3 ? '; …' : ''}` : `every rule matches NixOS's ${backend} layout and the declared extra rules (${e.extraRules?.length ?? 0})`,
      evidence: { expected: { extraRules: e.extraRules ?? [] }, observed: drift, source: src, excerpt: exc },
    });
  }

  // Outside-in probes.
  const reachable = [...f.probes.open, ...f.probes.closed].some((p) => p.state === 'open' || p.state === 'refused');
  const noTarget = !f.target;
  for (const [k, port] of intPorts(e.open).entries()) {
    const subject = `tcp/${port}`;
    const title = 'Expected-open port answers from outside';
    if (noTarget) {
      out.push({ ...base, id: 'firewall.port-open', title, subject, severity: 'medium', status: 'skipped', message: 'no node address to probe from the harness (local transport without host)', evidence: { source: 'tcp connect' } });
      continue;
    }
    const p = f.probes.open[k];
    const status = p.state === 'open' ? 'pass' : p.state === 'error' || (p.state === 'unreachable' && !reachable) ? 'error' : 'fail';
    out.push({
      ...base, id: 'firewall.port-open', title, subject, severity: 'medium', status,
      message: p.state === 'open' ? `${f.target}:${port} accepted a TCP connection in ${p.ms} ms` : `${f.target}:${port} ${p.state}: ${describeProbe(p, f.listening)}`,
      evidence: { expected: 'open (TCP connect succeeds)', observed: p.state, source: `tcp connect ${f.target}:${port} from the harness (timeout ${f.probeTimeoutMs} ms)`, excerpt: describeProbe(p, f.listening) },
    });
  }
  for (const [k, port] of (e.closed ?? []).entries()) {
    const subject = `tcp/${port}`;
    const title = 'Expected-closed port does not answer from outside';
    if (noTarget) {
      out.push({ ...base, id: 'firewall.port-closed', title, subject, severity: 'critical', status: 'skipped', message: 'no node address to probe from the harness (local transport without host)', evidence: { source: 'tcp connect' } });
      continue;
    }
    const p = f.probes.closed[k];
    let status: Outcome['status'];
    let msg: string;
    if (p.state === 'filtered' && !reachable) {
      // Silence everywhere is what a node that is down (or a path that drops everything) looks
      // like too: a dropped SYN only means "firewalled" when something else on the node answered.
      [status, msg] = ['error', `the node answered on no port; filtered cannot be told from down (${p.detail})`];
    } else if (p.state === 'filtered') [status, msg] = ['pass', `filtered: ${p.detail} (SYN dropped)`];
    else if (p.state === 'refused' && e.refuse === 'drop') {
      // With DROP, a refusal means the SYN got through the firewall to the TCP stack: only the
      // absence of a listener keeps the port closed (nixos-facts §1 "What an outside probe sees").
      [status, msg] = ['fail', `refused at once (${p.detail}) although the firewall should drop: the SYN reached the node's TCP stack, the port is not firewalled`];
    } else if (p.state === 'refused') [status, msg] = ['pass', `refused at once (${p.detail}: RST or ICMP port-unreachable)`];
    else if (p.state === 'unreachable' && reachable) [status, msg] = ['pass', `rejected with ICMP ${p.detail}`];
    else if (p.state === 'open') [status, msg] = ['fail', `${f.target}:${port} ACCEPTED a TCP connection`];
    else [status, msg] = ['error', `could not tell: ${p.detail} (the node did not answer on any probed port)`];
    out.push({
      ...base, id: 'firewall.port-closed', title, subject, severity: 'critical', status, message: `${msg}${f.listening ? `; ${describeProbe(p, f.listening).split('; ').slice(1).join('; ')}` : ''}`,
      evidence: { expected: e.refuse === 'drop' ? 'filtered (SYN dropped)' : 'filtered or refused', observed: p.state, source: `tcp connect ${f.target}:${port} from the harness (timeout ${f.probeTimeoutMs} ms)`, excerpt: describeProbe(p, f.listening) },
    });
  }
  return out;
}

export const firewallSuite: Suite<FirewallExpect, FirewallFacts> = {
  name: 'firewall',
  key: 'firewall',
  schema,
  gather,
  evaluate: (facts, expect) => evaluate(facts, expect),
  checkIds: ['firewall.enabled', 'firewall.default-drop', 'firewall.allowed-ports', 'firewall.drift', 'firewall.port-open', 'firewall.port-closed'],
};
