// Healthy full node's PostgreSQL (in the alchemist container): the lab's explicit tuning, no trust,
// listening on loopback and the container address.
import type { LabInfo, LabNodeInfo } from '../types.js';
import { PG_SETTINGS } from '../services.js';

export function expect(node: LabNodeInfo, _lab: LabInfo): unknown | undefined {
  if (node.flavour !== 'full' || !node.containers.some((c) => c.name === 'alchemist')) return undefined;
  return { container: 'alchemist', settings: { ...PG_SETTINGS }, listenAddresses: ['127.0.0.1', '10.233.1.2'], noTrust: true };
}
