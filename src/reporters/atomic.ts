// Report files are rewritten whole (temp file + rename), at most once per interval while the run
// goes on and at once at node and run end, so a crash or a kill leaves the last valid version.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export class AtomicFile {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly path: string,
    private readonly render: (final: boolean) => string,
    private readonly intervalMs = 1000,
  ) {}

  /** Write soon (coalescing bursts of results). */
  schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      // A failed interim write must not crash the run from a timer; the final write reports it.
      try {
        this.write(false);
      } catch {
        /* retried at the next node end and at run end, which throw */
      }
    }, this.intervalMs);
    this.timer.unref();
  }

  write(final: boolean): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.tmp-${process.pid}`;
    writeFileSync(tmp, this.render(final));
    renameSync(tmp, this.path);
  }
}
