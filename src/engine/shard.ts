// `run --shard K/N`: CI systems already run N jobs in parallel (GitLab `parallel:`, GitHub Actions
// `strategy.matrix`); each job checks its share of the inventory and `leafcert merge` makes one
// run's reports of theirs. The assignment depends only on the inventory (node names and what is
// planned on each), so every job computes the same split without talking to the others.

export interface Shard {
  /** 1-based, as CI systems number their parallel jobs (CI_NODE_INDEX). */
  index: number;
  total: number;
}

/** "K/N" with 1 ≤ K ≤ N; anything else is a clear error (the caller makes it a usage error). */
export function parseShard(v: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(v);
  if (!m) throw new Error(`expected K/N (e.g. 2/4), got "${v}"`);
  const index = Number(m[1]);
  const total = Number(m[2]);
  if (total < 1 || index < 1 || index > total) throw new Error(`expected K/N with 1 ≤ K ≤ N, got "${v}"`);
  return { index, total };
}

/**
 * Node name → shard index (1-based). Longest-processing-time first: nodes by expected cost, most
 * expensive first (ties by name), each to the least loaded shard (ties to the lowest index). Stable:
 * the same inventory gives the same split in every job, whatever the order of its node list.
 */
export function assignShards(costs: Map<string, number>, total: number): Map<string, number> {
  const load = new Array<number>(total).fill(0);
  const out = new Map<string, number>();
  const order = [...costs].sort(([a, ca], [b, cb]) => cb - ca || (a < b ? -1 : a > b ? 1 : 0));
  for (const [name, cost] of order) {
    let best = 0;
    for (let k = 1; k < total; k++) if (load[k] < load[best]) best = k;
    load[best] += cost;
    out.set(name, best + 1);
  }
  return out;
}

/** Expected cost of a node: a connection, plus each planned suite's gathering and its checks. */
export function nodeCost(planned: { checkIds: string[] }[]): number {
  return 1 + planned.reduce((n, p) => n + 2 + p.checkIds.length, 0);
}
