import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HtmlReporter } from '../src/reporters/html.js';
import type { RunMeta } from '../src/reporters/types.js';
import { emptyCounts } from '../src/reporters/types.js';
import { identity, node, result } from './helpers/fakes.js';

const meta: RunMeta = {
  harness: { name: 'leafcert', version: '0.1.0' },
  startedAt: '2026-11-27T04:00:00.000Z',
  inventory: { path: '/srv/inventory.yaml', sha256: 'c'.repeat(64) },
  argv: [],
  nodes: [node('leaf-1')],
  planned: 2,
};

describe('HTML reporter', () => {
  it('escapes node output, shows the verdict, identity and evidence, and parses as HTML', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'leafcert-html-')), 'report.html');
    const rep = new HtmlReporter(path);
    rep.onRunStart(meta);
    rep.onNodeStart(meta.nodes[0], identity);
    rep.onResult(result());
    rep.onResult(result({ subject: '6379', status: 'fail', message: 'open', evidence: { expected: 'closed', observed: '<script>alert(1)</script>\x1b[31m', source: 'tcp' } }));
    rep.onNodeEnd(meta.nodes[0]);
    rep.flush();
    const partial = readFileSync(path, 'utf8');
    expect(partial).toContain('IN PROGRESS (partial report)');
    const counts = { ...emptyCounts(), pass: 1, fail: 1 };
    await rep.onRunEnd({ finishedAt: '2026-11-27T04:00:02.000Z', durationMs: 2000, counts, perNode: {}, exitCode: 1, interrupted: false, warnings: [] });
    const html = readFileSync(path, 'utf8');
    expect(html).toContain('NOT CERTIFIED (exit code 1)');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toContain('<script>');
    expect(html).not.toMatch(/\x1b/);
    expect(html).toContain('<td class="fail">fail</td><td>firewall.port-closed</td><td>6379</td>');
    expect(html).toContain('/nix/store/abc-nixos-system-leaf-1-24.05');
    if (spawnSync('xmllint', ['--version']).status === 0) {
      const r = spawnSync('xmllint', ['--html', '--noout', path], { encoding: 'utf8' });
      // libxml2's HTML 4 parser does not know <details>/<summary>; anything else is a real error.
      const errors = r.stderr.split('\n').filter((l) => /parser error/.test(l) && !/Tag (details|summary) invalid/.test(l));
      expect(errors).toEqual([]);
    }
  });
});
