// The registry of checklist suites, in report order. Each suite lives in suites/<name>.ts.
import type { Suite } from './types.js';
import { firewallSuite } from '../suites/firewall.js';
import { tlsSuite } from '../suites/tls.js';
import { healthSuite } from '../suites/health.js';
import { configSuite } from '../suites/config.js';

export const suites: Suite<any, any>[] = [
  firewallSuite,
  tlsSuite,
  healthSuite,
  configSuite,
];

export function suiteByKey(key: string): Suite<any, any> | undefined {
  return suites.find((s) => s.key === key);
}
