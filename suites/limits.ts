// Resource limits (checklist: resource-limits). Two questions per container or service: what does
// systemd declare for its unit, and what does the kernel enforce on its processes? A limit declared
// but not enforced (or the reverse) is exactly what this suite exists to catch. Also: the
// containers' memory limits fit the node's memory and their slice's limit, and every declared slice
// is used by some unit. Gathering is src/probes/limits.ts (one exec + the container locator).
import type { Evidence, Outcome, Suite, SuiteContext } from '../src/core/types.js';
import { outcome } from '../src/core/checks.js';
import { CHECKS } from './limits/checks.js';
import { FORMATS } from '../src/core/formats.js';
import { optionPath, type Cite, type Manifest, type Value } from '../src/core/manifest.js';
import { formatSize } from '../src/core/units.js';
import { compare, show, wanted, type LimitSpec } from './limits/compare.js';

export type { LimitSpec } from './limits/compare.js';
import { gatherLimits, LIMIT_OPTION, manifestLimits, SHOW_PROPS, type Limits, type LimitsFacts, type StrayProcess, type SubjectFacts } from '../src/probes/limits.js';
import { unitName } from '../src/probes/systemd.js';

export { innerLimitedUnits, SLICE_USERS_AWK, type Limits, type LimitsFacts, type SubjectFacts } from '../src/probes/limits.js';

export interface SliceSpec extends LimitSpec {
  /** Units that must run in this slice (else: any unit using it counts). */
  units?: string[];
}
export interface LimitsExpect {
  /** nixos-containers: limits of the container@NAME unit, enforced on the container's processes. */
  containers?: Record<string, LimitSpec>;
  /** systemd units on the node (needs systemd). */
  services?: Record<string, LimitSpec>;
  /** Units inside nixos-containers, by container then unit (needs systemd inside the container). */
  containerServices?: Record<string, Record<string, LimitSpec>>;
  /** systemd slices: declared limits, and that some unit uses them. */
  slices?: Record<string, SliceSpec>;
  /** Sum of the containers' memory limits must fit the node's memory. Default true. */
  memoryBudget?: boolean;
}

const limitProps = {
  memoryMax: { type: 'string', format: FORMATS.memory },
  memoryHigh: { type: 'string', format: FORMATS.memory },
  cpuQuota: { type: 'string', format: FORMATS.percent },
  tasksMax: { anyOf: [{ type: 'integer', minimum: 1 }, { const: 'infinity' }] },
};
// `{}` compares nothing (and would pass as "cgroup v1: "): at least one limit.
const limitSpec = { type: 'object', additionalProperties: false, minProperties: 1, properties: limitProps };
const unitNames = { pattern: '^[A-Za-z0-9@:._\\\\-]+$' };
export const schema = {
  type: 'object',
  additionalProperties: false,
  // Something to check: `limits: {}` (or memoryBudget alone) checks nothing.
  anyOf: ['containers', 'services', 'containerServices', 'slices'].map((k) => ({ required: [k] })),
  properties: {
    containers: { type: 'object', minProperties: 1, propertyNames: { pattern: '^[A-Za-z0-9][A-Za-z0-9-]*$' }, additionalProperties: limitSpec },
    services: { type: 'object', minProperties: 1, propertyNames: unitNames, additionalProperties: limitSpec },
    containerServices: {
      type: 'object',
      minProperties: 1,
      propertyNames: { pattern: '^[A-Za-z0-9][A-Za-z0-9-]*$' },
      additionalProperties: { type: 'object', minProperties: 1, propertyNames: unitNames, additionalProperties: limitSpec },
    },
    slices: {
      type: 'object',
      minProperties: 1,
      propertyNames: unitNames,
      additionalProperties: { type: 'object', additionalProperties: false, minProperties: 1, properties: { ...limitProps, units: { type: 'array', minItems: 1, items: { type: 'string', ...unitNames } } } },
    },
    memoryBudget: { type: 'boolean' },
  },
};


async function gather(ctx: SuiteContext, expect: LimitsExpect): Promise<LimitsFacts> {
  return gatherLimits(ctx.host, {
    containers: Object.keys(expect.containers ?? {}),
    services: Object.keys(expect.services ?? {}).map(unitName),
    slices: Object.keys(expect.slices ?? {}).map(sliceName),
    inner: Object.entries(expect.containerServices ?? {}).flatMap(([c, units]) => Object.keys(units).map((u) => ({ c, u: unitName(u) }))),
  }, ctx.options.timeoutMs);
}

const sliceName = (s: string) => (s.endsWith('.slice') ? s : `${s}.slice`);
type Kind = 'containers' | 'services' | 'containerServices' | 'slices';
const declaredEvidence = (want: Limits, f: SubjectFacts | undefined, name: string): Evidence => ({ expected: show(want), observed: null, source: `systemctl show -p ${SHOW_PROPS} ${f?.unit ?? name}` });

function judgeDeclared(kind: Kind, f: SubjectFacts | undefined, name: string, want: Limits, facts: LimitsFacts, subject: string): Outcome {
  const judge = (status: Outcome['status'], message: string, evidence: Evidence) => outcome(CHECKS.declared, subject, status, message, evidence);
  if (f && kind === 'containerServices' && f.problem) {
    return judge(/does not exist|not running/.test(f.problem) ? 'fail' : 'error', f.problem, { expected: show(want), observed: null, source: 'container locator' });
  }
  if (!f || f.declaredProblem || !f.declared) {
    const noSystemd = !facts.systemd || /no systemd inside/.test(f?.declaredProblem ?? '');
    const message = noSystemd
      ? kind === 'containers'
        ? `${facts.systemdReason ?? 'no systemd'}; enforced limits are checked from the cgroup instead`
        : `${f?.declaredProblem ?? facts.systemdReason ?? 'no systemd'}`
      : (f?.problem ?? f?.declaredProblem ?? 'not gathered');
    return judge(noSystemd ? 'skipped' : 'error', message, declaredEvidence(want, f, name));
  }
  const { diffs, missing } = compare(want, f.declared.limits);
  const props = f.declared.props;
  const inactive = props.ActiveState && props.ActiveState !== 'active' && kind !== 'slices';
  const message = diffs.length || missing.length
    ? `${f.unit}: ${[...diffs, ...missing.map((m) => `${m} not shown`)].join('; ')}`
    : inactive
      ? `${f.unit} declares the limits but is ${props.ActiveState}`
      : `${f.unit}: ${Object.entries(show(want)).map(([k, v]) => `${k}=${v}`).join(', ')}`;
  return judge(diffs.length || missing.length || inactive ? 'fail' : 'pass', message, {
    expected: show(want),
    observed: { ...show(f.declared.limits), ActiveState: props.ActiveState, ControlGroup: props.ControlGroup, Slice: props.Slice },
    source: `systemctl show -p ${SHOW_PROPS} ${f.unit}`,
    excerpt: Object.entries(props).map(([k, v]) => `${k}=${v}`).join('\n'),
  });
}

function judgeEnforced(kind: Kind, f: SubjectFacts | undefined, want: Limits, facts: LimitsFacts, subject: string): Outcome {
  const judge = (status: Outcome['status'], message: string, evidence: Evidence, severity: 'high' | 'critical' = 'high') => outcome(CHECKS.enforced, subject, status, message, evidence, { severity });
  if (!f || f.problem) {
    const gone = (kind === 'containers' || kind === 'containerServices') && /does not exist|not running/.test(f?.problem ?? '');
    return judge(gone ? 'fail' : 'error', f?.problem ?? 'not gathered', { expected: show(want), observed: null, source: 'container locator' });
  }
  if (!f.enforced) {
    const skip = (kind === 'services' && !facts.systemd) || /systemd/.test(f.enforcedProblem ?? '');
    return judge(skip ? 'skipped' : 'error', f.enforcedProblem ?? 'cgroup not read', { expected: show(want), observed: null, source: `cgroup files of ${f.unit}` });
  }
  const e = f.enforced;
  const got: Partial<Limits> = { memoryMax: e.memoryMax, memoryHigh: e.memoryHigh, cpuQuotaPerSecUs: e.cpuQuotaPerSecUs, tasksMax: e.pidsMax };
  // cgroup v1 has no memory.high: say so rather than fail on a file that cannot exist.
  const w = { ...want };
  const notes: string[] = [];
  if (e.layout === 'v1' && w.memoryHigh !== undefined) {
    delete w.memoryHigh;
    notes.push('MemoryHigh has no cgroup v1 equivalent (not compared)');
  }
  const { diffs: own, missing } = compare(w, got);
  // A container's process (or thread) moved out of its cgroup (echo PID > …/cgroup.procs, echo TID >
  // …/tasks) is not bounded by the container's limit, whatever the limits where it now sits: its
  // memory and CPU are charged there, so the container gets its budget twice. Each one fails, named;
  // the limits it runs under are said.
  const strays = (f.strays ?? []).map((p) => {
    const pg = p.enforced ? { memoryMax: p.enforced.memoryMax, cpuQuotaPerSecUs: p.enforced.cpuQuotaPerSecUs, tasksMax: p.enforced.pidsMax, ...(p.enforced.layout === 'v2' ? { memoryHigh: p.enforced.memoryHigh } : {}) } : {};
    return { p, d: p.enforced ? compare(w, pg).diffs : [] };
  });
  const why = (p: StrayProcess, d: string[]) => (d.length ? d.join(', ') : p.problem ? `its limits there unreadable (${p.problem})` : 'not bounded by the container\'s limits (its usage is charged to that cgroup, beside the container\'s own budget; the limit values there are the same)');
  // Threads of one process in the same cgroup are said once: "threads 390, 392 of process 385 (prometheus)".
  const said = new Map<string, { p: StrayProcess; tids: number[]; text: string }>();
  for (const { p, d } of strays) {
    const text = why(p, d);
    const key = p.tid === undefined ? `P${p.pid}` : `T${p.pid}\0${p.cgroup}\0${text}`;
    const x = said.get(key);
    if (x && p.tid !== undefined) x.tids.push(p.tid);
    else said.set(key, { p, tids: p.tid !== undefined ? [p.tid] : [], text });
  }
  const strayDiffs = [...said.values()].map(({ p, tids, text }) => `${tids.length > 1 ? `threads ${tids.join(', ')} of process ${p.pid} (${p.comm}) of the container run` : `${strayName(p)} of the container runs`} outside its cgroup (${p.cgroup}): ${text}`);
  const strayUnknown = [
    ...(f.straysProblem ? [`the container's processes outside its cgroup could not be read: ${f.straysProblem}`] : []),
    ...(f.straysMore ? ['more than 20 processes or threads run outside the container\'s cgroup (the rest not read)'] : []),
  ];
  const diffs = [...own, ...strayDiffs];
  const unlimited = diffs.some((d) => / infinity /.test(d));
  const message = diffs.length
    ? `${diffs.join('; ')}${unlimited ? ': not limited at all' : ''}${strayUnknown.length ? `; ${strayUnknown.join('; ')}` : ''}`
    : missing.length || strayUnknown.length
      ? [...(missing.length ? [`cgroup ${e.layout} has no ${missing.join(', ')} file for ${f.subject}`] : []), ...strayUnknown].join('; ')
      : `cgroup ${e.layout}: ${Object.entries(show(w)).map(([k, v]) => `${k}=${v}`).join(', ')}${notes.length ? `; ${notes.join('; ')}` : ''}`;
  const observed = { layout: e.layout, ...show(got), ...(strays.length ? { outsideCgroup: strays.map((x) => ({ pid: x.p.pid, ...(x.p.tid !== undefined ? { tid: x.p.tid } : {}), comm: x.p.comm, cgroup: x.p.cgroup, ...(x.p.enforced ? show({ memoryMax: x.p.enforced.memoryMax, cpuQuotaPerSecUs: x.p.enforced.cpuQuotaPerSecUs }) : { problem: x.p.problem }) })) } : {}) };
  const evidence = { expected: show(w), observed, source: Object.values(e.sources).join('; ') || `cgroup of ${f.subject}` };
  return judge(diffs.length ? 'fail' : missing.length || strayUnknown.length ? 'error' : 'pass', message, evidence, unlimited ? 'critical' : 'high');
}

/** "process 569 (lab-backend.pl)", "thread 612 of process 569 (prometheus)". */
const strayName = (p: StrayProcess) => (p.tid !== undefined ? `thread ${p.tid} of process ${p.pid} (${p.comm})` : `process ${p.pid} (${p.comm})`);

function judgeSliceUsed(sl: string, s: SliceSpec, facts: LimitsFacts): Outcome {
  const f = facts.slices[sl];
  const judge = (status: Outcome['status'], message: string, evidence: Evidence) => outcome(CHECKS['slice-used'], `slice ${sl}`, status, message, evidence);
  if (!facts.systemd) return judge('skipped', facts.systemdReason ?? 'no systemd', { expected: s.units ?? 'some unit', observed: null, source: `systemctl show -p Slice '*'` });
  // systemd runs: a slice we cannot look at is unknown (error), one that does not exist is a fail.
  const queryProblem = !f ? `no facts gathered for ${sl}` : (facts.sliceUsersProblem ?? (f.declared ? undefined : f.declaredProblem ?? `systemctl show printed nothing for ${sl}`));
  if (queryProblem) {
    return judge('error', `cannot tell whether ${sl} exists and is used: ${queryProblem}`, { expected: s.units ?? 'some unit', observed: null, source: `systemctl show -p Id,LoadState ${sl}; systemctl show -p Slice '*'` });
  }
  const load = f!.declared!.props.LoadState;
  if (load && load !== 'loaded') {
    return judge('fail', `${sl} does not exist on the node (LoadState=${load}): its declared limits apply to nothing`, { expected: s.units ?? 'a loaded slice used by some unit', observed: { LoadState: load }, source: `systemctl show -p Id,LoadState ${sl}` });
  }
  const users = f.usedBy.map((u) => u.replace(/ \(.*\)$/, ''));
  const lacking = (s.units ?? []).map(unitName).filter((u) => !users.includes(u));
  const unused = users.length === 0;
  const message = unused
    ? `no unit uses ${sl}: its limits apply to nothing (set Slice=${sl} on the units, e.g. systemd.services."container@NAME".serviceConfig.Slice = lib.mkForce "${sl}")`
    : lacking.length
      ? `${lacking.join(', ')} not in ${sl} (used by ${f.usedBy.join(', ')})`
      : `used by ${f.usedBy.join(', ')}`;
  return judge(unused || lacking.length ? 'fail' : 'pass', message, { expected: s.units ?? 'at least one unit', observed: f.usedBy, source: `systemctl show -p Id,Slice,ActiveState '*'` });
}

function judgeBudget(ctrs: string[], facts: LimitsFacts): Outcome {
  const limits = ctrs.map((c) => ({ c, v: facts.containers[c]?.enforced?.memoryMax }));
  const unknown = limits.filter((l) => l.v === undefined).map((l) => l.c);
  const unlimited = limits.filter((l) => l.v === Infinity).map((l) => l.c);
  const sum = limits.reduce((a, l) => a + (l.v !== undefined && l.v !== Infinity ? l.v : 0), 0);
  // A slice that holds the containers caps their sum too.
  const capSlices = Object.values(facts.slices)
    .map((s) => ({ s, max: s.declared?.limits.memoryMax, holds: ctrs.filter((c) => facts.containers[c]?.declared?.props.Slice === s.unit) }))
    .filter((x) => x.max !== undefined && x.max !== Infinity && x.holds.length);
  const overSlice = capSlices.filter((x) => x.holds.reduce((a, c) => a + (facts.containers[c]?.enforced?.memoryMax ?? 0), 0) > x.max!);
  const overNode = facts.memTotal !== undefined && sum > facts.memTotal;
  const observed = { perContainer: Object.fromEntries(limits.map((l) => [l.c, l.v === undefined ? null : formatSize(l.v)])), sum: formatSize(sum), memTotal: facts.memTotal !== undefined ? formatSize(facts.memTotal) : null, slices: capSlices.map((x) => ({ slice: x.s.unit, memoryMax: formatSize(x.max!), holds: x.holds })) };
  const [status, message]: [Outcome['status'], string] = unlimited.length
    ? ['fail', `${unlimited.join(', ')} ha${unlimited.length > 1 ? 've' : 's'} no memory limit: the containers' total is unbounded`]
    : overNode
      ? ['fail', `sum of container memory limits ${formatSize(sum)} exceeds the node's memory ${formatSize(facts.memTotal!)}`]
      : overSlice.length
        ? ['fail', overSlice.map((x) => `containers in ${x.s.unit} may use more than its MemoryMax ${formatSize(x.max!)}`).join('; ')]
        : unknown.length || facts.memTotal === undefined
          ? ['error', unknown.length ? `memory limit of ${unknown.join(', ')} unknown` : 'MemTotal not read from /proc/meminfo']
          : ['pass', `sum of container memory limits ${formatSize(sum)} ≤ node memory ${facts.memTotal !== undefined ? formatSize(facts.memTotal) : '?'}`];
  return outcome(CHECKS['memory-budget'], 'containers', status, message, { expected: 'sum ≤ MemTotal and ≤ the slice MemoryMax', observed, source: 'cgroup memory limits of the containers; /proc/meminfo' });
}

function evaluate(facts: LimitsFacts, expect: LimitsExpect): Outcome[] {
  const out: Outcome[] = [];
  const one = (kind: Kind, name: string, spec: LimitSpec) => {
    const byName = facts[kind] as Record<string, SubjectFacts>;
    const f = byName[name] ?? byName[kind === 'services' ? unitName(name) : `${name}.slice`];
    const want = wanted(spec, facts.memTotal);
    const subject = f?.subject ?? `${kind.slice(0, -1)} ${name}`;
    if (Number.isNaN(want.memoryMax) || Number.isNaN(want.memoryHigh)) {
      const evidence = { expected: spec, observed: null, source: 'grep MemTotal /proc/meminfo' };
      const why = 'a memory limit given as a percentage is a share of the node\'s memory, and /proc/meminfo gave no MemTotal';
      out.push(outcome(CHECKS.declared, subject, 'error', why, evidence));
      if (kind !== 'slices') out.push(outcome(CHECKS.enforced, subject, 'error', why, evidence));
      return;
    }
    out.push(judgeDeclared(kind, f, name, want, facts, subject));
    if (kind !== 'slices') out.push(judgeEnforced(kind, f, want, facts, subject));
  };
  for (const [n, s] of Object.entries(expect.containers ?? {})) one('containers', n, s);
  for (const [n, s] of Object.entries(expect.services ?? {})) one('services', n, s);
  for (const [c, units] of Object.entries(expect.containerServices ?? {})) for (const [u, s] of Object.entries(units)) one('containerServices', `${c}/${unitName(u)}`, s);
  for (const [n, s] of Object.entries(expect.slices ?? {})) {
    one('slices', n, s);
    out.push(judgeSliceUsed(sliceName(n), s, facts));
  }
  const ctrs = Object.keys(expect.containers ?? {});
  if (ctrs.length && expect.memoryBudget !== false) out.push(judgeBudget(ctrs, facts));
  return out;
}

/** `plan --from-nix`: container@NAME units, host units and slices with limits, citing each option; undefined when none. */
export function fromManifest(m: Manifest, cite: Cite): LimitsExpect | undefined {
  const l: LimitsExpect = {};
  const collect = (list: { key: string; path: string; spec?: LimitSpec }[], kind: 'containers' | 'services' | 'slices', config: string) => {
    const got: Record<string, LimitSpec> = {};
    for (const x of list) {
      if (!x.spec) continue;
      got[x.key] = x.spec;
      for (const k of Object.keys(x.spec)) cite(['limits', kind, x.key, k], optionPath(x.path, config, LIMIT_OPTION[k]));
    }
    if (Object.keys(got).length) l[kind] = got;
  };
  collect(m.containers.map((c) => ({ key: c.name, path: c.unit.path, spec: manifestLimits(c.unit.serviceConfig) })), 'containers', 'serviceConfig');
  collect(m.host.units.filter((x) => !x.name.startsWith('container@')).map((u) => ({ key: `${u.name}.service`, path: u.path, spec: manifestLimits(u.serviceConfig) })), 'services', 'serviceConfig');
  collect(m.host.slices.map((s) => ({ key: `${s.name}.slice`, path: s.path, spec: manifestLimits(s.sliceConfig as Record<string, Value>) })), 'slices', 'sliceConfig');
  return Object.keys(l).length ? l : undefined;
}

export const limitsSuite: Suite<LimitsExpect, LimitsFacts> = {
  name: 'limits',
  key: 'limits',
  schema,
  gather,
  evaluate: (facts, expect) => evaluate(facts, expect),
  checkIds: Object.values(CHECKS).map((c) => c.id),
  checks: Object.values(CHECKS),
  fromManifest,
};
export { evaluate as evaluateLimits };
