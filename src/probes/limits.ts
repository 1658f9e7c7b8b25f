// The resource-limit facts of a node, in one exec (plus the shared container locator): what systemd
// declares for each unit (`systemctl show`, needs systemd as PID 1; inside a container through its
// own systemd), what the kernel enforces on its processes (the cgroup files, v1 or v2, cgroup.sh),
// which units use the declared slices, and the node's memory. What a check judges, nothing more.
import type { Manifest, Value } from '../core/manifest.js';
import { sh } from '../core/quote.js';
import { ParseError, type Host } from '../core/types.js';
import { CONTAINER_ENTRY_SH, nsenterPrefix } from '../transport/container.js';
import { CGROUP_SH, enforcedLimits, parseCgFiles, type EnforcedLimits } from './cgroup.js';
import { missingReason, scanContainers, type ContainerScan } from './containers.js';
import { section, splitSections, type Section } from './sections.js';
import { byUnitId, cpuQuotaProp, memoryProp, parseSystemctlShow, requireProps, SYSTEMD_BOOTED, tasksMaxProp, type UnitProps } from './systemd.js';

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
  /** Processes of a container (its PID namespace) outside its cgroup, with the limits they run under. */
  strays?: StrayProcess[];
  /** More than 20 strays: the rest were not read. */
  straysMore?: boolean;
  /** Why the processes outside the cgroup could not be read. */
  straysProblem?: string;
}

export interface StrayProcess {
  pid: number;
  /** Set when only this thread of the process is outside (v1 `echo TID > …/tasks`, v2 threaded). */
  tid?: number;
  comm: string;
  /** Its memory/cpu (v1) or v2 cgroup lines, for evidence. */
  cgroup: string;
  enforced?: EnforcedLimits;
  problem?: string;
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

/** What to gather: container names, unit names as systemd spells them, units inside containers. */
export interface LimitsWant {
  containers: string[];
  services: string[];
  slices: string[];
  inner: { c: string; u: string }[];
}

export const SHOW_PROPS = 'Id,LoadState,ActiveState,ControlGroup,Slice,MemoryHigh,MemoryMax,CPUQuotaPerSecUSec,TasksMax';

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
 * Id= may come anywhere in a block: systemd prints a service's own properties (Slice=) first.
 */
export const SLICE_USERS_AWK = `function bad(why, x) { x = substr(x, 1, 60); gsub(/[^[:print:]]/, "?", x); print "GARBLED " why ": " x; broken = 1; exit } { n = split($0, L, "\\n"); if (L[1] !~ /^[A-Za-z][A-Za-z0-9]*=/) bad("block " NR " does not start with Id=", L[1]); id = 0; for (i = 1; i <= n; i++) { if (L[i] !~ /^[A-Za-z][A-Za-z0-9]*=/) bad("line is not KEY=VALUE", L[i]); if (L[i] ~ /^Id=./) id = 1 } if (!id) bad("block " NR " has no Id=", L[1]); for (i = 1; i <= n; i++) if (L[i] ~ /^Slice=/ && index(want, "|" substr(L[i], 7) "|")) { print $0; print ""; break } } END { if (!broken && NR == 0) print "GARBLED no unit block" }`;

function declaredLimits(props: UnitProps, source: string): Limits {
  return {
    memoryMax: memoryProp(props, 'MemoryMax', source),
    memoryHigh: memoryProp(props, 'MemoryHigh', source),
    cpuQuotaPerSecUs: cpuQuotaProp(props, source),
    tasksMax: tasksMaxProp(props, source),
  };
}

const NOT_SYSTEMD = `${SYSTEMD_BOOTED} || { echo 'PID 1 is not systemd'; exit 3; }`;

/** The node script: one section per fact (one-liners over the functions of cgroup.sh). */
export function limitsScript(want: LimitsWant, scan: ContainerScan | undefined): string {
  const units = [...want.containers.map((c) => `container@${c}.service`), ...want.services, ...want.slices];
  const parts = [CONTAINER_ENTRY_SH, section('meminfo', 'grep MemTotal /proc/meminfo'), CGROUP_SH];
  parts.push(section('systemd', units.length ? `if ${SYSTEMD_BOOTED}; then systemctl show --no-pager -p ${SHOW_PROPS} ${sh`${units}`}; else echo 'PID 1 is not systemd'; exit 3; fi` : NOT_SYSTEMD));
  // Slice users: every loaded unit's Slice= (one call; only with systemd).
  if (want.slices.length) {
    parts.push(section('sliceusers', `${SYSTEMD_BOOTED} && systemctl show --no-pager -p Id,Slice,ActiveState '*' | ${sh`awk -v RS= -v want=${`|${want.slices.join('|')}|`} ${SLICE_USERS_AWK}`}`));
  }
  want.containers.forEach((c, i) => {
    const leader = scan!.containers.get(c)?.leader;
    if (leader !== undefined) parts.push(section(`cg.${i}`, `cg_files ${leader}`), section(`strays.${i}`, `cg_strays ${leader}`));
  });
  want.services.forEach((s, i) => parts.push(section(`svccg.${i}`, `${NOT_SYSTEMD}; cg_unit_files "$(${sh`systemctl show -p ControlGroup --value ${s}`})"`)));
  // Units inside a container: its own systemd answers through the leader's namespaces; their cgroup
  // on the node is the container's root (the leader's, minus init.scope) + the unit's ControlGroup.
  want.inner.forEach(({ c, u }, i) => {
    const L = scan!.containers.get(c)?.leader;
    if (L === undefined) return;
    const noSd = `[ -d /proc/${L}/root/run/systemd/system ] || { echo 'no systemd inside the container'; exit 3; }`;
    parts.push(
      section(`csvc.${i}`, `${noSd}; ${nsenterPrefix(L)} systemctl show --no-pager -p ${SHOW_PROPS} ${sh`${u}`}`),
      section(`csvccg.${i}`, `${noSd}; ${sh`cg_inner_unit_files ${L} ${u}`}`),
    );
  });
  return parts.join('\n');
}

/** Runs a reading step; a ParseError becomes the subject's problem, anything else propagates. */
function attempt(step: () => void, problem: (message: string) => void): void {
  try {
    step();
  } catch (e) {
    if (!(e instanceof ParseError)) throw e;
    problem(e.message);
  }
}

/** Enforced limits from a cg_* section (absent: not gathered). */
function enforce(f: SubjectFacts, s: Section | undefined, source: string): void {
  if (!s) return;
  attempt(() => {
    if (s.rc !== 0 && !/^C /m.test(s.text)) throw new ParseError(source, s.text.split('\n')[0] || `exit ${s.rc}`);
    f.enforced = enforcedLimits(parseCgFiles(s.text, source), source);
  }, (m) => (f.enforcedProblem = m));
}

/** The strays.N section: `P PID COMM` (a process) or `T PID TID COMM` (one thread of it) then its cg_files lines, per stray; MORE after 20. */
export function parseStrays(text: string, source: string): { strays: StrayProcess[]; more: boolean } {
  const strays: StrayProcess[] = [];
  let more = false;
  let cur: { pid: number; tid?: number; comm: string; lines: string[] } | undefined;
  const flush = () => {
    if (!cur) return;
    const src = `${source}: ${cur.tid !== undefined ? `thread ${cur.tid} of ` : ''}process ${cur.pid} (${cur.comm})`;
    const cgroup = cur.lines.filter((l) => /^C (\d+:([^:]*,)?(memory|cpu)(,[^:]*)?:|0::)/.test(l)).map((l) => l.slice(2)).join('; ');
    const st: StrayProcess = { pid: cur.pid, ...(cur.tid !== undefined ? { tid: cur.tid } : {}), comm: cur.comm, cgroup };
    try {
      st.enforced = enforcedLimits(parseCgFiles(cur.lines.join('\n'), src), src);
    } catch (e) {
      if (!(e instanceof ParseError)) throw e;
      st.problem = e.message;
    }
    strays.push(st);
    cur = undefined;
  };
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const m = /^P (\d+) (.*)$/.exec(line);
    const t = /^T (\d+) (\d+) (.*)$/.exec(line);
    if (m) {
      flush();
      cur = { pid: Number(m[1]), comm: m[2], lines: [] };
    } else if (t) {
      flush();
      cur = { pid: Number(t[1]), tid: Number(t[2]), comm: t[3], lines: [] };
    } else if (line === 'MORE') more = true;
    else if (cur) cur.lines.push(line);
    else throw new ParseError(source, `unexpected line "${line.slice(0, 80)}"`, text.slice(0, 300));
  }
  flush();
  return { strays, more };
}

/** The `systemd` section: whether systemd runs, and the shown units by Id. */
function readSystemd(facts: LimitsFacts, sd: Section, count: number): Map<string, UnitProps> {
  let shown = new Map<string, UnitProps>();
  if (sd.rc === 0) {
    facts.systemd = true;
    attempt(() => {
      if (count) shown = byUnitId(shownUnits(sd.text, 'systemctl show', count), 'systemctl show');
    }, (m) => (facts.systemdReason = m));
  } else {
    facts.systemdReason = sd.rc === 3 && /not systemd/.test(sd.text) ? 'PID 1 on the node is not systemd: unit properties cannot be read' : `systemctl show failed: ${sd.text.split('\n')[0]}`;
  }
  return shown;
}

/** The units in each wanted slice, from the `sliceusers` section. */
function readSliceUsers(facts: LimitsFacts, users: Section | undefined): Map<string, string[]> {
  const usersBySlice = new Map<string, string[]>();
  attempt(() => {
    if (!users) throw new ParseError('limits facts script', 'no sliceusers section');
    if (users.rc !== 0) throw new ParseError("systemctl show -p Slice '*'", users.text.split('\n')[0] || `exit ${users.rc}`);
    const garbled = /^GARBLED (.*)$/m.exec(users.text);
    if (garbled) throw new ParseError("systemctl show -p Id,Slice,ActiveState '*'", `not systemctl show's output: ${garbled[1]}`, users.text.slice(0, 300));
    for (const b of parseSystemctlShow(users.text, 'systemctl show -p Slice')) {
      if (b.Id && b.Slice) usersBySlice.set(b.Slice, [...(usersBySlice.get(b.Slice) ?? []), `${b.Id}${b.ActiveState ? ` (${b.ActiveState})` : ''}`]);
    }
  }, (m) => (facts.sliceUsersProblem = m));
  return usersBySlice;
}

/** A unit inside a container: declared through its own systemd, enforced from its cgroup on the node. */
function readInner(f: SubjectFacts, secs: Map<string, Section>, c: string, u: string, i: number): void {
  const show = secs.get(`csvc.${i}`);
  if (!show) {
    f.declaredProblem = f.enforcedProblem = `limits facts script: output lacks section csvc.${i} (systemctl show ${u} in ${c})`;
    return;
  }
  if (show.rc !== 0) {
    f.declaredProblem = f.enforcedProblem = show.rc === 3 ? `no systemd inside container ${c}: unit properties cannot be read` : `systemctl show in ${c} failed: ${show.text.split('\n')[0]}`;
    return;
  }
  attempt(() => {
    const props = shownUnits(show.text, `systemctl show ${u} in ${c}`, 1)[0];
    f.declared = { props, limits: declaredLimits(props, `systemctl show ${u} in ${c}`) };
  }, (m) => (f.declaredProblem = m));
  enforce(f, secs.get(`csvccg.${i}`), `cgroup of ${u} in container ${c}`);
}

/** The limit facts of the wanted containers, units and slices (see the top of this file). */
export async function gatherLimits(host: Host, want: LimitsWant, timeoutMs: number): Promise<LimitsFacts> {
  const { containers, services, slices, inner } = want;
  const facts: LimitsFacts = { systemd: false, containers: {}, services: {}, containerServices: {}, slices: {}, commands: [] };
  const scan = containers.length || inner.length ? await scanContainers(host, timeoutMs) : undefined;
  if (scan) facts.commands.push(scan.command);
  const units = [...containers.map((c) => `container@${c}.service`), ...services, ...slices];
  const r = await host.exec(limitsScript(want, scan), { timeoutMs });
  facts.commands.push(`systemctl show -p ${SHOW_PROPS} ${units.join(' ')}; cat /proc/LEADER/cgroup + limit files; the cgroups of every process and thread in the leader's PID namespace; grep MemTotal /proc/meminfo`);
  const secs = splitSections(r.stdout, 'limits facts script', ['meminfo', 'systemd']);
  const mem = /MemTotal:\s+(\d+)\s*kB/.exec(secs.get('meminfo')!.text);
  facts.memTotal = mem ? Number(mem[1]) * 1024 : undefined;
  const shown = readSystemd(facts, secs.get('systemd')!, units.length);
  const declare = (f: SubjectFacts) => {
    if (!facts.systemd) return (f.declaredProblem = facts.systemdReason);
    const props = shown.get(f.unit);
    if (!props) return (f.declaredProblem = facts.systemdReason ?? `systemctl show printed nothing for ${f.unit}`);
    attempt(() => (f.declared = { props, limits: declaredLimits(props, `systemctl show ${f.unit}`) }), (m) => (f.declaredProblem = m));
  };
  containers.forEach((c, i) => {
    const f: SubjectFacts = (facts.containers[c] = { subject: `container ${c}`, unit: `container@${c}.service` });
    f.problem = missingReason(scan!, c);
    f.leader = scan!.containers.get(c)?.leader;
    declare(f);
    if (!f.problem) {
      enforce(f, secs.get(`cg.${i}`), `/proc/${f.leader}/cgroup of container ${c}`);
      const st = secs.get(`strays.${i}`);
      if (st) attempt(() => {
        const { strays, more } = parseStrays(st.text, `processes of container ${c} outside its cgroup`);
        f.strays = strays;
        if (more) f.straysMore = true;
      }, (m) => (f.straysProblem = m));
      if (!f.enforced && !f.enforcedProblem) f.enforcedProblem = 'cgroup of the leader not read';
    }
  });
  services.forEach((s, i) => {
    const f: SubjectFacts = (facts.services[s] = { subject: `service ${s}`, unit: s });
    declare(f);
    if (facts.systemd) enforce(f, secs.get(`svccg.${i}`), `cgroup of ${s}`);
    else f.enforcedProblem = facts.systemdReason;
  });
  inner.forEach(({ c, u }, i) => {
    const f: SubjectFacts = (facts.containerServices[`${c}/${u}`] = { subject: `service ${u} in container ${c}`, unit: u });
    f.problem = missingReason(scan!, c);
    if (!f.problem) readInner(f, secs, c, u, i);
  });
  const usersBySlice = slices.length && facts.systemd ? readSliceUsers(facts, secs.get('sliceusers')) : new Map<string, string[]>();
  for (const s of slices) {
    const f = (facts.slices[s] = { subject: `slice ${s}`, unit: s, usedBy: usersBySlice.get(s) ?? [] });
    declare(f);
  }
  return facts;
}

/** A unit's declared limits in a NixOS manifest (serviceConfig / sliceConfig), as a limits expectation spec. */
export function manifestLimits(sc: Record<string, Value | undefined>): Record<string, string | number> | undefined {
  const out: Record<string, string | number> = {};
  if (typeof sc.MemoryMax === 'string' || typeof sc.MemoryMax === 'number') out.memoryMax = String(sc.MemoryMax);
  if (typeof sc.MemoryHigh === 'string' || typeof sc.MemoryHigh === 'number') out.memoryHigh = String(sc.MemoryHigh);
  if (typeof sc.CPUQuota === 'string') out.cpuQuota = sc.CPUQuota;
  if (typeof sc.TasksMax === 'number') out.tasksMax = sc.TasksMax;
  else if (sc.TasksMax === 'infinity') out.tasksMax = 'infinity';
  return Object.keys(out).length ? out : undefined;
}
/** Expectation key → systemd option name. */
export const LIMIT_OPTION: Record<string, string> = { memoryMax: 'MemoryMax', memoryHigh: 'MemoryHigh', cpuQuota: 'CPUQuota', tasksMax: 'TasksMax' };

/** Units inside containers that declare limits: plan does not emit them (the limits suite checks host units). */
export function innerLimitedUnits(m: Manifest): string[] {
  return m.containers.flatMap((c) => c.config.units.filter((u) => manifestLimits(u.serviceConfig)).map((u) => `${c.name}/${u.name}`));
}
