// Healthy full node's monitoring expectation: Prometheus in the `monitoring` container (reached
// through the node's ssh connection), both scrape jobs up, the lab's two alert rules loaded.
// No Grafana in the lab: monitoring.grafana-health is skipped with that reason.
import type { LabInfo, LabNodeInfo } from '../types.js';

export function expect(node: LabNodeInfo, _lab: LabInfo): unknown | undefined {
  if (node.flavour !== 'full') return undefined;
  return {
    prometheus: { container: 'monitoring', port: 9090 },
    rules: ['ExampleDown', 'ServiceUnhealthy'],
    jobs: ['prometheus', 'alchemist'],
  };
}
