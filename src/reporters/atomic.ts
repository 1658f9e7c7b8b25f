// Report files are rewritten whole (temp file + rename) so a crash or a kill leaves the last valid
// version. While the run goes on they are rewritten at most once per interval, and never more
// often than COST_FACTOR times the last write took: a thousand-node run must not spend its time
// rewriting a growing file at every node end (200 nodes make an 8 MB JSON report; at 10× the
// partial writes were ~10% of the harness's CPU).
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { printable } from '../core/text.js';
import { ensureReportDir } from './report-path.js';

/** The gap after a partial write is at least this many times what it cost: writes stay ≤ ~4% of the run. */
export const COST_FACTOR = 25;

/** How long after a partial write that took `lastCostMs` the next one may go out. */
export function partialGapMs(intervalMs: number, lastCostMs: number): number {
  return Math.max(intervalMs, lastCostMs * COST_FACTOR);
}

export class AtomicFile {
  private timer: NodeJS.Timeout | undefined;
  private lastWriteAt = 0;
  private lastCostMs = 0;
  /** The option that asked for this file (`--junit`), so the error line names it. */
  flag?: string;

  constructor(
    readonly path: string,
    private readonly render: (final: boolean) => string,
    private readonly intervalMs = 1000,
  ) {}

  /** Write now if the last write is old enough, else once the gap has passed (coalescing bursts). */
  soon(): void {
    if (this.timer) return;
    const wait = this.lastWriteAt + partialGapMs(this.intervalMs, this.lastCostMs) - Date.now();
    if (wait <= 0) return this.tryWrite();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.tryWrite();
    }, wait);
    this.timer.unref();
  }

  /** An interim write failing (from a timer) must not crash the run; the final write reports it. */
  private tryWrite(): void {
    try {
      this.write(false);
    } catch {
      /* retried at the next write; the final one throws */
    }
  }

  write(final: boolean): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const t0 = Date.now();
    const tmp = `${this.path}.tmp-${process.pid}`;
    const text = this.render(final);
    try {
      // Never a recursive mkdir: it spins forever under /proc (see report-path.ts).
      ensureReportDir(this.path);
      writeFileSync(tmp, text);
      renameSync(tmp, this.path);
    } catch (e) {
      try {
        rmSync(tmp, { force: true });
      } catch {
        /* the write itself failed: nothing to clean */
      }
      // Name the report, not the temp file: this line is what CI shows.
      const err = e as NodeJS.ErrnoException;
      const what = `${this.flag ? `${this.flag} ` : ''}report ${printable(this.path)}`;
      throw new Error(`${what} could not be written: ${err.code ? `${err.code} ` : ''}${printable(err.message.replace(/^\w+: /, ''))}`);
    }
    this.lastWriteAt = Date.now();
    this.lastCostMs = this.lastWriteAt - t0;
  }
}
