// Namespaces of a process: `readlink /proc/<pid>/ns/<kind>` prints "net:[4026531840]"; two processes
// share a namespace exactly when the inode numbers match. uid_map tells whether a user namespace maps
// ids (a container with private users) or is the identity map of the initial namespace.
import { ParseError } from '../core/types.js';

export const NS_KINDS = ['net', 'pid', 'mnt', 'ipc', 'uts', 'cgroup', 'user'] as const;
export type NsKind = (typeof NS_KINDS)[number];
export type NsSet = Partial<Record<NsKind, string>>;

/** Shell that prints "<kind> <readlink>" for each namespace kind of PID (missing kinds print "<kind> -"). */
export function nsScript(pid: number | string): string {
  return `for n in ${NS_KINDS.join(' ')}; do printf '%s %s\\n' "$n" "$(readlink /proc/${pid}/ns/$n 2>/dev/null || echo -)"; done`;
}

export function parseNs(text: string, source: string): NsSet {
  const out: NsSet = {};
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const m = /^(\w+) (\S+)$/.exec(line.trim());
    if (!m || !(NS_KINDS as readonly string[]).includes(m[1])) throw new ParseError(source, `unexpected namespace line "${line}"`, text.slice(0, 300));
    if (m[2] === '-') continue;
    if (!/^\w+:\[\d+\]$/.test(m[2])) throw new ParseError(source, `"${m[2]}" is not a namespace link`, text.slice(0, 300));
    out[m[1] as NsKind] = m[2];
  }
  return out;
}

export interface UidMap {
  /** Lines of [inside, outside, count]. */
  ranges: [number, number, number][];
  /** True for `0 0 4294967295`: the initial user namespace's identity map (no private users). */
  identity: boolean;
}

export function parseUidMap(text: string, source: string): UidMap {
  const ranges: [number, number, number][] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const m = /^\s*(\d+)\s+(\d+)\s+(\d+)\s*$/.exec(line);
    if (!m) throw new ParseError(source, `unexpected uid_map line "${line}"`, text.slice(0, 200));
    ranges.push([Number(m[1]), Number(m[2]), Number(m[3])]);
  }
  if (!ranges.length) throw new ParseError(source, 'empty uid_map');
  const identity = ranges.length === 1 && ranges[0][0] === 0 && ranges[0][1] === 0 && ranges[0][2] === 4294967295;
  return { ranges, identity };
}
