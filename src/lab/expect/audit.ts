// What the deployment declares (security.audit.enable, security.apparmor.enable; no auditd). On a
// lab node every audit check is skipped with the reason (kernel audit and AppArmor are not
// namespaced): the expectation is still written so the report shows the item, never as a pass.
import type { LabInfo, LabNodeInfo } from '../types.js';

export function expect(node: LabNodeInfo, _lab: LabInfo): unknown | undefined {
  if (node.flavour !== 'full') return undefined;
  return { audit: true, auditd: false, apparmor: true };
}
