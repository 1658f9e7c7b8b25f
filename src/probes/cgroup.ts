// Enforced limits of a process, read from its cgroup: /proc/<pid>/cgroup names the directories
// (v1: one line per hierarchy `ID:controllers:path`; v2: `0::path`), the mount points come from
// /proc/self/mountinfo, and the files hold the kernel's view — v2 memory.max, memory.high, cpu.max
// ("QUOTA PERIOD" in µs), pids.max; v1 memory.limit_in_bytes, cpu.cfs_quota_us / cpu.cfs_period_us,
// pids.max. These are what is enforced, whatever a unit file declares.
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
 * Shell functions for the node: `cg_files PID` prints `C <line>` for each /proc/PID/cgroup line,
 * `F <file> <value>` for each limit file found, and `N <controller>` when a v1 controller is not mounted.
 */
export const CGROUP_SH = String.raw`
# Mount points of the controllers, read once: cgm_memory, cgm_cpu, cgm_pids (v1) and cgm_v2.
cgm_memory= cgm_cpu= cgm_pids= cgm_v2=
eval "$(awk '{for(i=7;i<=NF;i++) if($i=="-") break; if($(i+1)=="cgroup2" && !v2){print "cgm_v2=" $5; v2=1} else if($(i+1)=="cgroup"){n=split($(i+3),o,","); for(j=1;j<=n;j++) if(o[j]=="memory"||o[j]=="cpu"||o[j]=="pids") print "cgm_" o[j] "=" $5}}' /proc/self/mountinfo)"
cg_v1_mount() { case $1 in memory) echo "$cgm_memory";; cpu) echo "$cgm_cpu";; pids) echo "$cgm_pids";; esac; }
cg_v2_mount() { echo "$cgm_v2"; }
cg_walk() { # MOUNT PATH FILES...: the files of PATH and of every ancestor (limits nest: the smallest wins)
  m=$1; p=$2; shift 2
  while :; do
    d=$m$p; [ "$p" = / ] && d=$m
    for f in "$@"; do [ -r "$d/$f" ] && printf 'F %s %s\n' "$d/$f" "$(cat "$d/$f")"; done
    case "$p" in /|'') break;; esac
    p=${"$"}{p%/*}; [ -n "$p" ] || p=/
  done
}
cg_line() { # one /proc/PID/cgroup line
  printf 'C %s\n' "$1"
  rest=${"$"}{1#*:}; ctrls=${"$"}{rest%%:*}; path=${"$"}{rest#*:}
  if [ -z "$ctrls" ]; then
    m=$(cg_v2_mount); [ -n "$m" ] || return 0
    cg_walk "$m" "$path" memory.max memory.high cpu.max pids.max
  else
    for c in $(IFS=,; echo $ctrls); do
      case $c in memory) fs="memory.limit_in_bytes";; cpu) fs="cpu.cfs_quota_us cpu.cfs_period_us";; pids) fs="pids.max";; *) continue;; esac
      m=$(cg_v1_mount $c); [ -n "$m" ] || { echo "N $c"; continue; }
      cg_walk "$m" "$path" $fs
    done
  fi
}
cg_files() { # PID
  [ -r /proc/$1/cgroup ] || { echo "no process $1"; return 1; }
  while IFS= read -r l; do cg_line "$l"; done < /proc/$1/cgroup
}
cg_unit_files() { # CGROUP-PATH of a unit (systemctl show -p ControlGroup); same path in every hierarchy
  [ -n "$1" ] || { echo "no cgroup"; return 1; }
  m2=$(cg_v2_mount)
  if [ -n "$m2" ] && grep -qw memory "$m2/cgroup.controllers" 2>/dev/null; then cg_line "0::$1"
  else for c in memory cpu pids; do cg_line "0:$c:$1"; done; fi
}
`;

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
