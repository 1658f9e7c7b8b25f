// TAP 14: one test point per Result, YAML diagnostics on failures, errors and waivers.
// Skipped and manual checks are `# SKIP`; a waived failure is `not ok ... # TODO` (a known,
// accepted failure). A run with no checks is `not ok`: silence must never read as success.
import { stringify } from 'yaml';
import type { NodeIdentity, NodeSpec, Result } from '../core/types.js';
import { FileReporter } from './file-reporter.js';
import { safeText } from './text.js';

/** One-line TAP description: no newlines, `#` and `\` escaped so they cannot start a directive. */
function description(s: string): string {
  return safeText(s, 512).replace(/\n/g, ' ').replace(/\\/g, '\\\\').replace(/#/g, '\\#');
}

function directiveText(s: string): string {
  return safeText(s, 512).replace(/\n/g, ' ');
}

function diagnostics(obj: Record<string, unknown>): string[] {
  const clean = Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined && v !== ''));
  const text = stringify(clean, { lineWidth: 0 }).trimEnd();
  return ['  ---', ...text.split('\n').map((l) => `  ${l}`), '  ...'];
}

function sanitiseDeep(v: unknown): unknown {
  if (typeof v === 'string') return safeText(v);
  if (Array.isArray(v)) return v.map(sanitiseDeep);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, sanitiseDeep(x)]));
  return v;
}

export class TapReporter extends FileReporter {
  private readonly results: Result[] = [];
  private readonly comments: string[] = [];

  onNodeStart(node: NodeSpec, id: NodeIdentity): void {
    const parts = [id.hostname && `hostname ${id.hostname}`, id.os, id.nixosVersion && `NixOS ${id.nixosVersion}`, id.currentSystem].filter(Boolean);
    this.comments.push(`node ${node.name}${parts.length ? `: ${parts.join(', ')}` : ''}`);
  }
  protected collect(r: Result): void {
    this.results.push(r);
  }

  render(final: boolean): string {
    const out = ['TAP version 14'];
    if (this.meta) out.push(`# leafcert ${this.meta.harness.version}, inventory ${safeText(this.meta.inventory.path, 512)}`);
    for (const c of this.comments) out.push(`# ${safeText(c, 512).replace(/\n/g, ' ')}`);
    let n = 0;
    for (const r of this.results) {
      n++;
      out.push(...this.point(n, r));
    }
    if (!final) {
      out.push(`Bail out! leafcert run did not finish (partial report)`);
      return out.join('\n') + '\n';
    }
    if (n === 0) {
      n = 1;
      out.push('not ok 1 - no checks ran', ...diagnostics({ message: 'the inventory and --only selected no checks, or no node produced any result' }));
    }
    out.push(`1..${n}`);
    if (this.summary) {
      const c = this.summary.counts;
      out.push(`# pass ${c.pass}, fail ${c.fail}, error ${c.error}, skipped ${c.skipped}, manual ${c.manual}, waived ${c.waived}${this.summary.interrupted ? ' (interrupted)' : ''}`);
    }
    return out.join('\n') + '\n';
  }

  private point(n: number, r: Result): string[] {
    const desc = description(`${r.node}.${r.suite} ${r.id} ${r.subject}`);
    const ev = r.evidence;
    const diag = () =>
      diagnostics(
        sanitiseDeep({
          status: r.status,
          originalStatus: r.originalStatus,
          severity: r.severity,
          message: r.message,
          expected: ev.expected,
          observed: ev.observed,
          source: ev.source,
          optionPath: ev.optionPath,
          checklist: r.checklist.length ? r.checklist : undefined,
          waiver: r.waiver,
          expiredWaiver: r.expiredWaiver,
          excerpt: ev.excerpt,
        }) as Record<string, unknown>,
      );
    switch (r.status) {
      case 'pass':
        return [`ok ${n} - ${desc}`];
      case 'skipped':
        return [`ok ${n} - ${desc} # SKIP ${directiveText(r.message)}`];
      case 'manual':
        return [`ok ${n} - ${desc} # SKIP manual: ${directiveText(r.message)}`];
      case 'waived':
        return [`not ok ${n} - ${desc} # TODO waived until ${r.waiver?.expires} by ${directiveText(r.waiver?.approvedBy ?? '')}`, ...diag()];
      case 'fail':
      case 'error':
        return [`not ok ${n} - ${desc}`, ...diag()];
    }
  }
}
