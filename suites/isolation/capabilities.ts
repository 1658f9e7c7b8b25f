// isolation.capabilities: the leader's bounding set judged against an allowlist (not a blocklist: a
// container restarted with CAP_SYS_RAWIO, CAP_SYS_TIME or CAP_BPF used to pass as long as it lacked
// CAP_SYS_ADMIN and CAP_SYS_MODULE). Allowed: what systemd-nspawn keeps by default, CAP_NET_ADMIN with
// a private network (nspawn adds it for --private-network), the capabilities the container declares
// (--capability= in extraFlags, containers.<name>.additionalCapabilities), minus the must-drop ones.
import type { Outcome } from '../../src/core/types.js';
import { outcome } from '../../src/core/checks.js';
import { normaliseCap } from '../../src/probes/capabilities.js';
import type { ProcStatus } from '../../src/probes/capabilities.js';
import { CHECKS } from './checks.js';

/** systemd-nspawn's default bounding set (man systemd-nspawn, --capability=). */
export const NSPAWN_DEFAULT_CAPS = [
  'CAP_AUDIT_CONTROL', 'CAP_AUDIT_WRITE', 'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER',
  'CAP_FSETID', 'CAP_IPC_OWNER', 'CAP_KILL', 'CAP_LEASE', 'CAP_LINUX_IMMUTABLE', 'CAP_MKNOD', 'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST', 'CAP_NET_RAW', 'CAP_SETFCAP', 'CAP_SETGID', 'CAP_SETPCAP', 'CAP_SETUID', 'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT', 'CAP_SYS_CHROOT', 'CAP_SYS_NICE', 'CAP_SYS_PTRACE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TTY_CONFIG',
];
export const DEFAULT_DROP = ['CAP_SYS_ADMIN', 'CAP_SYS_MODULE'];
/** Kept beyond the allowlist, these reach the host's hardware, clock, kernel or security modules: critical. */
const CRITICAL = ['CAP_SYS_ADMIN', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_TIME', 'CAP_BPF', 'CAP_PERFMON', 'CAP_MAC_ADMIN', 'CAP_MAC_OVERRIDE', 'CAP_SYSLOG', 'CAP_SYS_PACCT', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND'];

const norm = (c: string) => normaliseCap(c) ?? c.trim().toUpperCase();

export interface CapsExpect {
  privateNetwork?: boolean;
  dropCapabilities?: string[];
  addCapabilities?: string[];
}

/** The allowed bounding set ("all" among the added ones: every capability but the dropped). */
export function allowedCaps(exp: CapsExpect): { all: boolean; allowed: string[]; drop: string[] } {
  const drop = (exp.dropCapabilities ?? DEFAULT_DROP).map(norm);
  const add = (exp.addCapabilities ?? []).map((c) => (c.trim().toLowerCase() === 'all' ? 'all' : norm(c)));
  const base = [...NSPAWN_DEFAULT_CAPS, ...(exp.privateNetwork !== false ? ['CAP_NET_ADMIN'] : []), ...add.filter((c) => c !== 'all')];
  return { all: add.includes('all'), allowed: [...new Set(base)].filter((c) => !drop.includes(c)), drop };
}

/** Judges one container's bounding set; `userns`: it has a private user namespace (its capabilities are namespace-local). */
export function judgeCapabilities(subject: string, leader: number | undefined, status: ProcStatus, exp: CapsExpect, userns: boolean, excerpt?: string): Outcome {
  const { all, allowed, drop } = allowedCaps(exp);
  const kept = drop.filter((c) => status.capBnd.includes(c));
  const extra = all ? [] : status.capBnd.filter((c) => !allowed.includes(c) && !drop.includes(c));
  const usernsNote = userns ? ' (namespace-local: the container has a private user namespace)' : '';
  const parts = [
    kept.length ? `bounding set keeps ${kept.join(', ')}${kept.includes('CAP_SYS_ADMIN') ? '; a default nixos-container keeps CAP_SYS_ADMIN: add extraFlags = [ "--drop-capability=CAP_SYS_ADMIN" ] or set privateUsers = "pick"' : ''}` : '',
    extra.length ? `bounding set holds ${extra.join(', ')}, beyond systemd-nspawn's default set${exp.privateNetwork !== false ? ' (+ CAP_NET_ADMIN for the private network)' : ''} and the declared --capability= / additionalCapabilities` : '',
  ].filter(Boolean);
  const message = parts.length ? `${parts.join('; ')}${usernsNote}` : `bounding set lacks ${drop.join(', ')} and holds nothing beyond systemd-nspawn's default set${(exp.addCapabilities ?? []).length ? ' and the declared ones' : ''}`;
  const evidence = {
    expected: { dropped: drop, allowed: all ? 'all (--capability=all)' : allowed },
    observed: { CapBnd: status.capBndHex, kept, extra, capabilities: status.capBnd },
    source: `/proc/${leader}/status`,
    excerpt,
  };
  const severity = [...kept, ...extra].some((c) => CRITICAL.includes(c)) ? 'critical' : 'high';
  return outcome(CHECKS.capabilities, subject, parts.length ? 'fail' : 'pass', message, evidence, { severity });
}

/** The capabilities a NixOS container declares it adds: additionalCapabilities and --capability= flags (a later flag adds, never removes). */
export function declaredAddedCaps(c: { extraFlags: string[]; additionalCapabilities: string[] }): string[] {
  const flags = c.extraFlags.flatMap((f) => /^--capability=(.*)$/.exec(f)?.[1].split(',') ?? []);
  return [...new Set([...c.additionalCapabilities, ...flags].map((x) => x.trim()).filter(Boolean))];
}
