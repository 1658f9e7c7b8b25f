// The lifecycle every file-backed report shares: keep the run's meta and summary, rewrite the file
// (throttled) as results arrive, and write it complete at the end. Each format keeps its own
// render().
import type { NodeIdentity, NodeSpec, Result } from '../core/types.js';
import { AtomicFile } from './atomic.js';
import type { NodeStats, Reporter, RunMeta, RunSummary } from './types.js';

export abstract class FileReporter implements Reporter {
  protected meta: RunMeta | undefined;
  protected summary: RunSummary | undefined;
  protected readonly file: AtomicFile;

  constructor(path: string) {
    this.file = new AtomicFile(path, (final) => this.render(final));
  }

  /** The whole file; `final` is false for the partial versions written while the run goes on. */
  abstract render(final: boolean): string;
  abstract onNodeStart(node: NodeSpec, identity: NodeIdentity): void;
  /** Keep the result for render(). */
  protected abstract collect(r: Result): void;

  /**
   * `items` with their nodes in the inventory's order (stable within a node): nodes start in
   * whatever order their connections and identities come back, and a report, like a merged one,
   * must not depend on that.
   */
  protected byInventory<T>(items: Iterable<T>, node: (t: T) => string): T[] {
    const rank = new Map((this.meta?.nodes ?? []).map((n, i) => [n.name, i] as const));
    const of = (t: T) => rank.get(node(t)) ?? Number.MAX_SAFE_INTEGER;
    return [...items].sort((a, b) => of(a) - of(b));
  }

  /** The option that asked for this report (`--junit`): a write error names it. */
  forFlag(flag: string): this {
    this.file.flag = flag;
    return this;
  }

  /**
   * A partial file from the start, so a run killed early still leaves one, and every format's
   * partial render says incomplete: a file that looks finished must never be the first one.
   */
  onRunStart(meta: RunMeta): void {
    this.meta = meta;
    this.file.write(false);
  }
  onResult(r: Result): void {
    this.collect(r);
    this.file.soon();
  }
  onNodeEnd(_node: NodeSpec, _stats?: NodeStats): void {
    this.file.soon();
  }
  /** Write the partial report now (what the interval timer does), e.g. before a risky step. */
  flush(): void {
    this.file.write(false);
  }
  async onRunEnd(summary: RunSummary): Promise<void> {
    this.summary = summary;
    this.file.write(true);
  }
}
