import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeAjv } from '../src/inventory/validate.js';
import { JsonReporter } from '../src/reporters/json.js';
import type { RunMeta, RunSummary } from '../src/reporters/types.js';
import { emptyCounts } from '../src/reporters/types.js';
import type { Result } from '../src/core/types.js';
import { identity, node, result } from './helpers/fakes.js';

const schema = JSON.parse(readFileSync('schemas/evidence.schema.json', 'utf8'));
const validate = makeAjv().compile(schema);

const meta: RunMeta = {
  harness: { name: 'leafcert', version: '0.1.0' },
  startedAt: '2026-11-27T04:00:00.000Z',
  inventory: { path: '/srv/inventory.yaml', sha256: 'b'.repeat(64) },
  argv: ['run', '--inventory', '/srv/inventory.yaml', '--json', 'r.json'],
  nodes: [node('leaf-1'), node('leaf-2', { labels: { site: 'paris' } })],
  planned: 4,
};

const results: Result[] = [
  result(),
  result({ status: 'fail', subject: '6379', evidence: { expected: ['closed'], observed: { state: 'open', rtt: 1 }, source: 'tcp connect' } }),
  result({ node: 'leaf-2', status: 'error', message: 'connect ECONNREFUSED', evidence: { source: 'transport ssh (unreachable)' } }),
  result({
    node: 'leaf-2',
    status: 'waived',
    originalStatus: 'fail',
    waiver: { check: 'firewall.*', reason: 'r', approvedBy: 'a', expires: '2027-01-31' },
  }),
  result({ node: 'leaf-2', subject: 'x', status: 'fail', expiredWaiver: { check: 'firewall.*', reason: 'r', approvedBy: 'a', expires: '2020-01-31' } }),
];

function run(final: boolean): any {
  const path = join(mkdtempSync(join(tmpdir(), 'leafcert-json-')), 'evidence.json');
  const rep = new JsonReporter(path, () => new Date('2026-11-27T04:00:02.000Z'));
  rep.onRunStart(meta);
  rep.onNodeStart(meta.nodes[0], identity);
  rep.onNodeStart(meta.nodes[1], {});
  for (const r of results) rep.onResult(r);
  rep.onWarning('leaf-2: node identity not gathered: timeout');
  rep.onNodeEnd(meta.nodes[0], { transport: 'ssh root@10.250.0.2:22', roundTrips: 7, connectMs: 180, durationMs: 1200 });
  rep.flush(); // what the interval timer does while the run goes on
  if (final) {
    rep.onNodeEnd(meta.nodes[1]);
    const counts = emptyCounts();
    for (const r of results) counts[r.status]++;
    const s: RunSummary = { finishedAt: '2026-11-27T04:00:03.000Z', durationMs: 3000, counts, perNode: {}, exitCode: 1, interrupted: false, warnings: [] };
    void rep.onRunEnd(s);
  }
  return JSON.parse(readFileSync(path, 'utf8'));
}

describe('JSON evidence reporter', () => {
  it('validates against schemas/evidence.schema.json and carries run meta, identities and full evidence', () => {
    const doc = run(true);
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
    expect(doc.complete).toBe(true);
    expect(doc.run).toMatchObject({ startedAt: meta.startedAt, finishedAt: '2026-11-27T04:00:03.000Z', exitCode: 1, argv: meta.argv, inventory: meta.inventory });
    expect(doc.harness).toEqual({ name: 'leafcert', version: '0.1.0' });
    expect(doc.nodes[0]).toMatchObject({ name: 'leaf-1', identity, counts: { pass: 1, fail: 1 }, stats: { roundTrips: 7, connectMs: 180 } });
    expect(doc.nodes[1]).toMatchObject({ name: 'leaf-2', labels: { site: 'paris' }, counts: { error: 1, waived: 1, fail: 1 } });
    expect(doc.counts).toEqual({ pass: 1, fail: 2, error: 1, skipped: 0, waived: 1, manual: 0 });
    expect(doc.results[1].evidence.observed).toEqual({ state: 'open', rtt: 1 });
    expect(doc.results[3].originalStatus).toBe('fail');
    expect(doc.results[4].expiredWaiver.expires).toBe('2020-01-31');
    expect(doc.warnings).toEqual(['leaf-2: node identity not gathered: timeout']);
  });

  it('a partial report (written at node end, before the run ends) is valid and marked incomplete', () => {
    const doc = run(false);
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
    expect(doc.complete).toBe(false);
    expect(doc.run.finishedAt).toBeUndefined();
    expect(doc.results).toHaveLength(5);
  });

  it('the schema rejects what it should (it is not a rubber stamp)', () => {
    const doc = run(true);
    expect(validate({ ...doc, results: [{ ...doc.results[0], status: 'ok' }] })).toBe(false);
    expect(validate({ ...doc, results: [{ ...doc.results[0], checklist: ['made-up'] }] })).toBe(false);
    expect(validate({ ...doc, extra: 1 })).toBe(false);
    const { evidence, ...noEvidence } = doc.results[0];
    void evidence;
    expect(validate({ ...doc, results: [noEvidence] })).toBe(false);
  });
});

describe('JSON evidence reporter: odd values', () => {
  it('writes a BigInt observation as a decimal string instead of failing', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'leafcert-json-')), 'evidence.json');
    const rep = new JsonReporter(path);
    rep.onRunStart(meta);
    rep.onNodeStart(meta.nodes[0], identity);
    rep.onResult(result({ evidence: { source: 'pg', observed: 9007199254740993n as unknown } }));
    rep.onNodeEnd(meta.nodes[0]);
    rep.flush();
    const doc = JSON.parse(readFileSync(path, 'utf8'));
    expect(doc.results[0].evidence.observed).toBe('9007199254740993');
    expect(validate(doc)).toBe(true);
  });
});

describe('report files while the run goes on', () => {
  it('coalesce writes: a burst of results and node ends rewrites the file at most once per interval', async () => {
    const { AtomicFile } = await import('../src/reporters/atomic.js');
    const path = join(mkdtempSync(join(tmpdir(), 'leafcert-atomic-')), 'r.txt');
    let renders = 0;
    const f = new AtomicFile(path, () => `render ${++renders}`, 60_000);
    f.soon(); // first write goes out at once
    for (let i = 0; i < 100; i++) f.soon(); // the rest waits for the interval
    expect(renders).toBe(1);
    expect(readFileSync(path, 'utf8')).toBe('render 1');
    f.write(true); // the final write is never delayed
    expect(readFileSync(path, 'utf8')).toBe('render 2');
  });

  it('a costly partial write spaces the next one out: at least 25× its cost, never less than the interval', async () => {
    const { partialGapMs } = await import('../src/reporters/atomic.js');
    expect(partialGapMs(1000, 4)).toBe(1000);
    expect(partialGapMs(1000, 120)).toBe(3000);
  });
});
