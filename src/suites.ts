// The registry of checklist suites, in report order. Each suite lives in suites/<name>.ts.
import type { Suite } from './core/types.js';
import { firewallSuite } from '../suites/firewall.js';
import { tlsSuite } from '../suites/tls.js';
import { healthSuite } from '../suites/health.js';
import { isolationSuite } from '../suites/isolation.js';
import { limitsSuite } from '../suites/limits.js';
import { postgresSuite } from '../suites/postgres.js';
import { secretsSuite } from '../suites/secrets.js';
import { backupSuite } from '../suites/backup.js';
import { monitoringSuite } from '../suites/monitoring.js';
import { auditSuite } from '../suites/audit.js';
import { checklistSuite } from '../suites/checklist.js';
import { configSuite } from '../suites/config.js';
import { hardeningSuite } from '../suites/hardening.js';
import { tuningSuite } from '../suites/tuning.js';

export const suites: Suite<any, any>[] = [
  firewallSuite,
  tlsSuite,
  healthSuite,
  isolationSuite,
  limitsSuite,
  postgresSuite,
  secretsSuite,
  backupSuite,
  monitoringSuite,
  auditSuite,
  checklistSuite,
  configSuite,
  hardeningSuite,
  tuningSuite,
];

export function suiteByKey(key: string): Suite<any, any> | undefined {
  return suites.find((s) => s.key === key);
}
