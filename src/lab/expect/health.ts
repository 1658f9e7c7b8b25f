// Healthy lab node's health endpoints: /health through nginx answers JSON status ok, and port 80
// redirects to https.
import type { LabInfo, LabNodeInfo } from '../types.js';

export function expect(node: LabNodeInfo, lab: LabInfo): unknown {
  return [
    { url: 'https://api.alchemist.local/health', connect: node.address, ca: lab.caCert, status: 200, json: { status: 'ok' }, maxMs: 500 },
    { url: 'http://api.alchemist.local/', connect: node.address, status: 301, redirect: 'https://api.alchemist.local/' },
  ];
}
