// Which suite of a node starts first, and what the run waited for. A node is done when its slowest
// suite is, and suites share a bounded number of slots (suiteConcurrency): started in plan order, a
// long suite queued behind short ones finishes late, so the longest start first (LPT scheduling).
// The weights are what `npm run bench` measures for each suite on a full node (wall ms, rounded);
// a suite without a weight goes in the middle, in plan order.

/** Typical gather time (ms) of each suite on a full node, from the bench; only the order matters. */
export const SUITE_WEIGHT: Record<string, number> = {
  backup: 3000,
  isolation: 1500,
  secrets: 1500,
  monitoring: 1200,
  postgres: 1200,
  limits: 800,
  firewall: 500,
  audit: 400,
  config: 400,
  checklist: 300,
  tls: 100,
  health: 100,
};
const DEFAULT_WEIGHT = 600;

/** `items` longest first by their suite's weight; ties keep their order (the sort is stable). */
export function longestFirst<T>(items: T[], name: (t: T) => string, weights: Record<string, number> = SUITE_WEIGHT): T[] {
  const w = (t: T) => weights[name(t)] ?? DEFAULT_WEIGHT;
  return [...items].sort((a, b) => w(b) - w(a));
}

/** One step on a node's way: connecting, its identity, a suite from when it was queued to its results. */
export interface Span {
  what: string;
  startMs: number;
  endMs: number;
}

/** The chain of waits that decided the run's wall time: the node that finished last and what it waited on. */
export interface CriticalPath {
  node: string;
  /** ms from the run's start to that node's end. */
  ms: number;
  /** The node's own steps, in order, ms relative to the run's start. */
  steps: { what: string; startMs: number; ms: number }[];
  /** "leaf-1: connect 120 ms → identity 30 ms → backup 2.40 s (from +0.15 s)". */
  text: string;
}

const fmt = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`);

/**
 * From every node's spans (relative to the run's start): the node that ended last, its connect and
 * identity, and the suite that ended last on it (what the node waited for).
 */
export function criticalPath(nodes: Map<string, { connect?: Span; identity?: Span; suites: Span[] }>): CriticalPath | undefined {
  let best: { node: string; end: number; steps: Span[] } | undefined;
  for (const [node, n] of nodes) {
    const last = n.suites.reduce<Span | undefined>((a, s) => (!a || s.endMs > a.endMs ? s : a), undefined);
    const steps = [n.connect, n.identity, last].filter((s): s is Span => !!s);
    const end = Math.max(0, ...steps.map((s) => s.endMs));
    if (steps.length && (!best || end > best.end)) best = { node, end, steps };
  }
  if (!best) return undefined;
  const steps = best.steps.map((s) => ({ what: s.what, startMs: Math.round(s.startMs), ms: Math.round(s.endMs - s.startMs) }));
  const text = `${best.node}: ${best.steps.map((s, i) => `${s.what} ${fmt(s.endMs - s.startMs)}${i === best!.steps.length - 1 && best!.steps.length > 1 ? ` (from +${fmt(s.startMs)})` : ''}`).join(' → ')}`;
  return { node: best.node, ms: Math.round(best.end), steps, text };
}
