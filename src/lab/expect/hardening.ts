// The lab node as a hardened NixOS node: sshd, per-namespace kernel parameters and the scan are
// judged as on NixOS. What differs is the lab's base image, not its hardening: its /usr is the
// host's read-only Debian tree, shared by every node, in the place NixOS's store has (never scanned),
// so the scan walks the node's own trees (/etc, /var, /usr/local, /root …) and none of the image's
// setuid programs; StrictModes is off (lab-notes: the node's authorized_keys lives in the lab's node
// dir); TCP forwarding is local (the harness's postgres checks ride it); the shared cache of
// debootstrapped rootfs trees under /var/cache is pruned.
import { DEFAULT_ROOTS } from '../../../suites/hardening/files.js';
import type { LabInfo, LabNodeInfo } from '../types.js';

export function expect(_node: LabNodeInfo, _lab: LabInfo): unknown | undefined {
  return {
    sshd: { strictModes: false, tcpForwarding: 'local' },
    scan: { roots: DEFAULT_ROOTS.filter((r) => r !== '/usr'), prune: ['/var/cache/leafcert-lab'] },
  };
}
