// Healthy full node's container limits (the lab writes them into v1 cgroups; no systemd, so the
// declared side is skipped and the enforced side is what the lab exercises).
import type { LabInfo, LabNodeInfo } from '../types.js';

export function expect(node: LabNodeInfo, _lab: LabInfo): unknown | undefined {
  if (node.flavour !== 'full' || !node.containers.length) return undefined;
  return { containers: Object.fromEntries(node.containers.map((c) => [c.name, { memoryMax: c.memoryMax, cpuQuota: c.cpuQuota }])) };
}
