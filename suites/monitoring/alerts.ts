// monitoring.alerts-firing: no alert fires on the node's Prometheus (/api/v1/alerts). Firing fails,
// naming each alert and its labels; pending (its `for` not yet over) is reported, not failed; alerts
// named in allowFiring (e.g. a Watchdog that always fires) are allowed.
import type { Outcome } from '../../src/core/types.js';
import { outcome, type CheckDef } from '../../src/core/checks.js';
import type { Fact } from '../../src/core/fact.js';
import type { PromAlert, RuleFileStat } from '../../src/probes/monitoring-alerts.js';

const text = (a: PromAlert) => `${a.name}{${Object.entries(a.labels).map(([k, v]) => `${k}="${v}"`).join(', ')}}${a.activeAt ? ` since ${a.activeAt}` : ''}${a.summary ? ` (${a.summary})` : ''}`;

export function alertsOutcome(def: CheckDef, f: Fact<PromAlert[]> | undefined, allowFiring: string[], subject: string): Outcome {
  if (!f) return outcome(def, subject, 'error', 'not gathered', { source: 'monitoring probe' });
  if (!f.ok) return outcome(def, subject, 'error', f.reason, { source: f.source, ...(f.excerpt ? { excerpt: f.excerpt } : {}) });
  const allow = new Set(allowFiring);
  const firing = f.value.filter((a) => a.state === 'firing');
  const bad = firing.filter((a) => !allow.has(a.name));
  const pending = f.value.filter((a) => a.state === 'pending');
  const ev = { source: f.source, expected: { firing: allowFiring.length ? `none but ${allowFiring.join(', ')}` : 'none' }, observed: f.value.map((a) => ({ name: a.name, state: a.state, labels: a.labels, activeAt: a.activeAt })), excerpt: f.excerpt };
  const pend = pending.length ? `; pending (not firing yet): ${pending.map(text).join('; ')}` : '';
  if (bad.length) return outcome(def, subject, 'fail', `${bad.length} alert(s) firing: ${bad.map(text).join('; ')}${pend}`.slice(0, 800), ev);
  const allowed = firing.length ? ` (${firing.length} allowed firing: ${[...new Set(firing.map((a) => a.name))].join(', ')})` : '';
  return outcome(def, subject, 'pass', `no alert firing${allowed}${pend}`.slice(0, 800), ev);
}

/**
 * Rule files changed after Prometheus last loaded its configuration (runtimeinfo lastConfigTime):
 * the rules that run are not the deployed ones, and the next reload or restart changes them. A
 * problem text, or undefined; `unknown` when the file times or the load time could not be read.
 */
export function staleRuleFiles(files: Fact<RuleFileStat[]> | undefined, lastConfigTime: string | undefined): { stale?: string; unknown?: string; files?: RuleFileStat[] } {
  if (!files) return {};
  if (!files.ok) return { unknown: `rule files' times unknown: ${files.reason}` };
  const loaded = Date.parse(lastConfigTime ?? '');
  if (!lastConfigTime || Number.isNaN(loaded) || loaded <= 0) return { unknown: 'rule files not compared: no configuration load time (runtimeinfo lastConfigTime)', files: files.value };
  const newer = files.value.filter((x) => x.mtime * 1000 > loaded);
  if (!newer.length) return { files: files.value };
  return { stale: `${newer.map((x) => `${x.path} changed ${new Date(x.mtime * 1000).toISOString()}`).join(', ')}, after Prometheus last loaded its configuration (${lastConfigTime}): the running rules are not the deployed ones (reload Prometheus; the next restart changes them)`, files: files.value };
}
