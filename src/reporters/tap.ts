// TAP 14: one test point per Result, YAML diagnostics on failures, errors and waivers.
// Skipped and manual checks are `# SKIP`; a waived failure is `not ok ... # TODO` (a known,
// accepted failure). A run with no checks is `not ok`: silence must never read as success.
//
// The diagnostics are written for the reporters people already use, not only for tap-parser:
// tap-spec (tap-out) reads them line by line and crashes on any line without a `key:` (a block
// list item, a block scalar's second line), so collections are flow style and multi-line strings
// double-quoted, one line per key; tap-mocha-reporter shows node-tap's `wanted`/`found` as a diff
// and a string `error` as the message, so those sit beside `expected`/`observed`. Passes carry no
// diagnostics: tap-out files a YAML block after an `ok` under the previous failure.
import { Document, Scalar, visit } from 'yaml';
import type { NodeIdentity, NodeSpec, Result } from '../core/types.js';
import { FileReporter } from './file-reporter.js';
import type { NodeStats } from './types.js';
import { hostKeyText, isNixos, NOT_NIXOS } from './identity.js';
import { checkSet, IMPACT } from './metadata.js';
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
  const doc = new Document(clean);
  visit(doc, {
    Seq: (_k, n) => void (n.flow = true),
    Map: (_k, n, path) => void (path.length > 1 && (n.flow = true)),
    // Multi-line text on one line: yaml would pick a block or single-quoted multi-line scalar.
    Scalar: (_k, n) => void (typeof n.value === 'string' && /[\n\r]/.test(n.value) && (n.type = Scalar.QUOTE_DOUBLE)),
  });
  const text = doc.toString({ lineWidth: 0, blockQuote: false, doubleQuotedAsJSON: true }).trimEnd();
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
  private readonly comments: { node: string; text: string }[] = [];

  onNodeStart(node: NodeSpec, id: NodeIdentity): void {
    const nixos = isNixos(id);
    const parts = [
      id.hostname && `hostname ${id.hostname}`,
      id.os,
      id.nixosVersion && `NixOS ${id.nixosVersion}`,
      nixos === false && NOT_NIXOS,
      id.currentSystem,
      id.machineId && `machine-id ${id.machineId}`,
    ].filter(Boolean);
    this.comments.push({ node: node.name, text: `node ${node.name}${parts.length ? `: ${parts.join(', ')}` : ''}` });
  }
  override onNodeEnd(node: NodeSpec, stats?: NodeStats): void {
    // The host key is known once the node is done (the engine's stats): an auditor reads how it was trusted.
    if (stats?.hostKey) this.comments.push({ node: node.name, text: `node ${node.name}: host key ${hostKeyText(stats.hostKey)}` });
    super.onNodeEnd(node, stats);
  }
  protected collect(r: Result): void {
    this.results.push(r);
  }

  render(final: boolean): string {
    const out = ['TAP version 14'];
    if (this.meta) {
      out.push(`# leafcert ${this.meta.harness.version}, inventory ${safeText(this.meta.inventory.path, 512)}`);
      const checks = this.meta.checks ?? checkSet(this.results.map((r) => r.id));
      out.push(`# inventory sha256 ${this.meta.inventory.sha256 || 'unknown'}, check set sha256 ${checks.sha256} (${checks.ids.length} checks)`);
    }
    for (const c of this.byInventory(this.comments, (x) => x.node)) out.push(`# ${safeText(c.text, 512).replace(/\n/g, ' ')}`);
    let n = 0;
    for (const r of this.byInventory(this.results, (x) => x.node)) {
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
          impact: IMPACT[r.severity],
          message: r.message,
          // tap-mocha-reporter's message for an error (node-tap's string `error`).
          error: r.status === 'error' || r.originalStatus === 'error' ? r.message : undefined,
          expected: ev.expected,
          observed: ev.observed,
          // node-tap's names, which tap-mocha-reporter shows as a diff.
          wanted: ev.expected,
          found: ev.observed,
          duration_ms: r.durationMs,
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
