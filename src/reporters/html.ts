// A single self-contained HTML page for people (auditors, reviewers): a coloured verdict banner,
// the production checklist as a table (items × nodes, worst status, linked), each node's identity
// with its host key and how it was trusted, then the results: failures and errors first, waived
// apart from skipped, passes last; evidence pretty-printed and open on failures so it prints.
// No scripts, no external assets (the filter is CSS, see html-style.ts); every node-provided
// string is escaped.
import { CHECKLIST } from '../checklist.js';
import type { NodeIdentity, NodeSpec, Result, Severity, Status } from '../core/types.js';
import { FileReporter } from './file-reporter.js';
import { htmlStyle } from './html-style.js';
import { isNixos, NOT_NIXOS, trustText } from './identity.js';
import { checkMeta, checkSet } from './metadata.js';
import { safeText, show } from './text.js';
import type { NodeStats } from './types.js';
import { emptyCounts } from './types.js';

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

const t = (v: unknown, max?: number) => esc(safeText(show(v), max));

/** Structured values as indented JSON, so a list of rules or settings reads as one per line. */
function pretty(v: unknown): string {
  if (typeof v === 'string') return esc(safeText(v));
  try {
    return esc(safeText(JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x), 2)));
  } catch {
    return t(v);
  }
}

/** Worst first: what an auditor must look at before anything else. */
const RANK: Status[] = ['fail', 'error', 'skipped', 'manual', 'waived', 'pass'];
const SEVERITY: Severity[] = ['critical', 'high', 'medium', 'low', 'info'];

interface Row {
  r: Result;
  /** Anchor: `r-<n>` in arrival order. */
  n: number;
}

interface NodeEntry {
  node: NodeSpec;
  identity: NodeIdentity;
  stats?: NodeStats;
}

export class HtmlReporter extends FileReporter {
  private readonly nodes = new Map<string, NodeEntry>();
  private readonly rows: Row[] = [];
  private readonly warnings: string[] = [];

  onNodeStart(node: NodeSpec, identity: NodeIdentity): void {
    this.nodes.set(node.name, { node, identity });
  }
  protected collect(r: Result): void {
    this.rows.push({ r, n: this.rows.length + 1 });
  }
  override onNodeEnd(node: NodeSpec, stats?: NodeStats): void {
    const e = this.nodes.get(node.name);
    if (e) e.stats = stats;
    super.onNodeEnd(node, stats);
  }
  onWarning(message: string): void {
    this.warnings.push(message);
  }

  render(final: boolean): string {
    const m = this.meta;
    const s = this.summary;
    const counts = emptyCounts();
    for (const { r } of this.rows) counts[r.status]++;
    // A partial page may be all a killed run leaves: it must not read as a verdict.
    const verdict = !final || !s ? 'INCOMPLETE: run IN PROGRESS (partial report) or stopped before it finished' : s.exitCode === 0 ? 'CERTIFIED' : s.exitCode === 1 ? 'NOT CERTIFIED' : 'INCOMPLETE';
    const tone = verdict === 'CERTIFIED' ? 'certified' : verdict === 'NOT CERTIFIED' ? 'not-certified' : 'incomplete';
    // Results by node in inventory order (stable): the same page whatever order nodes finished in.
    this.rows.splice(0, this.rows.length, ...this.byInventory(this.rows, ({ r }) => r.node));
    const nodeNames = this.byInventory(this.nodes.keys(), (n) => n);
    const suites = [...new Set(this.rows.map(({ r }) => r.suite))];
    const checks = m?.checks ?? checkSet(this.rows.map(({ r }) => r.id));
    const countText = (RANK.filter((k) => counts[k] > 0).map((k) => `${counts[k]} ${k}`).join(', ') || 'no results');
    const out = [
      '<!DOCTYPE html>',
      '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">',
      `<title>leafcert report: ${esc(verdict)}</title>`,
      `<style>${htmlStyle(nodeNames.length, suites.length)}</style></head><body>`,
      `<div class="banner ${tone}"><p class="verdict">${esc(verdict)}${s ? ` (exit code ${s.exitCode}${s.interrupted ? ', interrupted' : ''})` : ''}</p>`,
      `<p class="counts">${esc(countText)} on ${nodeNames.length} node${nodeNames.length === 1 ? '' : 's'}</p>${this.bannerLinks()}</div>`,
      `<h1>leafcert report</h1>`,
      '<dl>',
      `<dt>harness</dt><dd>leafcert ${t(m?.harness.version ?? '')}</dd>`,
      `<dt>inventory</dt><dd>${t(m?.inventory.path ?? '')} (sha256 ${t(m?.inventory.sha256 || 'unknown')})</dd>`,
      `<dt>check set</dt><dd>${checks.ids.length} checks, sha256 ${t(checks.sha256)}</dd>`,
      `<dt>started</dt><dd>${t(m?.startedAt ?? '')}</dd>`,
      s ? `<dt>finished</dt><dd>${t(s.finishedAt)} (${(s.durationMs / 1000).toFixed(1)} s)</dd>` : '',
      `<dt>results</dt><dd>${(Object.keys(counts) as (keyof typeof counts)[]).map((k) => `${counts[k]} ${k}`).join(', ')}</dd>`,
      '</dl>',
      ...this.warnings.map((w) => `<p class="error">warning: ${t(w, 2048)}</p>`),
      ...this.checklistTable(nodeNames),
      ...this.nodeTable(),
      ...this.filter(nodeNames, suites),
    ];
    const bad = this.rows.filter(({ r }) => r.status === 'fail' || r.status === 'error');
    // Failures by severity, then by node and arrival: the critical ones head the page.
    bad.sort((a, b) => SEVERITY.indexOf(a.r.severity) - SEVERITY.indexOf(b.r.severity) || RANK.indexOf(a.r.status) - RANK.indexOf(b.r.status) || a.n - b.n);
    const of = (...st: Status[]) => this.rows.filter(({ r }) => st.includes(r.status));
    const sections: [string, string, Row[]][] = [
      ['failures', 'Failures and errors', bad],
      ['waived', 'Waived (accepted by an unexpired waiver)', of('waived')],
      ['skipped', 'Skipped and manual (not evidenced)', of('skipped', 'manual')],
      ['passed', 'Passed', of('pass')],
    ];
    for (const [id, title, rows] of sections) out.push(...this.resultTable(id, title, rows, nodeNames, suites));
    out.push('</body></html>', '');
    return out.join('\n');
  }

  /** The first failures and errors, linked, in the banner: the page answers "what is wrong" at once. */
  private bannerLinks(): string {
    const bad = this.rows.filter(({ r }) => r.status === 'fail' || r.status === 'error');
    if (!bad.length) return '';
    const shown = bad.slice(0, 6).map(({ r, n }) => `<a href="#r-${n}">${r.status} ${t(r.node, 128)} ${t(r.id)} ${t(r.subject, 128)}</a>`);
    return `<p class="links">${shown.join(' · ')}${bad.length > shown.length ? ` · <a href="#failures">${bad.length - shown.length} more</a>` : ''}</p>`;
  }

  /** Items × nodes, each cell the worst status of the results evidencing the item, linked to one. */
  private checklistTable(nodeNames: string[]): string[] {
    const out = ['<h2 id="checklist">Production checklist</h2>', '<table class="checklist"><thead><tr><th>item</th>', ...nodeNames.map((n) => `<th>${t(n, 256)}</th>`), '</tr></thead><tbody>'];
    // One pass over the results (node → item → rows): filtering every result per cell made a
    // 1000-node page cost items × nodes × results (~700 M steps, minutes of CPU per render).
    const byCell = new Map<string, Row[]>();
    for (const row of this.rows) {
      for (const item of row.r.checklist) {
        const k = `${row.r.node}\n${item}`;
        const list = byCell.get(k);
        if (list) list.push(row);
        else byCell.set(k, [row]);
      }
    }
    for (const item of CHECKLIST) {
      const cells = nodeNames.map((name) => {
        const rows = byCell.get(`${name}\n${item.id}`) ?? [];
        if (!rows.length) return '<td class="cell none">not evidenced</td>';
        const worst = rows.reduce((a, b) => (RANK.indexOf(b.r.status) < RANK.indexOf(a.r.status) ? b : a));
        const same = rows.filter(({ r }) => r.status === worst.r.status).length;
        return `<td class="cell"><a class="${worst.r.status}" href="#r-${worst.n}">${worst.r.status}</a> <span class="count">${same}/${rows.length}</span></td>`;
      });
      out.push(`<tr><td><b>${esc(item.title)}</b> <span class="count">${esc(item.id)}</span></td>${cells.join('')}</tr>`);
    }
    out.push('</tbody></table>');
    return out;
  }

  /** One row per node: who it is, and how its host key was trusted. */
  private nodeTable(): string[] {
    const out = ['<h2 id="nodes">Nodes</h2>', '<table class="nodes"><thead><tr><th>node</th><th>identity</th><th>system</th><th>machine-id</th><th>host key</th><th>connection</th></tr></thead><tbody>'];
    this.byInventory(this.nodes.values(), (e) => e.node.name).forEach(({ node, identity: id, stats }, i) => {
      const nixos = isNixos(id);
      const key = stats?.hostKey;
      const who = [id.hostname, id.os, nixos ? `NixOS ${id.nixosVersion ?? ''}`.trim() : undefined, id.kernel && `kernel ${id.kernel}`, id.clock && `clock ${id.clock}`]
        .filter(Boolean)
        .map((x) => t(x, 512))
        .join('<br>');
      const system = nixos === false ? `<span class="none">${esc(NOT_NIXOS)}</span>` : id.currentSystem ? t(id.currentSystem, 512) : '';
      const keyCell = key
        ? `${t(key.type)} <code>${t(key.fingerprint)}</code><br><span class="${key.trust === 'accepted-new' ? 'untrusted' : 'pass'}">${t(trustText(key), 512)}</span>`
        : '<span class="none">no host key (not ssh, or not connected)</span>';
      const conn = stats?.transport ? `${t(stats.transport, 256)}<br>${stats.roundTrips} round trips, connect ${stats.connectMs ?? '?'} ms, ${(stats.durationMs / 1000).toFixed(1)} s` : '';
      out.push(
        `<tr id="node-${i}"><td><b>${t(node.name, 256)}</b><br>${t(node.host ?? '', 256)} <span class="count">${t(node.expect, 256)}</span></td>` +
          `<td>${nixos === undefined ? '<span class="error">identity not gathered</span>' : who}</td><td>${system}</td><td><code>${t(id.machineId ?? '')}</code></td><td>${keyCell}</td><td>${conn}</td></tr>`,
      );
    });
    out.push('</tbody></table>');
    return out;
  }

  /** Checkboxes and radios the stylesheet reads; without `:has()` they do nothing and all rows show. */
  private filter(nodeNames: string[], suites: string[]): string[] {
    const radio = (group: string, prefix: string, names: string[]) =>
      [`<label><input type="radio" name="${group}" checked> all</label>`, ...names.map((n, i) => `<label><input type="radio" name="${group}" id="${prefix}-${i}"> ${t(n, 256)}</label>`)].join('');
    return [
      '<form class="filter"><fieldset><legend>show</legend>',
      `<div>status: ${RANK.map((s) => `<label><input type="checkbox" id="f-${s}" checked> ${s}</label>`).join('')}</div>`,
      `<div>node: ${radio('fnode', 'fn', nodeNames)}</div>`,
      `<div>suite: ${radio('fsuite', 'fu', suites)}</div>`,
      '</fieldset></form>',
    ];
  }

  private resultTable(id: string, title: string, rows: Row[], nodeNames: string[], suites: string[]): string[] {
    const out = [`<h2 id="${id}">${esc(title)} <span class="count">(${rows.length})</span></h2>`];
    if (!rows.length) return [...out, '<p class="none">none</p>'];
    out.push('<table><thead><tr><th>status</th><th>check</th><th>subject</th><th>node</th><th>severity</th><th>title</th><th>message and evidence</th></tr></thead><tbody>');
    const nodeAt = new Map(nodeNames.map((n, i) => [n, i] as const));
    for (const row of rows) out.push(this.resultRow(row, nodeAt.get(row.r.node) ?? -1, suites.indexOf(row.r.suite)));
    out.push('</tbody></table>');
    return out;
  }

  private resultRow({ r, n }: Row, node: number, suite: number): string {
    const e = r.evidence;
    const d = checkMeta(r.id);
    const ev = [
      e.expected !== undefined ? `<dt>expected</dt><dd><pre>${pretty(e.expected)}</pre></dd>` : '',
      e.observed !== undefined ? `<dt>observed</dt><dd><pre>${pretty(e.observed)}</pre></dd>` : '',
      `<dt>source</dt><dd>${t(e.source)}</dd>`,
      e.optionPath ? `<dt>option</dt><dd>${t(e.optionPath)}</dd>` : '',
      r.checklist.length ? `<dt>checklist</dt><dd>${t(r.checklist.join(', '))}</dd>` : '',
      r.waiver ? `<dt>waiver</dt><dd>${t(`${r.originalStatus} waived until ${r.waiver.expires} by ${r.waiver.approvedBy}: ${r.waiver.reason}`)}</dd>` : '',
      r.expiredWaiver ? `<dt>waiver</dt><dd>${t(`expired ${r.expiredWaiver.expires}, not applied`)}</dd>` : '',
      d ? `<dt>impact</dt><dd>${d.impact.toFixed(1)}</dd><dt>checks that</dt><dd>${esc(d.description)}</dd><dt>fix</dt><dd>${esc(d.fix)}</dd>` : '',
      d?.references.length ? `<dt>references</dt><dd>${esc(d.references.join('; '))}</dd>` : '',
      `<dt>time</dt><dd>${t(r.startedAt)}, ${r.durationMs} ms</dd>`,
    ].join('');
    const excerpt = e.excerpt ? `<pre>${t(e.excerpt)}</pre>` : '';
    // Open where it matters, so the evidence of failures is on screen and on paper.
    const open = r.status === 'fail' || r.status === 'error' ? ' open' : '';
    return (
      `<tr id="r-${n}" class="r s-${r.status} n-${node} u-${suite}"><td class="${r.status}">${r.status}</td><td>${t(r.id)}</td><td>${t(r.subject, 512)}</td>` +
      `<td><a href="#node-${node}">${t(r.node, 256)}</a></td><td class="sev-${r.severity}">${r.severity}</td><td>${t(r.title, 512)}</td>` +
      `<td class="msg">${t(r.message, 2048)}<details${open}><summary>evidence</summary><dl>${ev}</dl>${excerpt}</details></td></tr>`
    );
  }
}
