// Healthy full node's container isolation: own namespaces, no CAP_SYS_ADMIN/CAP_SYS_MODULE in the
// bounding set, no_new_privs, and from inside: the host's firewall-open ports plus the other
// containers' declared ports, nothing else; a container with its own firewall (alchemist) allows
// exactly its declared ports. Light nodes have no containers.
import { CONTAINERS } from '../full.js';
import type { LabInfo, LabNodeInfo } from '../types.js';
import { expect as firewall } from './firewall.js';

export function expect(node: LabNodeInfo, lab: LabInfo): unknown | undefined {
  if (node.flavour !== 'full' || !node.containers.length) return undefined;
  const open = ((firewall(node, lab) as { open?: number[] }).open ?? []).map((p) => `host:${p}`);
  return Object.fromEntries(
    node.containers.map((c) => [
      c.name,
      {
        privateNetwork: true, privateUsers: false, dropCapabilities: ['CAP_SYS_ADMIN', 'CAP_SYS_MODULE'], noNewPrivs: true, ports: c.ports, reach: open,
        ...(CONTAINERS.find((s) => s.name === c.name)?.innerFirewall ? { innerFirewall: true } : {}),
      },
    ]),
  );
}
