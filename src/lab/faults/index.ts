// Registry of lab faults: one import per area (area = suite name). Add one line for yours.
import type { Fault } from './types.js';
import { faults as firewall } from './firewall.js';
import { faults as tls } from './tls.js';
import { faults as health } from './health.js';

export const allFaults: Fault[] = [
  ...firewall,
  ...tls,
  ...health,
];
