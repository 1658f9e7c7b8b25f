// Healthy full node's monitoring expectation: Prometheus in the `monitoring` container (reached
// through the node's ssh connection), both scrape jobs up with every target the lab's
// prometheus.yml names, the lab's two alert rules loaded.
// No Grafana in the lab: monitoring.grafana-health is skipped with that reason.
import { CONTAINERS } from '../full.js';
import type { LabInfo, LabNodeInfo } from '../types.js';

export function expect(node: LabNodeInfo, _lab: LabInfo): unknown | undefined {
  if (node.flavour !== 'full') return undefined;
  return {
    prometheus: { container: 'monitoring', port: 9090 },
    rules: ['ExampleDown', 'ServiceUnhealthy'],
    jobs: ['prometheus', 'alchemist'],
    // Every target prometheus.yml scrapes (src/lab/services.ts prometheusConfig), by job.
    targets: ['prometheus/127.0.0.1:9090', ...CONTAINERS.filter((c) => c.name !== 'monitoring').map((c) => `alchemist/10.233.${c.n}.2:${c.ports[0]}`)],
  };
}
