// How every report words a node's identity: NixOS or not, and the ssh host key with how it was
// trusted (an auditor must tell a pinned key from trust-on-first-use).
import type { HostKeyInfo, NodeIdentity } from '../core/types.js';

/** true/false when identity was gathered; undefined when nothing was (unreachable node). */
export function isNixos(id: NodeIdentity): boolean | undefined {
  if (!Object.values(id).some((v) => v)) return undefined;
  return Boolean(id.nixosVersion || id.currentSystem);
}

export const NOT_NIXOS = 'not NixOS (no NixOS version in os-release, no /run/current-system)';

export function trustText(k: HostKeyInfo): string {
  return k.trust === 'known_hosts'
    ? `verified: matches ${k.knownHosts}`
    : `NOT verified: unknown key accepted and recorded in ${k.knownHosts} (acceptNewHostKey, trust on first use)`;
}

/** One line: `ssh-ed25519 SHA256:... (verified: matches ./known_hosts:3)`. */
export function hostKeyText(k: HostKeyInfo): string {
  return `${k.type} ${k.fingerprint} (${trustText(k)})`;
}
