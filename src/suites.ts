// The registry of checklist suites, in report order. Each suite lives in suites/<name>.ts.
import type { Suite } from './types.js';
import { firewallSuite } from '../suites/firewall.js';

export const suites: Suite<any, any>[] = [
  firewallSuite,
];

export function suiteByKey(key: string): Suite<any, any> | undefined {
  return suites.find((s) => s.key === key);
}
