// Who is this node: one exec for hostname, OS (NixOS version), the running system's store path,
// kernel, clock and machine-id. The clock matters: TLS expiry is judged by the node's clock too.
// Being the first round trip a node gets, it also sweeps scratch an earlier, killed run left
// (src/probes/scratch.ts): silently, before the first section.
import type { Host, NodeIdentity } from '../core/types.js';
import { section, splitSections } from './sections.js';
import { SWEEP_SH } from './scratch.js';

const PARTS = ['hostname', 'os-release', 'current-system', 'kernel', 'clock', 'machine-id'];

export const IDENTITY_SCRIPT = [
  `{ ${SWEEP_SH.split('\n').join('; ')}; } >/dev/null 2>&1`,
  section('hostname', 'cat /proc/sys/kernel/hostname 2>/dev/null || hostname'),
  section('os-release', 'cat /etc/os-release'),
  section('current-system', 'readlink /run/current-system'),
  section('kernel', 'uname -r'),
  section('clock', 'date -u +%s'),
  section('machine-id', 'cat /etc/machine-id'),
].join('; ');

/** KEY=value lines of os-release, quotes removed. */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    let v = m[2];
    if (/^".*"$|^'.*'$/.test(v)) v = v.slice(1, -1).replace(/\\(["\\$`])/g, '$1');
    out[m[1]] = v;
  }
  return out;
}

export function parseIdentity(output: string): NodeIdentity {
  const s = splitSections(output, 'identity probe', PARTS);
  const ok = (k: string) => (s.get(k)!.rc === 0 ? s.get(k)!.text.trim() : undefined);
  const id: NodeIdentity = {};
  id.hostname = ok('hostname') || undefined;
  const osText = ok('os-release');
  if (osText) {
    const os = parseOsRelease(osText);
    id.os = os.PRETTY_NAME ?? os.NAME;
    if (os.ID === 'nixos') {
      // VERSION is e.g. "25.05 (Warbler)"; BUILD_ID carries the exact revision (25.05.20250612.abcdef)
      id.nixosVersion = os.BUILD_ID ?? os.VERSION_ID ?? os.VERSION;
    }
  }
  id.currentSystem = ok('current-system') || undefined;
  id.kernel = ok('kernel') || undefined;
  const clock = ok('clock');
  if (clock && /^\d+$/.test(clock)) id.clock = new Date(Number(clock) * 1000).toISOString();
  const mid = ok('machine-id');
  if (mid && /^[0-9a-f]{32}$/.test(mid)) id.machineId = mid;
  return id;
}

export async function gatherIdentity(host: Host): Promise<NodeIdentity> {
  const r = await host.exec(IDENTITY_SCRIPT, { timeoutMs: 15_000 });
  return parseIdentity(r.stdout);
}
