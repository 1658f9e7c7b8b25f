// Kernel parameter judges: the default items (what the DevSec linux-baseline's sysctl controls ask
// for, where it fits a NixOS container host), the expectation's overrides, one result per item.
// Parameters under net.* live in each network namespace; the rest are global to the kernel.
import type { Outcome } from '../../src/core/types.js';
import { outcome } from '../../src/core/checks.js';
import type { Fact } from '../../src/core/fact.js';
import type { SysctlRead } from '../../src/probes/hardening.js';
import { CHECKS, type HardeningExpect } from './checks.js';

type Accept = (number | string)[];

/** Default items: parameter → accepted values. ip_forward is left out: a container host forwards. */
export const KERNEL_DEFAULTS: Record<string, Accept> = {
  'net.ipv4.conf.all.rp_filter': [1],
  'net.ipv4.conf.default.rp_filter': [1],
  'net.ipv4.conf.all.accept_redirects': [0],
  'net.ipv4.conf.default.accept_redirects': [0],
  'net.ipv6.conf.all.accept_redirects': [0],
  'net.ipv6.conf.default.accept_redirects': [0],
  'net.ipv4.conf.all.secure_redirects': [0],
  'net.ipv4.conf.default.secure_redirects': [0],
  'net.ipv4.conf.all.send_redirects': [0],
  'net.ipv4.conf.default.send_redirects': [0],
  'net.ipv4.conf.all.accept_source_route': [0],
  'net.ipv4.conf.default.accept_source_route': [0],
  'net.ipv6.conf.all.accept_source_route': [0],
  'net.ipv6.conf.default.accept_source_route': [0],
  'net.ipv4.conf.all.log_martians': [1],
  'net.ipv4.conf.default.log_martians': [1],
  'net.ipv4.tcp_syncookies': [1],
  'net.ipv4.tcp_rfc1337': [1],
  'net.ipv4.icmp_echo_ignore_broadcasts': [1],
  'net.ipv4.icmp_ignore_bogus_error_responses': [1],
  'kernel.kptr_restrict': [1, 2],
  'kernel.dmesg_restrict': [1],
  'kernel.randomize_va_space': [2],
  'fs.protected_hardlinks': [1],
  'fs.protected_symlinks': [1],
  'fs.protected_fifos': [1, 2],
  'fs.protected_regular': [1, 2],
  // 2 only with a core_pattern that is a path or a pipe (systemd-coredump): judged below.
  'fs.suid_dumpable': [0, 2],
  // 16: sync only (NixOS's default); 0: none.
  'kernel.sysrq': [0, 16],
};

/** Kept per network namespace by the kernel (net.core.* mostly is not; somaxconn is). */
export function perNetns(key: string): boolean {
  return /^net\.(ipv4|ipv6|unix|netfilter)\./.test(key) || key === 'net.core.somaxconn';
}

/** The items to judge: defaults, then the expectation's (null drops an item). */
export function kernelItems(e: HardeningExpect['kernel']): Record<string, Accept> {
  if (e === false) return {};
  const items: Record<string, Accept> = { ...KERNEL_DEFAULTS };
  for (const [k, v] of Object.entries(e ?? {})) {
    if (v === null) delete items[k];
    else items[k] = Array.isArray(v) ? v : [v];
  }
  return items;
}

/** What the probe reads: the items plus what judging them needs (core_pattern for suid_dumpable). */
export function kernelKeys(e: HardeningExpect['kernel']): string[] {
  const keys = Object.keys(kernelItems(e));
  return keys.includes('fs.suid_dumpable') ? [...keys, 'kernel.core_pattern'] : keys;
}

const norm = (v: number | string) => String(v).trim().replace(/\s+/g, ' ');

export function judgeKernel(f: Fact<SysctlRead>, e: HardeningExpect['kernel'], platformLimit: string | null): Outcome[] {
  const items = kernelItems(e);
  return Object.entries(items).map(([key, accept]) => {
    const def = perNetns(key) ? CHECKS['kernel-net'] : CHECKS.kernel;
    const path = `/proc/sys/${key.replace(/\./g, '/')}`;
    if (!f.ok) return outcome(def, key, 'error', f.reason, { source: f.source, excerpt: f.excerpt });
    const v = f.value.values[key];
    const where = perNetns(key) ? ` (network namespace ${f.value.netns || '?'})` : '';
    const ev = { source: `cat ${path}${where}`, expected: accept.length === 1 ? accept[0] : accept, observed: v };
    if (!perNetns(key) && platformLimit) return outcome(def, key, 'skipped', `platform cannot provide this: ${platformLimit} (observed ${v ?? 'none'})`, ev);
    if (v === null || v === undefined) {
      return key.startsWith('net.ipv6.') && Object.entries(f.value.values).every(([k, x]) => !k.startsWith('net.ipv6.') || x === null)
        ? outcome(def, key, 'skipped', 'IPv6 is not enabled in this kernel (no /proc/sys/net/ipv6): nothing to judge', ev)
        : outcome(def, key, 'error', `${path} does not exist: this kernel has no ${key}${perNetns(key) ? ' in this network namespace' : ''} (module not loaded, or too old); not judged`, ev);
    }
    if (!accept.map(norm).includes(norm(v))) return outcome(def, key, 'fail', `${key} is ${v}, expected ${accept.join(' or ')}`, ev);
    if (key === 'fs.suid_dumpable' && v === '2') {
      const cp = f.value.values['kernel.core_pattern'] ?? '';
      const ok = /^[|/]/.test(cp);
      return outcome(def, key, ok ? 'pass' : 'fail', ok ? `suid_dumpable 2 with core_pattern ${cp.slice(0, 60)} (root-only dumps)` : `suid_dumpable 2 with a relative core_pattern "${cp}": setuid programs dump where users can read`, { ...ev, observed: { suid_dumpable: v, core_pattern: cp } });
    }
    return outcome(def, key, 'pass', `${key} = ${v}`, ev);
  });
}
