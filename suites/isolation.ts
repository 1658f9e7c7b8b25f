// Container isolation (checklist: hardening, network-policies): each nixos-container runs in its own
// namespaces, with a reduced capability bounding set, and can reach from inside only what is
// declared. Facts come from the node in three execs for all containers together: the locator, one
// script reading /proc/<leader>/{ns,status,uid_map,net/tcp} (+ the inner firewall), and one batch of
// bounded connect attempts from inside each container's network namespace.
import type { Host, Outcome, Suite, SuiteContext } from '../src/core/types.js';
import { ParseError } from '../src/core/types.js';
import { missingReason, scanContainers, type ContainerScan } from '../src/probes/containers.js';
import { nsScript, parseNs, parseUidMap, type NsSet, type UidMap } from '../src/probes/ns.js';
import { normaliseCap, parseProcStatus, type ProcStatus } from '../src/probes/capabilities.js';
import { listensOn, parseProcNetTcp, type Listener } from '../src/probes/listeners.js';
import { section, splitSections } from '../src/probes/sections.js';

export interface ContainerExpect {
  /** Own network namespace (NixOS privateNetwork). Default true. */
  privateNetwork?: boolean;
  /** Own user namespace (NixOS privateUsers ≠ "no"). Default false, as in the NixOS module. */
  privateUsers?: boolean;
  /** Capabilities the bounding set must not hold. Default CAP_SYS_ADMIN, CAP_SYS_MODULE. */
  dropCapabilities?: string[];
  /** The leader must run with NoNewPrivs=1. */
  noNewPrivs?: boolean;
  /** TCP ports the container declares open (its networking.firewall.allowedTCPPorts): others may reach them. */
  ports?: number[];
  /** Check that the inner firewall (nixos-fw in the container's netns) allows exactly `ports`. */
  innerFirewall?: boolean;
  /** Further declared reachability from this container: "host:22", "alchemist:5432". */
  reach?: string[];
  /** Nothing listens where this container could connect (no port to test): say so, else 0 ports tested is an error. */
  noReachTargets?: boolean;
}
export type IsolationExpect = Record<string, ContainerExpect>;

export const DEFAULT_DROP = ['CAP_SYS_ADMIN', 'CAP_SYS_MODULE'];
const NS_CHECKED = ['net', 'pid', 'mnt', 'ipc', 'uts', 'cgroup'] as const;

export type Reach = 'open' | 'refused' | 'timeout' | 'error';

export interface ReachAttempt {
  /** "host" or the container name the port belongs to. */
  target: string;
  address: string;
  port: number;
  result: Reach;
}

export interface ContainerFacts {
  name: string;
  /** Set when the container cannot be inspected (missing, not running, unreadable). */
  problem?: string;
  leader?: number;
  leaderSource?: string;
  hostAddress?: string;
  localAddress?: string;
  ns?: NsSet;
  uidMap?: UidMap;
  status?: ProcStatus;
  listeners?: Listener[];
  /** Raw inner firewall (iptables-save / nft), when asked for. */
  firewall?: { text: string; rc: number; command: string };
  reach?: ReachAttempt[];
  reachProblem?: string;
  excerpt?: string;
}

export interface IsolationFacts {
  hostNs: NsSet;
  hostListeners: Listener[];
  containers: ContainerFacts[];
  /** Containers on the node that the expectation does not name. */
  unexpected: { name: string; leader?: number; source?: string; confPath?: string }[];
  commands: string[];
}

const containerSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    privateNetwork: { type: 'boolean' },
    privateUsers: { type: 'boolean' },
    dropCapabilities: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^(CAP_)?[A-Za-z_]+$' } },
    noNewPrivs: { type: 'boolean' },
    ports: { type: 'array', items: { type: 'integer', minimum: 1, maximum: 65535 } },
    innerFirewall: { type: 'boolean' },
    reach: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9-]*:\\d{1,5}$' } },
    noReachTargets: { type: 'boolean' },
  },
};

export const schema = {
  type: 'object',
  description: 'nixos-containers of the node by name: isolation expected of each.',
  // `containers: {}` would check nothing at all.
  minProperties: 1,
  propertyNames: { pattern: '^[A-Za-z0-9][A-Za-z0-9-]*$' },
  additionalProperties: containerSchema,
};

const stripPrefix = (a?: string) => a?.replace(/\/\d+$/, '') || undefined;

function factsScript(hostRef: string, list: { idx: number; leader: number; firewall: boolean }[]): string {
  const parts = [section('host.ns', nsScript(hostRef)), section('host.tcp', `cat /proc/${hostRef}/net/tcp; cat /proc/${hostRef}/net/tcp6 2>/dev/null; true`)];
  for (const c of list) {
    const L = c.leader;
    parts.push(
      section(`alive.${c.idx}`, `test -d /proc/${L} && cat /proc/${L}/comm`),
      section(`ns.${c.idx}`, nsScript(L)),
      section(`uidmap.${c.idx}`, `cat /proc/${L}/uid_map`),
      section(`status.${c.idx}`, `cat /proc/${L}/status`),
      section(`tcp.${c.idx}`, `cat /proc/${L}/net/tcp; cat /proc/${L}/net/tcp6 2>/dev/null; true`),
    );
    if (c.firewall) {
      parts.push(
        section(
          `fw.${c.idx}`,
          `if command -v iptables-save >/dev/null && nsenter --net=/proc/${L}/ns/net iptables-save 2>/dev/null | grep -q nixos-fw; then nsenter --net=/proc/${L}/ns/net iptables-save; else nsenter --net=/proc/${L}/ns/net nft list ruleset; fi`,
        ),
      );
    }
  }
  return parts.join('\n');
}

/** Bounded connect attempts, all in parallel, each from inside a container's netns. */
function reachScript(attempts: { id: number; leader: number; address: string; port: number }[]): string {
  const lines = [
    `try_c() { nsenter --net=/proc/$1/ns/net timeout 1 bash -c "exec 3<>/dev/tcp/$2/$3" >/dev/null 2>&1; echo "R $4 $?"; }`,
  ];
  // Groups of 64 keep the process count on the node modest; each attempt lasts at most 1 s.
  for (let i = 0; i < attempts.length; i += 64) {
    lines.push(attempts.slice(i, i + 64).map((a) => `try_c ${a.leader} ${a.address} ${a.port} ${a.id} &`).join('\n'), 'wait');
  }
  return lines.join('\n');
}

async function gather(ctx: SuiteContext, expect: IsolationExpect): Promise<IsolationFacts> {
  const host: Host = ctx.host;
  const scan: ContainerScan = await scanContainers(host, ctx.options.timeoutMs);
  const commands = [scan.command];
  const names = Object.keys(expect);
  const facts: ContainerFacts[] = names.map((name) => {
    const c = scan.containers.get(name);
    const problem = missingReason(scan, name);
    return {
      name,
      problem,
      leader: c?.leader,
      leaderSource: c?.source,
      hostAddress: stripPrefix(c?.conf?.HOST_ADDRESS),
      localAddress: stripPrefix(c?.conf?.LOCAL_ADDRESS),
    };
  });
  const unexpected = [...scan.containers.values()]
    .filter((c) => !(c.name in expect))
    .map((c) => ({ name: c.name, leader: c.leader, source: c.source, confPath: c.confPath }));
  // Only expected containers are inspected; unexpected ones are reported as drift.
  const inspect = facts.filter((f) => f.leader !== undefined);
  const list = inspect.map((f, idx) => ({ idx, leader: f.leader!, firewall: !!expect[f.name]?.innerFirewall }));
  const script = factsScript('1', list);
  const r = await host.exec(script, { timeoutMs: ctx.options.timeoutMs });
  commands.push('isolation facts script: readlink /proc/{1,LEADER}/ns/*; cat /proc/LEADER/{uid_map,status,net/tcp,net/tcp6}; nsenter --net iptables-save');
  const secs = splitSections(r.stdout, 'isolation facts script', ['host.ns', 'host.tcp']);
  const hostNs = parseNs(secs.get('host.ns')!.text, 'readlink /proc/1/ns/*');
  const hostListeners = parseProcNetTcp(secs.get('host.tcp')!.text, '/proc/1/net/tcp');
  inspect.forEach((f, idx) => {
    const sec = (k: string) => secs.get(`${k}.${idx}`);
    // A section the output lacks (cut short, garbled) is an error for this container, not a crash.
    const need = (k: string) => {
      const x = sec(k);
      if (!x) throw new ParseError('isolation facts script', `output lacks section ${k}.${idx} (container ${f.name})`, r.stdout.slice(-300));
      return x;
    };
    try {
      const alive = need('alive');
      if (alive.rc !== 0) {
        f.problem = `leader PID ${f.leader} of container "${f.name}" (from ${f.leaderSource}) is not running on the node`;
        return;
      }
      f.ns = parseNs(need('ns').text, `readlink /proc/${f.leader}/ns/*`);
      f.uidMap = parseUidMap(need('uidmap').text, `/proc/${f.leader}/uid_map`);
      const status = need('status');
      f.status = parseProcStatus(status.text, `/proc/${f.leader}/status`);
      f.listeners = parseProcNetTcp(need('tcp').text, `/proc/${f.leader}/net/tcp`);
      if (list[idx].firewall) {
        const fw = need('fw');
        f.firewall = { text: fw.text, rc: fw.rc, command: `nsenter --net=/proc/${f.leader}/ns/net iptables-save (or nft list ruleset)` };
      }
      f.excerpt = status.text.split('\n').filter((l) => /^(Cap|NoNewPrivs)/.test(l)).join('\n');
    } catch (e) {
      if (e instanceof ParseError) f.problem = e.message;
      else throw e;
    }
  });

  // Reachability: from each container with its own netns, to every port the host or another
  // container listens on at the address that container would use.
  const targets: { id: number; from: ContainerFacts; t: Omit<ReachAttempt, 'result'> }[] = [];
  const ok = inspect.filter((f) => !f.problem && f.ns);
  for (const from of ok) {
    if (expect[from.name]?.privateNetwork === false) continue;
    if (from.ns!.net === hostNs.net) {
      from.reachProblem = 'the container shares the host network namespace: reachability from inside is the host\'s own';
      continue;
    }
    if (!from.hostAddress) {
      from.reachProblem = 'no HOST_ADDRESS in the container config: cannot tell which host address the container uses';
      continue;
    }
    for (const l of hostListeners) {
      if ((l.family === 4 || l.address === '::') && listensOn(l, from.hostAddress)) targets.push({ id: targets.length, from, t: { target: 'host', address: from.hostAddress, port: l.port } });
    }
    for (const other of ok) {
      if (other === from || !other.localAddress || !other.listeners) continue;
      for (const l of other.listeners) {
        if ((l.family === 4 || l.address === '::') && listensOn(l, other.localAddress)) targets.push({ id: targets.length, from, t: { target: other.name, address: other.localAddress, port: l.port } });
      }
    }
  }
  const seen = new Set<string>();
  const unique = targets.filter((x) => {
    const k = `${x.from.name}|${x.t.address}|${x.t.port}`;
    return seen.has(k) ? false : (seen.add(k), true);
  });
  const capped = unique.slice(0, 512);
  if (capped.length) {
    const rr = await host.exec(reachScript(capped.map((x) => ({ id: x.id, leader: x.from.leader!, address: x.t.address, port: x.t.port }))), {
      timeoutMs: Math.max(ctx.options.timeoutMs, 10_000),
    });
    commands.push('nsenter --net=/proc/LEADER/ns/net timeout 1 bash -c "exec 3<>/dev/tcp/ADDR/PORT" (parallel)');
    const results = new Map<number, number>();
    for (const m of rr.stdout.matchAll(/^R (\d+) (\d+)$/gm)) results.set(Number(m[1]), Number(m[2]));
    for (const x of capped) {
      const code = results.get(x.id);
      const result: Reach = code === undefined ? 'error' : code === 0 ? 'open' : code === 124 ? 'timeout' : code === 1 ? 'refused' : 'error';
      (x.from.reach ??= []).push({ ...x.t, result });
    }
  }
  for (const f of ok) if (!f.reach && !f.reachProblem && expect[f.name]?.privateNetwork !== false) f.reach = [];
  return { hostNs, hostListeners, containers: facts, unexpected, commands };
}

// --- evaluate (pure) ---

const CHECK = {
  present: 'isolation.container-present',
  namespaces: 'isolation.namespaces',
  userns: 'isolation.user-namespace',
  caps: 'isolation.capabilities',
  nnp: 'isolation.no-new-privs',
  reach: 'isolation.reachability',
  fw: 'isolation.inner-firewall',
  drift: 'isolation.unexpected-container',
} as const;

/** Accepted TCP ports of an inner NixOS firewall (iptables nixos-fw chain or nftables input-allow). */
export function innerFirewallPorts(text: string): number[] | undefined {
  const ports = new Set<number>();
  const add = (spec: string) => {
    for (const part of spec.split(/[,\s]+/).filter(Boolean)) {
      const r = /^(\d+)[:-](\d+)$/.exec(part);
      if (r) for (let p = Number(r[1]); p <= Number(r[2]) && p - Number(r[1]) < 65536; p++) ports.add(p);
      else if (/^\d+$/.test(part)) ports.add(Number(part));
    }
  };
  if (/^:nixos-fw /m.test(text) || /^-A nixos-fw /m.test(text)) {
    for (const line of text.split('\n')) {
      if (!line.startsWith('-A nixos-fw ') || !/-j nixos-fw-accept\b/.test(line) || /\s-i\s/.test(line)) continue;
      const m = /-p tcp\b.*--dports? (\S+)/.exec(line);
      if (m) add(m[1]);
    }
    return [...ports].sort((a, b) => a - b);
  }
  if (/table inet nixos-fw/.test(text)) {
    for (const line of text.split('\n')) {
      const m = /tcp dport (\{[^}]*\}|\S+).*\baccept\b/.exec(line);
      if (m && !/iifname/.test(line)) add(m[1].replace(/[{}]/g, ''));
    }
    return [...ports].sort((a, b) => a - b);
  }
  return undefined;
}

function evaluate(facts: IsolationFacts, expect: IsolationExpect): Outcome[] {
  const out: Outcome[] = [];
  const byName = new Map(facts.containers.map((c) => [c.name, c]));
  const declaredPorts = (name: string) => new Set(expect[name]?.ports ?? []);
  for (const [name, exp] of Object.entries(expect)) {
    const f = byName.get(name);
    const subject = `container ${name}`;
    const base = { subject, checklist: ['hardening'] };
    if (!f || f.problem) {
      const missing = !f || f.leader === undefined;
      out.push({
        ...base,
        id: CHECK.present,
        title: 'Container exists and runs',
        status: missing ? 'fail' : 'error',
        severity: 'high',
        message: f?.problem ?? `container "${name}" was not inspected`,
        evidence: { expected: 'a running container', observed: f?.problem, source: facts.commands[0] ?? 'container locator' },
      });
      continue;
    }
    out.push({
      ...base,
      id: CHECK.present,
      title: 'Container exists and runs',
      status: 'pass',
      severity: 'high',
      message: `leader PID ${f.leader} (from ${f.leaderSource})`,
      evidence: { expected: 'a running container', observed: { leader: f.leader }, source: f.leaderSource ?? 'container locator' },
    });
    const ns = f.ns!;
    // namespaces
    const privNet = exp.privateNetwork !== false;
    const shared = NS_CHECKED.filter((k) => (k !== 'net' || privNet) && ns[k] !== undefined && ns[k] === facts.hostNs[k]);
    const unknown = NS_CHECKED.filter((k) => ns[k] === undefined || facts.hostNs[k] === undefined);
    const nsObserved = Object.fromEntries(NS_CHECKED.map((k) => [k, { container: ns[k] ?? null, host: facts.hostNs[k] ?? null }]));
    out.push({
      ...base,
      checklist: ['hardening', 'network-policies'],
      id: CHECK.namespaces,
      title: 'Container has its own namespaces',
      status: shared.length ? 'fail' : unknown.length ? 'error' : 'pass',
      severity: shared.includes('net') || shared.includes('pid') || shared.includes('mnt') ? 'critical' : 'high',
      message: shared.length
        ? `shares the host's ${shared.join(', ')} namespace${shared.length > 1 ? 's' : ''}${shared.includes('net') ? ' (it sees and binds host ports; set privateNetwork = true)' : ''}`
        : unknown.length
          ? `cannot read the ${unknown.join(', ')} namespace of the leader or the host`
          : `own ${NS_CHECKED.filter((k) => k !== 'net' || privNet).join(', ')} namespaces${privNet ? '' : ' (network shared by declaration)'}`,
      evidence: { expected: `differs from the host (/proc/1/ns) for ${NS_CHECKED.filter((k) => k !== 'net' || privNet).join(', ')}`, observed: nsObserved, source: `readlink /proc/${f.leader}/ns/* vs /proc/1/ns/*` },
    });
    // user namespace
    const wantUserns = exp.privateUsers === true;
    // An unreadable ns/user link says nothing either way: unknown, whatever is expected.
    const usernsUnknown = [ns.user === undefined ? `/proc/${f.leader}/ns/user` : '', facts.hostNs.user === undefined ? '/proc/1/ns/user' : ''].filter(Boolean);
    const hasUserns = ns.user !== undefined && facts.hostNs.user !== undefined && ns.user !== facts.hostNs.user && !f.uidMap!.identity;
    out.push({
      ...base,
      id: CHECK.userns,
      title: 'User namespace as declared',
      status: usernsUnknown.length ? 'error' : wantUserns && !hasUserns ? 'fail' : !wantUserns && hasUserns ? 'fail' : 'pass',
      severity: wantUserns ? 'high' : 'low',
      message: usernsUnknown.length
        ? `cannot read ${usernsUnknown.join(' and ')}: whether the container has its own user namespace is unknown`
        : hasUserns
        ? `private user namespace (uid_map ${f.uidMap!.ranges.map((r) => r.join(' ')).join('; ')})${wantUserns ? '' : ', not declared (privateUsers)'}`
        : `no private user namespace: root in the container is root on the host (uid_map ${f.uidMap!.ranges.map((r) => r.join(' ')).join('; ')})${wantUserns ? '; set privateUsers = "pick"' : ''}`,
      evidence: { expected: { privateUsers: wantUserns }, observed: { userns: ns.user, hostUserns: facts.hostNs.user, uidMap: f.uidMap!.ranges }, source: `/proc/${f.leader}/uid_map, readlink /proc/${f.leader}/ns/user` },
    });
    // capabilities
    const drop = (exp.dropCapabilities ?? DEFAULT_DROP).map((c) => normaliseCap(c) ?? c.toUpperCase());
    const kept = drop.filter((c) => f.status!.capBnd.includes(c));
    const usernsNote = hasUserns ? ' (namespace-local: the container has a private user namespace)' : '';
    out.push({
      ...base,
      id: CHECK.caps,
      title: 'Capability bounding set drops what it must',
      status: kept.length ? 'fail' : 'pass',
      severity: kept.includes('CAP_SYS_ADMIN') || kept.includes('CAP_SYS_MODULE') ? 'critical' : 'high',
      message: kept.length
        ? `bounding set keeps ${kept.join(', ')}${usernsNote}${kept.includes('CAP_SYS_ADMIN') ? '; a default nixos-container keeps CAP_SYS_ADMIN: add extraFlags = [ "--drop-capability=CAP_SYS_ADMIN" ] or set privateUsers = "pick"' : ''}`
        : `bounding set lacks ${drop.join(', ')}`,
      evidence: { expected: { dropped: drop }, observed: { CapBnd: f.status!.capBndHex, kept, capabilities: f.status!.capBnd }, source: `/proc/${f.leader}/status`, excerpt: f.excerpt },
    });
    if (exp.noNewPrivs !== undefined) {
      const nnp = f.status!.noNewPrivs;
      out.push({
        ...base,
        id: CHECK.nnp,
        title: 'NoNewPrivs as declared',
        status: nnp === undefined ? 'error' : nnp === exp.noNewPrivs ? 'pass' : 'fail',
        severity: 'medium',
        message: nnp === undefined ? 'the kernel does not report NoNewPrivs' : `NoNewPrivs=${nnp ? 1 : 0}`,
        evidence: { expected: { noNewPrivs: exp.noNewPrivs }, observed: { noNewPrivs: nnp }, source: `/proc/${f.leader}/status`, excerpt: f.excerpt },
      });
    }
    // reachability
    if (privNet) {
      const rbase = { ...base, id: CHECK.reach, title: 'Only declared ports reachable from inside', severity: 'high' as const, checklist: ['network-policies'] };
      if (f.reachProblem) {
        // Sharing the host's netns is a finding; not knowing the container's addresses is not.
        const shared = /shares the host network namespace/.test(f.reachProblem);
        out.push({ ...rbase, status: shared ? 'fail' : 'error', message: f.reachProblem, evidence: { expected: 'own network namespace with HOST_ADDRESS/LOCAL_ADDRESS', observed: f.reachProblem, source: 'isolation facts script' } });
      } else if (!f.reach) {
        out.push({ ...rbase, status: 'error', message: 'no connect attempts were made', evidence: { source: 'isolation reach script' } });
      } else if (!f.reach.length && !exp.noReachTargets) {
        // Nothing tested is not "only declared ports reachable": unless the expectation says so.
        out.push({
          ...rbase,
          status: 'error',
          message: `0 ports tested: nothing listens on the host at ${f.hostAddress ?? '?'} or on another container's address, so reachability from inside was not tested (set noReachTargets: true if that is expected)`,
          evidence: { expected: { reach: exp.reach ?? [], noReachTargets: false }, observed: [], source: `listeners in /proc/1/net/tcp{,6} and /proc/LEADER/net/tcp{,6}` },
        });
      } else {
        const allowed = new Set(exp.reach ?? []);
        const undeclared = f.reach.filter((a) => a.result === 'open' && !allowed.has(`${a.target}:${a.port}`) && !(a.target !== 'host' && declaredPorts(a.target).has(a.port)));
        const errs = f.reach.filter((a) => a.result === 'error');
        const fmt = (a: ReachAttempt) => `${a.target}:${a.port} (${a.address})`;
        out.push({
          ...rbase,
          status: undeclared.length ? 'fail' : errs.length ? 'error' : 'pass',
          message: undeclared.length
            ? `reaches undeclared ${undeclared.map(fmt).join(', ')}`
            : errs.length
              ? `could not test ${errs.map(fmt).join(', ')}`
              : `${f.reach.length} ports tested; reachable only as declared (${f.reach.filter((a) => a.result === 'open').map((a) => `${a.target}:${a.port}`).join(', ') || 'none'})`,
          evidence: {
            expected: { reach: [...allowed], containerPorts: Object.fromEntries(Object.entries(expect).map(([n, e]) => [n, e.ports ?? []])) },
            observed: f.reach.map((a) => `${fmt(a)} ${a.result}`),
            source: `from inside ${name}: nsenter --net=/proc/${f.leader}/ns/net timeout 1 bash -c "exec 3<>/dev/tcp/ADDR/PORT"`,
          },
        });
      }
    }
    // inner firewall
    if (exp.innerFirewall) {
      const fbase = { ...base, id: CHECK.fw, title: 'Inner firewall allows what is declared', severity: 'medium' as const, checklist: ['network-policies'] };
      const fw = f.firewall;
      const ports = fw && fw.rc === 0 ? innerFirewallPorts(fw.text) : undefined;
      if (!ports) {
        out.push({
          ...fbase,
          status: fw && fw.rc === 0 ? 'fail' : 'error',
          message: fw && fw.rc === 0 ? 'no NixOS firewall (nixos-fw) in the container\'s network namespace' : `cannot read the inner firewall: ${fw?.text.split('\n')[0] ?? 'not gathered'}`,
          evidence: { expected: { allowedTCPPorts: exp.ports ?? [] }, observed: null, source: fw?.command ?? 'iptables-save', excerpt: fw?.text.slice(0, 400) },
        });
      } else {
        const want = [...new Set(exp.ports ?? [])].sort((a, b) => a - b);
        const extra = ports.filter((p) => !want.includes(p));
        const missing = want.filter((p) => !ports.includes(p));
        out.push({
          ...fbase,
          status: extra.length || missing.length ? 'fail' : 'pass',
          message:
            extra.length || missing.length
              ? [extra.length ? `also allows ${extra.join(', ')}` : '', missing.length ? `does not allow declared ${missing.join(', ')}` : ''].filter(Boolean).join('; ')
              : `allows exactly ${want.join(', ') || 'nothing'}`,
          evidence: { expected: { allowedTCPPorts: want }, observed: { allowedTCPPorts: ports }, source: fw!.command, excerpt: fw!.text.split('\n').filter((l) => /nixos-fw|dport/.test(l)).slice(0, 20).join('\n') },
        });
      }
    }
  }
  for (const u of facts.unexpected) {
    out.push({
      id: CHECK.drift,
      title: 'No undeclared containers',
      subject: `container ${u.name}`,
      status: 'fail',
      severity: 'medium',
      checklist: ['hardening', 'documentation'],
      message: `container "${u.name}" exists on the node but not in the expectation${u.leader !== undefined ? ` (running, leader ${u.leader})` : ' (configured, not running)'}`,
      evidence: { expected: Object.keys(expect), observed: u, source: u.source ?? u.confPath ?? 'container locator' },
    });
  }
  return out;
}

export const isolationSuite: Suite<IsolationExpect, IsolationFacts> = {
  name: 'isolation',
  key: 'containers',
  schema,
  gather,
  evaluate: (facts, expect) => evaluate(facts, expect),
  checkIds: Object.values(CHECK),
};

export { evaluate as evaluateIsolation };
