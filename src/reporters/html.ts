// A single self-contained HTML page for people (auditors, reviewers): verdict, per-node tables,
// evidence folded under each check. No scripts, no external assets; every node-provided string
// is escaped.
import type { NodeIdentity, NodeSpec, Result } from '../core/types.js';
import { FileReporter } from './file-reporter.js';
import { safeText, show } from './text.js';
import { emptyCounts } from './types.js';

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

const t = (v: unknown, max?: number) => esc(safeText(show(v), max));

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.4em} h2{font-size:1.15em;margin-top:2em}
table{border-collapse:collapse;width:100%} td,th{border-bottom:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}
.pass{color:#1a7f37}.fail{color:#cf222e;font-weight:bold}.error{color:#9a6700;font-weight:bold}.skipped,.manual,.waived{color:#57606a}
pre{white-space:pre-wrap;background:#f6f8fa;padding:.5em;margin:.3em 0}
dl{display:grid;grid-template-columns:max-content auto;gap:.1em 1em;margin:.3em 0} dt{color:#57606a}
.verdict{font-size:1.2em;font-weight:bold}`;

export class HtmlReporter extends FileReporter {
  private readonly nodes = new Map<string, { node: NodeSpec; identity: NodeIdentity; results: Result[] }>();

  onNodeStart(node: NodeSpec, identity: NodeIdentity): void {
    this.nodes.set(node.name, { node, identity, results: [] });
  }
  protected collect(r: Result): void {
    this.nodes.get(r.node)?.results.push(r);
  }

  render(final: boolean): string {
    const m = this.meta;
    const s = this.summary;
    const counts = emptyCounts();
    for (const n of this.nodes.values()) for (const r of n.results) counts[r.status]++;
    // A partial page may be all a killed run leaves: it must not read as a verdict.
    const verdict = !final || !s ? 'INCOMPLETE: run IN PROGRESS (partial report) or stopped before it finished' : s.exitCode === 0 ? 'CERTIFIED' : s.exitCode === 1 ? 'NOT CERTIFIED' : 'INCOMPLETE';
    const out = [
      '<!DOCTYPE html>',
      '<html lang="en"><head><meta charset="utf-8"><title>leafcert report</title>',
      `<style>${STYLE}</style></head><body>`,
      `<h1>leafcert report</h1>`,
      `<p class="verdict">${esc(verdict)}${s ? ` (exit code ${s.exitCode}${s.interrupted ? ', interrupted' : ''})` : ''}</p>`,
      '<dl>',
      `<dt>harness</dt><dd>leafcert ${t(m?.harness.version ?? '')}</dd>`,
      `<dt>inventory</dt><dd>${t(m?.inventory.path ?? '')} (sha256 ${t(m?.inventory.sha256 ?? '')})</dd>`,
      `<dt>started</dt><dd>${t(m?.startedAt ?? '')}</dd>`,
      s ? `<dt>finished</dt><dd>${t(s.finishedAt)} (${(s.durationMs / 1000).toFixed(1)} s)</dd>` : '',
      `<dt>results</dt><dd>${(Object.keys(counts) as (keyof typeof counts)[]).map((k) => `${counts[k]} ${k}`).join(', ')}</dd>`,
      '</dl>',
    ];
    for (const { node, identity: id, results } of this.nodes.values()) {
      out.push(`<h2>${t(node.name)}</h2>`, '<dl>');
      for (const [k, v] of Object.entries({ address: node.host, hostname: id.hostname, os: id.os, nixos: id.nixosVersion, system: id.currentSystem, kernel: id.kernel, clock: id.clock })) {
        if (v) out.push(`<dt>${k}</dt><dd>${t(v, 512)}</dd>`);
      }
      out.push('</dl>', '<table><thead><tr><th>status</th><th>check</th><th>subject</th><th>message and evidence</th></tr></thead><tbody>');
      for (const r of results) {
        const e = r.evidence;
        const ev = [
          e.expected !== undefined ? `<dt>expected</dt><dd>${t(e.expected)}</dd>` : '',
          e.observed !== undefined ? `<dt>observed</dt><dd>${t(e.observed)}</dd>` : '',
          `<dt>source</dt><dd>${t(e.source)}</dd>`,
          e.optionPath ? `<dt>option</dt><dd>${t(e.optionPath)}</dd>` : '',
          r.checklist.length ? `<dt>checklist</dt><dd>${t(r.checklist.join(', '))}</dd>` : '',
          r.waiver ? `<dt>waiver</dt><dd>${t(`${r.originalStatus} waived until ${r.waiver.expires} by ${r.waiver.approvedBy}: ${r.waiver.reason}`)}</dd>` : '',
          r.expiredWaiver ? `<dt>waiver</dt><dd>${t(`expired ${r.expiredWaiver.expires}, not applied`)}</dd>` : '',
        ].join('');
        const excerpt = e.excerpt ? `<pre>${t(e.excerpt)}</pre>` : '';
        out.push(
          `<tr><td class="${r.status}">${r.status}</td><td>${t(r.id)}</td><td>${t(r.subject, 512)}</td>` +
            `<td>${t(r.message, 2048)}<details><summary>evidence</summary><dl>${ev}</dl>${excerpt}</details></td></tr>`,
        );
      }
      out.push('</tbody></table>');
    }
    out.push('</body></html>', '');
    return out.join('\n');
  }
}
