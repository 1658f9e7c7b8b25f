// One interface for every output format, fed by the engine's events (vitest's reporter model).
import type { HostKeyInfo, NodeIdentity, NodeSpec, Result, Status } from '../core/types.js';
import type { CheckSet } from './metadata.js';

export interface RunMeta {
  harness: { name: 'leafcert'; version: string };
  /** ISO 8601 UTC. */
  startedAt: string;
  inventory: { path: string; sha256: string };
  argv: string[];
  nodes: NodeSpec[];
  /** Check ids planned, summed over nodes (a check id may yield several results, one per subject). */
  planned: number;
  /** Suite runs planned, summed over nodes. */
  plannedSuites?: number;
  /** The planned checks' ids and the digest of their definitions. */
  checks?: CheckSet;
  /** Suite names planned per node, in reporting order (the console's heartbeat names what is pending). */
  suites?: Record<string, string[]>;
  /** `run --shard K/N`: this run's place among the shards and every node of the inventory, in order (`leafcert merge`). */
  shard?: ShardMeta;
}

export interface ShardMeta {
  index: number;
  total: number;
  inventoryNodes: string[];
}

export type Counts = Record<Status, number>;

export interface RunSummary {
  finishedAt: string;
  durationMs: number;
  counts: Counts;
  perNode: Record<string, Counts>;
  exitCode: number;
  /** A signal stopped the run: unfinished suites were reported as `error` ("interrupted"). */
  interrupted: boolean;
  warnings: string[];
  /** The node that finished last and the steps it waited on (src/engine/schedule.ts). */
  criticalPath?: { node: string; ms: number; steps: { what: string; startMs: number; ms: number }[]; text: string };
}

/** How checking a node went, for evidence and the bench: wall time and commands/channels opened. */
export interface NodeStats {
  /** "ssh root@10.250.0.2:22", "local"; absent when no connection was made. */
  transport?: string;
  /** Host.roundTrips at the end: commands and channels opened over the node's one connection. */
  roundTrips: number;
  /** Time to open the connection (ssh handshake + auth). */
  connectMs?: number;
  durationMs: number;
  /** The ssh host key as presented and how it was trusted. */
  hostKey?: HostKeyInfo;
}

export interface Reporter {
  onRunStart(meta: RunMeta): void;
  onNodeStart(node: NodeSpec, identity: NodeIdentity): void;
  onResult(r: Result): void;
  onNodeEnd(node: NodeSpec, stats?: NodeStats): void;
  /** Non-fatal notices (expired waiver, identity not gathered). */
  onWarning?(message: string): void;
  /** Long-running suite progress (a TTY shows it; files ignore it). */
  onProgress?(node: string, message: string): void;
  onRunEnd(summary: RunSummary): Promise<void>;
}

export function emptyCounts(): Counts {
  return { pass: 0, fail: 0, error: 0, skipped: 0, waived: 0, manual: 0 };
}

/** Why a run whose every result is skipped or manual exits 3: it proved nothing. */
export const NOTHING_EVIDENCED = 'nothing was evidenced: every result is skipped or manual';
