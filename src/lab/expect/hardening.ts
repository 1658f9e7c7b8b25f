// The lab node as a hardened NixOS node: sshd, per-namespace kernel parameters and the scan are
// judged as on NixOS. What differs is the lab's base image, not its hardening: the setuid programs
// its Debian packages ship (NixOS keeps its own under /run/wrappers, never scanned), StrictModes off
// (lab-notes: the node's authorized_keys lives in the lab's node dir), TCP forwarding local (the
// harness's postgres checks ride it), and the shared cache of debootstrapped rootfs trees pruned.
import { execFileSync } from 'node:child_process';
import type { LabInfo, LabNodeInfo } from '../types.js';

let baseSuid: string[] | undefined;

/** The setuid/setgid files of the base image under /usr, which every node sees as its own /usr. */
function imageSuid(): string[] {
  if (!baseSuid) {
    const out = execFileSync('find', ['/usr', '-xdev', '-type', 'f', '(', '-perm', '-4000', '-o', '-perm', '-2000', ')', '-print'], { encoding: 'utf8', maxBuffer: 1 << 20 });
    baseSuid = out.split('\n').filter((p) => p && !p.startsWith('/usr/local/')).sort();
  }
  return baseSuid;
}

export function expect(_node: LabNodeInfo, _lab: LabInfo): unknown | undefined {
  return {
    sshd: { strictModes: false, tcpForwarding: 'local' },
    suid: { allow: imageSuid() },
    scan: { prune: ['/var/cache/leafcert-lab'] },
  };
}
