// Healthy lab node's TLS: nginx on 443 with a cert from the lab CA for both vhost names, each sending HSTS.
import type { LabInfo, LabNodeInfo } from '../types.js';
import { HSTS_MAX_AGE } from '../config.js';

export function expect(node: LabNodeInfo, lab: LabInfo): unknown {
  return ['api.alchemist.local', 'monitoring.alchemist.local'].map((name) => ({
    endpoint: `${name}:443`,
    connect: node.address,
    ca: lab.caCert,
    minDaysLeft: 21,
    minProtocol: 'TLSv1.2',
    hsts: { minMaxAge: HSTS_MAX_AGE, includeSubDomains: true, always: true },
  }));
}
