// Prometheus's active alerts (/api/v1/alerts): one more GET on the monitoring suite's connection,
// beside gatherMonitoring's five (src/probes/prometheus.ts), run in parallel with them. An alert
// that fires is the monitoring stack saying something is wrong right now. And the mtimes of the
// rule files Prometheus loaded: one edited since the last (re)load is not what runs.
import type { Host } from '../core/types.js';
import { ParseError } from '../core/types.js';
import { factMissing, factOk, reasonOf, type Fact } from '../core/fact.js';
import { sh } from '../core/quote.js';
import { containerHost } from '../transport/container.js';
import { missingReason, scanContainers } from './containers.js';
import { apiData, httpGet, resolveEndpoint, routePrefixPath, type HttpAnswer, type PromEndpoint } from './prometheus.js';

export interface PromAlert {
  name: string;
  state: 'firing' | 'pending' | 'inactive';
  /** Every label but alertname, e.g. { service: 'alchemist-workflow', severity: 'warning' }. */
  labels: Record<string, string>;
  activeAt: string;
  summary: string;
}

/** `data.alerts` of /api/v1/alerts; anything else (no array, an alert without labels or a known state) is a ParseError. */
export function parseAlerts(a: HttpAnswer): PromAlert[] {
  const d = apiData(a);
  if (!Array.isArray(d.alerts)) throw new ParseError(a.source, 'no data.alerts array', a.body.slice(0, 200));
  return d.alerts.map((x: any) => {
    if (typeof x?.labels !== 'object' || x.labels === null || !['firing', 'pending', 'inactive'].includes(x?.state)) throw new ParseError(a.source, 'an alert lacks labels or a state (firing, pending, inactive)', JSON.stringify(x).slice(0, 200));
    const { alertname, ...labels } = x.labels as Record<string, unknown>;
    return { name: String(alertname ?? '?'), state: x.state, labels: Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, String(v)])), activeAt: String(x.activeAt ?? ''), summary: String(x.annotations?.summary ?? '') };
  });
}

/** The alerts as a fact: why there are none when Prometheus cannot be located or answers something else. */
export async function gatherAlerts(host: Host, ep: PromEndpoint, timeoutMs: number): Promise<Fact<PromAlert[]>> {
  let at: { address: string; port: number };
  try {
    at = await resolveEndpoint(host, ep, 9090);
  } catch (e) {
    return factMissing(`cannot locate Prometheus: ${reasonOf(e)}`, 'container locator');
  }
  const path = `${routePrefixPath(ep.routePrefix)}/api/v1/alerts`;
  let a: HttpAnswer | undefined;
  try {
    a = await httpGet(host, at.address, at.port, path, Math.min(15_000, Math.max(2000, Math.floor(timeoutMs / 5))));
    return factOk(parseAlerts(a), a.source, a.body.slice(0, 400));
  } catch (e) {
    return factMissing(reasonOf(e), a?.source ?? `GET http://${at.address}:${at.port}${path}`, e instanceof ParseError ? e.excerpt : a?.body.slice(0, 200));
  }
}

/** Rule files as Prometheus sees them (its container's mount namespace), with their mtime (epoch seconds). */
export interface RuleFileStat {
  path: string;
  mtime: number;
}

/**
 * `stat` of the rule files /api/v1/rules names, where Prometheus runs (its container entered through
 * the container transport after the locator scan, cached per run; else the node): one exec. A file
 * changed after Prometheus last loaded its configuration is not what runs.
 */
export async function gatherRuleFiles(host: Host, ep: PromEndpoint, files: string[], timeoutMs: number): Promise<Fact<RuleFileStat[]>> {
  const paths = [...new Set(files.filter((f) => f.startsWith('/')))];
  const cmd = sh`stat -L -c '%Y %n' -- ${paths}`;
  if (!paths.length) return factOk([], 'no rule file named by /api/v1/rules');
  let where = host;
  let source = `${cmd} (on the node)`;
  if (ep.container) {
    const scan = await scanContainers(host, timeoutMs);
    const why = missingReason(scan, ep.container);
    if (why) return factMissing(why, scan.command);
    const leader = scan.containers.get(ep.container)!.leader!;
    where = containerHost(host, leader, ep.container);
    source = `${cmd} (in container ${ep.container})`;
  }
  try {
    const r = await where.exec(cmd, { timeoutMs: Math.min(timeoutMs, 15_000) });
    if (r.code !== 0) return factMissing(`stat of the rule files exited ${r.code}: ${r.stderr.trim().slice(0, 200)}`, source, r.stderr.slice(0, 200));
    const out: RuleFileStat[] = [];
    for (const line of r.stdout.split('\n').filter(Boolean)) {
      const m = /^(\d+) (\/.*)$/.exec(line);
      if (!m || !paths.includes(m[2])) return factMissing(`stat printed an unexpected line: ${line.slice(0, 120)}`, source, r.stdout.slice(0, 200));
      out.push({ path: m[2], mtime: Number(m[1]) });
    }
    if (out.length !== paths.length) return factMissing(`stat printed ${out.length} line(s) for ${paths.length} file(s)`, source, r.stdout.slice(0, 200));
    return factOk(out, source, r.stdout.slice(0, 400));
  } catch (e) {
    return factMissing(reasonOf(e), source);
  }
}
