// Container isolation (checklist: hardening, network-policies): each nixos-container runs in its own
// namespaces, with a reduced capability bounding set, and can reach from inside only what is
// declared. Gathering is src/probes/isolation.ts (3 execs for all containers); this file judges.
import type { Evidence, Outcome, Suite, SuiteContext } from '../src/core/types.js';
import { outcome } from '../src/core/checks.js';
import { CHECKS } from './isolation/checks.js';

export { CHECKS } from './isolation/checks.js';
export { DEFAULT_DROP, NSPAWN_DEFAULT_CAPS } from './isolation/capabilities.js';
import { openTcpPorts, optionPath, type Cite, type Container, type Manifest } from '../src/core/manifest.js';
import { declaredAddedCaps, judgeCapabilities } from './isolation/capabilities.js';
import { judgeNamespaces } from './isolation/namespaces.js';
import { judgeInnerFirewall } from './isolation/inner-firewall.js';
import { gatherIsolation, innerFirewallPorts, type ContainerFacts, type IsolationFacts, type ReachAttempt } from '../src/probes/isolation.js';
import { netnsCommandText } from '../src/transport/container.js';

export { innerFirewallPorts, type ContainerFacts, type IsolationFacts, type Reach, type ReachAttempt } from '../src/probes/isolation.js';

export interface ContainerExpect {
  /** Own network namespace (NixOS privateNetwork). Default true. */
  privateNetwork?: boolean;
  /** Own user namespace (NixOS privateUsers ≠ "no"). Default false, as in the NixOS module. */
  privateUsers?: boolean;
  /** Capabilities the bounding set must not hold. Default CAP_SYS_ADMIN, CAP_SYS_MODULE. */
  dropCapabilities?: string[];
  /** Capabilities the container adds to systemd-nspawn's default bounding set (--capability=, additionalCapabilities; "all"). */
  addCapabilities?: string[];
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

const containerSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    privateNetwork: { type: 'boolean' },
    privateUsers: { type: 'boolean' },
    dropCapabilities: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^(CAP_)?[A-Za-z_]+$' } },
    addCapabilities: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^(CAP_)?[A-Za-z_]+$' } },
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


/** A container may reach target:port when its reach names it or another container declares that port. */
const mayReach = (expect: IsolationExpect, exp: ContainerExpect, target: string, port: number) => (exp.reach ?? []).includes(`${target}:${port}`) || (target !== 'host' && (expect[target]?.ports ?? []).includes(port));

async function gather(ctx: SuiteContext, expect: IsolationExpect): Promise<IsolationFacts> {
  const want = Object.entries(expect).map(([name, e]) => ({ name, innerFirewall: !!e.innerFirewall, sharedNetwork: e.privateNetwork === false, mayReach: (t: string, p: number) => mayReach(expect, e, t, p) }));
  return gatherIsolation(ctx.host, want, ctx.options.timeoutMs);
}

// --- evaluate (pure): one judge per check, each given an inspected container ---

type Judge = (f: ContainerFacts, exp: ContainerExpect, facts: IsolationFacts, expect: IsolationExpect) => Outcome | undefined;
const subjectOf = (f: ContainerFacts) => `container ${f.name}`;
const ranges = (f: ContainerFacts) => f.uidMap!.ranges.map((r) => r.join(' ')).join('; ');

function hasUserns(f: ContainerFacts, facts: IsolationFacts): boolean {
  return f.ns!.user !== undefined && facts.hostNs.user !== undefined && f.ns!.user !== facts.hostNs.user && !f.uidMap!.identity;
}

const namespaces: Judge = (f, exp, facts) => judgeNamespaces(subjectOf(f), f, exp.privateNetwork !== false, facts.hostNs);

const userNamespace: Judge = (f, exp, facts) => {
  const ns = f.ns!;
  const want = exp.privateUsers === true;
  // An unreadable ns/user link says nothing either way: unknown, whatever is expected.
  const unknown = [ns.user === undefined ? `/proc/${f.leader}/ns/user` : '', facts.hostNs.user === undefined ? '/proc/1/ns/user' : ''].filter(Boolean);
  const has = hasUserns(f, facts);
  const message = unknown.length
    ? `cannot read ${unknown.join(' and ')}: whether the container has its own user namespace is unknown`
    : has
      ? `private user namespace (uid_map ${ranges(f)})${want ? '' : ', not declared (privateUsers)'}`
      : `no private user namespace: root in the container is root on the host (uid_map ${ranges(f)})${want ? '; set privateUsers = "pick"' : ''}`;
  const evidence = { expected: { privateUsers: want }, observed: { userns: ns.user, hostUserns: facts.hostNs.user, uidMap: f.uidMap!.ranges }, source: `/proc/${f.leader}/uid_map, readlink /proc/${f.leader}/ns/user` };
  return outcome(CHECKS['user-namespace'], subjectOf(f), unknown.length ? 'error' : want !== has ? 'fail' : 'pass', message, evidence, { severity: want ? 'high' : 'low' });
};

const capabilities: Judge = (f, exp, facts) => judgeCapabilities(subjectOf(f), f.leader, f.status!, exp, hasUserns(f, facts), f.excerpt);

const noNewPrivs: Judge = (f, exp) => {
  if (exp.noNewPrivs === undefined) return undefined;
  const nnp = f.status!.noNewPrivs;
  const evidence = { expected: { noNewPrivs: exp.noNewPrivs }, observed: { noNewPrivs: nnp }, source: `/proc/${f.leader}/status`, excerpt: f.excerpt };
  return outcome(CHECKS['no-new-privs'], subjectOf(f), nnp === undefined ? 'error' : nnp === exp.noNewPrivs ? 'pass' : 'fail', nnp === undefined ? 'the kernel does not report NoNewPrivs' : `NoNewPrivs=${nnp ? 1 : 0}`, evidence);
};

const reachability: Judge = (f, exp, _facts, expect) => {
  if (exp.privateNetwork === false) return undefined;
  const judge = (status: Outcome['status'], message: string, evidence: Evidence) => outcome(CHECKS.reachability, subjectOf(f), status, message, evidence);
  if (f.reachProblem) {
    // Sharing the host's netns is a finding; not knowing the container's addresses is not.
    const shared = /shares the host network namespace/.test(f.reachProblem);
    return judge(shared ? 'fail' : 'error', f.reachProblem, { expected: 'own network namespace with HOST_ADDRESS/LOCAL_ADDRESS', observed: f.reachProblem, source: 'isolation facts script' });
  }
  if (!f.reach) return judge('error', 'no connect attempts were made', { source: 'isolation reach script' });
  if (!f.reach.length && !exp.noReachTargets) {
    // Nothing tested is not "only declared ports reachable": unless the expectation says so.
    return judge('error', `0 ports tested: nothing listens on the host at ${f.hostAddress ?? '?'} or on another container's address, so reachability from inside was not tested (set noReachTargets: true if that is expected)`, {
      expected: { reach: exp.reach ?? [], noReachTargets: false }, observed: [], source: `listeners in /proc/1/net/tcp{,6} and /proc/LEADER/net/tcp{,6}`,
    });
  }
  const allowed = new Set(exp.reach ?? []);
  const undeclared = f.reach.filter((a) => a.result === 'open' && !mayReach(expect, exp, a.target, a.port));
  const errs = f.reach.filter((a) => a.result === 'error');
  const fmt = (a: ReachAttempt) => `${a.target}:${a.port} (${a.address})`;
  const message = undeclared.length
    ? `reaches undeclared ${undeclared.map(fmt).join(', ')}`
    : errs.length
      ? `could not test ${errs.map(fmt).join(', ')}`
      : `${f.reach.length} ports tested; reachable only as declared (${f.reach.filter((a) => a.result === 'open').map((a) => `${a.target}:${a.port}`).join(', ') || 'none'})`;
  return judge(undeclared.length ? 'fail' : errs.length ? 'error' : 'pass', message, {
    expected: { reach: [...allowed], containerPorts: Object.fromEntries(Object.entries(expect).map(([n, e]) => [n, e.ports ?? []])) },
    observed: f.reach.map((a) => `${fmt(a)} ${a.result}`),
    source: `from inside ${f.name}: ${netnsCommandText(f.leader!, 'bash: exec 3<>/dev/tcp/ADDR/PORT, declared targets in turn, the others at once')}; deadline ${f.reachTimeout ?? '?'}: silence past it counts as blocked (a dropped SYN never answers; an open or refusing port answers within a round trip)`,
  });
};

const innerFirewall: Judge = (f, exp) => (exp.innerFirewall ? judgeInnerFirewall(subjectOf(f), f, exp.ports ?? []) : undefined);

/** The checks of a running, inspected container, in the order they are reported. */
const JUDGES: Judge[] = [namespaces, userNamespace, capabilities, noNewPrivs, reachability, innerFirewall];

function evaluate(facts: IsolationFacts, expect: IsolationExpect): Outcome[] {
  const out: Outcome[] = [];
  const byName = new Map(facts.containers.map((c) => [c.name, c]));
  for (const [name, exp] of Object.entries(expect)) {
    const f = byName.get(name);
    if (!f || f.problem) {
      const missing = !f || f.leader === undefined;
      out.push(outcome(CHECKS['container-present'], `container ${name}`, missing ? 'fail' : 'error', f?.problem ?? `container "${name}" was not inspected`,
        { expected: 'a running container', observed: f?.problem, source: facts.commands[0] ?? 'container locator' }));
      continue;
    }
    out.push(outcome(CHECKS['container-present'], subjectOf(f), 'pass', `leader PID ${f.leader} (from ${f.leaderSource})`,
      { expected: 'a running container', observed: { leader: f.leader }, source: f.leaderSource ?? 'container locator' }));
    for (const judge of JUDGES) {
      const o = judge(f, exp, facts, expect);
      if (o) out.push(o);
    }
  }
  for (const u of facts.unexpected) {
    out.push(outcome(CHECKS['unexpected-container'], `container ${u.name}`, 'fail',
      `container "${u.name}" exists on the node but not in the expectation${u.leader !== undefined ? ` (running, leader ${u.leader})` : ' (configured, not running)'}`,
      { expected: Object.keys(expect), observed: u, source: u.source ?? u.confPath ?? 'container locator' }));
  }
  return out;
}

/** The container runs in its own user namespace (privateUsers: anything but "no"/0; a later --private-users flag wins). */
function userns(c: Container): boolean {
  const flag = [...c.extraFlags].reverse().find((f) => /^--private-users(=|$)/.test(f));
  if (flag) {
    const v = flag.split('=')[1] ?? 'yes';
    return v !== 'no' && v !== '0' && v !== 'false';
  }
  return c.privateUsers !== 'no' && c.privateUsers !== 0;
}

/** `plan --from-nix`: each declared container's isolation, citing its options; undefined without containers. */
export function fromManifest(m: Manifest, cite: Cite): IsolationExpect | undefined {
  if (!m.containers.length) return undefined;
  return Object.fromEntries(m.containers.map((c) => {
    const e: ContainerExpect = { privateNetwork: c.privateNetwork };
    cite(['containers', c.name, 'privateNetwork'], optionPath(c.path, 'privateNetwork'));
    const u = userns(c);
    e.privateUsers = u;
    cite(['containers', c.name, 'privateUsers'], optionPath(c.path, 'privateUsers'));
    const dropped = c.extraFlags.flatMap((f) => /^--drop-capability=(.*)$/.exec(f)?.[1].split(',') ?? []).filter((x) => x.toLowerCase() !== 'all');
    if (u) {
      // Under a user namespace CAP_SYS_ADMIN stays in the bounding set but is namespace-local.
      e.dropCapabilities = [...new Set(['CAP_SYS_MODULE', ...dropped])];
      cite(['containers', c.name, 'dropCapabilities'], `${optionPath(c.path, 'privateUsers')} (CAP_SYS_ADMIN is namespace-local)`);
    } else if (dropped.length) {
      e.dropCapabilities = [...new Set(['CAP_SYS_ADMIN', 'CAP_SYS_MODULE', ...dropped])];
      cite(['containers', c.name, 'dropCapabilities'], optionPath(c.path, 'extraFlags'));
    }
    const added = declaredAddedCaps(c);
    if (added.length) {
      e.addCapabilities = added;
      cite(['containers', c.name, 'addCapabilities'], [c.additionalCapabilities.length ? optionPath(c.path, 'additionalCapabilities') : '', c.extraFlags.some((x) => x.startsWith('--capability=')) ? optionPath(c.path, 'extraFlags') : ''].filter(Boolean).join(', '));
    }
    const open = openTcpPorts(c.config.firewall);
    e.ports = open.ports;
    cite(['containers', c.name, 'ports'], open.paths.join(', '));
    if (c.privateNetwork && c.config.firewall.enable) {
      e.innerFirewall = true;
      cite(['containers', c.name, 'innerFirewall'], optionPath(c.config.firewall.path, 'enable'));
    }
    return [c.name, e];
  }));
}

export const isolationSuite: Suite<IsolationExpect, IsolationFacts> = {
  name: 'isolation',
  key: 'containers',
  schema,
  gather,
  evaluate: (facts, expect) => evaluate(facts, expect),
  checkIds: Object.values(CHECKS).map((c) => c.id),
  checks: Object.values(CHECKS),
  fromManifest,
};

export { evaluate as evaluateIsolation };
