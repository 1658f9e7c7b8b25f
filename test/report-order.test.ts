// Nodes start in whatever order their connections and identities come back; every file report
// lists them (and their results) in the inventory's order, as a merged report does, so a single
// run and its shards merged read the same.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HtmlReporter } from '../src/reporters/html.js';
import { JsonReporter } from '../src/reporters/json.js';
import { JunitReporter } from '../src/reporters/junit.js';
import { TapReporter } from '../src/reporters/tap.js';
import type { RunMeta } from '../src/reporters/types.js';
import { emptyCounts } from '../src/reporters/types.js';
import { identity, node, result } from './helpers/fakes.js';

const meta: RunMeta = {
  harness: { name: 'leafcert', version: '0.1.0' },
  startedAt: '2026-12-03T07:00:00.000Z',
  inventory: { path: '/srv/inventory.yaml', sha256: 'b'.repeat(64) },
  argv: ['run'],
  nodes: [node('leaf-1'), node('leaf-2'), node('leaf-3')],
  planned: 2,
};

describe('file reports list nodes in inventory order, not the order they started', () => {
  it('JSON, JUnit, TAP and HTML: leaf-1, leaf-2, leaf-3 though they started 3, 1, 2 with results interleaved', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'leafcert-order-'));
    const reps = { json: new JsonReporter(join(dir, 'r.json')), junit: new JunitReporter(join(dir, 'r.xml')), tap: new TapReporter(join(dir, 'r.tap')), html: new HtmlReporter(join(dir, 'r.html')) };
    const all = Object.values(reps);
    for (const r of all) r.onRunStart(meta);
    const started = [meta.nodes[2], meta.nodes[0], meta.nodes[1]];
    for (const n of started) for (const r of all) r.onNodeStart(n, { ...identity, hostname: n.name });
    const results = [result({ node: 'leaf-3', subject: 'a' }), result({ node: 'leaf-1', subject: 'a' }), result({ node: 'leaf-3', subject: 'b' }), result({ node: 'leaf-2', subject: 'a' }), result({ node: 'leaf-1', subject: 'b' })];
    for (const x of results) for (const r of all) r.onResult(x);
    for (const n of started) for (const r of all) r.onNodeEnd(n);
    const counts = emptyCounts();
    counts.pass = results.length;
    for (const r of all) await r.onRunEnd({ finishedAt: '2026-12-03T07:00:01.000Z', durationMs: 1000, counts, exitCode: 0, interrupted: false } as any);

    const doc = JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8'));
    expect(doc.nodes.map((n: { name: string }) => n.name)).toEqual(['leaf-1', 'leaf-2', 'leaf-3']);
    expect(doc.results.map((r: { node: string; subject: string }) => `${r.node}/${r.subject}`)).toEqual(['leaf-1/a', 'leaf-1/b', 'leaf-2/a', 'leaf-3/a', 'leaf-3/b']);
    const order = (text: string, re: RegExp) => [...text.matchAll(re)].map((m) => m[1]);
    expect(order(readFileSync(join(dir, 'r.xml'), 'utf8'), /<testsuite name="([^"]+)"/g)).toEqual(['leaf-1', 'leaf-2', 'leaf-3']);
    const tap = readFileSync(join(dir, 'r.tap'), 'utf8');
    expect(order(tap, /^# node (leaf-\d):/gm)).toEqual(['leaf-1', 'leaf-2', 'leaf-3']);
    expect(order(tap, /^ok \d+ - (leaf-\d)\./gm)).toEqual(['leaf-1', 'leaf-1', 'leaf-2', 'leaf-3', 'leaf-3']);
    const html = readFileSync(join(dir, 'r.html'), 'utf8');
    expect(order(html, /<tr id="node-\d+"><td><b>(leaf-\d)<\/b>/g)).toEqual(['leaf-1', 'leaf-2', 'leaf-3']);
  });
});
