// Healthy full node's backup expectation: the `alchemist` borg job (wrapper borg-job-alchemist) backs
// up /var/lib/alchemist and /etc/alchemist to a repokey repository on the node; PostgreSQL for the round
// trip runs in the alchemist container.
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
    // The lab's repository is a local path on the node (no second machine to back up to): declared
    // so, backup.off-node is skipped here and judged on recorded borg output (test/backup-facts.test.ts).
    offNode: false,
    encryption: 'repokey',
  };
}
