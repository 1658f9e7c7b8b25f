// What a limits expectation asks for, in the units the probe reports (bytes, CPU µs per second,
// tasks), and how it reads beside what was observed.
import { formatSize, parseMemoryLimit, parsePercent, scaleMemory } from '../../src/core/units.js';
import type { Limits } from '../../src/probes/limits.js';

export interface LimitSpec {
  /** A size (8G), or a share of the node's memory (75%). */
  memoryMax?: string;
  memoryHigh?: string;
  cpuQuota?: string;
  tasksMax?: number | 'infinity';
}

/** The limits a spec asks for; a percentage of memory needs the node's MemTotal (NaN without it). */
export function wanted(spec: LimitSpec, memTotal: number | undefined): Limits {
  const memory = (v: string | undefined) => {
    if (v === undefined) return undefined;
    const m = parseMemoryLimit(v);
    return 'bytes' in m ? m.bytes : memTotal === undefined ? NaN : scaleMemory(m.share, memTotal);
  };
  return {
    memoryMax: memory(spec.memoryMax),
    memoryHigh: memory(spec.memoryHigh),
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
export const show = (l: Partial<Limits>) => Object.fromEntries(Object.entries(l).filter(([, v]) => v !== undefined).map(([k, v]) => [LABEL[k as keyof Limits], fmt[k as keyof Limits](v as number)]));

export function compare(want: Limits, got: Partial<Limits>): { diffs: string[]; missing: string[] } {
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
