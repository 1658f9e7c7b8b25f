// A synthetic two-node run written by the real reporters, for the HTML browser test and the
// screenshots in docs/img: one NixOS node with a pinned host key, one Debian node whose key was
// accepted on first use, and every status (fail, error, waived, skipped, manual, pass).
import '../../src/suites.js'; // registers every check, so reports carry the definitions
import { checkDef } from '../../src/core/checks.js';
import type { NodeIdentity, Result, Status } from '../../src/core/types.js';
import { checkSet } from '../../src/reporters/metadata.js';
import type { NodeStats, Reporter, RunMeta } from '../../src/reporters/types.js';
import { emptyCounts } from '../../src/reporters/types.js';
import { node } from './fakes.js';

const nodes = [node('leaf-paris-1', { host: '10.250.0.2' }), node('leaf-lyon-2', { host: '10.250.0.3' })];

const identities: NodeIdentity[] = [
  {
    hostname: 'leaf-paris-1',
    os: 'NixOS 25.05 (Warbler)',
    nixosVersion: '25.05.20250612.abcdef',
    currentSystem: '/nix/store/9f3k2-nixos-system-leaf-paris-1-25.05',
    kernel: '6.12.30',
    clock: '2026-11-27T04:00:00Z',
    machineId: '3f1c0e2a9b8d4c7e8f6a5b4c3d2e1f00',
  },
  { hostname: 'leaf-lyon-2', os: 'Debian GNU/Linux 12 (bookworm)', kernel: '6.1.0-27-amd64', clock: '2026-11-27T04:00:01Z', machineId: '0a1b2c3d4e5f60718293a4b5c6d7e8f9' },
];

const stats: NodeStats[] = [
  { transport: 'ssh root@10.250.0.2:22', roundTrips: 14, connectMs: 180, durationMs: 9_200, hostKey: { type: 'ssh-ed25519', fingerprint: 'SHA256:uN3Zq0c8Yl7nK1vJ2dQm3bX4pR5sT6wU7xY8zA9bC0d', trust: 'known_hosts', knownHosts: './known_hosts:3' } },
  { transport: 'ssh root@10.250.0.3:22', roundTrips: 12, connectMs: 210, durationMs: 8_100, hostKey: { type: 'ssh-ed25519', fingerprint: 'SHA256:kL9mN8oP7qR6sT5uV4wX3yZ2aB1cD0eF9gH8iJ7kL6m', trust: 'accepted-new', knownHosts: './known_hosts' } },
];

function r(nodeName: string, id: string, subject: string, status: Status, message: string, evidence: Result['evidence'], over: Partial<Result> = {}): Result {
  const d = checkDef(id)!;
  return { id, title: d.title, subject, status, severity: d.severity, message, evidence, checklist: d.checklist, node: nodeName, suite: d.suite, startedAt: '2026-11-27T04:00:02.000Z', durationMs: 0.4, ...over };
}

export function sampleResults(): Result[] {
  const P = 'leaf-paris-1';
  const L = 'leaf-lyon-2';
  return [
    r(P, 'firewall.enabled', 'nixos-fw', 'pass', 'nixos-fw is hooked into INPUT (v4 and v6)', { expected: 'hooked', observed: 'hooked', source: 'iptables-save' }),
    r(P, 'firewall.port-closed', '5432', 'fail', 'port 5432 is open from the harness', { expected: 'closed', observed: { state: 'open', rttMs: 1.2, from: '10.250.0.1' }, source: 'tcp connect 10.250.0.2:5432' }),
    r(P, 'firewall.allowed-ports', 'tcp', 'fail', 'allowed TCP ports differ: 5432 is allowed but not expected', { expected: [22, 80, 443], observed: [22, 80, 443, 5432], source: 'iptables-save', optionPath: 'networking.firewall.allowedTCPPorts', excerpt: '-A nixos-fw -p tcp -m tcp --dport 5432 -j nixos-fw-accept' }),
    r(P, 'tls.handshake', 'api.alchemist.local:443', 'pass', 'TLSv1.3 handshake completed', { expected: 'handshake', observed: 'TLSv1.3 TLS_AES_256_GCM_SHA384', source: 'tls connect 10.250.0.2:443' }),
    r(P, 'tls.min-days-left', 'api.alchemist.local:443', 'waived', '12 days left, 21 required', { expected: '>= 21 days', observed: '12 days', source: 'x509 notAfter' }, { originalStatus: 'fail', waiver: { check: 'tls.min-days-left', node: P, reason: 'renewal ticket OPS-1412', approvedBy: 'sre-lead', expires: '2027-01-31' } }),
    r(P, 'backup.restore-sample', 'alchemist', 'skipped', 'mutating check: run with --allow-mutating', { source: 'suites/backup' }),
    r(P, 'checklist.documentation', 'node documentation', 'manual', 'a person must confirm the node is documented', { source: 'docs/checklist.md' }),
    r(P, 'postgres.setting', 'shared_buffers', 'pass', 'shared_buffers = 2GB', { expected: '2GB', observed: '262144 x 8kB', source: 'pg_settings' }),
    r(L, 'firewall.enabled', 'nixos-fw', 'error', 'iptables-save: command not found (exit 127)', { source: 'iptables-save', excerpt: 'bash: line 1: iptables-save: command not found' }),
    r(L, 'tls.handshake', 'api.alchemist.local:443', 'fail', 'certificate chain does not reach the expected CA', { expected: 'CN=Alchemist Root CA', observed: { issuer: 'CN=Self-signed', subject: 'CN=api.alchemist.local' }, source: 'tls connect 10.250.0.3:443' }),
    r(L, 'postgres.setting', 'shared_buffers', 'pass', 'shared_buffers = 2GB', { expected: '2GB', observed: '262144 x 8kB', source: 'pg_settings' }),
  ];
}

export const sampleMeta: RunMeta = {
  harness: { name: 'leafcert', version: '0.1.0' },
  startedAt: '2026-11-27T04:00:00.000Z',
  inventory: { path: '/srv/leafcert/inventory.yaml', sha256: '4be1c0ffee9d3a6c7b2e8f015d4c3b2a190817263544f3e2d1c0b9a8f7e6d5c4' },
  argv: ['run', '--inventory', '/srv/leafcert/inventory.yaml', '--html', 'report.html'],
  nodes,
  planned: 11,
  checks: checkSet(sampleResults().map((x) => x.id)),
};

/** Feeds the sample through reporters as the engine would, and finishes the run (exit 1). */
export async function writeSample(reporters: Reporter[]): Promise<void> {
  const results = sampleResults();
  for (const rep of reporters) rep.onRunStart(sampleMeta);
  nodes.forEach((n, i) => {
    for (const rep of reporters) rep.onNodeStart(n, identities[i]);
    for (const x of results.filter((y) => y.node === n.name)) for (const rep of reporters) rep.onResult(x);
    for (const rep of reporters) rep.onNodeEnd(n, stats[i]);
  });
  const counts = emptyCounts();
  const perNode: Record<string, ReturnType<typeof emptyCounts>> = {};
  for (const x of results) {
    counts[x.status]++;
    (perNode[x.node] ??= emptyCounts())[x.status]++;
  }
  for (const rep of reporters) await rep.onRunEnd({ finishedAt: '2026-11-27T04:00:17.300Z', durationMs: 17_300, counts, perNode, exitCode: 1, interrupted: false, warnings: [] });
}
