// The HTML page's structure (issue 13 part 2), without a browser: verdict banner by colour,
// checklist table (items × nodes, worst status, linked), failures first by severity, waived apart
// from skipped, severity and title columns, pretty evidence open on failures, a CSS-only filter
// and a print stylesheet. html-browser.test.ts renders the same sample in Chromium.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HtmlReporter } from '../src/reporters/html.js';
import { emptyCounts } from '../src/reporters/types.js';
import { sampleMeta, writeSample } from './helpers/html-sample.js';
import { identity, node, result } from './helpers/fakes.js';

async function sample(): Promise<string> {
  const path = join(mkdtempSync(join(tmpdir(), 'leafcert-html-report-')), 'report.html');
  await writeSample([new HtmlReporter(path)]);
  return readFileSync(path, 'utf8');
}

/** Index of a row (by check id and subject) in the page: order on the page is what a reader sees. */
const at = (html: string, id: string, subject: string) => html.indexOf(`<td>${id}</td><td>${subject}</td>`);

describe('HTML report structure', () => {
  it('a red banner for NOT CERTIFIED linking the failures, before everything else', async () => {
    const html = await sample();
    expect(html).toMatch(/<div class="banner not-certified"><p class="verdict">NOT CERTIFIED \(exit code 1\)<\/p>/);
    expect(html).toMatch(/\.banner\.not-certified\{background:#cf222e\}/);
    const banner = html.slice(html.indexOf('<div class="banner'), html.indexOf('</div>'));
    expect(banner).toContain('3 fail, 1 error, 1 skipped, 1 manual, 1 waived, 4 pass on 2 nodes');
    expect(banner.match(/<a href="#r-\d+">/g)).toHaveLength(4);
    expect(html.indexOf('class="banner')).toBeLessThan(html.indexOf('<h2 id="checklist">'));
  });

  it('a certified run is green, an unfinished one amber', async () => {
    for (const [exitCode, final, cls] of [[0, true, 'certified'], [0, false, 'incomplete'], [3, true, 'incomplete']] as const) {
      const path = join(mkdtempSync(join(tmpdir(), 'leafcert-html-report-')), 'r.html');
      const rep = new HtmlReporter(path);
      rep.onRunStart({ ...sampleMeta, nodes: [node('leaf-1')] });
      rep.onNodeStart(node('leaf-1'), identity);
      rep.onResult(result());
      if (final) await rep.onRunEnd({ finishedAt: '2026-11-27T04:00:01.000Z', durationMs: 1000, counts: { ...emptyCounts(), pass: 1 }, perNode: {}, exitCode, interrupted: false, warnings: [] });
      else rep.flush();
      expect(readFileSync(path, 'utf8')).toContain(`<div class="banner ${cls}">`);
    }
  });

  it('the checklist table: every item, one column per node, the worst status linked to its row', async () => {
    const html = await sample();
    const table = html.slice(html.indexOf('<table class="checklist">'), html.indexOf('</table>', html.indexOf('<table class="checklist">')));
    expect(table).toContain('<th>leaf-paris-1</th>');
    expect(table).toContain('<th>leaf-lyon-2</th>');
    expect(table.match(/<tr><td><b>/g)).toHaveLength(11);
    // network-policies on leaf-paris-1: two fails and a pass → fail, 2 of 3, linked to a failing row.
    const row = table.slice(table.indexOf('network-policies'));
    const m = /<a class="fail" href="#(r-\d+)">fail<\/a> <span class="count">2\/3<\/span>/.exec(row);
    expect(m).not.toBeNull();
    expect(html).toMatch(new RegExp(`<tr id="${m![1]}" class="r s-fail `));
    expect(table).toContain('not evidenced');
  });

  it('failures and errors first (critical before high), then waived, then skipped and manual, passes last', async () => {
    const html = await sample();
    const order = [
      at(html, 'firewall.port-closed', '5432'), // critical fail
      at(html, 'firewall.enabled', 'nixos-fw'), // critical error (leaf-lyon-2): same severity, fail first
      at(html, 'firewall.allowed-ports', 'tcp'), // high
      at(html, 'tls.min-days-left', 'api.alchemist.local:443'), // waived
      at(html, 'backup.restore-sample', 'alchemist'), // skipped
      at(html, 'postgres.setting', 'shared_buffers'), // pass
    ];
    for (const i of order) expect(i).toBeGreaterThan(0);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(html.indexOf('<h2 id="failures">')).toBeLessThan(html.indexOf('<h2 id="waived">'));
    expect(html.indexOf('<h2 id="waived">')).toBeLessThan(html.indexOf('<h2 id="skipped">'));
    expect(html.indexOf('<h2 id="skipped">')).toBeLessThan(html.indexOf('<h2 id="passed">'));
  });

  it('rows carry severity, title, metadata and pretty evidence, open on failures only', async () => {
    const html = await sample();
    const fail = html.slice(at(html, 'firewall.port-closed', '5432'));
    expect(fail).toMatch(/^<td>firewall\.port-closed<\/td><td>5432<\/td><td><a href="#node-0">leaf-paris-1<\/a><\/td><td class="sev-critical">critical<\/td><td>[^<]+<\/td>/);
    expect(fail.slice(0, fail.indexOf('</tr>'))).toContain('<details open>');
    expect(fail).toContain('<pre>{\n  &quot;state&quot;: &quot;open&quot;,\n  &quot;rttMs&quot;: 1.2,');
    expect(fail).toMatch(/<dt>impact<\/dt><dd>1\.0<\/dd><dt>checks that<\/dt><dd>[^<]+<\/dd><dt>fix<\/dt><dd>/);
    const pass = html.slice(at(html, 'postgres.setting', 'shared_buffers'));
    expect(pass.slice(0, pass.indexOf('</tr>'))).toContain('<details>');
  });

  it('a CSS-only filter by status, node and suite, and a print stylesheet', async () => {
    const html = await sample();
    expect(html).not.toMatch(/<script/i);
    for (const s of ['fail', 'error', 'waived', 'skipped', 'manual', 'pass']) {
      expect(html).toContain(`<input type="checkbox" id="f-${s}" checked>`);
      expect(html).toContain(`body:has(#f-${s}:not(:checked)) tr.r.s-${s}{display:none}`);
    }
    expect(html).toContain('body:has(#fn-1:checked) tr.r:not(.n-1){display:none}');
    expect(html).toMatch(/<input type="radio" name="fsuite" id="fu-\d+"> tls<\/label>/);
    expect(html).toMatch(/@media print\{[^@]*\.filter\{display:none\}[^@]*details:not\(\[open\]\)\{display:none\}/);
  });

  it('identity: machine-id, not NixOS stated, host key with its trust', async () => {
    const html = await sample();
    expect(html).toContain('3f1c0e2a9b8d4c7e8f6a5b4c3d2e1f00');
    expect(html).toContain('not NixOS (no NixOS version in os-release, no /run/current-system)');
    expect(html).toContain('<span class="pass">verified: matches ./known_hosts:3</span>');
    expect(html).toContain('<span class="untrusted">NOT verified: unknown key accepted and recorded in ./known_hosts');
  });
});
