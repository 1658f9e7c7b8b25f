// firewall: the node's NixOS firewall (nixos-fw via iptables-save or inet nixos-fw via nft -j)
// equals the expectation, has no drift, and — seen from the harness — expected-open ports answer
// and expected-closed ports do not. Gathering is src/probes/firewall.ts; this file judges.
import type { EarlyContext, Evidence, NodeSpec, Outcome, Suite, SuiteContext } from '../src/core/types.js';
import { defineChecks, outcome, type CheckDef } from '../src/core/checks.js';
import { describeProbe, firewallExcerpt, firewallInForce, firewallSource, earlyProbes, gatherFirewall, outsideProbing, intPorts, parseFirewallOutput, type EarlyProbes, type FirewallFacts } from '../src/probes/firewall.js';
import { allowMap, allowText, diffAllow, observedAllow, type Port } from '../src/probes/firewall-model.js';
import { schema, type FirewallExpect } from './firewall/expect.js';
import { fromManifest } from './firewall/plan.js';
import type { TcpProbe } from '../src/probes/tcp.js';

export { fromManifest, intPorts, parseFirewallOutput, schema, type FirewallExpect, type FirewallFacts };

const CL = ['network-policies'];

export const CHECKS = defineChecks('firewall', {
  enabled: {
    title: 'NixOS firewall is loaded and in force', severity: 'critical', checklist: CL,
    description: 'The nixos-fw chain (iptables, v4 and v6) or table inet nixos-fw (nft) exists and is hooked: INPUT jumps to it with nothing accepting ahead of it, or the input hook reaches input-allow.',
    fix: 'Set networking.firewall.enable = true (and networking.nftables.enable to pick the backend), then nixos-rebuild switch; restart firewall.service if rules were flushed by hand.',
  },
  'default-drop': {
    title: 'Packets nothing allows are dropped or rejected', severity: 'critical', checklist: CL,
    description: 'What no rule allows ends in the refuse chain (drop or reject): no ACCEPT policy and no refuse chain that accepts.',
    fix: 'Remove hand-made policy changes (iptables -P INPUT ACCEPT) and restart firewall.service; networking.firewall.rejectPackets chooses reject over drop.',
  },
  'allowed-ports': {
    title: 'Declared allowed ports equal the expectation', severity: 'high', checklist: CL,
    description: 'The allowed TCP/UDP ports (global and per interface) and the trusted interfaces in the rules equal the expectation, compared as merged intervals, for v4 and v6.',
    fix: 'Declare ports in networking.firewall.allowedTCPPorts / allowedUDPPorts (and ...PortRanges), per interface in networking.firewall.interfaces.<if>, trusted interfaces in networking.firewall.trustedInterfaces.',
  },
  drift: {
    title: 'No rules beyond the declared firewall', severity: 'high', checklist: CL,
    description: 'No rule beyond NixOS\'s own layout and the declared extra rules: no inserted (-I) rules, INPUT accepts, duplicates or temp-ports; no DNAT/REDIRECT reachable from prerouting (any nat chain jumped to, any nft table) beyond the declared extra rules and forwardPorts; and the refuse mode is the expected one.',
    fix: 'Move hand-added rules into networking.firewall.extraCommands (iptables) or networking.firewall.extraInputRules (nftables), or remove them (restart firewall.service); networking.firewall.rejectPackets sets the refuse mode.',
  },
  'port-open': {
    title: 'Expected-open port answers from outside', severity: 'medium', checklist: CL,
    description: 'A TCP connect from the harness to the node\'s address succeeds for each expected-open port.',
    fix: 'Allow the port in networking.firewall.allowedTCPPorts and make sure its service listens on an address the harness reaches.',
  },
  'port-closed': {
    title: 'Expected-closed port does not answer from outside', severity: 'critical', checklist: CL,
    description: 'A TCP connect from the harness gets no connection: filtered (timeout) or refused; with refuse: drop a refusal fails (the SYN got past the firewall). Silence on every probed port is an error, not a pass.',
    fix: 'Remove the port from networking.firewall.allowedTCPPorts (and interfaces.<if>, forwarded ports), or bind the service to localhost.',
  },
});

async function gather(ctx: SuiteContext, expect: FirewallExpect): Promise<FirewallFacts> {
  const p = outsideProbing(ctx.node, expect);
  const o = { ...p, target: ctx.host.address ?? ctx.node.host, rttPort: p.sshPort, timeoutMs: ctx.options.timeoutMs, extraRules: expect.extraRules, trusted: expect.trusted ?? [], forwardPorts: expect.forwardPorts };
  return gatherFirewall(ctx.host, o, ctx.early as Promise<EarlyProbes | undefined> | undefined);
}

/** The outside-in port probes, started with the node's connection (src/probes/firewall.ts, earlyProbes). */
const early = (node: NodeSpec, expect: FirewallExpect, ctx: EarlyContext) =>
  node.host ? earlyProbes(node.host, { ...outsideProbing(node, expect), session: ctx.session, signal: ctx.signal }) : Promise.resolve(undefined);

/** Key → merged intervals, e.g. "tcp" / "tcp@eth0". */
const expectedAllow = (e: FirewallExpect) =>
  allowMap([['tcp', e.open], ['udp', e.udp], ...Object.entries(e.interfaces ?? {}).flatMap(([i, v]): [string, Port[] | undefined][] => [[`tcp@${i}`, v.tcp], [`udp@${i}`, v.udp]])]);

/** What every rule check judges from: the firewall in force and how its facts were read. */
interface Judging extends ReturnType<typeof firewallInForce> {
  f: FirewallFacts;
  e: FirewallExpect;
  parseBroken: boolean;
  src: string;
  exc: string;
  out: Outcome[];
}

function readError(j: Judging, def: CheckDef, subject: string): void {
  const err = j.f.errors[0];
  j.out.push(outcome(def, subject, 'error', `could not read the firewall: ${err.source}: ${err.message}`,
    { source: err.source, excerpt: err.excerpt, observed: j.f.errors.map((x) => `${x.source}: ${x.message}`) }));
}

function judgeEnabled(j: Judging): void {
  const { f, e, models, backend, note } = j;
  if (j.parseBroken || (!backend && f.errors.length)) return readError(j, CHECKS.enabled, 'nixos-fw');
  const problems: string[] = [];
  if (note) problems.push(note);
  if (e.backend && !(e.backend === 'iptables' ? f.v4?.present : f.nft?.present)) problems.push(`expected the ${e.backend} backend, found ${f.v4?.present ? 'iptables' : f.nft?.present ? 'nftables' : 'none'}`);
  for (const m of models) {
    if (!m.present) problems.push(`${m.family}: not loaded`);
    problems.push(...m.notEnforced.map((x) => `${m.family}: ${x}`));
  }
  const ok = problems.length === 0;
  j.out.push(outcome(CHECKS.enabled, 'nixos-fw', ok ? 'pass' : 'fail',
    ok
      ? `${backend} nixos-fw in force for ${models.map((m) => m.family).join(' and ')}${f.v6Note && backend === 'iptables' ? ` (IPv6: ${f.v6Note})` : ''}; refused packets: ${models[0].refuse}`
      : [...new Set(problems)].join('; '),
    {
      expected: { backend: e.backend ?? 'any', hooked: true, policy: backend === 'nftables' ? 'drop' : 'INPUT -j nixos-fw' },
      observed: { backend: backend ?? 'none', families: models.map((m) => ({ family: m.family, present: m.present, hooked: m.hooked, refuse: m.refuse, notEnforced: m.notEnforced })), v6: f.v6Note, nft: f.nftNote },
      source: j.src, excerpt: j.exc,
    }));
}

function judgeDefaultDrop(j: Judging): void {
  if (j.parseBroken || (!j.backend && j.f.errors.length)) return readError(j, CHECKS['default-drop'], 'default policy');
  const open = j.models.length ? j.models.flatMap((m) => m.defaultOpen.map((x) => `${m.family}: ${x}`)) : [j.note ?? 'no NixOS firewall'];
  const refuse = [...new Set(j.models.map((m) => m.refuse))].join('/');
  j.out.push(outcome(CHECKS['default-drop'], 'default policy', open.length ? 'fail' : 'pass',
    open.length ? open.join('; ') : `everything not allowed is ${refuse === 'reject' ? 'rejected' : refuse === 'drop' ? 'dropped' : refuse}`,
    { expected: j.e.refuse ?? 'drop or reject', observed: { refuse, defaultOpen: open }, source: j.src, excerpt: j.exc }));
}

function judgeAllowedPorts(j: Judging): void {
  const def = CHECKS['allowed-ports'];
  if (j.parseBroken) return readError(j, def, 'allowed ports');
  const exp = expectedAllow(j.e);
  if (!j.models.length) {
    j.out.push(outcome(def, 'allowed ports', 'fail', `no NixOS firewall rules to compare: ${j.note}`, { expected: allowText(exp), observed: 'no nixos-fw', source: j.src }));
    return;
  }
  const trustedExp = [...new Set([...(j.e.trusted ?? []), 'lo'])].sort();
  const problems: string[] = [];
  const observed: Record<string, unknown> = {};
  for (const m of j.models) {
    const obs = observedAllow(m);
    const tr = [...new Set(m.trusted)].sort();
    observed[m.family] = { allowed: allowText(obs), trusted: tr };
    problems.push(...diffAllow(exp, obs).map((d) => `${m.family} ${d}`));
    if (tr.join(',') !== trustedExp.join(',')) problems.push(`${m.family} trusted interfaces: expected ${trustedExp.join(',')}, observed ${tr.join(',') || '(none)'}`);
  }
  j.out.push(outcome(def, 'allowed ports', problems.length ? 'fail' : 'pass',
    problems.length ? problems.join('; ') : `allowed ${Object.entries(allowText(exp)).map(([k, v]) => `${k} ${v}`).join('; ') || 'nothing'}; trusted ${trustedExp.join(',')}`,
    { expected: { allowed: allowText(exp), trusted: trustedExp }, observed, source: j.src, excerpt: j.exc }));
}

function judgeDrift(j: Judging): void {
  if (j.parseBroken) return readError(j, CHECKS.drift, 'rules');
  const { e, models } = j;
  const drift = models.flatMap((m) => m.drift.map((d) => `${m.family}: ${d.rule} — ${d.why}`));
  drift.push(...j.natDrift.map((d) => `${d.rule} — ${d.why}`));
  if (j.conflict) drift.push(j.conflict);
  if (e.refuse) for (const m of models) if (m.refuse !== e.refuse) drift.push(`${m.family}: refused packets are handled by ${m.refuse}, expected ${e.refuse}`);
  if (!models.length) drift.push(`no NixOS firewall to compare: ${j.note}`);
  j.out.push(outcome(CHECKS.drift, 'rules', drift.length ? 'fail' : 'pass',
    drift.length ? `${drift.length} rule(s) beyond the declared NixOS firewall: ${drift.slice(0, 3).join('; ')}${drift.length > 3 ? '; …' : ''}` : `every rule matches NixOS's ${j.backend} layout and the declared extra rules (${e.extraRules?.length ?? 0})`,
    { expected: { extraRules: e.extraRules ?? [] }, observed: drift, source: j.src, excerpt: j.exc }));
}

const NO_TARGET = 'no node address to probe from the harness (local transport without host)';
const probeEvidence = (f: FirewallFacts, p: TcpProbe, expected: string): Evidence =>
  ({ expected, observed: p.state, source: p.via ?? `tcp connect ${f.target}:${p.port} from the harness (timeout ${f.probeTimeoutMs} ms: ${f.probeTimeoutWhy ?? 'fixed'}; silence past it counts as filtered: an open or refusing port answers within a round trip)`, excerpt: describeProbe(p, f.listening) });

/** An expected-open port: pass when it accepted; a failure when the node answered elsewhere. */
function judgeOpen(f: FirewallFacts, port: number, p: TcpProbe, reachable: boolean): Outcome {
  if (!f.target) return outcome(CHECKS['port-open'], `tcp/${port}`, 'skipped', NO_TARGET, { source: 'tcp connect' });
  const status = p.state === 'open' ? 'pass' : p.state === 'error' || (p.state === 'unreachable' && !reachable) ? 'error' : 'fail';
  return outcome(CHECKS['port-open'], `tcp/${port}`, status,
    p.state === 'open' ? `${f.target}:${port} accepted a TCP connection${p.via ? ` (the harness's ssh session, still open)` : ` in ${p.ms} ms`}` : `${f.target}:${port} ${p.state}: ${describeProbe(p, f.listening)}`,
    probeEvidence(f, p, 'open (TCP connect succeeds)'));
}

/** An expected-closed port: filtered or refused passes, said which; silence everywhere is no proof. */
function judgeClosed(f: FirewallFacts, e: FirewallExpect, port: number, p: TcpProbe, reachable: boolean): Outcome {
  if (!f.target) return outcome(CHECKS['port-closed'], `tcp/${port}`, 'skipped', NO_TARGET, { source: 'tcp connect' });
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
  return outcome(CHECKS['port-closed'], `tcp/${port}`, status, `${msg}${f.listening ? `; ${describeProbe(p, f.listening).split('; ').slice(1).join('; ')}` : ''}`,
    probeEvidence(f, p, e.refuse === 'drop' ? 'filtered (SYN dropped)' : 'filtered or refused'));
}

function evaluate(f: FirewallFacts, e: FirewallExpect): Outcome[] {
  const inForce = firewallInForce(f, e.backend);
  const { backend } = inForce;
  const parseBroken = f.errors.some((x) => x.source !== 'ss -Hltn' && !x.source.startsWith('/proc/net/tcp') && (backend === 'nftables' ? x.source.startsWith('nft') : /ip6?tables|if_inet6/.test(x.source)));
  const j: Judging = { ...inForce, f, e, parseBroken, src: firewallSource(backend), exc: firewallExcerpt(f, backend), out: [] };
  judgeEnabled(j);
  judgeDefaultDrop(j);
  judgeAllowedPorts(j);
  judgeDrift(j);
  // Outside-in probes: a port that was refused or answered shows the node is up.
  const reachable = [...f.probes.open, ...f.probes.closed].some((p) => p.state === 'open' || p.state === 'refused');
  intPorts(e.open).forEach((port, k) => j.out.push(judgeOpen(f, port, f.probes.open[k], reachable)));
  (e.closed ?? []).forEach((port, k) => j.out.push(judgeClosed(f, e, port, f.probes.closed[k], reachable)));
  return j.out;
}

export const firewallSuite: Suite<FirewallExpect, FirewallFacts> = {
  name: 'firewall',
  key: 'firewall',
  schema,
  gather,
  early,
  evaluate: (facts, expect) => evaluate(facts, expect),
  checkIds: Object.values(CHECKS).map((c) => c.id),
  checks: Object.values(CHECKS),
  fromManifest,
};
