// Resource limits (checklist: resource-limits). Two questions per container or service: what does
// systemd declare for its unit (`systemctl show`, needs systemd as PID 1), and what does the kernel
// enforce on its processes (the cgroup files, v1 or v2, smallest over the cgroup and its ancestors)?
// A limit declared but not enforced (or the reverse) is exactly what this suite exists to catch.
// Also: the containers' memory limits fit the node's memory and their slice's limit, and every
// declared slice is used by some unit. One exec for everything (plus the shared container locator).
import type { Outcome, Suite, SuiteContext } from '../src/core/types.js';
import { ParseError } from '../src/core/types.js';
import { FORMATS } from '../src/core/formats.js';
import { formatSize, parsePercent, parseSize } from '../src/core/units.js';
import { missingReason, scanContainers } from '../src/probes/containers.js';
import { CGROUP_SH, enforcedLimits, parseCgFiles, type EnforcedLimits } from '../src/probes/cgroup.js';
import { byUnitId, cpuQuotaProp, memoryProp, parseSystemctlShow, requireProps, SYSTEMD_BOOTED, tasksMaxProp, unitName, type UnitProps } from '../src/probes/systemd.js';
import { section, splitSections } from '../src/probes/sections.js';
import { shq } from '../src/transport/container.js';

export interface LimitSpec {
  memoryMax?: string;
  memoryHigh?: string;
  cpuQuota?: string;
  tasksMax?: number | 'infinity';
}
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
  memoryMax: { type: 'string', format: FORMATS.size },
  memoryHigh: { type: 'string', format: FORMATS.size },
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

/** Numbers as compared: bytes, µs of CPU per second, task count; Infinity = unlimited. */
export interface Limits {
  memoryMax?: number;
  memoryHigh?: number;
  cpuQuotaPerSecUs?: number;
  tasksMax?: number;
}

export interface SubjectFacts {
  /** "container alchemist", "service nginx.service", "slice alchemist.slice". */
  subject: string;
  unit: string;
  problem?: string;
  /** From systemctl show, when systemd runs. */
  declared?: { props: UnitProps; limits: Limits };
  declaredProblem?: string;
  enforced?: EnforcedLimits;
  enforcedProblem?: string;
  leader?: number;
}

export interface LimitsFacts {
  systemd: boolean;
  systemdReason?: string;
  memTotal?: number;
  containers: Record<string, SubjectFacts>;
  services: Record<string, SubjectFacts>;
  /** Keyed "CONTAINER/UNIT". */
  containerServices: Record<string, SubjectFacts>;
  slices: Record<string, SubjectFacts & { usedBy: string[] }>;
  /** Why the units of the slices could not be listed (systemd is running). */
  sliceUsersProblem?: string;
  commands: string[];
}

const SHOW_PROPS = 'Id,LoadState,ActiveState,ControlGroup,Slice,MemoryHigh,MemoryMax,CPUQuotaPerSecUSec,TasksMax';

const LIMIT_PROPS = ['MemoryHigh', 'MemoryMax', 'CPUQuotaPerSecUSec', 'TasksMax'];

/**
 * Strict `systemctl show -p SHOW_PROPS`: KEY=VALUE lines, one block with Id per unit asked, and the
 * limit properties in every loaded one (a limit absent from the output is not "no limit").
 */
function shownUnits(text: string, source: string, count: number): UnitProps[] {
  const blocks = requireProps(parseSystemctlShow(text, source), ['Id'], source, { count });
  requireProps(blocks.filter((b) => (b.LoadState ?? 'loaded') === 'loaded'), LIMIT_PROPS, source, { allowNone: true });
  return blocks;
}

/**
 * awk over `systemctl show -p Id,Slice,ActiveState '*'`: prints the blocks in one of the slices in
 * `want` ("|a.slice|b.slice|"), or one GARBLED line when the output is not systemctl show's.
 */
export const SLICE_USERS_AWK = `function bad(why, x) { x = substr(x, 1, 60); gsub(/[^[:print:]]/, "?", x); print "GARBLED " why ": " x; broken = 1; exit } { n = split($0, L, "\\n"); if (L[1] !~ /^Id=./) bad("block " NR " does not start with Id=", L[1]); for (i = 1; i <= n; i++) if (L[i] !~ /^[A-Za-z][A-Za-z0-9]*=/) bad("line is not KEY=VALUE", L[i]); for (i = 1; i <= n; i++) if (L[i] ~ /^Slice=/ && index(want, "|" substr(L[i], 7) "|")) { print $0; print ""; break } } END { if (!broken && NR == 0) print "GARBLED no unit block" }`;

function declaredLimits(props: UnitProps, source: string): Limits {
  return {
    memoryMax: memoryProp(props, 'MemoryMax', source),
    memoryHigh: memoryProp(props, 'MemoryHigh', source),
    cpuQuotaPerSecUs: cpuQuotaProp(props, source),
    tasksMax: tasksMaxProp(props, source),
  };
}

async function gather(ctx: SuiteContext, expect: LimitsExpect): Promise<LimitsFacts> {
  const containers = Object.keys(expect.containers ?? {});
  const services = Object.keys(expect.services ?? {}).map(unitName);
  const slices = Object.keys(expect.slices ?? {}).map((s) => (s.endsWith('.slice') ? s : `${s}.slice`));
  const inner = Object.entries(expect.containerServices ?? {}).flatMap(([c, units]) => Object.keys(units).map((u) => ({ c, u: unitName(u) })));
  const facts: LimitsFacts = { systemd: false, containers: {}, services: {}, containerServices: {}, slices: {}, commands: [] };
  const scan = containers.length || inner.length ? await scanContainers(ctx.host, ctx.options.timeoutMs) : undefined;
  if (scan) facts.commands.push(scan.command);

  const units = [...containers.map((c) => `container@${c}.service`), ...services, ...slices];
  const parts = [section('meminfo', 'grep MemTotal /proc/meminfo'), CGROUP_SH];
  parts.push(
    section(
      'systemd',
      units.length
        ? `if ${SYSTEMD_BOOTED}; then systemctl show --no-pager -p ${SHOW_PROPS} ${units.map(shq).join(' ')}; else echo 'PID 1 is not systemd'; exit 3; fi`
        : `${SYSTEMD_BOOTED} || { echo 'PID 1 is not systemd'; exit 3; }`,
    ),
  );
  // Slice users: every loaded unit's Slice= (one call; only with systemd).
  if (slices.length) {
    const want = `|${slices.join('|')}|`;
    parts.push(
      section(
        'sliceusers',
        `${SYSTEMD_BOOTED} && systemctl show --no-pager -p Id,Slice,ActiveState '*' | awk -v RS= -v want=${shq(want)} ${shq(SLICE_USERS_AWK)}`,
      ),
    );
  }
  containers.forEach((c, i) => {
    const leader = scan!.containers.get(c)?.leader;
    if (leader !== undefined) parts.push(section(`cg.${i}`, `cg_files ${leader}`));
  });
  services.forEach((s, i) => {
    parts.push(section(`svccg.${i}`, `${SYSTEMD_BOOTED} || { echo 'PID 1 is not systemd'; exit 3; }; cg_unit_files "$(systemctl show -p ControlGroup --value ${shq(s)})"`));
  });
  // Units inside a container: its own systemd answers through the leader's namespaces; their cgroup
  // on the node is the container's root (the leader's, minus init.scope) + the unit's ControlGroup.
  inner.forEach(({ c, u }, i) => {
    const L = scan!.containers.get(c)?.leader;
    if (L === undefined) return;
    const inCtr = `nsenter -t ${L} -m -u -i -n -p -- systemctl show --no-pager`;
    const noSd = `[ -d /proc/${L}/root/run/systemd/system ] || { echo 'no systemd inside the container'; exit 3; }`;
    parts.push(
      section(`csvc.${i}`, `${noSd}; ${inCtr} -p ${SHOW_PROPS} ${shq(u)}`),
      section(`csvccg.${i}`, `${noSd}; base=$(sed -n 's/^0:://p' /proc/${L}/cgroup); [ -n "$base" ] || base=$(sed -n 's/^[0-9]*:[^:]*memory[^:]*://p' /proc/${L}/cgroup); base=${'$'}{base%/init.scope}; cg_unit_files "$base$(${inCtr} -p ControlGroup --value ${shq(u)})"`),
    );
  });
  const r = await ctx.host.exec(parts.join('\n'), { timeoutMs: ctx.options.timeoutMs });
  facts.commands.push(`systemctl show -p ${SHOW_PROPS} ${units.join(' ')}; cat /proc/LEADER/cgroup + limit files; grep MemTotal /proc/meminfo`);
  const secs = splitSections(r.stdout, 'limits facts script', ['meminfo', 'systemd']);

  const mem = /MemTotal:\s+(\d+)\s*kB/.exec(secs.get('meminfo')!.text);
  facts.memTotal = mem ? Number(mem[1]) * 1024 : undefined;

  const sd = secs.get('systemd')!;
  let shown = new Map<string, UnitProps>();
  if (sd.rc === 0) {
    facts.systemd = true;
    try {
      if (units.length) shown = byUnitId(shownUnits(sd.text, 'systemctl show', units.length), 'systemctl show');
    } catch (e) {
      if (!(e instanceof ParseError)) throw e;
      facts.systemdReason = e.message;
    }
  } else {
    facts.systemdReason = sd.rc === 3 && /not systemd/.test(sd.text) ? 'PID 1 on the node is not systemd: unit properties cannot be read' : `systemctl show failed: ${sd.text.split('\n')[0]}`;
  }
  const declare = (f: SubjectFacts) => {
    if (!facts.systemd) return (f.declaredProblem = facts.systemdReason);
    const props = shown.get(f.unit);
    if (!props) return (f.declaredProblem = facts.systemdReason ?? `systemctl show printed nothing for ${f.unit}`);
    try {
      f.declared = { props, limits: declaredLimits(props, `systemctl show ${f.unit}`) };
    } catch (e) {
      if (!(e instanceof ParseError)) throw e;
      f.declaredProblem = e.message;
    }
  };
  const enforce = (f: SubjectFacts, key: string, source: string) => {
    const s = secs.get(key);
    if (!s) return;
    try {
      if (s.rc !== 0 && !/^C /m.test(s.text)) throw new ParseError(source, s.text.split('\n')[0] || `exit ${s.rc}`);
      f.enforced = enforcedLimits(parseCgFiles(s.text, source), source);
    } catch (e) {
      if (!(e instanceof ParseError)) throw e;
      f.enforcedProblem = e.message;
    }
  };
  containers.forEach((c, i) => {
    const f: SubjectFacts = { subject: `container ${c}`, unit: `container@${c}.service` };
    facts.containers[c] = f;
    f.problem = missingReason(scan!, c);
    f.leader = scan!.containers.get(c)?.leader;
    declare(f);
    if (!f.problem) {
      enforce(f, `cg.${i}`, `/proc/${f.leader}/cgroup of container ${c}`);
      if (!f.enforced && !f.enforcedProblem) f.enforcedProblem = 'cgroup of the leader not read';
    }
  });
  services.forEach((s, i) => {
    const f: SubjectFacts = { subject: `service ${s}`, unit: s };
    facts.services[s] = f;
    declare(f);
    if (facts.systemd) enforce(f, `svccg.${i}`, `cgroup of ${s}`);
    else f.enforcedProblem = facts.systemdReason;
  });
  inner.forEach(({ c, u }, i) => {
    const f: SubjectFacts = { subject: `service ${u} in container ${c}`, unit: u };
    facts.containerServices[`${c}/${u}`] = f;
    f.problem = missingReason(scan!, c);
    if (f.problem) return;
    const show = secs.get(`csvc.${i}`);
    if (!show) {
      f.declaredProblem = f.enforcedProblem = `limits facts script: output lacks section csvc.${i} (systemctl show ${u} in ${c})`;
      return;
    }
    if (show.rc !== 0) {
      f.declaredProblem = f.enforcedProblem = show.rc === 3 ? `no systemd inside container ${c}: unit properties cannot be read` : `systemctl show in ${c} failed: ${show.text.split('\n')[0]}`;
      return;
    }
    try {
      const props = shownUnits(show.text, `systemctl show ${u} in ${c}`, 1)[0];
      f.declared = { props, limits: declaredLimits(props, `systemctl show ${u} in ${c}`) };
    } catch (e) {
      if (!(e instanceof ParseError)) throw e;
      f.declaredProblem = e.message;
    }
    enforce(f, `csvccg.${i}`, `cgroup of ${u} in container ${c}`);
  });
  const users = secs.get('sliceusers');
  const usersBySlice = new Map<string, string[]>();
  if (slices.length && facts.systemd) {
    try {
      if (!users) throw new ParseError('limits facts script', 'no sliceusers section');
      if (users.rc !== 0) throw new ParseError("systemctl show -p Slice '*'", users.text.split('\n')[0] || `exit ${users.rc}`);
      const garbled = /^GARBLED (.*)$/m.exec(users.text);
      if (garbled) throw new ParseError("systemctl show -p Id,Slice,ActiveState '*'", `not systemctl show's output: ${garbled[1]}`, users.text.slice(0, 300));
      for (const b of parseSystemctlShow(users.text, 'systemctl show -p Slice')) {
        if (b.Id && b.Slice) usersBySlice.set(b.Slice, [...(usersBySlice.get(b.Slice) ?? []), `${b.Id}${b.ActiveState ? ` (${b.ActiveState})` : ''}`]);
      }
    } catch (e) {
      if (!(e instanceof ParseError)) throw e;
      facts.sliceUsersProblem = e.message;
    }
  }
  for (const s of slices) {
    const f = { subject: `slice ${s}`, unit: s, usedBy: usersBySlice.get(s) ?? [] };
    facts.slices[s] = f;
    declare(f);
  }
  return facts;
}

// --- evaluate (pure) ---

const CHECK = {
  declared: 'limits.declared',
  enforced: 'limits.enforced',
  budget: 'limits.memory-budget',
  sliceUsed: 'limits.slice-used',
} as const;

function wanted(spec: LimitSpec): Limits {
  return {
    memoryMax: spec.memoryMax !== undefined ? parseSize(spec.memoryMax) : undefined,
    memoryHigh: spec.memoryHigh !== undefined ? parseSize(spec.memoryHigh) : undefined,
    cpuQuotaPerSecUs: spec.cpuQuota !== undefined ? Math.round(parsePercent(spec.cpuQuota) * 1_000_000) : undefined,
    tasksMax: spec.tasksMax === undefined ? undefined : spec.tasksMax === 'infinity' ? Infinity : spec.tasksMax,
  };
}

const fmt: Record<keyof Limits, (n: number) => string> = {
  memoryMax: formatSize,
  memoryHigh: formatSize,
  cpuQuotaPerSecUs: (n) => (n === Infinity ? 'infinity' : `${Math.round(n / 10_000)}%`),
  tasksMax: (n) => (n === Infinity ? 'infinity' : String(n)),
};
const LABEL: Record<keyof Limits, string> = { memoryMax: 'MemoryMax', memoryHigh: 'MemoryHigh', cpuQuotaPerSecUs: 'CPUQuota', tasksMax: 'TasksMax' };
const show = (l: Partial<Limits>) => Object.fromEntries(Object.entries(l).filter(([, v]) => v !== undefined).map(([k, v]) => [LABEL[k as keyof Limits], fmt[k as keyof Limits](v as number)]));

function compare(want: Limits, got: Partial<Limits>): { diffs: string[]; missing: string[] } {
  const diffs: string[] = [];
  const missing: string[] = [];
  for (const k of Object.keys(want) as (keyof Limits)[]) {
    const w = want[k];
    if (w === undefined) continue;
    const g = got[k];
    if (g === undefined) missing.push(LABEL[k]);
    else if (g !== w) diffs.push(`${LABEL[k]} ${fmt[k](g)} (expected ${fmt[k](w)})`);
  }
  return { diffs, missing };
}

function evaluate(facts: LimitsFacts, expect: LimitsExpect): Outcome[] {
  const out: Outcome[] = [];
  const one = (kind: 'containers' | 'services' | 'containerServices' | 'slices', name: string, spec: LimitSpec) => {
    const f = (facts[kind] as Record<string, SubjectFacts>)[name] ?? (facts[kind] as Record<string, SubjectFacts>)[kind === 'services' ? unitName(name) : `${name}.slice`];
    const want = wanted(spec);
    const subject = f?.subject ?? `${kind.slice(0, -1)} ${name}`;
    const base = { subject, checklist: ['resource-limits'], severity: 'high' as const };
    // declared
    if (f && kind === 'containerServices' && f.problem) {
      out.push({ ...base, id: CHECK.declared, title: 'Declared unit limits as expected', status: /does not exist|not running/.test(f.problem) ? 'fail' : 'error', message: f.problem, evidence: { expected: show(want), observed: null, source: 'container locator' } });
    } else if (!f || f.declaredProblem || !f.declared) {
      const noSystemd = !facts.systemd || /no systemd inside/.test(f?.declaredProblem ?? '');
      out.push({
        ...base,
        id: CHECK.declared,
        title: 'Declared unit limits as expected',
        status: noSystemd ? 'skipped' : 'error',
        message: noSystemd
          ? kind === 'containers'
            ? `${facts.systemdReason ?? 'no systemd'}; enforced limits are checked from the cgroup instead`
            : `${f?.declaredProblem ?? facts.systemdReason ?? 'no systemd'}`
          : (f?.problem ?? f?.declaredProblem ?? 'not gathered'),
        evidence: { expected: show(want), observed: null, source: `systemctl show -p ${SHOW_PROPS} ${f?.unit ?? name}` },
      });
    } else {
      const { diffs, missing } = compare(want, f.declared.limits);
      const inactive = f.declared.props.ActiveState && f.declared.props.ActiveState !== 'active' && kind !== 'slices';
      out.push({
        ...base,
        id: CHECK.declared,
        title: 'Declared unit limits as expected',
        status: diffs.length || missing.length || inactive ? 'fail' : 'pass',
        message: diffs.length || missing.length
          ? `${f.unit}: ${[...diffs, ...missing.map((m) => `${m} not shown`)].join('; ')}`
          : inactive
            ? `${f.unit} declares the limits but is ${f.declared.props.ActiveState}`
            : `${f.unit}: ${Object.entries(show(want)).map(([k, v]) => `${k}=${v}`).join(', ')}`,
        evidence: { expected: show(want), observed: { ...show(f.declared.limits), ActiveState: f.declared.props.ActiveState, ControlGroup: f.declared.props.ControlGroup, Slice: f.declared.props.Slice }, source: `systemctl show -p ${SHOW_PROPS} ${f.unit}`, excerpt: Object.entries(f.declared.props).map(([k, v]) => `${k}=${v}`).join('\n') },
      });
    }
    if (kind === 'slices') return;
    // enforced
    const ebase = { ...base, id: CHECK.enforced, title: 'Limits enforced by the kernel (cgroup)' };
    if (!f || f.problem) {
      out.push({ ...ebase, status: (kind === 'containers' || kind === 'containerServices') && /does not exist|not running/.test(f?.problem ?? '') ? 'fail' : 'error', message: f?.problem ?? 'not gathered', evidence: { expected: show(want), observed: null, source: 'container locator' } });
    } else if (!f.enforced) {
      const skip = (kind === 'services' && !facts.systemd) || /systemd/.test(f.enforcedProblem ?? '');
      out.push({ ...ebase, status: skip ? 'skipped' : 'error', message: f.enforcedProblem ?? 'cgroup not read', evidence: { expected: show(want), observed: null, source: `cgroup files of ${f.unit}` } });
    } else {
      const e = f.enforced;
      const got: Partial<Limits> = { memoryMax: e.memoryMax, memoryHigh: e.memoryHigh, cpuQuotaPerSecUs: e.cpuQuotaPerSecUs, tasksMax: e.pidsMax };
      // cgroup v1 has no memory.high: say so rather than fail on a file that cannot exist.
      const w = { ...want };
      const notes: string[] = [];
      if (e.layout === 'v1' && w.memoryHigh !== undefined) {
        delete w.memoryHigh;
        notes.push('MemoryHigh has no cgroup v1 equivalent (not compared)');
      }
      const { diffs, missing } = compare(w, got);
      out.push({
        ...ebase,
        status: diffs.length ? 'fail' : missing.length ? 'error' : 'pass',
        severity: diffs.some((d) => / infinity /.test(d)) ? 'critical' : 'high',
        message: diffs.length
          ? `${diffs.join('; ')}${diffs.some((d) => / infinity /.test(d)) ? ': not limited at all' : ''}`
          : missing.length
            ? `cgroup ${e.layout} has no ${missing.join(', ')} file for ${f.subject}`
            : `cgroup ${e.layout}: ${Object.entries(show(w)).map(([k, v]) => `${k}=${v}`).join(', ')}${notes.length ? `; ${notes.join('; ')}` : ''}`,
        evidence: { expected: show(w), observed: { layout: e.layout, ...show(got) }, source: Object.values(e.sources).join('; ') || `cgroup of ${f.subject}` },
      });
    }
  };
  for (const [n, s] of Object.entries(expect.containers ?? {})) one('containers', n, s);
  for (const [n, s] of Object.entries(expect.services ?? {})) one('services', n, s);
  for (const [c, units] of Object.entries(expect.containerServices ?? {})) for (const [u, s] of Object.entries(units)) one('containerServices', `${c}/${unitName(u)}`, s);
  for (const [n, s] of Object.entries(expect.slices ?? {})) {
    one('slices', n, s);
    const sl = n.endsWith('.slice') ? n : `${n}.slice`;
    const f = facts.slices[sl];
    const base = { id: CHECK.sliceUsed, title: 'Declared slice is used', subject: `slice ${sl}`, checklist: ['resource-limits'], severity: 'medium' as const };
    if (!facts.systemd) {
      out.push({ ...base, status: 'skipped', message: facts.systemdReason ?? 'no systemd', evidence: { expected: s.units ?? 'some unit', observed: null, source: `systemctl show -p Slice '*'` } });
      continue;
    }
    // systemd runs: a slice we cannot look at is unknown (error), one that does not exist is a fail.
    const queryProblem = !f ? `no facts gathered for ${sl}` : (facts.sliceUsersProblem ?? (f.declared ? undefined : f.declaredProblem ?? `systemctl show printed nothing for ${sl}`));
    if (queryProblem) {
      out.push({ ...base, status: 'error', message: `cannot tell whether ${sl} exists and is used: ${queryProblem}`, evidence: { expected: s.units ?? 'some unit', observed: null, source: `systemctl show -p Id,LoadState ${sl}; systemctl show -p Slice '*'` } });
      continue;
    }
    const load = f!.declared!.props.LoadState;
    if (load && load !== 'loaded') {
      out.push({ ...base, status: 'fail', message: `${sl} does not exist on the node (LoadState=${load}): its declared limits apply to nothing`, evidence: { expected: s.units ?? 'a loaded slice used by some unit', observed: { LoadState: load }, source: `systemctl show -p Id,LoadState ${sl}` } });
      continue;
    }
    const users = f.usedBy.map((u) => u.replace(/ \(.*\)$/, ''));
    const lacking = (s.units ?? []).map(unitName).filter((u) => !users.includes(u));
    const unused = users.length === 0;
    out.push({
      ...base,
      status: unused || lacking.length ? 'fail' : 'pass',
      message: unused
        ? `no unit uses ${sl}: its limits apply to nothing (set Slice=${sl} on the units, e.g. systemd.services."container@NAME".serviceConfig.Slice = lib.mkForce "${sl}")`
        : lacking.length
          ? `${lacking.join(', ')} not in ${sl} (used by ${f.usedBy.join(', ')})`
          : `used by ${f.usedBy.join(', ')}`,
      evidence: { expected: s.units ?? 'at least one unit', observed: f.usedBy, source: `systemctl show -p Id,Slice,ActiveState '*'` },
    });
  }
  // memory budget
  const ctrs = Object.keys(expect.containers ?? {});
  if (ctrs.length && expect.memoryBudget !== false) {
    const base = { id: CHECK.budget, title: "Containers' memory limits fit the node", subject: 'containers', checklist: ['resource-limits'], severity: 'high' as const };
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
    let status: Outcome['status'] = 'pass';
    let message = `sum of container memory limits ${formatSize(sum)} ≤ node memory ${facts.memTotal !== undefined ? formatSize(facts.memTotal) : '?'}`;
    if (unlimited.length) {
      status = 'fail';
      message = `${unlimited.join(', ')} ha${unlimited.length > 1 ? 've' : 's'} no memory limit: the containers' total is unbounded`;
    } else if (overNode) {
      status = 'fail';
      message = `sum of container memory limits ${formatSize(sum)} exceeds the node's memory ${formatSize(facts.memTotal!)}`;
    } else if (overSlice.length) {
      status = 'fail';
      message = overSlice.map((x) => `containers in ${x.s.unit} may use more than its MemoryMax ${formatSize(x.max!)}`).join('; ');
    } else if (unknown.length || facts.memTotal === undefined) {
      status = 'error';
      message = unknown.length ? `memory limit of ${unknown.join(', ')} unknown` : 'MemTotal not read from /proc/meminfo';
    }
    out.push({ ...base, status, message, evidence: { expected: 'sum ≤ MemTotal and ≤ the slice MemoryMax', observed, source: 'cgroup memory limits of the containers; /proc/meminfo' } });
  }
  return out;
}

export const limitsSuite: Suite<LimitsExpect, LimitsFacts> = {
  name: 'limits',
  key: 'limits',
  schema,
  gather,
  evaluate: (facts, expect) => evaluate(facts, expect),
  checkIds: Object.values(CHECK),
};
export { evaluate as evaluateLimits };
