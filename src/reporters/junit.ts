// JUnit XML for CI (Jenkins xUnit schema, /work/shared/schemas/junit-10.xsd shape).
//
// Written by hand rather than with junit-report-builder 5.1.2: that library puts a `skipped`
// attribute on <testsuites>, which the schema rejects, and escapes only the first `]]>` in a CDATA
// section, so node output containing two of them produced broken XML. Twenty lines of writer are
// easier to keep correct than a post-processor around it.
import type { NodeIdentity, NodeSpec, Result } from '../core/types.js';
import { FileReporter } from './file-reporter.js';
import { isNixos } from './identity.js';
import { checkMeta, checkSet, IMPACT } from './metadata.js';
import { safeText, show } from './text.js';
import type { Counts, NodeStats } from './types.js';
import { emptyCounts } from './types.js';

function attr(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/\n/g, '&#10;')
    .replace(/\t/g, '&#9;');
}

/** CDATA with every `]]>` split across two sections. */
export function cdata(s: string): string {
  return `<![CDATA[${s.replace(/]]>/g, ']]]]><![CDATA[>')}]]>`;
}

function seconds(ms: number): string {
  return (Math.max(0, ms) / 1000).toFixed(3);
}

/**
 * The evidence block of a test case, one `key: value` line each (checklist included: testcases
 * have no properties in this schema). Each field is sanitised and capped on its own, so a
 * truncation note's sha256 is that of the field's raw text.
 */
export function evidenceText(r: Result): string {
  const e = r.evidence;
  const t = (v: unknown) => safeText(show(v));
  const lines = [
    `check: ${t(r.title)}`,
    `status: ${r.status}${r.originalStatus ? ` (was ${r.originalStatus})` : ''}`,
    `severity: ${r.severity}`,
    `impact: ${(IMPACT[r.severity] ?? 0).toFixed(1)}`,
    `message: ${t(r.message)}`,
    `checklist: ${r.checklist.join(', ')}`,
  ];
  if (e.expected !== undefined) lines.push(`expected: ${t(e.expected)}`);
  if (e.observed !== undefined) lines.push(`observed: ${t(e.observed)}`);
  lines.push(`source: ${t(e.source)}`);
  if (e.optionPath) lines.push(`option: ${t(e.optionPath)}`);
  if (r.waiver) lines.push(`waiver: until ${r.waiver.expires} by ${t(r.waiver.approvedBy)}: ${t(r.waiver.reason)}`);
  if (r.expiredWaiver) lines.push(`waiver expired: ${r.expiredWaiver.expires} (${t(r.expiredWaiver.approvedBy)}: ${t(r.expiredWaiver.reason)}), not applied`);
  // The definition's own words, for whoever reads the failure in the CI's test view.
  const d = checkMeta(r.id);
  if (d) lines.push(`description: ${d.description}`, `fix: ${d.fix}`);
  if (e.excerpt) lines.push('excerpt:', t(e.excerpt));
  return lines.join('\n');
}

interface SuiteState {
  node: NodeSpec;
  identity: NodeIdentity;
  timestamp: string;
  startMs: number;
  endMs?: number;
  stats?: NodeStats;
  results: Result[];
}

export class JunitReporter extends FileReporter {
  private readonly nodes = new Map<string, SuiteState>();

  constructor(path: string, private readonly clock: () => Date = () => new Date()) {
    super(path);
  }

  onNodeStart(node: NodeSpec, identity: NodeIdentity): void {
    const now = this.clock();
    this.nodes.set(node.name, { node, identity, timestamp: now.toISOString().replace(/\.\d{3}Z$/, 'Z'), startMs: now.getTime(), results: [] });
  }
  protected collect(r: Result): void {
    this.nodes.get(r.node)?.results.push(r);
  }
  override onNodeEnd(node: NodeSpec, stats?: NodeStats): void {
    const s = this.nodes.get(node.name);
    if (s) {
      s.endMs = this.clock().getTime();
      s.stats = stats;
    }
    super.onNodeEnd(node, stats);
  }

  render(final: boolean): string {
    const total = emptyCounts();
    const suites: string[] = [];
    for (const s of this.byInventory(this.nodes.values(), (x) => x.node.name)) {
      const c = emptyCounts();
      for (const r of s.results) c[r.status]++;
      for (const k of Object.keys(c) as (keyof Counts)[]) total[k] += c[k];
      suites.push(this.renderSuite(s, c, final));
    }
    // A partial file opens with a suite for the run itself: even the first write, before any
    // node has started, says complete=false, and its error case keeps a CI that reads only
    // counts from showing a killed run as an empty green report.
    if (!final) total.error++;
    const tests = Object.values(total).reduce((a, b) => a + b, 0);
    const time = this.summary ? seconds(this.summary.durationMs) : undefined;
    return [
      '<?xml version="1.0" encoding="UTF-8"?>',
      `<testsuites name="leafcert" tests="${tests}" failures="${total.fail}" errors="${total.error}"${time ? ` time="${time}"` : ''}>`,
      ...(final ? [] : [this.renderUnfinished()]),
      ...suites,
      '</testsuites>',
      '',
    ].join('\n');
  }

  private renderUnfinished(): string {
    const m = this.meta;
    const props: [string, string | undefined][] = [
      ['leafcert.version', m?.harness.version],
      ['leafcert.complete', 'false'],
      ['inventory.path', m?.inventory.path],
      ['inventory.sha256', m?.inventory.sha256 || undefined],
      ['checks.sha256', m?.checks?.sha256],
    ];
    const message = 'the run has not finished: this report is partial (leafcert.complete=false)';
    return [
      `  <testsuite name="leafcert" tests="1" failures="0" errors="1"${m ? ` timestamp="${m.startedAt.replace(/\.\d{3}Z$/, 'Z')}"` : ''}>`,
      '    <properties>',
      ...props
        .filter((p): p is [string, string] => p[1] !== undefined && p[1] !== '')
        .map(([k, v]) => `      <property name="${attr(k)}" value="${attr(safeText(v, 1024))}"/>`),
      '    </properties>',
      '    <testcase classname="leafcert.run" name="run finished" time="0">',
      `      <error message="${attr(message)}" type="leafcert.incomplete">${cdata(`${message}\nthe final report replaces this one when the run ends; a killed or crashed run leaves it`)}</error>`,
      '    </testcase>',
      '  </testsuite>',
    ].join('\n');
  }

  private renderSuite(s: SuiteState, c: Counts, final: boolean): string {
    const id = s.identity;
    const nixos = isNixos(id);
    const props: [string, string | undefined][] = [
      ['leafcert.version', this.meta?.harness.version],
      ['leafcert.complete', String(final)],
      // Only on interrupted runs, so a normal report is unchanged.
      ['leafcert.interrupted', final && this.summary?.interrupted ? 'true' : undefined],
      ['inventory.path', this.meta?.inventory.path],
      ['inventory.sha256', this.meta?.inventory.sha256 || undefined],
      ['checks.sha256', (this.meta?.checks ?? checkSet(s.results.map((r) => r.id))).sha256],
      ['node.name', s.node.name],
      ['node.address', s.node.host],
      ['node.transport', s.node.transport],
      ['node.expect', s.node.expect],
      ['node.hostname', id.hostname],
      ['node.os', id.os],
      ['node.nixosVersion', id.nixosVersion],
      ['node.currentSystem', id.currentSystem],
      ['node.kernel', id.kernel],
      ['node.clock', id.clock],
      ['node.machineId', id.machineId],
      // Said, not left to missing NixOS properties.
      ['node.nixos', nixos === undefined ? undefined : String(nixos)],
      ['transport', s.stats?.transport],
      ['transport.roundTrips', s.stats ? String(s.stats.roundTrips) : undefined],
      ['transport.connectMs', s.stats?.connectMs !== undefined ? String(s.stats.connectMs) : undefined],
      ['transport.hostKey.type', s.stats?.hostKey?.type],
      ['transport.hostKey.fingerprint', s.stats?.hostKey?.fingerprint],
      ['transport.hostKey.trust', s.stats?.hostKey?.trust],
      ['transport.hostKey.knownHosts', s.stats?.hostKey?.knownHosts],
    ];
    // Testcases carry no properties in this schema: each check's metadata is a suite property.
    for (const cid of [...new Set(s.results.map((r) => r.id))]) {
      const d = checkMeta(cid);
      if (!d) continue;
      props.push([`check.${cid}.impact`, d.impact.toFixed(1)], [`check.${cid}.description`, d.description], [`check.${cid}.fix`, d.fix], [`check.${cid}.references`, d.references.join('; ')]);
    }
    // The node's wall time as the engine measured it (connect included), so the suites' times
    // add up to the run's; the reporter's own clock is the fallback.
    const wall = s.stats?.durationMs ?? (s.endMs !== undefined ? s.endMs - s.startMs : undefined);
    const time = wall !== undefined ? ` time="${seconds(wall)}"` : '';
    const lines = [
      `  <testsuite name="${attr(s.node.name)}" hostname="${attr(safeText(id.hostname ?? s.node.host ?? s.node.name, 256))}" timestamp="${s.timestamp}" tests="${s.results.length}" failures="${c.fail}" errors="${c.error}" skipped="${c.skipped + c.manual + c.waived}"${time}>`,
      '    <properties>',
      ...props
        .filter((p): p is [string, string] => p[1] !== undefined && p[1] !== '')
        .map(([k, v]) => `      <property name="${attr(k)}" value="${attr(safeText(v, 1024))}"/>`),
      '    </properties>',
    ];
    for (const r of s.results) lines.push(this.renderCase(r));
    lines.push('  </testsuite>');
    return lines.join('\n');
  }

  private renderCase(r: Result): string {
    const name = safeText(`${r.id} ${r.subject}`, 512);
    const msg = attr(safeText(r.message, 1024));
    const head = `    <testcase classname="${attr(safeText(`${r.node}.${r.suite}`, 256))}" name="${attr(name)}" time="${seconds(r.durationMs)}">`;
    const body: string[] = [];
    const ev = r.evidence;
    const expectedObserved = `expected: ${safeText(show(ev.expected))}\nobserved: ${safeText(show(ev.observed))}\nsource: ${safeText(ev.source)}`;
    switch (r.status) {
      case 'fail':
        body.push(`      <failure message="${msg}" type="${attr(r.id)}">${cdata(expectedObserved)}</failure>`);
        break;
      case 'error':
        body.push(`      <error message="${msg}" type="${attr(r.id)}">${cdata(`${safeText(r.message)}\nsource: ${safeText(ev.source)}`)}</error>`);
        break;
      case 'skipped':
        body.push(`      <skipped message="${msg}"/>`);
        break;
      case 'manual':
        body.push(`      <skipped message="${attr(safeText(`manual: ${r.message}`, 1024))}"/>`);
        break;
      case 'waived':
        body.push(
          `      <skipped message="${attr(safeText(`waived (${r.originalStatus}) until ${r.waiver?.expires} by ${r.waiver?.approvedBy}: ${r.waiver?.reason}`, 1024))}"/>`,
        );
        break;
      case 'pass':
        break;
    }
    body.push(`      <system-out>${cdata(evidenceText(r))}</system-out>`);
    return [head, ...body, '    </testcase>'].join('\n');
  }
}
