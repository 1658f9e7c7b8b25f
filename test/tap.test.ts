import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Parser } from 'tap-parser';
import { describe, expect, it } from 'vitest';
import { TapReporter } from '../src/reporters/tap.js';
import type { RunMeta, RunSummary } from '../src/reporters/types.js';
import { emptyCounts } from '../src/reporters/types.js';
import type { Result } from '../src/core/types.js';
import { identity, node, result } from './helpers/fakes.js';

const meta: RunMeta = {
  harness: { name: 'leafcert', version: '0.1.0' },
  startedAt: '2026-11-27T04:00:00.000Z',
  inventory: { path: '/srv/inventory.yaml', sha256: 'a'.repeat(64) },
  argv: ['run'],
  nodes: [node('leaf-1')],
  planned: 3,
};

function parse(tap: string): { summary: any; asserts: any[]; extra: string[] } {
  const asserts: any[] = [];
  const extra: string[] = [];
  let summary: any;
  const p = new Parser({ strict: true }, (s) => (summary = s));
  p.on('assert', (a) => asserts.push(a));
  p.on('extra', (e) => extra.push(e));
  p.end(tap);
  return { summary, asserts, extra };
}

async function tap(results: Result[], final = true): Promise<string> {
  const path = join(mkdtempSync(join(tmpdir(), 'leafcert-tap-')), 'results.tap');
  const rep = new TapReporter(path);
  rep.onRunStart(meta);
  rep.onNodeStart(meta.nodes[0], identity);
  for (const r of results) rep.onResult(r);
  rep.onNodeEnd(meta.nodes[0]);
  rep.flush(); // what the interval timer does while the run goes on
  if (final) {
    const counts = emptyCounts();
    for (const r of results) counts[r.status]++;
    const s: RunSummary = { finishedAt: '', durationMs: 1, counts, perNode: {}, exitCode: 0, interrupted: false, warnings: [] };
    await rep.onRunEnd(s);
  }
  return readFileSync(path, 'utf8');
}

describe('TAP reporter', () => {
  it('writes TAP 14 that tap-parser accepts in strict mode; passes, skips and manual are ok', async () => {
    const text = await tap([
      result(),
      result({ subject: 'no #1 \\ here', status: 'skipped', message: 'needs --allow-mutating' }),
      result({ subject: 'runbook', status: 'manual', message: 'a person confirms it' }),
    ]);
    expect(text.startsWith('TAP version 14\n')).toBe(true);
    const { summary, asserts, extra } = parse(text);
    expect(extra).toEqual([]);
    expect(summary.ok).toBe(true);
    expect(summary.plan).toMatchObject({ start: 1, end: 3 });
    expect(summary.failures).toEqual([]);
    expect(asserts.map((a) => [a.ok, a.name, a.skip])).toEqual([
      [true, 'leaf-1.firewall firewall.port-closed 5432', false],
      [true, 'leaf-1.firewall firewall.port-closed no #1 \\ here', 'needs --allow-mutating'],
      [true, 'leaf-1.firewall firewall.port-closed runbook', 'manual: a person confirms it'],
    ]);
  });

  it('failures and errors are not ok with YAML diagnostics: expected, observed, source', async () => {
    const text = await tap([
      result({ status: 'fail', message: 'port 5432 is open', evidence: { expected: 'closed', observed: 'open', source: 'tcp connect 10.250.0.2:5432', excerpt: 'a\n  ...\n]]> \x1b[31mred' } }),
      result({ subject: '6379', status: 'error', message: 'timed out', evidence: { source: 'ssh' } }),
    ]);
    const { summary, asserts } = parse(text);
    expect(summary.ok).toBe(false);
    expect(summary.fail).toBe(2);
    expect(asserts[0].diag).toMatchObject({ status: 'fail', message: 'port 5432 is open', expected: 'closed', observed: 'open', source: 'tcp connect 10.250.0.2:5432', checklist: ['network-policies'] });
    expect(asserts[0].diag.excerpt).toBe('a\n  ...\n]]> red');
    expect(asserts[1].diag).toMatchObject({ status: 'error', message: 'timed out', source: 'ssh' });
  });

  it('a waived failure is `not ok # TODO` with the waiver, which does not fail the stream', async () => {
    const text = await tap([
      result({ status: 'waived', originalStatus: 'fail', waiver: { check: 'firewall.*', reason: 'ticket 7', approvedBy: 'sre-lead', expires: '2027-01-31' } }),
    ]);
    const { summary, asserts } = parse(text);
    expect(summary.ok).toBe(true);
    expect(asserts[0].ok).toBe(false);
    expect(asserts[0].todo).toBe('waived until 2027-01-31 by sre-lead');
    expect(asserts[0].diag.waiver.reason).toBe('ticket 7');
  });

  it('zero checks is not ok, never an empty pass', async () => {
    const { summary } = parse(await tap([]));
    expect(summary.ok).toBe(false);
    expect(summary.fail).toBe(1);
  });

  it('a partial report (run not finished) parses and is not ok (bail out)', async () => {
    const { summary } = parse(await tap([result()], false));
    expect(summary.ok).toBe(false);
    expect(summary.bailout).toBe('leafcert run did not finish (partial report)');
  });
});
