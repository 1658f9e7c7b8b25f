// The static policy checks moved into the config suite (suites/config.ts defines them, the judges
// are suites/config/*.ts); `leafcert check-config` runs that suite through the engine. This module
// keeps the old import path.
import { configSuite } from '../../suites/config.js';

export { dnatRules, evaluateManifest, hbaMethod } from '../../suites/config.js';

/** The config checks' ids, in the order of their results. */
export const CONFIG_CHECK_IDS: string[] = configSuite.checkIds;
/** id → title, severity and checklist, as defined in the registry. */
export const CONFIG_CHECKS = Object.fromEntries((configSuite.checks ?? []).map((c) => [c.id, { title: c.title, severity: c.severity, checklist: c.checklist }]));
