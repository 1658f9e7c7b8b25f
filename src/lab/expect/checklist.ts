// The lab's certificate is self-managed (issued by the lab CA, 90 days): renewal is judged as days
// left against a 30-day window. Documentation and runbooks are reported as manual. Full nodes only.
import type { LabInfo, LabNodeInfo } from '../types.js';
import { CERT_DIR } from '../config.js';

export function expect(node: LabNodeInfo, _lab: LabInfo): unknown | undefined {
  // Light nodes are for scale runs: keep their reports to the outside-in suites.
  if (node.flavour !== 'full') return undefined;
  return { renewal: { certs: [{ path: `${CERT_DIR}/fullchain.pem`, renewBeforeDays: 30 }] } };
}
