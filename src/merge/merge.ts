// `leafcert merge`: the JSON reports of `run --shard K/N` jobs joined into one run's reports. The
// JSON evidence holds every result, node, identity and warning, so the shards' results are
// replayed through the same reporters a single run uses (JUnit, TAP, JSON, HTML): same results,
// counts, verdict and exit code, whatever format is asked for. Shards of different inventories,
// check sets or harness versions are refused; a missing, duplicated or unfinished shard is named.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { NodeIdentity, NodeSpec, Result } from '../core/types.js';
import { exitCodeFor } from '../engine/run.js';
import type { Counts, NodeStats, Reporter, RunMeta, RunSummary, ShardMeta } from '../reporters/types.js';
import { emptyCounts } from '../reporters/types.js';

/** Inputs that cannot make one run (exit 2), or a run that is not all there (exit 3). */
export class MergeError extends Error {
  constructor(message: string, readonly exitCode: 2 | 3) {
    super(message);
    this.name = 'MergeError';
  }
}

interface NodeDoc {
  name: string;
  host?: string;
  transport: string;
  expect: string;
  labels?: Record<string, string>;
  identity: NodeIdentity;
  startedAt: string;
  finishedAt?: string;
  stats?: NodeStats;
}

export interface ShardDoc {
  file: string;
  complete: boolean;
  harness: { name: 'leafcert'; version: string };
  run: { startedAt: string; finishedAt?: string; exitCode?: number; interrupted?: boolean; argv: string[]; inventory: { path: string; sha256: string }; shard?: ShardMeta };
  checks: { sha256: string; ids: string[] };
  nodes: NodeDoc[];
  results: (Result & { impact?: number })[];
  warnings: string[];
}

function isEvidence(d: unknown): d is ShardDoc {
  const o = d as Partial<ShardDoc> | null;
  return !!o && typeof o === 'object' && typeof (o as { schemaVersion?: unknown }).schemaVersion === 'number' && !!o.run && Array.isArray(o.results) && Array.isArray(o.nodes);
}

/** JSON evidence files under `p` (a file, or a directory searched a few levels deep: CI artifacts nest). */
function evidenceFiles(p: string, depth = 0): string[] {
  let st;
  try {
    st = statSync(p);
  } catch (e) {
    throw new MergeError(`${p}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`, 2);
  }
  if (!st.isDirectory()) return [p];
  if (depth > 3) return [];
  return readdirSync(p)
    .sort()
    .flatMap((f) => {
      const q = join(p, f);
      const s = statSync(q, { throwIfNoEntry: false });
      if (s?.isDirectory()) return evidenceFiles(q, depth + 1);
      return f.endsWith('.json') ? [q] : [];
    });
}

/** Read every shard report among `from` (files or directories); a directory's other JSON files are skipped. */
export function readShards(from: string[]): ShardDoc[] {
  const docs: ShardDoc[] = [];
  for (const f of from) {
    const files = evidenceFiles(resolve(f));
    let found = 0;
    for (const file of files) {
      const explicit = file === resolve(f);
      let d: unknown;
      try {
        d = JSON.parse(readFileSync(file, 'utf8'));
      } catch (e) {
        if (explicit) throw new MergeError(`${file}: not a JSON report: ${(e as Error).message.split('\n')[0]}`, 2);
        continue;
      }
      if (!isEvidence(d)) {
        if (explicit) throw new MergeError(`${file}: not a leafcert JSON report (run --json)`, 2);
        continue;
      }
      docs.push({ ...d, file });
      found++;
    }
    if (!found) throw new MergeError(`${f}: no leafcert JSON report in it (each shard's job must run with --json)`, 2);
  }
  return docs;
}

/** Refuse what cannot be one run; name a missing or duplicated shard. Returns the shards in index order. */
export function checkShards(docs: ShardDoc[]): ShardDoc[] {
  const notShard = docs.find((d) => !d.run.shard);
  if (notShard) throw new MergeError(`${notShard.file}: not a shard's report (its run had no --shard K/N)`, 2);
  const first = docs[0];
  const fs = first.run.shard!;
  for (const d of docs.slice(1)) {
    const s = d.run.shard!;
    const differ = (what: string, a: string, b: string) => new MergeError(`${d.file} and ${first.file} are not shards of one run: ${what} differ (${b} vs ${a})`, 2);
    if (d.run.inventory.sha256 !== first.run.inventory.sha256) throw differ('inventories (sha256)', first.run.inventory.sha256 || 'unknown', d.run.inventory.sha256 || 'unknown');
    if (d.checks.sha256 !== first.checks.sha256) throw differ('check sets (sha256)', first.checks.sha256, d.checks.sha256);
    if (d.harness.version !== first.harness.version) throw differ('leafcert versions', first.harness.version, d.harness.version);
    if (s.total !== fs.total) throw differ('shard counts', `/${fs.total}`, `/${s.total}`);
    if (s.inventoryNodes.join('\n') !== fs.inventoryNodes.join('\n')) throw differ('inventory node lists', `${fs.inventoryNodes.length} nodes`, `${s.inventoryNodes.length} nodes`);
  }
  const byIndex = new Map<number, ShardDoc>();
  for (const d of docs) {
    const k = d.run.shard!.index;
    const other = byIndex.get(k);
    if (other) throw new MergeError(`shard ${k}/${fs.total} given twice: ${other.file} and ${d.file}`, 2);
    byIndex.set(k, d);
  }
  const missing = Array.from({ length: fs.total }, (_, i) => i + 1).filter((k) => !byIndex.has(k));
  if (missing.length) {
    throw new MergeError(`shard ${missing.map((k) => `${k}/${fs.total}`).join(', ')} missing: no report among the inputs; its nodes were not checked`, 3);
  }
  const partial = docs.find((d) => !d.complete);
  if (partial) throw new MergeError(`shard ${partial.run.shard!.index}/${fs.total} (${partial.file}) is partial (complete=false): its run did not finish`, 3);
  const seen = new Map<string, string>();
  for (const d of docs) {
    for (const n of d.nodes) {
      const where = seen.get(n.name);
      if (where) throw new MergeError(`node ${n.name} is in two shards: ${where} and ${d.file}`, 2);
      seen.set(n.name, d.file);
    }
  }
  const unchecked = fs.inventoryNodes.filter((n) => !seen.has(n));
  if (unchecked.length) throw new MergeError(`${unchecked.length} node(s) of the inventory are in no shard's report: ${unchecked.slice(0, 10).join(', ')}${unchecked.length > 10 ? ', …' : ''}`, 3);
  return [...byIndex.values()].sort((a, b) => a.run.shard!.index - b.run.shard!.index);
}

function nodeSpec(n: NodeDoc): NodeSpec {
  // Reporters read the name, address, transport, expectation and labels; the ssh settings stayed with the shard.
  return { name: n.name, ...(n.host ? { host: n.host } : {}), transport: n.transport, expect: n.expect, ...(n.labels ? { labels: n.labels } : {}) } as NodeSpec;
}

/**
 * Replay the shards into `reporters` as one run: nodes in inventory order, each node's results in
 * the order its shard reported them. The exit code follows the run's rule over every result; a
 * shard that ended 3 for a reason results do not show (a report it could not write) keeps 3.
 */
export async function mergeShards(shards: ShardDoc[], reporters: Reporter[], argv: string[]): Promise<{ exitCode: number; results: Result[] }> {
  const first = shards[0];
  const order = first.run.shard!.inventoryNodes;
  const nodeDoc = new Map<string, NodeDoc>();
  const byNode = new Map<string, Result[]>();
  for (const d of shards) {
    for (const n of d.nodes) nodeDoc.set(n.name, n);
    for (const { impact: _impact, ...r } of d.results) {
      let l = byNode.get(r.node);
      if (!l) byNode.set(r.node, (l = []));
      l.push(r as Result);
    }
  }
  const nodes = order.filter((n) => nodeDoc.has(n)).map((n) => nodeDoc.get(n)!);
  const started = shards.map((d) => d.run.startedAt).sort()[0];
  const meta: RunMeta = {
    harness: first.harness,
    startedAt: started,
    inventory: first.run.inventory,
    argv,
    nodes: nodes.map(nodeSpec),
    planned: shards.reduce((n, d) => n + new Set(d.results.map((r) => `${r.node}\n${r.id}`)).size, 0),
    checks: { ids: first.checks.ids, sha256: first.checks.sha256 },
  };
  for (const r of reporters) r.onRunStart(meta);
  // Inventory warnings come from every shard: said once.
  const warnings = [...new Set(shards.flatMap((d) => d.warnings))];
  for (const w of warnings) for (const r of reporters) r.onWarning?.(w);
  const results: Result[] = [];
  const counts = emptyCounts();
  const perNode: Record<string, Counts> = {};
  for (const n of nodes) {
    const spec = nodeSpec(n);
    perNode[n.name] = emptyCounts();
    for (const rep of reporters) rep.onNodeStart(spec, n.identity);
    for (const r of byNode.get(n.name) ?? []) {
      results.push(r);
      counts[r.status]++;
      perNode[n.name][r.status]++;
      for (const rep of reporters) rep.onResult(r);
    }
    for (const rep of reporters) rep.onNodeEnd(spec, n.stats);
  }
  const interrupted = shards.some((d) => d.run.interrupted);
  let exitCode = exitCodeFor(results, interrupted);
  if (exitCode !== 1 && shards.some((d) => d.run.exitCode === 3)) exitCode = 3;
  const finishedAt = shards.map((d) => d.run.finishedAt ?? d.run.startedAt).sort().at(-1)!;
  const summary: RunSummary = {
    finishedAt,
    // The shards ran side by side: the run took from the first start to the last finish.
    durationMs: Math.max(0, Date.parse(finishedAt) - Date.parse(started)),
    counts,
    perNode,
    exitCode,
    interrupted,
    warnings,
  };
  for (const r of reporters) {
    try {
      await r.onRunEnd(summary);
    } catch (e) {
      process.stderr.write(`leafcert: ${(e as Error).message.split('\n')[0]}\n`);
      exitCode = 3;
    }
  }
  return { exitCode, results };
}
