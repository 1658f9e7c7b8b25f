// The guide's Performance Tuning as the example NixOS module declares it (boot.kernel.sysctl; the lab
// node's init applies the per-namespace ones in its own network namespace). vm.swappiness is global:
// the suite skips it on a lab node, which does not own its kernel.
import type { LabInfo, LabNodeInfo } from '../types.js';

export function expect(_node: LabNodeInfo, _lab: LabInfo): unknown | undefined {
  return { sysctl: { 'net.core.somaxconn': 65535, 'net.ipv4.tcp_max_syn_backlog': 65535, 'vm.swappiness': 10 } };
}
