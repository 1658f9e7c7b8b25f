// The change between two certifications (two JSON evidence reports): what newly fails, what was
// fixed, what else changed status, whose evidence changed, which nodes came or went, and which
// waivers run out soon. Pure: reading files and printing are cli.ts's.
import { isDeepStrictEqual } from 'node:util';
import type { Result, Status, Waiver } from '../core/types.js';

/** The parts of a JSON evidence report (schemas/evidence.schema.json) a diff reads. */
export interface EvidenceDoc {
  harness: { name: 'leafcert'; version?: string };
  complete?: boolean;
  run: { startedAt?: string; finishedAt?: string; exitCode?: number; inventory?: { path?: string; sha256?: string } };
  nodes: { name: string }[];
  results: Result[];
}

/** Not a leafcert JSON evidence report: the reason, for one line naming the file. */
export function notEvidence(doc: unknown): string | undefined {
  const d = doc as Partial<EvidenceDoc> | null;
  if (typeof d !== 'object' || d === null || Array.isArray(d)) return 'not a JSON object';
  if (d.harness?.name !== 'leafcert') return 'no "harness": {"name": "leafcert"}';
  if (typeof d.run !== 'object' || d.run === null) return 'no "run" object';
  if (!Array.isArray(d.nodes) || !d.nodes.every((n) => typeof n?.name === 'string')) return '"nodes" is not a list of named nodes';
  if (!Array.isArray(d.results)) return 'no "results" list';
  const bad = d.results.findIndex((r) => typeof r?.id !== 'string' || typeof r?.node !== 'string' || typeof r?.subject !== 'string' || typeof r?.status !== 'string');
  if (bad >= 0) return `results[${bad}] lacks id, node, subject or status`;
  return undefined;
}

export interface Side {
  status: Status;
  message: string;
  expected?: unknown;
  observed?: unknown;
}

export interface Change {
  id: string;
  node: string;
  subject: string;
  title: string;
  severity: string;
  /** Absent: not in that report. */
  old?: Side;
  new?: Side;
}

export interface ExpiringWaiver {
  check: string;
  node: string;
  subject: string;
  expires: string;
  /** Whole days from `now` to the end of the expiry day (UTC); negative = expired. */
  daysLeft: number;
  approvedBy: string;
  reason: string;
  /** The waiver had already expired in the new run (not applied there). */
  expired: boolean;
}

export interface RunDiff {
  old: { startedAt?: string; exitCode?: number; complete?: boolean };
  new: { startedAt?: string; exitCode?: number; complete?: boolean };
  /** fail or error now, and neither before (or not there before). */
  newFailures: Change[];
  /** fail or error before, pass now. */
  fixed: Change[];
  /** Every other status change, appearing or disappearing results included. */
  statusChanged: Change[];
  /** Same status, different expected or observed. */
  evidenceChanged: Change[];
  /** Same status, evidence changed only in VOLATILE_KEY fields (clocks, timings): counted, not listed. */
  volatileOnly: number;
  nodesAdded: string[];
  nodesRemoved: string[];
  expiringWaivers: ExpiringWaiver[];
  expiringDays: number;
}

const bad = (s?: Status) => s === 'fail' || s === 'error';

/**
 * Evidence that differs on every run whatever the node's state: clocks read during the run,
 * timings, uptimes, process ids. Compared without them, or every diff would list every TLS and
 * health check. A status change still shows however these moved.
 */
export const VOLATILE_KEY = /clock$|Ms$|^(samples|uptime|pid)$/i;

function stable(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stable);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).filter(([k]) => !VOLATILE_KEY.test(k)).map(([k, x]) => [k, stable(x)]));
  return v;
}

function side(r: Result): Side {
  return { status: r.status, message: r.message, expected: r.evidence?.expected, observed: r.evidence?.observed };
}

/** id + node + subject; a repeated key (same check, node and subject twice) is numbered in order. */
function keyed(results: Result[]): Map<string, Result> {
  const m = new Map<string, Result>();
  for (const r of results) {
    const base = JSON.stringify([r.id, r.node, r.subject]);
    let k = base;
    for (let i = 2; m.has(k); i++) k = `${base}#${i}`;
    m.set(k, r);
  }
  return m;
}

const DAY = 86_400_000;

/** Days left of a waiver valid through `expires` (YYYY-MM-DD, UTC) at `now`: 0 = its last day. */
export function daysLeft(expires: string, now: Date): number {
  const end = Date.parse(`${expires}T00:00:00Z`) + DAY;
  return Math.ceil((end - now.getTime()) / DAY) - 1;
}

export function diffRuns(oldDoc: EvidenceDoc, newDoc: EvidenceDoc, opts: { expiringDays: number; now: Date }): RunDiff {
  const before = keyed(oldDoc.results);
  const after = keyed(newDoc.results);
  const out: RunDiff = {
    old: { startedAt: oldDoc.run.startedAt, exitCode: oldDoc.run.exitCode, complete: oldDoc.complete },
    new: { startedAt: newDoc.run.startedAt, exitCode: newDoc.run.exitCode, complete: newDoc.complete },
    newFailures: [],
    fixed: [],
    statusChanged: [],
    evidenceChanged: [],
    volatileOnly: 0,
    nodesAdded: [],
    nodesRemoved: [],
    expiringWaivers: [],
    expiringDays: opts.expiringDays,
  };
  for (const k of new Set([...before.keys(), ...after.keys()])) {
    const o = before.get(k);
    const n = after.get(k);
    const r = (n ?? o)!;
    const c: Change = { id: r.id, node: r.node, subject: r.subject, title: r.title ?? r.id, severity: r.severity ?? '', ...(o ? { old: side(o) } : {}), ...(n ? { new: side(n) } : {}) };
    if (bad(n?.status) && !bad(o?.status)) out.newFailures.push(c);
    else if (bad(o?.status) && n?.status === 'pass') out.fixed.push(c);
    else if (o?.status !== n?.status) out.statusChanged.push(c);
    else if (!isDeepStrictEqual(stable(c.old?.expected), stable(c.new?.expected)) || !isDeepStrictEqual(stable(c.old?.observed), stable(c.new?.observed))) out.evidenceChanged.push(c);
    else if (!isDeepStrictEqual(c.old?.observed, c.new?.observed)) out.volatileOnly++;
  }
  const oldNodes = new Set(oldDoc.nodes.map((n) => n.name));
  const newNodes = new Set(newDoc.nodes.map((n) => n.name));
  out.nodesAdded = [...newNodes].filter((n) => !oldNodes.has(n));
  out.nodesRemoved = [...oldNodes].filter((n) => !newNodes.has(n));

  // Waivers the new run met (applied, or expired and not applied), once each.
  const seen = new Set<string>();
  for (const r of newDoc.results) {
    for (const [w, expired] of [
      [r.waiver, false],
      [r.expiredWaiver, true],
    ] as [Waiver | undefined, boolean][]) {
      if (!w || typeof w.expires !== 'string') continue;
      const d = daysLeft(w.expires, opts.now);
      const k = JSON.stringify([w.check, r.node, r.subject, w.expires]);
      if (Number.isNaN(d) || d > opts.expiringDays || seen.has(k)) continue;
      seen.add(k);
      out.expiringWaivers.push({ check: w.check, node: r.node, subject: r.subject, expires: w.expires, daysLeft: d, approvedBy: w.approvedBy, reason: w.reason, expired: expired || d < 0 });
    }
  }
  out.expiringWaivers.sort((a, b) => a.daysLeft - b.daysLeft);
  return out;
}

/** 1 when something newly fails or errors (the CI gate on regressions), else 0. */
export function diffExitCode(d: RunDiff): number {
  return d.newFailures.length > 0 ? 1 : 0;
}
