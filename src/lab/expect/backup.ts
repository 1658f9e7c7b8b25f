// Healthy full node's backup expectation: the `alchemist` borg job (wrapper borg-job-alchemist) backs
// up /var/lib/alchemist and /etc/alchemist; PostgreSQL for the round trip runs in the alchemist container.
import type { LabInfo, LabNodeInfo } from '../types.js';

export function expect(node: LabNodeInfo, _lab: LabInfo): unknown | undefined {
  if (node.flavour !== 'full') return undefined;
  return {
    job: 'alchemist',
    maxAge: '26h',
    paths: ['/var/lib/alchemist', '/etc/alchemist'],
    sample: 5,
    timeout: '60s',
    postgres: { container: 'alchemist' },
  };
}
