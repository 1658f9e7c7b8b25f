// Checklist "monitoring and alerting active": Prometheus answers, every scrape target is up, the
// expected alert rules are loaded, Grafana is healthy where expected. Reached through the node's
// own connection (Host.forward) because the deployment keeps these ports inside the node and its
// containers; a container is resolved to its address from the NixOS container config.
import type { Outcome, Severity, Suite, SuiteContext } from '../src/types.js';
import { ParseError } from '../src/types.js';
import { scanContainers } from '../src/probes/containers.js';
import {
  httpGet,
  parseBuildinfo,
  parseGrafanaHealth,
  parseRules,
  parseTargets,
  type HttpAnswer,
  type PromRule,
  type PromTarget,
} from '../src/probes/prometheus.js';

export interface Endpoint {
  /** nixos-container whose LOCAL_ADDRESS to use. */
  container?: string;
  /** Address as the node sees it (default 127.0.0.1, or the container's address). */
  address?: string;
  port?: number;
}

export interface MonitoringExpect {
  prometheus: Endpoint;
  /** Alert rule names that must be loaded (`/api/v1/rules`). */
  rules: string[];
  /** Scrape jobs that must have at least one target. */
  jobs?: string[];
  /** Targets allowed to be down (job or job/instance), e.g. while a service is decommissioned. */
  allowDown?: string[];
  /** Grafana's `/api/health` is expected to answer; absent = Grafana not expected. */
  grafana?: Endpoint;
}

export type Fetched<T> = { ok: true; value: T; source: string; excerpt: string } | { ok: false; reason: string; source: string; excerpt?: string };

export interface MonitoringFacts {
  prometheus: { address: string; port: number } | { error: string; source: string };
  ready?: Fetched<{ status: number; body: string }>;
  buildinfo?: Fetched<{ version: string; revision: string }>;
  targets?: Fetched<PromTarget[]>;
  rules?: Fetched<PromRule[]>;
  grafana?: Fetched<{ status: number; database: string; version: string }> | { skipped: string };
}

const CHECKLIST = ['monitoring'];

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
    prometheus: endpointSchema,
    rules: { type: 'array', items: { type: 'string' } },
    jobs: { type: 'array', items: { type: 'string' } },
    allowDown: { type: 'array', items: { type: 'string' } },
    grafana: endpointSchema,
  },
};

const reasonOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

async function resolveEndpoint(ctx: SuiteContext, ep: Endpoint, defPort: number): Promise<{ address: string; port: number }> {
  const port = ep.port ?? defPort;
  if (ep.address) return { address: ep.address, port };
  if (!ep.container) return { address: '127.0.0.1', port };
  const scan = await scanContainers(ctx.host);
  const c = scan.containers.get(ep.container);
  const addr = c?.conf?.LOCAL_ADDRESS?.replace(/\/\d+$/, '');
  if (!addr) {
    throw new Error(c ? `container ${ep.container} has no LOCAL_ADDRESS in ${c.confPath ?? 'its config'} (set the address in the expectation)` : `container ${ep.container} not found on the node`);
  }
  return { address: addr, port };
}

async function getApi<T>(ctx: SuiteContext, address: string, port: number, path: string, parse: (a: HttpAnswer) => T): Promise<Fetched<T>> {
  const timeout = Math.min(15_000, Math.max(2000, Math.floor(ctx.options.timeoutMs / 5)));
  let a: HttpAnswer | undefined;
  try {
    a = await httpGet(ctx.host, address, port, path, timeout);
    return { ok: true, value: parse(a), source: a.source, excerpt: a.body.slice(0, 400) };
  } catch (e) {
    return { ok: false, reason: reasonOf(e), source: a?.source ?? `GET http://${address}:${port}${path}`, excerpt: e instanceof ParseError ? e.excerpt : a?.body.slice(0, 200) };
  }
}

async function gather(ctx: SuiteContext, e: MonitoringExpect): Promise<MonitoringFacts> {
  const facts: MonitoringFacts = { prometheus: { error: 'not resolved', source: 'expectation' } };
  try {
    facts.prometheus = await resolveEndpoint(ctx, e.prometheus, 9090);
  } catch (err) {
    facts.prometheus = { error: reasonOf(err), source: 'container locator' };
  }
  if ('address' in facts.prometheus) {
    const { address, port } = facts.prometheus;
    // Four channels on the one connection, in parallel.
    [facts.ready, facts.buildinfo, facts.targets, facts.rules] = await Promise.all([
      getApi(ctx, address, port, '/-/ready', (a) => ({ status: a.status, body: a.body.trim().slice(0, 200) })),
      getApi(ctx, address, port, '/api/v1/status/buildinfo', parseBuildinfo),
      getApi(ctx, address, port, '/api/v1/targets?state=active', parseTargets),
      getApi(ctx, address, port, '/api/v1/rules', parseRules),
    ]);
  }
  if (!e.grafana) facts.grafana = { skipped: 'Grafana is not expected on this node (no monitoring.grafana in the expectation)' };
  else {
    try {
      const g = await resolveEndpoint(ctx, e.grafana, 3000);
      facts.grafana = await getApi(ctx, g.address, g.port, '/api/health', (a) => ({ status: a.status, ...parseGrafanaHealth(a) }));
    } catch (err) {
      facts.grafana = { ok: false, reason: reasonOf(err), source: 'container locator' };
    }
  }
  return facts;
}

function outcome(id: string, title: string, subject: string, severity: Severity, status: Outcome['status'], message: string, evidence: Outcome['evidence']): Outcome {
  return { id, title, subject, severity, status, message, evidence, checklist: CHECKLIST };
}

/** A forward the node itself refused (ssh channel open failure / local ECONNREFUSED): the port is closed. */
const REFUSED = /cannot forward to [^\s]+: .*refused|ECONNREFUSED/i;

function err(id: string, title: string, subject: string, severity: Severity, f: { reason: string; source: string; excerpt?: string }): Outcome {
  return outcome(id, title, subject, severity, 'error', f.reason, { source: f.source, ...(f.excerpt ? { excerpt: f.excerpt } : {}) });
}

export function evaluate(f: MonitoringFacts, e: MonitoringExpect): Outcome[] {
  const out: Outcome[] = [];
  const ids = { ready: 'monitoring.prometheus-ready', targets: 'monitoring.targets-up', rules: 'monitoring.rules-loaded' } as const;
  const titles = { ready: 'Prometheus answers', targets: 'Every scrape target is up', rules: 'Expected alert rules are loaded' };
  if (!('address' in f.prometheus)) {
    const p = f.prometheus;
    for (const k of ['ready', 'targets', 'rules'] as const) out.push(outcome(ids[k], titles[k], 'prometheus', 'high', 'error', `cannot locate Prometheus: ${p.error}`, { source: p.source }));
  } else {
    const subject = `prometheus ${f.prometheus.address}:${f.prometheus.port}`;
    // Ready: /-/ready says so AND the API answers as Prometheus (a proxy's HTML page must not pass).
    const r = f.ready;
    const b = f.buildinfo;
    if (!r || !b) out.push(outcome(ids.ready, titles.ready, subject, 'high', 'error', 'not gathered', { source: 'monitoring probe' }));
    else if (!r.ok && REFUSED.test(r.reason)) {
      // The node answered for its port: nothing listens there. That is an observation, not a blind spot.
      out.push(outcome(ids.ready, titles.ready, subject, 'high', 'fail', `Prometheus does not answer: nothing listens on ${f.prometheus.address}:${f.prometheus.port} (${r.reason.slice(0, 200)})`, { source: r.source, expected: 'HTTP 200 from /-/ready', observed: 'connection refused', ...(r.excerpt ? { excerpt: r.excerpt } : {}) }));
    } else if (!r.ok) out.push(err(ids.ready, titles.ready, subject, 'high', r));
    else if (r.value.status === 503 && !/^\s*</.test(r.value.body)) {
      out.push(outcome(ids.ready, titles.ready, subject, 'high', 'fail', `Prometheus is not ready: /-/ready answered HTTP 503 (${r.value.body.slice(0, 80)})`, { source: r.source, expected: 'HTTP 200', observed: r.value.status, excerpt: r.excerpt }));
    } else if (!b.ok) out.push(err(ids.ready, titles.ready, subject, 'high', b));
    else if (r.value.status !== 200) {
      out.push(outcome(ids.ready, titles.ready, subject, 'high', 'fail', `/-/ready answered HTTP ${r.value.status}: ${r.value.body.slice(0, 80)}`, { source: r.source, expected: 'HTTP 200', observed: r.value.status, excerpt: r.excerpt }));
    } else {
      out.push(outcome(ids.ready, titles.ready, subject, 'high', 'pass', `Prometheus ${b.value.version} is ready`, { source: `${r.source}; ${b.source}`, expected: 'HTTP 200 and the API answering', observed: { ready: r.value.body, version: b.value.version }, excerpt: b.excerpt }));
    }

    const t = f.targets;
    if (!t) out.push(outcome(ids.targets, titles.targets, subject, 'high', 'error', 'not gathered', { source: 'monitoring probe' }));
    else if (!t.ok) out.push(err(ids.targets, titles.targets, subject, 'high', t));
    else {
      const allowed = new Set(e.allowDown ?? []);
      const isAllowed = (x: PromTarget) => allowed.has(x.job) || allowed.has(`${x.job}/${x.instance}`);
      const down = t.value.filter((x) => x.health === 'down' && !isAllowed(x));
      // "unknown": not scraped yet (Prometheus just started): cannot say up or down.
      const unknown = t.value.filter((x) => x.health === 'unknown' && !isAllowed(x));
      const jobs = new Set(t.value.map((x) => x.job));
      const missingJobs = (e.jobs ?? []).filter((j) => !jobs.has(j));
      const observed = t.value.map((x) => ({ job: x.job, instance: x.instance, health: x.health, ...(x.lastError ? { lastError: x.lastError } : {}) }));
      const ev = { source: t.source, expected: { allUp: true, jobs: e.jobs ?? [] }, observed, excerpt: t.excerpt };
      if (!t.value.length) out.push(outcome(ids.targets, titles.targets, subject, 'high', 'fail', 'Prometheus has no active targets: nothing is scraped', ev));
      else if (down.length || missingJobs.length) {
        const parts = [
          ...down.map((x) => `${x.job}/${x.instance} is ${x.health}${x.lastError ? ` (${x.lastError})` : ''}`),
          ...(missingJobs.length ? [`no target for job(s) ${missingJobs.join(', ')}`] : []),
        ];
        out.push(outcome(ids.targets, titles.targets, subject, 'high', 'fail', parts.join('; ').slice(0, 600), ev));
      } else if (unknown.length) {
        out.push(outcome(ids.targets, titles.targets, subject, 'high', 'error', `not scraped yet (health unknown): ${unknown.map((x) => `${x.job}/${x.instance}`).join(', ')}`, ev));
      } else out.push(outcome(ids.targets, titles.targets, subject, 'high', 'pass', `${t.value.length} target(s) up in ${jobs.size} job(s)`, ev));
    }

    const rl = f.rules;
    if (!rl) out.push(outcome(ids.rules, titles.rules, subject, 'high', 'error', 'not gathered', { source: 'monitoring probe' }));
    else if (!rl.ok) out.push(err(ids.rules, titles.rules, subject, 'high', rl));
    else {
      const alerts = rl.value.filter((x) => x.type === 'alerting');
      const names = new Set(alerts.map((x) => x.name));
      const missing = e.rules.filter((n) => !names.has(n));
      const broken = alerts.filter((x) => e.rules.includes(x.name) && x.health === 'err');
      const ev = { source: rl.source, expected: e.rules, observed: alerts.map((x) => ({ name: x.name, group: x.group, health: x.health })), excerpt: rl.excerpt };
      if (!e.rules.length && !alerts.length) out.push(outcome(ids.rules, titles.rules, subject, 'high', 'fail', 'no alert rules are loaded: nothing would alert', ev));
      else if (missing.length || broken.length) {
        const parts = [
          ...(missing.length ? [`missing: ${missing.join(', ')}`] : []),
          ...broken.map((x) => `${x.name} fails to evaluate: ${x.lastError}`),
        ];
        out.push(outcome(ids.rules, titles.rules, subject, 'high', 'fail', parts.join('; '), ev));
      } else out.push(outcome(ids.rules, titles.rules, subject, 'high', 'pass', `${e.rules.length} expected alert rule(s) loaded (${alerts.length} in total)`, ev));
    }
  }

  const gid = 'monitoring.grafana-health';
  const gt = 'Grafana is healthy';
  const g = f.grafana;
  if (!g || 'skipped' in g) out.push(outcome(gid, gt, 'grafana', 'medium', 'skipped', g?.skipped ?? 'not gathered', { source: 'expectation monitoring.grafana' }));
  else if (!g.ok) out.push(err(gid, gt, 'grafana', 'medium', g));
  else if (g.value.status !== 200 || g.value.database !== 'ok') {
    out.push(outcome(gid, gt, 'grafana', 'medium', 'fail', `/api/health answered HTTP ${g.value.status}, database ${g.value.database}`, { source: g.source, expected: { status: 200, database: 'ok' }, observed: g.value, excerpt: g.excerpt }));
  } else out.push(outcome(gid, gt, 'grafana', 'medium', 'pass', `Grafana ${g.value.version} healthy`, { source: g.source, expected: { status: 200, database: 'ok' }, observed: g.value, excerpt: g.excerpt }));
  return out;
}

export const monitoringSuite: Suite<MonitoringExpect, MonitoringFacts> = {
  name: 'monitoring',
  key: 'monitoring',
  schema: SCHEMA,
  gather,
  evaluate: (facts, expect) => evaluate(facts, expect),
  checkIds: ['monitoring.prometheus-ready', 'monitoring.targets-up', 'monitoring.rules-loaded', 'monitoring.grafana-health'],
};
