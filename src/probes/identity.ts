// Who is this node: one exec for hostname, OS (NixOS version), the running system's store path,
// kernel, clock and machine-id. The clock matters: TLS expiry is judged by the node's clock too.
// Being the first round trip a node gets, it also sweeps scratch an earlier, killed run left
// (src/probes/scratch.ts): silently, before the first section.
import type { Host, NodeIdentity } from '../core/types.js';
import { scriptCommand } from '../core/script.js';
import { section, splitSections } from './sections.js';
import { SWEEP_IF_ANY_SH } from './scratch.js';

const PARTS = ['hostname', 'os-release', 'current-system', 'kernel', 'clock', 'machine-id'];

// Bash builtins where a file is all there is to read (`read`, printf's clock): this runs on every
// node of every run, so it forks no process for what the shell can do itself (a fleet of lab nodes
// on one box spent most of its CPU on such forks).
const readFile = (f: string) => `while IFS= read -r __l || [ -n "$__l" ]; do printf '%s\\n' "$__l"; done <${f}`;

export const IDENTITY_SCRIPT = [
  `{\n${SWEEP_IF_ANY_SH}\n} >/dev/null 2>&1`,
  section('hostname', `${readFile('/proc/sys/kernel/hostname')} || hostname`),
  section('os-release', readFile('/etc/os-release')),
  section('current-system', '[ -e /run/current-system ] && readlink /run/current-system'),
  section('kernel', `${readFile('/proc/sys/kernel/osrelease')} || uname -r`),
  section('clock', `printf '%(%s)T\\n' -1`),
  section('machine-id', readFile('/etc/machine-id')),
].join('\n');

/** The identity round trip as the node runs it: bash, for its builtins (NixOS's sh is bash too). */
export const IDENTITY_COMMAND = scriptCommand(IDENTITY_SCRIPT);

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
  const r = await host.exec(IDENTITY_COMMAND, { timeoutMs: 15_000 });
  return parseIdentity(r.stdout);
}
