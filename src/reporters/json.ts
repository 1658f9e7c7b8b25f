// JSON evidence for auditors and tooling; its shape is published in schemas/evidence.schema.json.
import type { NodeIdentity, NodeSpec, Result } from '../core/types.js';
import { FileReporter } from './file-reporter.js';
import { isNixos } from './identity.js';
import { checkMeta, checkSet, IMPACT, type CheckMeta } from './metadata.js';
import type { NodeStats } from './types.js';
import { emptyCounts } from './types.js';

export const EVIDENCE_SCHEMA_VERSION = 1;

interface NodeEntry {
  name: string;
  host?: string;
  transport: string;
  expect: string;
  labels?: Record<string, string>;
  identity: NodeIdentity;
  /** Stated, not left to the absence of NixOS fields. */
  nixos?: boolean;
  startedAt: string;
  finishedAt?: string;
  stats?: NodeStats;
}

export class JsonReporter extends FileReporter {
  private readonly nodes = new Map<string, NodeEntry>();
  private readonly results: Result[] = [];
  private readonly warnings: string[] = [];

  constructor(path: string, private readonly clock: () => Date = () => new Date()) {
    super(path);
  }

  render(final: boolean): string {
    // BigInt (e.g. a pg int8) has no JSON form: write it as a decimal string rather than fail.
    return JSON.stringify(this.document(final), (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2) + '\n';
  }

  onNodeStart(node: NodeSpec, identity: NodeIdentity): void {
    const nixos = isNixos(identity);
    this.nodes.set(node.name, {
      name: node.name,
      ...(node.host ? { host: node.host } : {}),
      transport: node.transport,
      expect: node.expect,
      ...(node.labels ? { labels: node.labels } : {}),
      identity,
      ...(nixos !== undefined ? { nixos } : {}),
      startedAt: this.clock().toISOString(),
    });
  }
  protected collect(r: Result): void {
    this.results.push(r);
  }
  override onNodeEnd(node: NodeSpec, stats?: NodeStats): void {
    const e = this.nodes.get(node.name);
    if (e) {
      e.finishedAt = this.clock().toISOString();
      if (stats) e.stats = stats;
    }
    super.onNodeEnd(node, stats);
  }
  onWarning(message: string): void {
    this.warnings.push(message);
  }

  document(final: boolean): object {
    const counts = emptyCounts();
    const perNode = new Map<string, ReturnType<typeof emptyCounts>>();
    for (const r of this.results) {
      counts[r.status]++;
      let c = perNode.get(r.node);
      if (!c) perNode.set(r.node, (c = emptyCounts()));
      c[r.status]++;
    }
    const m = this.meta;
    // The planned set when the engine gave it, else the checks seen so far.
    const set = m?.checks ?? checkSet(this.results.map((r) => r.id));
    const definitions: Record<string, CheckMeta> = {};
    for (const id of set.ids) {
      const d = checkMeta(id);
      if (d) definitions[id] = d;
    }
    return {
      schemaVersion: EVIDENCE_SCHEMA_VERSION,
      complete: final,
      harness: m?.harness ?? { name: 'leafcert', version: 'unknown' },
      run: {
        startedAt: m?.startedAt ?? this.clock().toISOString(),
        ...(this.summary
          ? { finishedAt: this.summary.finishedAt, durationMs: this.summary.durationMs, exitCode: this.summary.exitCode, interrupted: this.summary.interrupted, ...(this.summary.criticalPath ? { criticalPath: this.summary.criticalPath } : {}) }
          : {}),
        argv: m?.argv ?? [],
        inventory: m?.inventory ?? { path: '', sha256: '' },
        ...(m?.shard ? { shard: m.shard } : {}),
      },
      counts,
      checks: { sha256: set.sha256, ids: set.ids, definitions },
      nodes: this.byInventory(this.nodes.values(), (n) => n.name).map((n) => ({ ...n, counts: perNode.get(n.name) ?? emptyCounts() })),
      results: this.byInventory(this.results, (r) => r.node).map((r) => ({ ...r, impact: IMPACT[r.severity] ?? 0 })),
      warnings: this.warnings,
    };
  }
}
