// Issue 13 part 8: `leafcert diff OLD.json NEW.json`, the change between two certifications.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { daysLeft, diffRuns, type EvidenceDoc } from '../src/diff/diff.js';
import { diffCommand } from '../src/diff/cli.js';
import { main } from '../src/cli.js';
import type { Result } from '../src/core/types.js';
import { result } from './helpers/fakes.js';

const now = new Date('2027-01-20T12:00:00Z');
const waiver = (expires: string) => ({ check: 'tls.min-days-left', reason: 'renewal OPS-1', approvedBy: 'sre-lead', expires });

function doc(results: Result[], nodes = ['leaf-1', 'leaf-2'], startedAt = '2027-01-19T04:00:00.000Z'): EvidenceDoc {
  return { harness: { name: 'leafcert', version: '0.1.0' }, complete: true, run: { startedAt, exitCode: 0 }, nodes: nodes.map((name) => ({ name })), results };
}

const port = (subject: string, status: Result['status'], observed = status === 'pass' ? 'closed' : 'open', node = 'leaf-1') =>
  result({ subject, status, node, evidence: { expected: 'closed', observed, source: 'tcp connect' }, message: `port ${subject} is ${observed}` });

const OLD = doc([
  port('5432', 'pass'),
  port('6379', 'fail'),
  port('8080', 'pass'),
  port('9090', 'error', 'timeout'),
  result({ id: 'tls.min-days-left', suite: 'tls', subject: 'api:443', evidence: { expected: '>= 21', observed: 60, source: 'tls' } }),
  result({ id: 'isolation.private-users', suite: 'isolation', subject: 'alchemist', status: 'pass' }),
  port('22', 'pass', 'closed', 'leaf-2'),
]);
const NEW = doc(
  [
    port('5432', 'fail'), // newly fails
    port('6379', 'pass'), // fixed
    port('8080', 'pass'),
    port('9090', 'fail'), // error → fail: not new, a status change
    result({ id: 'tls.min-days-left', suite: 'tls', subject: 'api:443', evidence: { expected: '>= 21', observed: 59, source: 'tls' } }), // evidence
    result({ id: 'isolation.private-users', suite: 'isolation', subject: 'alchemist', status: 'skipped' }), // status change
    result({ id: 'health.status', suite: 'health', subject: 'https://x/health', status: 'error', message: 'connect ECONNREFUSED' }), // new check, errors
    result({ node: 'leaf-3', status: 'waived', originalStatus: 'fail', waiver: waiver('2027-01-25'), id: 'tls.min-days-left', subject: 'api:443' }),
    result({ node: 'leaf-3', id: 'tls.chain', subject: 'api:443', expiredWaiver: waiver('2027-01-10'), status: 'pass' }),
    result({ node: 'leaf-3', id: 'tls.names', subject: 'api:443', status: 'waived', originalStatus: 'fail', waiver: waiver('2027-06-30') }),
  ],
  ['leaf-1', 'leaf-3'],
  '2027-01-20T04:00:00.000Z',
);

let dir = mkdtempSync(join(tmpdir(), 'leafcert-diff-'));
function file(name: string, content: unknown): string {
  const p = join(dir, name);
  writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content));
  return p;
}

function capture<T>(f: () => T): { value: T; out: string; err: string } {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  try {
    return { value: f(), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

afterEach(() => {
  process.exitCode = undefined;
});

describe('diffRuns', () => {
  const d = diffRuns(OLD, NEW, { expiringDays: 14, now });
  const names = (cs: { node: string; id: string; subject: string }[]) => cs.map((c) => `${c.node} ${c.id} ${c.subject}`);

  it('new failures: fail or error now and neither before, new checks and new nodes included', () => {
    expect(names(d.newFailures)).toEqual(['leaf-1 firewall.port-closed 5432', 'leaf-1 health.status https://x/health']);
    expect(d.newFailures[0].old?.status).toBe('pass');
    expect(d.newFailures[1].old).toBeUndefined();
  });
  it('fixed, other status changes, changed evidence', () => {
    expect(names(d.fixed)).toEqual(['leaf-1 firewall.port-closed 6379']);
    expect(d.statusChanged.map((c) => `${c.node} ${c.id} ${c.subject} ${c.old?.status ?? '-'}→${c.new?.status ?? '-'}`)).toEqual([
      'leaf-1 firewall.port-closed 9090 error→fail',
      'leaf-1 isolation.private-users alchemist pass→skipped',
      'leaf-2 firewall.port-closed 22 pass→-',
      'leaf-3 tls.min-days-left api:443 -→waived',
      'leaf-3 tls.chain api:443 -→pass',
      'leaf-3 tls.names api:443 -→waived',
    ]);
    expect(names(d.evidenceChanged)).toEqual(['leaf-1 tls.min-days-left api:443']);
    expect([d.evidenceChanged[0].old?.observed, d.evidenceChanged[0].new?.observed]).toEqual([60, 59]);
  });
  it('nodes added and removed', () => {
    expect(d.nodesAdded).toEqual(['leaf-3']);
    expect(d.nodesRemoved).toEqual(['leaf-2']);
  });
  it('waivers expiring within N days, expired ones first; later ones left out', () => {
    expect(d.expiringWaivers.map((w) => `${w.check} ${w.expires} ${w.daysLeft} ${w.expired}`)).toEqual(['tls.min-days-left 2027-01-10 -10 true', 'tls.min-days-left 2027-01-25 5 false']);
    expect(diffRuns(OLD, NEW, { expiringDays: 200, now }).expiringWaivers).toHaveLength(3);
    expect(daysLeft('2027-01-20', now)).toBe(0);
    expect(daysLeft('2027-01-19', now)).toBe(-1);
  });
  it('evidence that moved only in clocks and timings is counted, not listed; a real change is listed', () => {
    const tls = (observed: object) => doc([result({ id: 'tls.not-expired', subject: 'api:443', evidence: { source: 'tls', observed } })]);
    const a = tls({ harnessClock: '2027-01-19T04:00:01Z', nodeClock: '2027-01-19T04:00:00Z', notAfter: '2027-03-01T00:00:00Z', latency: { totalMs: 300, samples: [300] } });
    const b = tls({ harnessClock: '2027-01-20T04:00:01Z', nodeClock: '2027-01-20T04:00:00Z', notAfter: '2027-03-01T00:00:00Z', latency: { totalMs: 90, samples: [90, 80] } });
    const rotated = tls({ harnessClock: '2027-01-20T04:00:01Z', nodeClock: '2027-01-20T04:00:00Z', notAfter: '2027-06-01T00:00:00Z' });
    const quiet = diffRuns(a, b, { expiringDays: 14, now });
    expect([quiet.evidenceChanged.length, quiet.volatileOnly]).toEqual([0, 1]);
    const real = diffRuns(a, rotated, { expiringDays: 14, now });
    expect([real.evidenceChanged.length, real.volatileOnly]).toEqual([1, 0]);
  });

  it('the same run twice: nothing', () => {
    const same = diffRuns(NEW, NEW, { expiringDays: 0, now: new Date('2026-01-01T00:00:00Z') });
    expect([same.newFailures, same.fixed, same.statusChanged, same.evidenceChanged, same.nodesAdded, same.nodesRemoved, same.expiringWaivers].flat()).toEqual([]);
  });
});

describe('leafcert diff', () => {
  it('exit 1 on new failures; console names them; --json and --html written', () => {
    const json = join(dir, 'out/diff.json');
    const html = join(dir, 'out/diff.html');
    const r = capture(() => diffCommand(file('old.json', OLD), file('new.json', NEW), { expiringDays: 14, json, html }, now));
    expect(r.value).toBe(1);
    expect(r.out).toContain('new failures (2):\n  FAIL leaf-1 firewall.port-closed 5432: port 5432 is open (was pass)\n  ERROR leaf-1 health.status https://x/health: connect ECONNREFUSED\n');
    expect(r.out).toContain('fixed (1):\n  leaf-1 firewall.port-closed 6379: fail → pass');
    expect(r.out).toContain('evidence changed (1):\n  leaf-1 tls.min-days-left api:443 (pass): observed 60 → 59');
    expect(r.out).toContain('nodes added: leaf-3\nnodes removed: leaf-2');
    expect(r.out).toContain('waivers expiring within 14 days (2):\n  leaf-3 tls.min-days-left api:443: expires 2027-01-10 (expired)');
    expect(r.out).toMatch(/REGRESSION: 2 new failures, 1 fixed\n$/);
    const j = JSON.parse(readFileSync(json, 'utf8'));
    expect(j.newFailures.map((c: { subject: string }) => c.subject)).toEqual(['5432', 'https://x/health']);
    const h = readFileSync(html, 'utf8');
    expect(h).toContain('<h2>New failures (2)</h2>');
    expect(h).toContain('REGRESSION: 2 new failures');
    expect(h).not.toMatch(/<script|https?:\/\/(?!x\/health)/);
  });

  it('exit 0 when nothing newly fails (a fix and an unchanged failure are no regression)', () => {
    const r = capture(() => diffCommand(file('a.json', doc([port('1', 'fail'), port('2', 'fail')])), file('b.json', doc([port('1', 'fail'), port('2', 'pass')])), { expiringDays: 14 }, now));
    expect(r.value).toBe(0);
    expect(r.out).toMatch(/NO REGRESSION: nothing newly fails, 1 fixed\n$/);
  });

  it('bad input is exit 2 with one line naming the file', async () => {
    const good = file('good.json', OLD);
    const cases: [string, RegExp][] = [
      [join(dir, 'missing.json'), /missing\.json: cannot read a leafcert JSON report: ENOENT/],
      [file('junit.xml', '<testsuites/>'), /junit\.xml: cannot read a leafcert JSON report: not JSON/],
      [file('other.json', { results: [] }), /other\.json: not a leafcert JSON evidence report: no "harness"/],
      [file('broken.json', { ...OLD, results: [{ id: 'x' }] }), /broken\.json: not a leafcert JSON evidence report: results\[0\] lacks/],
    ];
    for (const [f, re] of cases) {
      for (const args of [
        [good, f],
        [f, good],
      ]) {
        const r = capture(() => diffCommand(args[0], args[1], { expiringDays: 14 }, now));
        expect(r.value).toBe(2);
        expect(r.err).toMatch(re);
        expect(r.err.split('\n')).toHaveLength(2);
        expect(r.out).toBe('');
      }
    }
    // Through the command line: the same, and a bad --expiring-days is a usage error.
    let code = 0;
    const viaCli = await (async () => {
      const e = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
      try {
        code = await main(['node', 'leafcert', 'diff', good, cases[0][0]]);
        return await main(['node', 'leafcert', 'diff', good, good, '--expiring-days', 'soon']);
      } finally {
        e.mockRestore();
      }
    })();
    expect(code).toBe(2);
    expect(viaCli).toBe(2);
  });
});
