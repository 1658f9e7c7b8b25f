// Capability sets from /proc/<pid>/status (CapBnd, CapEff, ...) are hex masks; decode them ourselves
// so the node needs no capsh. Bit numbers from linux/capability.h.
import { ParseError } from '../core/types.js';

export const CAP_NAMES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT',
  'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE',
  'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG',
  'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
] as const;

/** "CAP_SYS_ADMIN", "sys_admin", "SYS_ADMIN" → "CAP_SYS_ADMIN"; undefined when not a known capability. */
export function normaliseCap(name: string): string | undefined {
  const n = name.trim().toUpperCase();
  const full = n.startsWith('CAP_') ? n : `CAP_${n}`;
  return (CAP_NAMES as readonly string[]).includes(full) ? full : undefined;
}

/** Names of the bits set in a hex mask such as "000001ffffffffff". Unknown high bits → "cap_<n>". */
export function decodeCapMask(hex: string, source = 'CapBnd'): string[] {
  if (!/^[0-9a-fA-F]{1,16}$/.test(hex.trim())) throw new ParseError(source, `"${hex}" is not a capability mask`);
  const mask = BigInt(`0x${hex.trim()}`);
  const out: string[] = [];
  for (let bit = 0; bit < 64; bit++) {
    if ((mask >> BigInt(bit)) & 1n) out.push(CAP_NAMES[bit] ?? `cap_${bit}`);
  }
  return out;
}

export interface ProcStatus {
  capBnd: string[];
  capEff: string[];
  capBndHex: string;
  noNewPrivs?: boolean;
  uid?: string;
}

/** The capability and NoNewPrivs lines of /proc/<pid>/status. */
export function parseProcStatus(text: string, source: string): ProcStatus {
  const get = (k: string) => new RegExp(`^${k}:\\s*(\\S+)`, 'm').exec(text)?.[1];
  const bnd = get('CapBnd');
  const eff = get('CapEff');
  if (!bnd || !eff) throw new ParseError(source, 'no CapBnd/CapEff lines (not a /proc/<pid>/status?)', text.slice(0, 200));
  const nnp = get('NoNewPrivs');
  return {
    capBnd: decodeCapMask(bnd, source),
    capEff: decodeCapMask(eff, source),
    capBndHex: bnd,
    noNewPrivs: nnp === undefined ? undefined : nnp === '1',
    uid: get('Uid'),
  };
}
