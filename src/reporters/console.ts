// The operator's view. On a TTY: one updating line per node. Otherwise (pipe, CI=true, NO_COLOR):
// plain lines, no escapes. Failures and errors are printed as they come, with expected vs observed;
// a summary closes the run.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { NodeIdentity, NodeSpec, Result } from '../core/types.js';
import { printable } from '../core/text.js';
import { hostKeyText } from './identity.js';
import { safeText, show } from './text.js';
import type { Counts, NodeStats, Reporter, RunMeta, RunSummary } from './types.js';
import { emptyCounts, NOTHING_EVIDENCED } from './types.js';

export interface ConsoleOptions {
  stream?: NodeJS.WriteStream | { write(s: string): boolean; isTTY?: boolean; columns?: number };
  /** Force plain output (tests). Default: plain unless a TTY without CI=true / NO_COLOR. */
  plain?: boolean;
  reportPaths?: string[];
  /**
   * Without a TTY, a line per running node when the log has been quiet this long (default 10 s,
   * 0 = never): a CI log must show a long node run is alive, and what it waits on.
   */
  heartbeatMs?: number;
  /**
   * Print each report's sha256 in the summary. Only when this reporter's onRunEnd runs after the
   * file reporters' (the CLI puts it last), or the digests would be of partial files.
   */
  digests?: boolean;
}

const STATUS_LABEL: Record<string, string> = {
  pass: 'PASS',
  fail: 'FAIL',
  error: 'ERROR',
  skipped: 'SKIP',
  manual: 'MANUAL',
  waived: 'WAIVED',
};

// Names, ids and paths are printed with control characters escaped (a node named "a\nb" must
// not print its error over two lines); free text keeps its words, newlines as spaces.
function line(s: string): string {
  return safeText(s, 2048).replace(/\n/g, ' ');
}

/** Evidence on the console is a pointer, not the record: the reports keep it whole. */
function brief(s: string, max = 300): string {
  const l = line(s);
  return l.length > max ? `${l.slice(0, max)}… (full text in the reports)` : l;
}

function digest(path: string): string {
  try {
    return `sha256:${createHash('sha256').update(readFileSync(path)).digest('hex')}`;
  } catch (e) {
    return `(not written: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
  }
}

export function countsText(c: Counts): string {
  const word: Record<keyof Counts, (n: number) => string> = {
    pass: () => 'passed',
    fail: () => 'failed',
    error: (n) => (n === 1 ? 'error' : 'errors'),
    skipped: () => 'skipped',
    manual: () => 'manual',
    waived: () => 'waived',
  };
  const parts = (['pass', 'fail', 'error', 'skipped', 'manual', 'waived'] as const).filter((k) => c[k] > 0).map((k) => `${c[k]} ${word[k](c[k])}`);
  return parts.length ? parts.join(', ') : 'no checks';
}

export class ConsoleReporter implements Reporter {
  private readonly out: NonNullable<ConsoleOptions['stream']>;
  private readonly tty: boolean;
  private readonly color: boolean;
  private readonly rows = new Map<string, { counts: Counts; state: 'waiting' | 'running' | 'done'; progress?: string; startedMs?: number; suitesDone: Set<string> }>();
  private drawn = 0;
  private planned: Record<string, string[]> = {};
  private runStartMs = 0;
  private lastWriteMs = 0;
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(private readonly opts: ConsoleOptions = {}) {
    this.out = opts.stream ?? process.stdout;
    const env = process.env;
    this.tty = !opts.plain && Boolean(this.out.isTTY) && env.CI !== 'true' && env.NO_COLOR === undefined && env.TERM !== 'dumb';
    this.color = this.tty;
  }

  private paint(code: string, s: string): string {
    return this.color ? `\x1b[${code}m${s}\x1b[0m` : s;
  }

  /** Print above the live block (TTY) or as a plain line. */
  private print(s: string): void {
    this.erase();
    this.out.write(s + '\n');
    this.lastWriteMs = Date.now();
    this.draw();
  }

  /** One line per running node: elapsed, the suites it still waits on, results so far. */
  private beat(): void {
    const now = Date.now();
    const every = this.opts.heartbeatMs ?? 10_000;
    if (now - this.lastWriteMs < every) return;
    const secs = (ms: number) => `${Math.round(ms / 1000)}s`;
    const running = [...this.rows.entries()].filter(([, r]) => r.state === 'running');
    const lines = running.map(([name, r]) => {
      const pending = (this.planned[name] ?? []).filter((su) => !r.suitesDone.has(su));
      const done = Object.values(r.counts).reduce((a, b) => a + b, 0);
      const what = pending.length ? `waiting on ${pending.join(', ')}` : 'finishing';
      return `… ${printable(name)}: still checking after ${secs(now - (r.startedMs ?? this.runStartMs))}, ${what} (${done} result${done === 1 ? '' : 's'} so far)${r.progress ? `; ${r.progress}` : ''}`;
    });
    const waiting = [...this.rows.values()].filter((r) => r.state === 'waiting').length;
    if (waiting) lines.push(`… ${secs(now - this.runStartMs)} elapsed: ${waiting} node${waiting === 1 ? '' : 's'} connecting or queued`);
    if (lines.length) this.print(lines.join('\n'));
  }

  private erase(): void {
    if (!this.tty || this.drawn === 0) return;
    this.out.write(`\x1b[${this.drawn}A\x1b[0J`);
    this.drawn = 0;
  }

  private draw(): void {
    if (!this.tty) return;
    const width = (this.out as NodeJS.WriteStream).columns || 100;
    const active = [...this.rows.entries()].filter(([, r]) => r.state === 'running');
    const lines = active.slice(0, 20).map(([name, r]) => {
      const done = Object.values(r.counts).reduce((a, b) => a + b, 0);
      const text = `  ${printable(name)}  ${done} ${done === 1 ? 'check' : 'checks'}${r.counts.fail ? `, ${r.counts.fail} failed` : ''}${r.counts.error ? `, ${r.counts.error} errors` : ''}${r.progress ? `  ${r.progress}` : ''}`;
      return text.slice(0, width - 1);
    });
    if (active.length > 20) lines.push(`  … and ${active.length - 20} more nodes running`);
    for (const l of lines) this.out.write(this.paint('2', l) + '\n');
    this.drawn = lines.length;
  }

  onRunStart(meta: RunMeta): void {
    for (const n of meta.nodes) this.rows.set(n.name, { counts: emptyCounts(), state: 'waiting', suitesDone: new Set() });
    this.planned = meta.suites ?? {};
    this.runStartMs = Date.now();
    const every = this.opts.heartbeatMs ?? 10_000;
    if (!this.tty && every > 0) {
      this.heartbeat = setInterval(() => this.beat(), Math.min(1000, every));
      this.heartbeat.unref();
    }
    const n = meta.nodes.length;
    const suites = meta.plannedSuites !== undefined ? `${meta.plannedSuites} suite run${meta.plannedSuites === 1 ? '' : 's'}, ` : '';
    this.print(`leafcert ${meta.harness.version}: checking ${n} node${n === 1 ? '' : 's'} (${suites}${meta.planned} check ids) from ${printable(meta.inventory.path)}`);
  }

  onNodeStart(node: NodeSpec, id: NodeIdentity): void {
    const row = this.rows.get(node.name) ?? { counts: emptyCounts(), state: 'waiting' as const, suitesDone: new Set<string>() };
    row.state = 'running';
    row.startedMs = Date.now();
    this.rows.set(node.name, row);
    const ident = [id.hostname, id.nixosVersion ? `NixOS ${id.nixosVersion}` : id.os].filter(Boolean).join(', ');
    if (this.tty) this.redrawSoon();
    else this.print(`${printable(node.name)}: checking${ident ? ` (${line(ident)})` : ''}`);
  }

  private redrawTimer: NodeJS.Timeout | undefined;

  /** Redraw the live block soon: hundreds of results a second must not mean hundreds of redraws. */
  private redrawSoon(): void {
    if (!this.tty || this.redrawTimer) return;
    this.redrawTimer = setTimeout(() => {
      this.redrawTimer = undefined;
      this.erase();
      this.draw();
    }, 100);
    this.redrawTimer.unref();
  }

  onProgress(node: string, message: string): void {
    const row = this.rows.get(node);
    if (!row) return;
    row.progress = line(message).slice(0, 60);
    if (!this.tty) return;
    this.redrawSoon();
  }

  // A node that cannot be reached errors every planned check with the same reason: one line for
  // the lot reads better than forty copies.
  private errorGroup: { node: string; message: string; source: string; ids: string[] } | undefined;

  private flushErrors(): void {
    const g = this.errorGroup;
    if (!g) return;
    this.errorGroup = undefined;
    const label = this.paint('33;1', 'ERROR');
    const ids = g.ids.length > 4 ? `${g.ids.slice(0, 4).join(', ')}, … (${g.ids.length} checks)` : g.ids.join(', ');
    this.print(`${label} ${printable(g.node)} ${ids}: ${line(g.message)}\n     source:   ${line(g.source)}`);
  }

  onResult(r: Result): void {
    const row = this.rows.get(r.node);
    if (row) {
      row.counts[r.status]++;
      // Results come in suite order: a suite with a result has finished gathering.
      row.suitesDone.add(r.suite);
      // The suite that reported progress has results now: its progress line is stale.
      if (row.progress?.startsWith(`${r.suite}:`)) row.progress = undefined;
    }
    const g = this.errorGroup;
    if (g && !(r.status === 'error' && r.node === g.node && r.message === g.message)) this.flushErrors();
    if (r.status === 'error') {
      const id = printable(r.subject === r.node ? r.id : `${r.id} ${r.subject}`);
      if (this.errorGroup) this.errorGroup.ids.push(id);
      else this.errorGroup = { node: r.node, message: r.message, source: r.evidence.source, ids: [id] };
      return;
    }
    if (r.status === 'fail') {
      const lines = [`${this.paint('31;1', 'FAIL')} ${printable(r.node)} ${printable(r.id)} ${printable(r.subject)}: ${line(r.message)}`];
      if (r.evidence.expected !== undefined) lines.push(`     expected: ${brief(show(r.evidence.expected))}`);
      if (r.evidence.observed !== undefined) lines.push(`     observed: ${brief(show(r.evidence.observed))}`);
      lines.push(`     source:   ${line(r.evidence.source)}`);
      this.print(lines.join('\n'));
    } else {
      this.redrawSoon();
    }
  }

  onNodeEnd(node: NodeSpec, stats?: NodeStats): void {
    this.flushErrors();
    const row = this.rows.get(node.name);
    if (!row) return;
    row.state = 'done';
    const bad = row.counts.fail + row.counts.error > 0;
    const mark = bad ? this.paint('31', '✗') : this.paint('32', '✓');
    const how = stats?.transport ? ` (${(stats.durationMs / 1000).toFixed(1)}s, ${stats.roundTrips} round trips)` : '';
    this.print(`${mark} ${printable(node.name)}: ${countsText(row.counts)}${this.paint('2', how)}`);
    // How the node was trusted belongs in the CI log too.
    if (stats?.hostKey) this.print(this.paint('2', `  host key ${line(hostKeyText(stats.hostKey))}`));
  }

  private readonly warned = new Set<string>();

  onWarning(message: string): void {
    this.warned.add(message);
    this.flushErrors();
    this.print(`${this.paint('33', 'warning:')} ${line(message)}`);
  }

  async onRunEnd(s: RunSummary): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    this.flushErrors();
    if (this.redrawTimer) clearTimeout(this.redrawTimer);
    this.redrawTimer = undefined;
    this.erase();
    // Warnings raised after the fact (a reporter that failed) are only in the summary.
    for (const w of s.warnings) if (!this.warned.has(w)) this.out.write(`${this.paint('33', 'warning:')} ${line(w)}\n`);
    const total = Object.values(s.counts).reduce((a, b) => a + b, 0);
    // Every result skipped or manual: the run worked but proved nothing, so it certifies nothing.
    const unevidenced =
      s.exitCode !== 0 && total > 0 && s.counts.pass + s.counts.waived + s.counts.fail + s.counts.error === 0;
    const verdict =
      s.exitCode === 0
        ? this.paint('32;1', 'CERTIFIED')
        : s.exitCode === 1 || unevidenced
          ? this.paint('31;1', 'NOT CERTIFIED')
          : this.paint('33;1', 'INCOMPLETE');
    const out = ['', `${verdict}: ${countsText(s.counts)} in ${(s.durationMs / 1000).toFixed(1)}s${s.interrupted ? ' (interrupted)' : ''}${s.criticalPath ? `; critical path ${line(s.criticalPath.text)}` : ''}`];
    if (unevidenced && !s.interrupted) out.push(`  ${NOTHING_EVIDENCED}`);
    const nodes = Object.entries(s.perNode);
    if (nodes.length > 1) {
      const width = Math.max(...nodes.map(([n]) => printable(n).length));
      for (const [n, c] of nodes) out.push(`  ${printable(n).padEnd(width)}  ${countsText(c)}`);
    }
    if (total === 0) out.push('  no checks ran: the inventory or --only selected nothing');
    if (this.opts.reportPaths?.length) {
      // The digests land in the CI log, a record kept apart from the files: an auditor can tell
      // whether a report was edited after the run.
      if (this.opts.digests) {
        out.push('reports:');
        for (const p of this.opts.reportPaths) out.push(`  ${printable(p)}  ${digest(p)}`);
      } else out.push(`reports: ${this.opts.reportPaths.map(printable).join(', ')}`);
    }
    out.push(`exit code ${s.exitCode}`);
    this.out.write(out.join('\n') + '\n');
  }
}
