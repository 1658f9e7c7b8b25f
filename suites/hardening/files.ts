// Filesystem judges over the one scan: world-writable files and directories, setuid/setgid files.
// Both results carry the scan's cost (time and CPU) so its budget is visible in every report.
import type { Outcome } from '../../src/core/types.js';
import { outcome } from '../../src/core/checks.js';
import type { Fact } from '../../src/core/fact.js';
import { matchesGlob } from '../../src/core/globs.js';
import type { ScanEntry, ScanFacts } from '../../src/probes/hardening.js';
import { CHECKS, type HardeningExpect } from './checks.js';

/** Where the scan looks on NixOS (the store and /run are NixOS's own). */
export const DEFAULT_ROOTS = ['/etc', '/var', '/var/lib', '/var/log', '/usr', '/usr/local', '/bin', '/sbin', '/lib', '/lib64', '/opt', '/srv', '/boot', '/home', '/root', '/tmp', '/dev/shm'];
export const DEFAULT_PRUNE = ['/proc', '/sys', '/dev', '/run', '/nix/store'];
/**
 * Temp dirs: world-writable by design, so only setuid/setgid files are looked for below them (NixOS
 * mounts /tmp and /var/tmp without nosuid: a setuid-root shell copied there is root for anyone).
 */
export const SUID_ONLY = ['/tmp', '/var/tmp', '/dev/shm'];
/**
 * Where a sticky world-writable directory is the norm (temp and lock dirs, also inside a container's
 * root); anywhere else (/etc, /var/lib, /root, /srv, /opt, /usr …) anyone may plant files in it.
 */
const STICKY_NORM = ['/tmp', '/var/tmp', '/dev/shm', '/run/lock', '/var/lock', '/dev/mqueue'];
const CONTAINER_ROOTS = /^\/var\/lib\/(nixos-containers|machines)\/[^/]+(?=\/)/;
export function stickyIsNorm(path: string): boolean {
  const p = path.replace(CONTAINER_ROOTS, '');
  return STICKY_NORM.some((n) => p === n || p.startsWith(`${n}/`));
}

const modeText = (m: number) => m.toString(8).padStart(4, '0');
const line = (x: ScanEntry) => `${modeText(x.mode)} ${x.uid}:${x.gid} ${x.type === 'd' ? 'dir ' : ''}${x.path}`;

function cost(s: ScanFacts) {
  return { roots: s.roots, elapsedMs: s.elapsedMs, cpuMs: s.cpuMs };
}

function judge(kind: 'world-writable' | 'suid', f: Fact<ScanFacts>, allow: string[], pick: (x: ScanEntry) => boolean, subject: string): Outcome {
  const def = CHECKS[kind];
  if (!f.ok) return outcome(def, subject, 'error', f.reason, { source: f.source, excerpt: f.excerpt });
  const found = f.value.entries.filter(pick);
  const allowed = found.filter((x) => allow.some((g) => matchesGlob(g, x.path)));
  const bad = found.filter((x) => !allowed.includes(x));
  const c = cost(f.value);
  const ev = {
    source: f.source,
    expected: allow.length ? `none outside ${allow.join(', ')}` : 'none',
    observed: { unexpected: bad.slice(0, 50).map(line), allowed: allowed.length, scan: c },
    excerpt: bad.slice(0, 10).map(line).join('\n') || undefined,
  };
  const costText = `scan of ${c.roots.length} root(s): ${c.elapsedMs} ms${c.cpuMs !== null ? `, ${c.cpuMs} ms CPU` : ''}`;
  const what = kind === 'suid' ? 'setuid/setgid file' : 'world-writable path';
  if (bad.length) return outcome(def, subject, 'fail', `${bad.length} unexpected ${what}(s): ${bad.slice(0, 3).map((x) => x.path).join(', ')}${bad.length > 3 ? ', …' : ''} (${costText})`, ev);
  return outcome(def, subject, 'pass', `no unexpected ${what}${allowed.length ? ` (${allowed.length} allowed)` : ''}; ${costText}`, ev);
}

export function judgeFiles(f: Fact<ScanFacts>, e: HardeningExpect): Outcome[] {
  const out: Outcome[] = [];
  if (e.worldWritable !== false) out.push(judge('world-writable', f, e.worldWritable?.allow ?? [], (x) => (x.mode & 0o002) !== 0 && !(x.type === 'd' && (x.mode & 0o1000) !== 0 && stickyIsNorm(x.path)), 'world-writable files'));
  if (e.suid !== false) out.push(judge('suid', f, e.suid?.allow ?? [], (x) => x.type === 'f' && (x.mode & 0o6000) !== 0, 'setuid/setgid files'));
  return out;
}
