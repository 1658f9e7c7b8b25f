// Enforced limits of a process, read from its cgroup: /proc/<pid>/cgroup names the directories
// (v1: one line per hierarchy `ID:controllers:path`; v2: `0::path`), the mount points come from
// /proc/self/mountinfo, and the files hold the kernel's view — v2 memory.max, memory.high, cpu.max
// ("QUOTA PERIOD" in µs), pids.max; v1 memory.limit_in_bytes, cpu.cfs_quota_us / cpu.cfs_period_us,
// pids.max. These are what is enforced, whatever a unit file declares.
import { probeScript } from '../core/script.js';
import { ParseError } from '../core/types.js';

export interface ProcCgroupLine {
  id: string;
  controllers: string[];
  path: string;
}

export function parseProcCgroup(text: string, source: string): ProcCgroupLine[] {
  const out: ProcCgroupLine[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const m = /^(\d+):([^:]*):(\/.*)$/.exec(line.trim());
    if (!m) throw new ParseError(source, `unexpected line "${line.slice(0, 80)}"`, text.slice(0, 300));
    out.push({ id: m[1], controllers: m[2] ? m[2].split(',') : [], path: m[3] });
  }
  if (!out.length) throw new ParseError(source, 'empty /proc/<pid>/cgroup');
  return out;
}

/**
 * Shell functions for the node (cgroup.sh): `cg_files PID` prints `C <line>` for each /proc/PID/cgroup
 * line, `F <file> <value>` for each limit file found, and `N <controller>` when a v1 controller is not
 * mounted; `cg_unit_files` and `cg_inner_unit_files` do the same for a unit on the node or in a container.
 */
export const CGROUP_SH = probeScript('cgroup.sh');

export interface CgroupRead {
  lines: ProcCgroupLine[];
  /** Absolute file path → raw value. */
  files: Map<string, string>;
  unmounted: string[];
}

export function parseCgFiles(text: string, source: string): CgroupRead {
  const lines: ProcCgroupLine[] = [];
  const files = new Map<string, string>();
  const unmounted: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (!line) continue;
    if (line.startsWith('C ')) lines.push(...parseProcCgroup(line.slice(2), source));
    else if (line.startsWith('F ')) {
      const m = /^F (\S+) (.*)$/.exec(line);
      if (!m) throw new ParseError(source, `unexpected line "${line.slice(0, 80)}"`);
      files.set(m[1], m[2].trim());
    } else if (line.startsWith('N ')) unmounted.push(line.slice(2));
    else throw new ParseError(source, line.startsWith('no process') ? line : `unexpected line "${line.slice(0, 80)}"`, text.slice(0, 300));
  }
  if (!lines.length) throw new ParseError(source, 'no /proc/<pid>/cgroup lines');
  return { lines, files, unmounted };
}

/** v1 reports "no limit" as the page-counter maximum (9223372036854771712); anything that large is unlimited. */
const V1_UNLIMITED = 2 ** 62;

export interface EnforcedLimits {
  layout: 'v1' | 'v2';
  /** Bytes, Infinity when unlimited, undefined when the controller is not there. */
  memoryMax?: number;
  memoryHigh?: number;
  /** µs of CPU per second of wall time (400% → 4_000_000); Infinity when unlimited. */
  cpuQuotaPerSecUs?: number;
  pidsMax?: number;
  /** What → "file = value", for evidence. */
  sources: Record<string, string>;
}

function num(v: string, file: string, source: string): number {
  if (!/^-?\d+$/.test(v)) throw new ParseError(source, `${file} holds "${v}", not a number`);
  return Number(v);
}

function maxOrNum(v: string, file: string, source: string): number {
  return v === 'max' ? Infinity : num(v, file, source);
}

type Kind = 'memoryMax' | 'memoryHigh' | 'cpuQuotaPerSecUs' | 'pidsMax';

/**
 * Interpret the limit files. Limits nest, so the effective one is the smallest over the process's
 * cgroup and its ancestors (a container's processes sit in a `payload` child of the limited unit).
 * Throws ParseError (→ `error`) for a layout it does not know.
 */
export function enforcedLimits(read: CgroupRead, source: string): EnforcedLimits {
  const dirs = new Map<string, Map<string, string>>();
  for (const [path, value] of read.files) {
    const i = path.lastIndexOf('/');
    const dir = path.slice(0, i);
    if (!dirs.has(dir)) dirs.set(dir, new Map());
    dirs.get(dir)!.set(path.slice(i + 1), value);
  }
  const has = (f: string) => [...dirs.values()].some((d) => d.has(f));
  const hasV1 = read.lines.some((l) => l.controllers.length > 0);
  let layout: 'v1' | 'v2';
  if (has('memory.limit_in_bytes') || (hasV1 && has('cpu.cfs_quota_us'))) layout = 'v1';
  else if (has('memory.max') || has('cpu.max')) layout = 'v2';
  else {
    const desc = read.lines.map((l) => `${l.id}:${l.controllers.join(',')}:${l.path}`).join('; ');
    throw new ParseError(
      source,
      `unknown cgroup layout: no v1 memory/cpu limit files and no v2 memory.max/cpu.max for ${desc}${read.unmounted.length ? ` (controllers not mounted: ${read.unmounted.join(', ')})` : ''}`,
    );
  }
  const out: EnforcedLimits = { layout, sources: {} };
  const take = (kind: Kind, value: number, evidence: string) => {
    const cur = out[kind];
    // Ties keep the first (deepest) level: that is where the limit was most likely set.
    if (cur === undefined || value < cur) {
      out[kind] = value;
      out.sources[kind] = evidence;
    } else if (cur === Infinity && value === Infinity && !out.sources[kind]) out.sources[kind] = evidence;
  };
  for (const [dir, files] of dirs) {
    const at = (f: string) => `${dir}/${f} = ${files.get(f)}`;
    if (layout === 'v1') {
      const mem = files.get('memory.limit_in_bytes');
      if (mem !== undefined) {
        const n = num(mem, `${dir}/memory.limit_in_bytes`, source);
        take('memoryMax', n >= V1_UNLIMITED ? Infinity : n, at('memory.limit_in_bytes'));
      }
      const q = files.get('cpu.cfs_quota_us');
      const p = files.get('cpu.cfs_period_us');
      if (q !== undefined && p !== undefined) {
        const quota = num(q, `${dir}/cpu.cfs_quota_us`, source);
        const period = num(p, `${dir}/cpu.cfs_period_us`, source);
        if (period <= 0) throw new ParseError(source, `${dir}/cpu.cfs_period_us = ${p} is not a period`);
        take('cpuQuotaPerSecUs', quota < 0 ? Infinity : Math.round((quota / period) * 1_000_000), `${at('cpu.cfs_quota_us')}, ${at('cpu.cfs_period_us')}`);
      }
    } else {
      const mem = files.get('memory.max');
      if (mem !== undefined) take('memoryMax', maxOrNum(mem, `${dir}/memory.max`, source), at('memory.max'));
      const high = files.get('memory.high');
      if (high !== undefined) take('memoryHigh', maxOrNum(high, `${dir}/memory.high`, source), at('memory.high'));
      const cpu = files.get('cpu.max');
      if (cpu !== undefined) {
        const m = /^(max|\d+)\s+(\d+)$/.exec(cpu);
        if (!m) throw new ParseError(source, `${dir}/cpu.max holds "${cpu}", expected "QUOTA PERIOD"`);
        take('cpuQuotaPerSecUs', m[1] === 'max' ? Infinity : Math.round((Number(m[1]) / Number(m[2])) * 1_000_000), at('cpu.max'));
      }
    }
    const pids = files.get('pids.max');
    if (pids !== undefined) take('pidsMax', maxOrNum(pids, `${dir}/pids.max`, source), at('pids.max'));
  }
  return out;
}
