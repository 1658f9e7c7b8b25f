// Healthy lab node's ssh expectation: key-only root login with the node's own ed25519 host key.
import type { LabInfo, LabNodeInfo } from '../types.js';

export function expect(_node: LabNodeInfo, _lab: LabInfo): unknown {
  return { port: 22, passwordAuthentication: false, permitRootLogin: 'prohibit-password', hostKeyTypes: ['ssh-ed25519'] };
}
