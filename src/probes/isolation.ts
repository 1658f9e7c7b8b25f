// The isolation facts of a node's nixos-containers, in three execs for all containers together:
// the shared container locator, one script reading /proc/<leader>/{ns,status,uid_map,net/tcp}
// (+ the inner firewall; isolation-facts.sh), and one batch of bounded connect attempts from inside
// each container's network namespace (isolation-reach.sh). What a check judges, nothing more.
import { probeScript, scriptCommand } from '../core/script.js';
import { ParseError, type Host } from '../core/types.js';
import { CONTAINER_ENTRY_SH, netnsCommandText } from '../transport/container.js';
import { parseProcStatus, type ProcStatus } from './capabilities.js';
import { missingReason, scanContainers, type ContainerScan } from './containers.js';
import { listensOn, parseProcNetTcp, type Listener } from './listeners.js';
import { NS_KINDS, parseNs, parseUidMap, type NsSet, type UidMap } from './ns.js';
import { MARK, splitSections } from './sections.js';

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
  /** The deadline the attempts were given and why ("250 ms (10 x …, floor …)"). */
  reachTimeout?: string;
  reachProblem?: string;
  excerpt?: string;
  /** Processes (or threads) of its PID namespace in a network namespace other than the leader's. */
  netStrays?: NetStray[];
  /** More than 20 of them: the rest not read. */
  netStraysMore?: boolean;
  /** Why they could not be read. */
  netStraysProblem?: string;
}

export interface NetStray {
  pid: number;
  /** Set when only this thread is in another network namespace (setns by one thread). */
  tid?: number;
  comm: string;
  /** Its network namespace is the host's (PID 1's), not merely another one. */
  hostNet: boolean;
}

/** The netprocs.N section of the facts script (net_strays): `P PID host|other COMM`, `T PID TID host|other COMM`, MORE. */
export function parseNetStrays(text: string, source: string): { strays: NetStray[]; more: boolean } {
  const strays: NetStray[] = [];
  let more = false;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    if (line === 'MORE') {
      more = true;
      continue;
    }
    const m = /^(?:P (\d+)|T (\d+) (\d+)) (host|other) (.*)$/.exec(line);
    if (!m) throw new ParseError(source, `unexpected line "${line.slice(0, 80)}"`, text.slice(0, 300));
    strays.push({ pid: Number(m[1] ?? m[2]), ...(m[3] ? { tid: Number(m[3]) } : {}), comm: m[5], hostNet: m[4] === 'host' });
  }
  return { strays, more };
}

export interface IsolationFacts {
  hostNs: NsSet;
  hostListeners: Listener[];
  containers: ContainerFacts[];
  /** Containers on the node that the expectation does not name. */
  unexpected: { name: string; leader?: number; source?: string; confPath?: string }[];
  commands: string[];
}

/** What is gathered of one expected container. */
export interface ContainerWant {
  name: string;
  /** Read the firewall in its network namespace. */
  innerFirewall: boolean;
  /** Declared to share the host's network (privateNetwork = false): no connect attempts. */
  sharedNetwork: boolean;
  /** Whether the expectation lets it reach target:port ("host", 22): such attempts share one process (a lane). */
  mayReach?: (target: string, port: number) => boolean;
}

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

const stripPrefix = (a?: string) => a?.replace(/\/\d+$/, '') || undefined;

/** The facts script for the host (PID 1) and the given leaders. */
export function factsCommand(list: { idx: number; leader: number; firewall: boolean }[]): string {
  return scriptCommand(`${CONTAINER_ENTRY_SH}\n${probeScript('isolation-facts.sh')}`, [MARK, NS_KINDS.join(' '), ...list.map((c) => `${c.idx}:${c.leader}:${c.firewall ? 1 : 0}`)]);
}

/** The reach deadline's bounds (ms) and multiple of the round trip; see isolation-reach.sh. */
export const REACH_TIMEOUT = { floorMs: 250, ceilingMs: 1000, multiple: 10 };

/**
 * Bounded connect attempts: one process per container, inside its netns, one adaptive deadline;
 * declared attempts (`lane`) one after the other in one process, the others each in its own.
 */
export function reachCommand(attempts: { id: number; leader: number; address: string; port: number; lane?: boolean }[], hintMs: number): string {
  const byLeader = new Map<number, (string | number)[]>();
  for (const a of attempts) byLeader.set(a.leader, [...(byLeader.get(a.leader) ?? []), a.address, a.port, a.id, a.lane ? 's' : 'p']);
  const { floorMs, ceilingMs, multiple } = REACH_TIMEOUT;
  return scriptCommand(`${CONTAINER_ENTRY_SH}\n${probeScript('isolation-reach.sh')}`, [
    Math.max(1, Math.round(hintMs)), floorMs, ceilingMs, multiple,
    ...[...byLeader].flatMap(([leader, words]) => [leader, words.length / 4, ...words]),
  ]);
}

/** The reach script's code for an attempt its lane never started (an earlier declared attempt was silent). */
export const NOT_ATTEMPTED = 125;

/** The reach script's output: the first answer per attempt id, and the deadline each container used. */
export function parseReach(stdout: string): { results: Map<number, number>; deadlines: Map<number, string> } {
  const results = new Map<number, number>();
  const deadlines = new Map<number, string>();
  for (const m of stdout.matchAll(/^R (\d+) (\d+)$/gm)) if (!results.has(Number(m[1]))) results.set(Number(m[1]), Number(m[2]));
  for (const m of stdout.matchAll(/^T (\d+) (\d+) (.*)$/gm)) deadlines.set(Number(m[1]), `${m[2]} ms (${m[3]})`);
  return { results, deadlines };
}

/** The located containers the expectation names (and the ones it does not: drift). */
function located(scan: ContainerScan, want: ContainerWant[]): Pick<IsolationFacts, 'containers' | 'unexpected'> {
  const names = new Set(want.map((w) => w.name));
  const containers = want.map(({ name }): ContainerFacts => {
    const c = scan.containers.get(name);
    return { name, problem: missingReason(scan, name), leader: c?.leader, leaderSource: c?.source, hostAddress: stripPrefix(c?.conf?.HOST_ADDRESS), localAddress: stripPrefix(c?.conf?.LOCAL_ADDRESS) };
  });
  const unexpected = [...scan.containers.values()].filter((c) => !names.has(c.name)).map((c) => ({ name: c.name, leader: c.leader, source: c.source, confPath: c.confPath }));
  return { containers, unexpected };
}

/** Fills each inspected container's facts from the facts script's output; a part it cannot read is that container's problem. */
function readContainers(stdout: string, inspect: ContainerFacts[], firewall: boolean[]): Pick<IsolationFacts, 'hostNs' | 'hostListeners'> {
  const secs = splitSections(stdout, 'isolation facts script', ['host.ns', 'host.tcp']);
  const hostNs = parseNs(secs.get('host.ns')!.text, 'readlink /proc/1/ns/*');
  const hostListeners = parseProcNetTcp(secs.get('host.tcp')!.text, '/proc/1/net/tcp');
  inspect.forEach((f, idx) => {
    // A section the output lacks (cut short, garbled) is an error for this container, not a crash.
    const need = (k: string) => {
      const x = secs.get(`${k}.${idx}`);
      if (!x) throw new ParseError('isolation facts script', `output lacks section ${k}.${idx} (container ${f.name})`, stdout.slice(-300));
      return x;
    };
    try {
      if (need('alive').rc !== 0) {
        f.problem = `leader PID ${f.leader} of container "${f.name}" (from ${f.leaderSource}) is not running on the node`;
        return;
      }
      f.ns = parseNs(need('ns').text, `readlink /proc/${f.leader}/ns/*`);
      f.uidMap = parseUidMap(need('uidmap').text, `/proc/${f.leader}/uid_map`);
      const status = need('status');
      f.status = parseProcStatus(status.text, `/proc/${f.leader}/status`);
      f.listeners = parseProcNetTcp(need('tcp').text, `/proc/${f.leader}/net/tcp`);
      const np = need('netprocs');
      try {
        if (np.rc !== 0) throw new ParseError('net_strays', np.text.split('\n')[0] || `exit ${np.rc}`);
        const { strays, more } = parseNetStrays(np.text, `processes of container ${f.name} in another network namespace`);
        f.netStrays = strays;
        if (more) f.netStraysMore = true;
      } catch (e) {
        if (!(e instanceof ParseError)) throw e;
        f.netStraysProblem = e.message;
      }
      if (firewall[idx]) {
        const fw = need('fw');
        f.firewall = { text: fw.text, rc: fw.rc, command: netnsCommandText(f.leader!, 'iptables-save (or nft list ruleset)') };
      }
      f.excerpt = status.text.split('\n').filter((l) => /^(Cap|NoNewPrivs)/.test(l)).join('\n');
    } catch (e) {
      if (e instanceof ParseError) f.problem = e.message;
      else throw e;
    }
  });
  return { hostNs, hostListeners };
}

type Target = { id: number; from: ContainerFacts; t: Omit<ReachAttempt, 'result'> };

/**
 * Where each container could connect: every port the host listens on at the container's
 * HOST_ADDRESS, every port another container listens on at its LOCAL_ADDRESS. Containers without
 * their own netns or without addresses get a reachProblem instead.
 */
function reachTargets(facts: Pick<IsolationFacts, 'hostNs' | 'hostListeners'>, ok: ContainerFacts[], shared: Set<string>): Target[] {
  const targets: Target[] = [];
  const v4 = (l: Listener) => l.family === 4 || l.address === '::';
  for (const from of ok) {
    if (shared.has(from.name)) continue;
    if (from.ns!.net === facts.hostNs.net) {
      from.reachProblem = 'the container shares the host network namespace: reachability from inside is the host\'s own';
      continue;
    }
    if (!from.hostAddress) {
      from.reachProblem = 'no HOST_ADDRESS in the container config: cannot tell which host address the container uses';
      continue;
    }
    for (const l of facts.hostListeners) {
      if (v4(l) && listensOn(l, from.hostAddress)) targets.push({ id: targets.length, from, t: { target: 'host', address: from.hostAddress, port: l.port } });
    }
    for (const other of ok) {
      if (other === from || !other.localAddress || !other.listeners) continue;
      for (const l of other.listeners) {
        if (v4(l) && listensOn(l, other.localAddress)) targets.push({ id: targets.length, from, t: { target: other.name, address: other.localAddress, port: l.port } });
      }
    }
  }
  const seen = new Set<string>();
  return targets.filter((x) => {
    const k = `${x.from.name}|${x.t.address}|${x.t.port}`;
    return seen.has(k) ? false : (seen.add(k), true);
  });
}

/** The isolation facts of the expected containers of a node (see the top of this file). */
export async function gatherIsolation(host: Host, want: ContainerWant[], timeoutMs: number): Promise<IsolationFacts> {
  const scan = await scanContainers(host, timeoutMs);
  const commands = [scan.command];
  const { containers, unexpected } = located(scan, want);
  // Only expected containers are inspected; unexpected ones are reported as drift.
  const inspect = containers.filter((f) => f.leader !== undefined);
  const firewall = inspect.map((f) => !!want.find((w) => w.name === f.name)?.innerFirewall);
  const t0 = performance.now();
  const r = await host.exec(factsCommand(inspect.map((f, idx) => ({ idx, leader: f.leader!, firewall: firewall[idx] }))), { timeoutMs });
  commands.push('isolation facts script: readlink /proc/{1,LEADER}/ns/*; cat /proc/LEADER/{uid_map,status,net/tcp,net/tcp6}; test /proc/PID{,/task/TID}/ns/net -ef /proc/LEADER/ns/net for every process of the leader\'s PID namespace; nsenter --net iptables-save');
  // The facts script's round trip bounds the in-node path's (it crosses the network to the node).
  const rttMs = performance.now() - t0;
  const hostFacts = readContainers(r.stdout, inspect, firewall);

  const ok = inspect.filter((f) => !f.problem && f.ns);
  const shared = new Set(want.filter((w) => w.sharedNetwork).map((w) => w.name));
  const capped = reachTargets(hostFacts, ok, shared).slice(0, 512);
  if (capped.length) {
    const may = new Map(want.map((w) => [w.name, w.mayReach]));
    const attempt = (x: Target, lane: boolean) => ({ id: x.id, leader: x.from.leader!, address: x.t.address, port: x.t.port, lane });
    const rr = await host.exec(reachCommand(capped.map((x) => attempt(x, !!may.get(x.from.name)?.(x.t.target, x.t.port))), rttMs), {
      timeoutMs: Math.max(timeoutMs, 10_000),
    });
    commands.push(`${netnsCommandText('LEADER', 'bash: exec 3<>/dev/tcp/ADDR/PORT for every target (declared ones in turn in one process, the others each in its own), one adaptive deadline')}`);
    const { results, deadlines } = parseReach(rr.stdout);
    // A lane ended by a silent declared port: what it had not started, once more, each on its own.
    const again = capped.filter((x) => results.get(x.id) === NOT_ATTEMPTED);
    if (again.length) {
      const r2 = await host.exec(reachCommand(again.map((x) => attempt(x, false)), rttMs), { timeoutMs: Math.max(timeoutMs, 10_000) });
      for (const [id, code] of parseReach(r2.stdout).results) results.set(id, code);
    }
    for (const x of capped) {
      const code = results.get(x.id);
      const result: Reach = code === undefined ? 'error' : code === 0 ? 'open' : code === 124 ? 'timeout' : code === 1 ? 'refused' : 'error';
      (x.from.reach ??= []).push({ ...x.t, result });
      x.from.reachTimeout ??= deadlines.get(x.from.leader!);
    }
  }
  for (const f of ok) if (!f.reach && !f.reachProblem && !shared.has(f.name)) f.reach = [];
  return { ...hostFacts, containers, unexpected, commands };
}
