// Healthy lab node's firewall: the NixOS allowedTCPPorts of the leaf node, everything else dropped
// (rejectPackets = false, NixOS's default: so a closed port must time out, not answer RST).
import type { LabInfo, LabNodeInfo } from '../types.js';

export function expect(_node: LabNodeInfo, _lab: LabInfo): unknown {
  return { open: [22, 80, 443], closed: [5432, 6379, 4222, 8080, 3000, 9090], refuse: 'drop' };
}
