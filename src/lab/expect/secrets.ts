// Healthy full node's secrets: the env file root:alchemist 0640 with real values, and the lab CA's
// key nowhere on the node (the CA certificate is given so a renamed copy of its key is found too).
import type { LabInfo, LabNodeInfo } from '../types.js';

export function expect(node: LabNodeInfo, lab: LabInfo): unknown | undefined {
  if (node.flavour !== 'full') return undefined;
  return {
    files: [{ path: '/etc/alchemist/secrets.env', mode: '0640', owner: 'root', group: 'alchemist' }],
    caCerts: [lab.caCert],
  };
}
