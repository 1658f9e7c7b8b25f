// Checklist "monitoring and alerting active": Prometheus answers, every scrape target is up, the
// expected alert rules are loaded, Grafana is healthy where expected. Reached through the node's
// own connection (Host.forward) because the deployment keeps these ports inside the node and its
// containers; a container is resolved to its address from the NixOS container config. Gathering
// lives in src/probes/prometheus.ts (gatherMonitoring); this file judges.
import type { Outcome, Suite, SuiteContext } from '../src/core/types.js';
import { defineChecks, outcome, type CheckDef } from '../src/core/checks.js';
import { optionPath, type Container, type Listener, type Manifest, type NodeSection } from '../src/core/manifest.js';
import { gatherMonitoring, routePrefixPath, type Endpoint, type MonitoringFacts as PromFacts, type PromEndpoint, type PromTarget } from '../src/probes/prometheus.js';
import { gatherAlerts, gatherRuleFiles, type PromAlert, type RuleFileStat } from '../src/probes/monitoring-alerts.js';
import type { Fact } from '../src/core/fact.js';
import { alertsOutcome, staleRuleFiles } from './monitoring/alerts.js';

/** Prometheus's facts and its active alerts (gathered in parallel on the one connection). */
export type MonitoringFacts = PromFacts & { alerts?: Fact<PromAlert[]>; ruleFiles?: Fact<RuleFileStat[]> };

export type { Endpoint, PromEndpoint };

export interface MonitoringExpect {
  prometheus: PromEndpoint;
  /** Alert rule names that must be loaded (`/api/v1/rules`). */
  rules: string[];
  /** Scrape jobs that must have at least one target. */
  jobs?: string[];
  /** Targets that must be scraped (JOB/INSTANCE, or INSTANCE in any job): a target dropped from the scrape configuration is a finding, not a smaller count. */
  targets?: string[];
  /** Targets allowed to be down (job or job/instance), e.g. while a service is decommissioned. */
  allowDown?: string[];
  /** Alert names allowed to fire (e.g. an always-firing Watchdog); any other firing alert fails monitoring.alerts-firing. */
  allowFiring?: string[];
  /** Grafana's `/api/health` is expected to answer; absent = Grafana not expected. */
  grafana?: Endpoint;
}

// In the order of the suite's results (and of today's checkIds).
const CHECKS = defineChecks('monitoring', {
  'prometheus-ready': {
    title: 'Prometheus answers',
    severity: 'high',
    checklist: ['monitoring'],
    description: 'Prometheus /-/ready answers HTTP 200 and its API answers as Prometheus (buildinfo), reached from the node, and its last configuration reload succeeded (runtimeinfo reloadConfigSuccess; a failed one leaves the earlier configuration and rules running); a refused port is a finding, a proxy or login page an error.',
    fix: 'Enable and start Prometheus (services.prometheus.enable, services.prometheus.listenAddress/port) where the expectation points, and let it finish starting; fix the configuration or rule file its last reload rejected (promtool check config).',
  },
  'targets-up': {
    title: 'Every scrape target is up',
    severity: 'high',
    checklist: ['monitoring'],
    description: 'Every active scrape target reports health up (or is listed in allowDown), every declared job has at least one target, and every declared target (targets: JOB/INSTANCE) is among the active ones: a target dropped from the scrape configuration is not scraped, so it can never be down.',
    fix: 'Start the exporter a down target names, or fix its address in services.prometheus.scrapeConfigs; record a planned outage in allowDown.',
  },
  'rules-loaded': {
    title: 'Expected alert rules are loaded',
    severity: 'high',
    checklist: ['monitoring'],
    description: 'Every expected alerting rule is loaded (/api/v1/rules) and evaluates without error, and no rule file Prometheus loaded has changed since its last configuration load (stat where Prometheus runs vs runtimeinfo lastConfigTime: an edited file not reloaded is not what runs); no alert rule at all is a finding.',
    fix: 'Add the rules to services.prometheus.rules (or ruleFiles) and redeploy; fix the expression of a rule that fails to evaluate; reload Prometheus after a rule file changed (systemctl reload prometheus).',
  },
  'alerts-firing': {
    title: 'No alert is firing',
    severity: 'medium',
    checklist: ['monitoring'],
    description: 'No alert is in state firing on Prometheus (/api/v1/alerts), except those named in allowFiring: a firing alert is the monitoring stack saying something is wrong now, and certifying over it hides it. Each firing alert is named with its labels; pending ones (their `for` not yet over) are reported, not failed.',
    fix: 'Fix what the alert names (the service, target or resource in its labels), or silence a planned one in Alertmanager and list an always-firing one (Watchdog) in allowFiring.',
  },
  'grafana-health': {
    title: 'Grafana is healthy',
    severity: 'medium',
    checklist: ['monitoring'],
    description: "Grafana's /api/health answers HTTP 200 with database ok, where the expectation says Grafana runs.",
    fix: 'Enable and start Grafana (services.grafana.enable, services.grafana.settings.server.http_addr/http_port) and check its database.',
  },
});

const endpointSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    container: { type: 'string' },
    address: { type: 'string' },
    port: { type: 'integer', minimum: 1, maximum: 65535 },
  },
};

const SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['prometheus', 'rules'],
  properties: {
    prometheus: { ...endpointSchema, properties: { ...endpointSchema.properties, routePrefix: { type: 'string', pattern: '^/[^\\s?#]*$' } } },
    rules: { type: 'array', items: { type: 'string' } },
    jobs: { type: 'array', items: { type: 'string' } },
    targets: { type: 'array', items: { type: 'string', minLength: 1 } },
    allowDown: { type: 'array', items: { type: 'string' } },
    allowFiring: { type: 'array', items: { type: 'string', minLength: 1 } },
    grafana: endpointSchema,
  },
};

async function gather(ctx: SuiteContext, e: MonitoringExpect): Promise<MonitoringFacts> {
  const [facts, alerts] = await Promise.all([gatherMonitoring(ctx.host, e, ctx.options.timeoutMs), gatherAlerts(ctx.host, e.prometheus, ctx.options.timeoutMs)]);
  const ruleFiles = facts.rules?.ok ? await gatherRuleFiles(ctx.host, e.prometheus, facts.rules.value.map((r) => r.file), ctx.options.timeoutMs) : undefined;
  return { ...facts, alerts, ruleFiles };
}

// --- evaluate (pure) ---

/** A forward the node itself refused (ssh channel open failure / local ECONNREFUSED): the port is closed. */
const REFUSED = /cannot forward to [^\s]+: .*refused|ECONNREFUSED/i;

type Missing = { reason: string; source: string; excerpt?: string };

function err(def: CheckDef, subject: string, f: Missing): Outcome {
  return outcome(def, subject, 'error', f.reason, { source: f.source, ...(f.excerpt ? { excerpt: f.excerpt } : {}) });
}

const notGathered = (def: CheckDef, subject: string) => outcome(def, subject, 'error', 'not gathered', { source: 'monitoring probe' });

/** Ready: /-/ready says so AND the API answers as Prometheus (a proxy's HTML page must not pass). */
function readyOutcome(f: MonitoringFacts, at: { address: string; port: number }, subject: string): Outcome {
  const def = CHECKS['prometheus-ready'];
  const r = f.ready;
  const b = f.buildinfo;
  if (!r || !b) return notGathered(def, subject);
  if (!r.ok && REFUSED.test(r.reason)) {
    // The node answered for its port: nothing listens there. That is an observation, not a blind spot.
    return outcome(def, subject, 'fail', `Prometheus does not answer: nothing listens on ${at.address}:${at.port} (${r.reason.slice(0, 200)})`, { source: r.source, expected: 'HTTP 200 from /-/ready', observed: 'connection refused', ...(r.excerpt ? { excerpt: r.excerpt } : {}) });
  }
  if (!r.ok) return err(def, subject, r);
  if (r.value.status === 503 && !/^\s*</.test(r.value.body)) {
    return outcome(def, subject, 'fail', `Prometheus is not ready: /-/ready answered HTTP 503 (${r.value.body.slice(0, 80)})`, { source: r.source, expected: 'HTTP 200', observed: r.value.status, excerpt: r.excerpt });
  }
  if (!b.ok) return err(def, subject, b);
  if (r.value.status !== 200) {
    return outcome(def, subject, 'fail', `/-/ready answered HTTP ${r.value.status}: ${r.value.body.slice(0, 80)}`, { source: r.source, expected: 'HTTP 200', observed: r.value.status, excerpt: r.excerpt });
  }
  // A reload that failed (a broken prometheus.yml or rule file deployed) leaves the previous configuration
  // running: what runs is not what is deployed, and the next restart does not come up.
  const rt = f.runtime;
  if (rt?.ok && !rt.value.reloadConfigSuccess) {
    return outcome(def, subject, 'fail', `Prometheus ${b.value.version} runs an earlier configuration: its last configuration reload (${rt.value.lastConfigTime || 'time unknown'}) failed, so the deployed prometheus.yml or a rule file does not load (a restart would not come up)`, { source: rt.source, expected: 'reloadConfigSuccess true', observed: rt.value, excerpt: rt.excerpt });
  }
  return outcome(def, subject, 'pass', `Prometheus ${b.value.version} is ready${rt && !rt.ok ? ' (configuration reload status unknown: no runtimeinfo)' : ''}`, { source: `${r.source}; ${b.source}${rt?.ok ? `; ${rt.source}` : ''}`, expected: 'HTTP 200 and the API answering; the last configuration reload succeeded', observed: { ready: r.value.body, version: b.value.version, ...(rt?.ok ? { reloadConfigSuccess: rt.value.reloadConfigSuccess, lastConfigTime: rt.value.lastConfigTime } : {}) }, excerpt: b.excerpt });
}

function targetsOutcome(f: MonitoringFacts, e: MonitoringExpect, subject: string): Outcome {
  const def = CHECKS['targets-up'];
  const t = f.targets;
  if (!t) return notGathered(def, subject);
  if (!t.ok) return err(def, subject, t);
  const allowed = new Set(e.allowDown ?? []);
  const isAllowed = (x: PromTarget) => allowed.has(x.job) || allowed.has(`${x.job}/${x.instance}`);
  const down = t.value.filter((x) => x.health === 'down' && !isAllowed(x));
  // "unknown": not scraped yet (Prometheus just started): cannot say up or down.
  const unknown = t.value.filter((x) => x.health === 'unknown' && !isAllowed(x));
  const jobs = new Set(t.value.map((x) => x.job));
  const missingJobs = (e.jobs ?? []).filter((j) => !jobs.has(j));
  const scraped = new Set(t.value.flatMap((x) => [x.instance, `${x.job}/${x.instance}`]));
  const missingTargets = (e.targets ?? []).filter((x) => !scraped.has(x));
  const observed = t.value.map((x) => ({ job: x.job, instance: x.instance, health: x.health, ...(x.lastError ? { lastError: x.lastError } : {}) }));
  const ev = { source: t.source, expected: { allUp: true, jobs: e.jobs ?? [], ...(e.targets ? { targets: e.targets } : {}) }, observed, excerpt: t.excerpt };
  if (!t.value.length) return outcome(def, subject, 'fail', 'Prometheus has no active targets: nothing is scraped', ev);
  if (down.length || missingJobs.length || missingTargets.length) {
    const parts = [
      ...down.map((x) => `${x.job}/${x.instance} is ${x.health}${x.lastError ? ` (${x.lastError})` : ''}`),
      ...(missingJobs.length ? [`no target for job(s) ${missingJobs.join(', ')}`] : []),
      ...(missingTargets.length ? [`not scraped at all (not among the active targets: dropped from the scrape configuration?): ${missingTargets.join(', ')}`] : []),
    ];
    return outcome(def, subject, 'fail', parts.join('; ').slice(0, 600), ev);
  }
  if (unknown.length) return outcome(def, subject, 'error', `not scraped yet (health unknown): ${unknown.map((x) => `${x.job}/${x.instance}`).join(', ')}`, ev);
  return outcome(def, subject, 'pass', `${t.value.length} target(s) up in ${jobs.size} job(s)`, ev);
}

function rulesOutcome(f: MonitoringFacts, e: MonitoringExpect, subject: string): Outcome {
  const def = CHECKS['rules-loaded'];
  const rl = f.rules;
  if (!rl) return notGathered(def, subject);
  if (!rl.ok) return err(def, subject, rl);
  const alerts = rl.value.filter((x) => x.type === 'alerting');
  const names = new Set(alerts.map((x) => x.name));
  const missing = e.rules.filter((n) => !names.has(n));
  const broken = alerts.filter((x) => e.rules.includes(x.name) && x.health === 'err');
  const ev = { source: rl.source, expected: e.rules, observed: alerts.map((x) => ({ name: x.name, group: x.group, health: x.health })), excerpt: rl.excerpt };
  if (!e.rules.length && !alerts.length) return outcome(def, subject, 'fail', 'no alert rules are loaded: nothing would alert', ev);
  if (missing.length || broken.length) {
    const parts = [...(missing.length ? [`missing: ${missing.join(', ')}`] : []), ...broken.map((x) => `${x.name} fails to evaluate: ${x.lastError}`)];
    return outcome(def, subject, 'fail', parts.join('; '), ev);
  }
  // After a failed reload prometheus-ready already says the files are not what runs.
  const files = f.runtime?.ok && !f.runtime.value.reloadConfigSuccess ? {} : staleRuleFiles(f.ruleFiles, f.runtime?.ok ? f.runtime.value.lastConfigTime : undefined);
  if (files.stale) return outcome(def, subject, 'fail', files.stale, { ...ev, source: `${rl.source}; ${f.ruleFiles!.source}; runtimeinfo` });
  return outcome(def, subject, 'pass', `${e.rules.length} expected alert rule(s) loaded (${alerts.length} in total)${files.unknown ? ` (${files.unknown})` : ''}`, ev);
}

function grafanaOutcome(f: MonitoringFacts): Outcome {
  const def = CHECKS['grafana-health'];
  const g = f.grafana;
  if (!g || 'skipped' in g) return outcome(def, 'grafana', 'skipped', g?.skipped ?? 'not gathered', { source: 'expectation monitoring.grafana' });
  if (!g.ok) return err(def, 'grafana', g);
  const ev = { source: g.source, expected: { status: 200, database: 'ok' }, observed: g.value, excerpt: g.excerpt };
  if (g.value.status !== 200 || g.value.database !== 'ok') return outcome(def, 'grafana', 'fail', `/api/health answered HTTP ${g.value.status}, database ${g.value.database}`, ev);
  return outcome(def, 'grafana', 'pass', `Grafana ${g.value.version} healthy`, ev);
}

export function evaluate(f: MonitoringFacts, e: MonitoringExpect): Outcome[] {
  const prom = [CHECKS['prometheus-ready'], CHECKS['targets-up'], CHECKS['rules-loaded'], CHECKS['alerts-firing']];
  if (!('address' in f.prometheus)) {
    const p = f.prometheus;
    return [...prom.map((def) => outcome(def, 'prometheus', 'error', `cannot locate Prometheus: ${p.error}`, { source: p.source })), grafanaOutcome(f)];
  }
  const subject = `prometheus ${f.prometheus.address}:${f.prometheus.port}`;
  return [readyOutcome(f, f.prometheus, subject), targetsOutcome(f, e, subject), rulesOutcome(f, e, subject), alertsOutcome(CHECKS['alerts-firing'], f.alerts, e.allowFiring ?? [], subject), grafanaOutcome(f)];
}

// --- plan (leafcert plan --from-nix) ---

/** Records the NixOS option path a value came from; `at` starts at the suite's key (['monitoring', 'rules']). */
export type { Cite } from '../src/core/manifest.js';
import type { Cite } from '../src/core/manifest.js';

/** Where Prometheus is declared (the host first, then containers in manifest order), with its listener. */
export function declaredPrometheus(m: Manifest): { where?: Container; node: NodeSection; prom: Listener } | undefined {
  const promIn = [{ node: m.host } as { where?: Container; node: NodeSection }, ...m.containers.map((c) => ({ where: c, node: c.config }))].find((x) => x.node.listeners.some((l) => l.service === 'prometheus'));
  return promIn && { ...promIn, prom: promIn.node.listeners.find((l) => l.service === 'prometheus')! };
}

/**
 * The prefix Prometheus serves its routes under: `--web.route-prefix` in extraFlags, else the path
 * of webExternalUrl (Prometheus's default for the route prefix); undefined for "/".
 */
export function declaredRoutePrefix(p: NodeSection['prometheus']): { value: string; path: string } | undefined {
  const flags = p.extraFlags.flatMap((f) => f.trim().split(/\s+/));
  let flag: string | undefined;
  flags.forEach((f, i) => {
    const m = /^--?web\.route-prefix(?:=(.*))?$/.exec(f);
    if (m) flag = m[1] ?? flags[i + 1];
  });
  if (flag !== undefined) {
    const v = routePrefixPath(flag.replace(/^["']|["']$/g, ''));
    return v ? { value: v, path: optionPath(p.path, 'extraFlags') } : undefined;
  }
  if (!p.webExternalUrl) return undefined;
  let path: string;
  try {
    path = new URL(p.webExternalUrl).pathname;
  } catch {
    // Prometheus also takes a bare path here ("/prometheus/") as the external URL's path.
    if (!p.webExternalUrl.startsWith('/')) return undefined;
    path = p.webExternalUrl.split(/[?#]/)[0];
  }
  const v = routePrefixPath(path);
  return v ? { value: v, path: optionPath(p.path, 'webExternalUrl') } : undefined;
}

/** Prometheus (and Grafana beside it) as declared; rule names are not in the manifest, so `rules` is empty. */
export function fromManifest(m: Manifest, cite: Cite): MonitoringExpect | undefined {
  const promIn = declaredPrometheus(m);
  if (!promIn) return undefined;
  const { prom } = promIn;
  const endpoint = (l: { address: string; port: number }, c?: Container) => {
    const e: Endpoint = { port: l.port };
    if (c) e.container = c.name;
    if (!['0.0.0.0', '*', '::', ''].includes(l.address) && !(c && l.address === c.localAddress?.replace(/\/\d+$/, ''))) e.address = l.address;
    return e;
  };
  const mon: MonitoringExpect = { prometheus: endpoint(prom, promIn.where), rules: [] };
  cite(['monitoring', 'prometheus'], prom.path);
  const prefix = declaredRoutePrefix(promIn.node.prometheus);
  if (prefix) {
    mon.prometheus.routePrefix = prefix.value;
    cite(['monitoring', 'prometheus', 'routePrefix'], prefix.path);
  }
  cite(['monitoring', 'rules'], 'services.prometheus.rules / ruleFiles (rule names are not in the manifest: list the alerts that must be loaded)');
  const graf = promIn.node.listeners.find((l) => l.service === 'grafana');
  if (graf) {
    mon.grafana = endpoint(graf, promIn.where);
    cite(['monitoring', 'grafana'], graf.path);
  }
  return mon;
}

export const monitoringSuite: Suite<MonitoringExpect, MonitoringFacts> = {
  name: 'monitoring',
  key: 'monitoring',
  schema: SCHEMA,
  gather,
  evaluate: (facts, expect) => evaluate(facts, expect),
  checkIds: Object.values(CHECKS).map((c) => c.id),
  checks: Object.values(CHECKS),
  fromManifest,
};
