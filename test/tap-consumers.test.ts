// The TAP read by the reporters people already pipe TAP into (issue 13 part 4): tap-spec (tap-out)
// and tap-mocha-reporter, run as their own CLIs, must show every test point and each failure's
// details. tap-spec used to stop at the first failure's block-sequence `checklist:` list.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TapReporter } from '../src/reporters/tap.js';
import { stripAnsi } from '../src/reporters/text.js';
import type { RunMeta } from '../src/reporters/types.js';
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

const results: Result[] = [
  result({ subject: '22' }),
  // Several checklist items (a list), a multi-line excerpt holding a YAML end marker.
  result({
    subject: '5432',
    status: 'fail',
    message: 'port 5432 is open',
    checklist: ['network-policies', 'hardening'],
    evidence: { expected: 'closed', observed: 'open', source: 'tcp connect 10.250.0.2:5432', excerpt: 'ACCEPT tcp 5432\n  ...\nsecond line' },
  }),
  // Nested maps, and a multi-line excerpt with double quotes (yaml then picks a multi-line single-quoted scalar).
  result({
    id: 'firewall.ports',
    subject: 'allowed ports',
    status: 'fail',
    message: 'allowed ports differ',
    evidence: { expected: [22, 80, 443], observed: [22, 80, 443, 6379], source: 'iptables-save', excerpt: '-A nixos-fw -j LOG --log-prefix "refused connection: "\n\n-A nixos-fw-refuse -j DROP' },
  }),
  result({ id: 'firewall.allowed-ports', subject: 'v4 and v6', status: 'fail', message: 'differ', evidence: { expected: { allowed: { tcp: '22,80' }, trusted: ['lo'] }, observed: { ipv4: { allowed: { tcp: '22,80,6379' } } }, source: 'iptables-save' } }),
  result({ id: 'tls.handshake', suite: 'tls', subject: 'api:443', status: 'error', message: 'handshake timed out after 5s', evidence: { source: 'tls connect 10.250.0.2:443' } }),
  result({ subject: '80' }),
];

async function writeTap(): Promise<string> {
  const path = join(mkdtempSync(join(tmpdir(), 'leafcert-tapc-')), 'results.tap');
  const rep = new TapReporter(path);
  rep.onRunStart(meta);
  rep.onNodeStart(meta.nodes[0], identity);
  for (const r of results) rep.onResult(r);
  rep.onNodeEnd(meta.nodes[0]);
  const counts = emptyCounts();
  for (const r of results) counts[r.status]++;
  await rep.onRunEnd({ finishedAt: '2026-11-27T04:00:01.000Z', durationMs: 1000, counts, perNode: {}, exitCode: 1, interrupted: false, warnings: [] });
  return readFileSync(path, 'utf8');
}

function render(bin: string, args: string[], input: string): { out: string; status: number | null } {
  const r = spawnSync(join('node_modules', '.bin', bin), args, { input, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' }, timeout: 30_000 });
  return { out: stripAnsi(`${r.stdout}${r.stderr}`), status: r.status };
}

describe('TAP in common reporters', () => {
  it('tap-spec lists every test point and prints each failure with expected, observed and source', async () => {
    const { out } = render('tap-spec', [], await writeTap());
    expect(out).not.toMatch(/TypeError|Cannot read properties/);
    expect(out).toMatch(/total:\s+6/);
    expect(out).toMatch(/passing:\s+2/);
    expect(out).toMatch(/failing:\s+4/);
    // The last test point, after every failure's block, was reached.
    expect(out).toContain('✔ leaf-1.firewall firewall.port-closed 80');
    for (const line of ['expected: closed', 'observed: open', 'source: tcp connect 10.250.0.2:5432', 'checklist: [ network-policies, hardening ]', 'found: [ 22, 80, 443, 6379 ]', 'message: handshake timed out after 5s', 'duration_ms: 12']) {
      expect(out).toContain(line);
    }
  });

  it('tap-mocha-reporter shows wanted/found as a diff and an error its message', async () => {
    const { out } = render('tap-mocha-reporter', ['spec'], await writeTap());
    expect(out).toMatch(/2 passing/);
    expect(out).toMatch(/4 failing/);
    const port = out.slice(out.indexOf('1) leaf-1.firewall firewall.port-closed 5432:'));
    expect(port).toMatch(/\+ expected - actual\s+-open\s+\+closed/);
    expect(out).toMatch(/-\s+6379/);
    expect(out).toMatch(/4\) leaf-1\.tls tls\.handshake api:443:\s+handshake timed out after 5s/);
  });

  it('diagnostics have one `key: value` per line: no block lists or block scalars', async () => {
    const tap = await writeTap();
    const diag: string[] = [];
    let inBlock = false;
    for (const l of tap.split('\n')) {
      if (l === '  ---') inBlock = true;
      else if (l === '  ...') inBlock = false;
      else if (inBlock) diag.push(l);
    }
    expect(diag.length).toBeGreaterThan(40);
    for (const l of diag) expect(l).toMatch(/^ {2}[a-zA-Z_]+: \S/);
  });
});
