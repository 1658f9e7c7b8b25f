import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConsoleReporter } from '../src/reporters/console.js';
import type { RunMeta, RunSummary } from '../src/reporters/types.js';
import { emptyCounts } from '../src/reporters/types.js';
import type { Result } from '../src/core/types.js';
import { identity, node, result } from './helpers/fakes.js';

class Sink {
  text = '';
  constructor(public isTTY = false, public columns = 80) {}
  write(s: string) {
    this.text += s;
    return true;
  }
}

const meta: RunMeta = {
  harness: { name: 'leafcert', version: '0.1.0' },
  startedAt: '2026-11-27T04:00:00.000Z',
  inventory: { path: '/srv/inventory.yaml', sha256: '' },
  argv: [],
  nodes: [node('leaf-1'), node('leaf-2')],
  planned: 4,
  plannedSuites: 2,
};

async function drive(rep: ConsoleReporter, results: Result[], exitCode = 1) {
  rep.onRunStart(meta);
  for (const n of meta.nodes) rep.onNodeStart(n, n.name === 'leaf-1' ? identity : {});
  for (const r of results) rep.onResult(r);
  for (const n of meta.nodes) rep.onNodeEnd(n);
  const counts = emptyCounts();
  const perNode: Record<string, ReturnType<typeof emptyCounts>> = { 'leaf-1': emptyCounts(), 'leaf-2': emptyCounts() };
  for (const r of results) {
    counts[r.status]++;
    perNode[r.node][r.status]++;
  }
  const s: RunSummary = { finishedAt: '', durationMs: 2345, counts, perNode, exitCode, interrupted: false, warnings: [] };
  await rep.onRunEnd(s);
}

const results: Result[] = [
  result(),
  result({ subject: '6379', status: 'fail', message: 'port 6379 answers', evidence: { expected: 'closed', observed: 'open \x1b[31m(SYN-ACK)', source: 'tcp connect 10.250.0.2:6379' } }),
  result({ node: 'leaf-2', status: 'error', message: 'host key for 10.250.0.6 changed', evidence: { source: 'transport ssh (hostkey)' } }),
];

afterEach(() => vi.unstubAllEnvs());

describe('console reporter', () => {
  it('plain mode: node lines, failures with expected vs observed, a summary with counts and report paths, no escapes', async () => {
    const sink = new Sink(false);
    await drive(new ConsoleReporter({ stream: sink, reportPaths: ['/nonexistent/junit.xml'] }), results);
    expect(sink.text).not.toMatch(/\x1b/);
    const lines = sink.text.split('\n');
    expect(lines).toContain('leafcert 0.1.0: checking 2 nodes (2 suite runs, 4 check ids) from /srv/inventory.yaml');
    expect(lines).toContain('leaf-1: checking (leaf-1, NixOS 24.05.20240101.abcdef)');
    expect(lines).toContain('FAIL leaf-1 firewall.port-closed 6379: port 6379 answers');
    expect(lines).toContain('     expected: closed');
    expect(lines).toContain('     observed: open (SYN-ACK)');
    expect(lines).toContain('ERROR leaf-2 firewall.port-closed 5432: host key for 10.250.0.6 changed');
    expect(lines).toContain('✗ leaf-1: 1 passed, 1 failed');
    expect(lines).toContain('NOT CERTIFIED: 1 passed, 1 failed, 1 error in 2.3s');
    expect(lines).toContain('  leaf-2  1 error');
    expect(lines).toContain('reports: /nonexistent/junit.xml');
    expect(lines).toContain('exit code 1');
  });

  it('on a TTY: colours and an updating block; CI=true or NO_COLOR fall back to plain', async () => {
    // The suite itself may run under CI=true or NO_COLOR: start from a plain terminal's environment.
    vi.stubEnv('CI', undefined);
    vi.stubEnv('NO_COLOR', undefined);
    vi.stubEnv('TERM', 'xterm');
    const tty = new Sink(true);
    await drive(new ConsoleReporter({ stream: tty }), results);
    expect(tty.text).toMatch(/\x1b\[31;1mFAIL/);
    expect(tty.text).toMatch(/\x1b\[\d+A\x1b\[0J/); // cursor up + clear: lines updated in place
    vi.stubEnv('CI', 'true');
    const ci = new Sink(true);
    await drive(new ConsoleReporter({ stream: ci }), results);
    expect(ci.text).not.toMatch(/\x1b/);
    vi.stubEnv('CI', undefined);
    vi.stubEnv('NO_COLOR', '1');
    const nc = new Sink(true);
    await drive(new ConsoleReporter({ stream: nc }), results);
    expect(nc.text).not.toMatch(/\x1b/);
  });

  it('says CERTIFIED only on exit 0 and explains an empty run', async () => {
    const ok = new Sink(false);
    await drive(new ConsoleReporter({ stream: ok }), [result()], 0);
    expect(ok.text).toContain('CERTIFIED: 1 passed');
    const none = new Sink(false);
    await drive(new ConsoleReporter({ stream: none }), [], 2);
    expect(none.text).toContain('INCOMPLETE: no checks');
    expect(none.text).toContain('no checks ran: the inventory or --only selected nothing');
  });

  it('every result skipped or manual: NOT CERTIFIED, saying nothing was evidenced', async () => {
    const sink = new Sink(false);
    await drive(new ConsoleReporter({ stream: sink }), [result({ status: 'skipped' }), result({ status: 'manual' })], 3);
    expect(sink.text).toContain('NOT CERTIFIED: ');
    expect(sink.text).toContain('nothing was evidenced: every result is skipped or manual');
    expect(sink.text).not.toContain('INCOMPLETE');
  });
});

describe('console reporter: an unreachable node', () => {
  it('prints one line for all the checks that share the same error, not one per check', async () => {
    const sink = new Sink(false);
    const errs = ['firewall.enabled', 'firewall.drift', 'tls.chain', 'tls.hostname', 'tls.min-days-left'].map((id) =>
      result({ node: 'leaf-2', id, subject: 'leaf-2', status: 'error', message: 'leaf-2: no ssh handshake within 2000 ms', evidence: { source: 'transport ssh (unreachable)' } }),
    );
    await drive(new ConsoleReporter({ stream: sink }), [result(), ...errs], 3);
    const lines = sink.text.split('\n').filter((l) => l.startsWith('ERROR'));
    expect(lines).toEqual(['ERROR leaf-2 firewall.enabled, firewall.drift, tls.chain, tls.hostname, … (5 checks): leaf-2: no ssh handshake within 2000 ms']);
    expect(sink.text).toContain('     source:   transport ssh (unreachable)');
  });
});

describe('console reporter: report digests', () => {
  it('prints the sha256 of each finished report, so the CI log can vouch for the files', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { createHash } = await import('node:crypto');
    const p = join(mkdtempSync(join(tmpdir(), 'leafcert-console-')), 'junit.xml');
    writeFileSync(p, '<testsuites/>\n');
    const sink = new Sink(false);
    await drive(new ConsoleReporter({ stream: sink, reportPaths: [p, '/nonexistent/r.tap'], digests: true }), [result()], 0);
    expect(sink.text).toContain(`  ${p}  sha256:${createHash('sha256').update('<testsuites/>\n').digest('hex')}`);
    expect(sink.text).toContain('  /nonexistent/r.tap  (not written: ENOENT)');
  });
});
