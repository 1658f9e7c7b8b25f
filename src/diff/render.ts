// A run diff for people: plain console lines and a self-contained HTML page (no script, no
// network). Text from nodes goes through safeText, as in every report.
import { printable } from '../core/text.js';
import { safeText, show } from '../reporters/text.js';
import type { Change, ExpiringWaiver, RunDiff } from './diff.js';

const line = (s: string) => printable(safeText(s, 1024));

const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

function what(c: Change): string {
  return `${c.node} ${c.id} ${c.subject}`;
}

function status(c: Change): string {
  return `${c.old?.status ?? 'absent'} → ${c.new?.status ?? 'absent'}`;
}

function evidence(c: Change): string {
  const parts: string[] = [];
  if (show(c.old?.expected) !== show(c.new?.expected)) parts.push(`expected ${show(c.old?.expected) || '-'} → ${show(c.new?.expected) || '-'}`);
  if (show(c.old?.observed) !== show(c.new?.observed)) parts.push(`observed ${show(c.old?.observed) || '-'} → ${show(c.new?.observed) || '-'}`);
  return parts.join('; ');
}

function waiverText(w: ExpiringWaiver): string {
  const when = w.expired || w.daysLeft < 0 ? 'expired' : w.daysLeft === 0 ? 'last day' : `${w.daysLeft} day${w.daysLeft === 1 ? '' : 's'} left`;
  return `${w.node} ${w.check} ${w.subject}: expires ${w.expires} (${when}), approved by ${w.approvedBy}: ${w.reason}`;
}

export function diffText(d: RunDiff, oldName: string, newName: string): string {
  const out = [`leafcert diff ${oldName} (${d.old.startedAt ?? '?'}) → ${newName} (${d.new.startedAt ?? '?'})`];
  const section = (title: string, items: string[]) => {
    if (items.length) out.push(`${title} (${items.length}):`, ...items.map((i) => `  ${line(i)}`));
  };
  section('new failures', d.newFailures.map((c) => `${c.new!.status.toUpperCase()} ${what(c)}: ${c.new!.message}${c.old ? ` (was ${c.old.status})` : ''}`));
  section('fixed', d.fixed.map((c) => `${what(c)}: ${status(c)}`));
  section('status changed', d.statusChanged.map((c) => `${what(c)}: ${status(c)}`));
  // At most 20 lines of 300 characters here: --json and --html carry every change in full.
  const ev = d.evidenceChanged.map((c) => cut(`${what(c)} (${c.new!.status}): ${evidence(c)}`, 300));
  section('evidence changed', ev.length > 20 ? [...ev.slice(0, 20), `… and ${ev.length - 20} more (--json or --html for all)`] : ev);
  if (d.volatileOnly) out.push(`evidence changed only in clocks and timings: ${d.volatileOnly} (not listed)`);
  if (d.nodesAdded.length) out.push(`nodes added: ${line(d.nodesAdded.join(', '))}`);
  if (d.nodesRemoved.length) out.push(`nodes removed: ${line(d.nodesRemoved.join(', '))}`);
  section(`waivers expiring within ${d.expiringDays} days`, d.expiringWaivers.map(waiverText));
  for (const [name, side] of [
    [oldName, d.old],
    [newName, d.new],
  ] as const) {
    if (side.complete === false) out.push(`note: ${line(name)} is a partial report (complete=false)`);
  }
  const n = d.newFailures.length;
  out.push(n ? `REGRESSION: ${n} new failure${n === 1 ? '' : 's'}, ${d.fixed.length} fixed` : `NO REGRESSION: nothing newly fails, ${d.fixed.length} fixed`);
  return out.join('\n') + '\n';
}

function esc(s: string): string {
  return safeText(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function table(id: string, title: string, head: string[], rows: string[][]): string {
  if (!rows.length) return `<section id="${id}"><h2>${esc(title)} (0)</h2><p>none</p></section>`;
  return [
    `<section id="${id}"><h2>${esc(title)} (${rows.length})</h2><table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>`,
    ...rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`),
    '</tbody></table></section>',
  ].join('\n');
}

const pretty = (v: unknown) => (v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v, null, 2));

/** The diff as HTML sections: for a page of its own, or to embed in the HTML report. */
export function diffSection(d: RunDiff): string {
  const base = (c: Change) => [c.node, c.id, c.subject, c.severity];
  return [
    table('new-failures', 'New failures', ['node', 'check', 'subject', 'severity', 'was', 'now', 'message', 'observed'], d.newFailures.map((c) => [...base(c), c.old?.status ?? 'absent', c.new!.status, c.new!.message, pretty(c.new!.observed)])),
    table('fixed', 'Fixed', ['node', 'check', 'subject', 'severity', 'was', 'now'], d.fixed.map((c) => [...base(c), c.old!.status, c.new!.status])),
    table('status-changed', 'Other status changes', ['node', 'check', 'subject', 'severity', 'was', 'now'], d.statusChanged.map((c) => [...base(c), c.old?.status ?? 'absent', c.new?.status ?? 'absent'])),
    table('evidence-changed', 'Evidence changed', ['node', 'check', 'subject', 'severity', 'observed before', 'observed now', 'expected before', 'expected now'], d.evidenceChanged.map((c) => [...base(c), pretty(c.old?.observed), pretty(c.new?.observed), pretty(c.old?.expected), pretty(c.new?.expected)])),
    d.volatileOnly ? `<p>Evidence changed only in clocks and timings: ${d.volatileOnly} (not listed).</p>` : '',
    table('nodes', 'Nodes added or removed', ['node', 'change'], [...d.nodesAdded.map((n) => [n, 'added']), ...d.nodesRemoved.map((n) => [n, 'removed'])]),
    table('waivers', `Waivers expiring within ${d.expiringDays} days`, ['node', 'check', 'subject', 'expires', 'days left', 'approved by', 'reason'], d.expiringWaivers.map((w) => [w.node, w.check, w.subject, w.expires, w.expired ? 'expired' : String(w.daysLeft), w.approvedBy, w.reason])),
  ].join('\n');
}

/** The diff as a page of its own. */
export function diffHtml(d: RunDiff, oldName: string, newName: string): string {
  const n = d.newFailures.length;
  const verdict = n ? `REGRESSION: ${n} new failure${n === 1 ? '' : 's'}` : 'NO REGRESSION';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>leafcert diff</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#111}
.verdict{padding:.6em 1em;font-weight:bold;font-size:1.3em;color:#fff;background:${n ? '#b3261e' : '#1b7f3b'}}
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
td{white-space:pre-wrap;font-family:ui-monospace,monospace;font-size:12px}th{background:#f3f3f3}
</style></head><body>
<h1>leafcert diff</h1>
<p>${esc(oldName)} (${esc(d.old.startedAt ?? '?')}) → ${esc(newName)} (${esc(d.new.startedAt ?? '?')})</p>
<div class="verdict">${esc(verdict)}, ${d.fixed.length} fixed</div>
${diffSection(d)}
</body></html>
`;
}
