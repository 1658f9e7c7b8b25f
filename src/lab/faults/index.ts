// Registry of lab faults: one import per area (area = suite name). Add one line for yours.
import type { Fault } from './types.js';
import { faults as firewall } from './firewall.js';
import { faults as tls } from './tls.js';
import { faults as health } from './health.js';
import { faults as backup } from './backup.js';
import { faults as monitoring } from './monitoring.js';
import { faults as audit } from './audit.js';
import { faults as isolation } from './isolation.js';
import { faults as limits } from './limits.js';
import { faults as postgres } from './postgres.js';
import { faults as secrets } from './secrets.js';
import { faults as systemd } from './systemd.js';
import { faults as hardening } from './hardening.js';
import { faults as tuning } from './tuning.js';

export const allFaults: Fault[] = [
  ...firewall,
  ...tls,
  ...health,
  ...isolation,
  ...limits,
  ...postgres,
  ...secrets,
  ...backup,
  ...monitoring,
  ...audit,
  ...hardening,
  ...tuning,
  ...systemd,
];
