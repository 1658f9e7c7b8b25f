// Suite key → the healthy lab node's expectation for it. `lab up` writes inventory.yaml from these.
// One line per key; a module returns undefined when its suite does not apply to a node.
import type { LabInfo, LabNodeInfo } from '../types.js';
import * as firewall from './firewall.js';
import * as tls from './tls.js';
import * as health from './health.js';
import * as containers from './containers.js';
import * as limits from './limits.js';
import * as postgres from './postgres.js';
import * as secrets from './secrets.js';
import * as backup from './backup.js';
import * as monitoring from './monitoring.js';
import * as audit from './audit.js';
import * as checklist from './checklist.js';
import { extendForSystemd } from './systemd.js';
import * as hardening from './hardening.js';
import * as tuning from './tuning.js';

export type ExpectFn = (node: LabNodeInfo, lab: LabInfo) => unknown | undefined;

export const expectations: Record<string, ExpectFn> = {
  firewall: firewall.expect,
  tls: tls.expect,
  health: health.expect,
  containers: containers.expect,
  limits: limits.expect,
  postgres: postgres.expect,
  secrets: secrets.expect,
  backup: backup.expect,
  monitoring: monitoring.expect,
  audit: audit.expect,
  checklist: checklist.expect,
  hardening: hardening.expect,
  tuning: tuning.expect,
};

// systemd nodes (`lab up --flavour systemd`) extend some keys with what only systemd shows (./systemd.ts).
for (const key of Object.keys(expectations)) expectations[key] = extendForSystemd(key, expectations[key]!);
