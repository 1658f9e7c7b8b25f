// Prometheus (and Grafana) HTTP APIs reached through a stream the node opens (Host.forward: an
// ssh2 forwardOut channel), so ports that are only open inside the node or a container are still
// reachable. A plain HTTP/1.0 GET: the server answers without chunking and closes, so no HTTP
// client library has to be taught to run over an ssh channel.
import type { Host, PortStream } from '../core/types.js';
import { ParseError, TransportError } from '../core/types.js';
import { factMissing, factOk, reasonOf, type Fact } from '../core/fact.js';
import { scanContainers } from './containers.js';

export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** "GET http://10.233.5.2:9090/api/v1/targets (via ssh root@...)" for evidence. */
  source: string;
}

const MAX_BODY = 16 * 1024 * 1024;

/** Split a raw HTTP/1.x answer. Anything that is not one → ParseError (a non-HTTP service on that port). */
export function parseHttpAnswer(raw: Buffer, source: string): HttpAnswer {
  const end = raw.indexOf('\r\n\r\n');
  const head = (end < 0 ? raw : raw.subarray(0, end)).toString('latin1');
  const m = /^HTTP\/1\.[01] (\d{3})[^\r\n]*/.exec(head);
  if (!m) throw new ParseError(source, 'the answer is not HTTP (is another service on that port?)', head.slice(0, 200));
  if (end < 0) throw new ParseError(source, 'the HTTP answer ended inside its headers', head.slice(0, 200));
  const headers: Record<string, string> = {};
  for (const line of head.split('\r\n').slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status: Number(m[1]), headers, body: raw.subarray(end + 4).toString('utf8'), source };
}

/** GET `path` over a stream to address:port as the node sees it. */
export async function httpGet(host: Host, address: string, port: number, path: string, timeoutMs: number): Promise<HttpAnswer> {
  const source = `GET http://${address}:${port}${path} (via ${host.describe})`;
  let stream: PortStream;
  try {
    stream = await withTimer(host.forward(port, address), timeoutMs, `${source}: no connection within ${timeoutMs} ms`);
  } catch (e) {
    if (e instanceof TransportError) throw new TransportError(e.kind, `${source}: ${e.message}`);
    throw e;
  }
  return new Promise<HttpAnswer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      stream.destroy();
      if (err) return reject(err);
      try {
        resolve(parseHttpAnswer(Buffer.concat(chunks), source));
      } catch (e) {
        reject(e);
      }
    };
    const timer = setTimeout(() => finish(new TransportError('timeout', `${source}: no complete answer within ${timeoutMs} ms`)), timeoutMs);
    stream.on('data', (d: Buffer) => {
      size += d.length;
      if (size > MAX_BODY) return finish(new ParseError(source, `answer larger than ${MAX_BODY} bytes`));
      chunks.push(d);
    });
    stream.on('end', () => finish());
    stream.on('close', () => finish());
    stream.on('error', (e: Error) => finish(new TransportError('protocol', `${source}: ${e.message}`)));
    stream.write(`GET ${path} HTTP/1.0\r\nHost: ${address}:${port}\r\nAccept: application/json\r\nUser-Agent: leafcert\r\nConnection: close\r\n\r\n`);
  });
}

function withTimer<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new TransportError('timeout', message)), ms);
    p.then(
      (v) => (clearTimeout(t), resolve(v)),
      (e) => (clearTimeout(t), reject(e)),
    );
  });
}

/** The `data` of a Prometheus API answer; HTML, garbage or `status: error` → ParseError with the reason. */
export function apiData(a: HttpAnswer): any {
  const ctype = a.headers['content-type'] ?? '';
  const looksHtml = /text\/html/i.test(ctype) || /^\s*<(!doctype|html)/i.test(a.body);
  if (looksHtml) {
    throw new ParseError(a.source, `answered HTML (HTTP ${a.status}, ${ctype || 'no content-type'}), not the Prometheus API: wrong port, a proxy or login page in front?`, a.body.slice(0, 200));
  }
  let j: any;
  try {
    j = JSON.parse(a.body);
  } catch {
    const hint = a.status === 503 ? ': Prometheus is not ready yet (starting, or replaying its WAL)' : '';
    throw new ParseError(a.source, `answered HTTP ${a.status} with a body that is not JSON (${ctype || 'no content-type'})${hint}`, a.body.slice(0, 200));
  }
  if (j?.status === 'error') throw new ParseError(a.source, `API error ${j.errorType ?? ''}: ${j.error ?? ''}`.trim(), a.body.slice(0, 200));
  if (j?.status !== 'success' || typeof j.data !== 'object' || j.data === null) {
    throw new ParseError(a.source, 'JSON without "status": "success" and "data": not a Prometheus API answer', a.body.slice(0, 200));
  }
  return j.data;
}

export interface PromTarget {
  job: string;
  instance: string;
  scrapeUrl: string;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
  lastScrape: string;
}

export function parseTargets(a: HttpAnswer): PromTarget[] {
  const d = apiData(a);
  if (!Array.isArray(d.activeTargets)) throw new ParseError(a.source, 'no data.activeTargets array', a.body.slice(0, 200));
  return d.activeTargets.map((t: any) => {
    if (typeof t?.health !== 'string' || typeof t?.labels !== 'object') throw new ParseError(a.source, 'a target lacks health/labels', JSON.stringify(t).slice(0, 200));
    return {
      job: String(t.labels.job ?? t.scrapePool ?? ''),
      instance: String(t.labels.instance ?? t.discoveredLabels?.__address__ ?? ''),
      scrapeUrl: String(t.scrapeUrl ?? ''),
      health: (['up', 'down'].includes(t.health) ? t.health : 'unknown') as PromTarget['health'],
      lastError: String(t.lastError ?? ''),
      lastScrape: String(t.lastScrape ?? ''),
    };
  });
}

export interface PromRule {
  group: string;
  file: string;
  name: string;
  type: 'alerting' | 'recording';
  health: string;
  lastError: string;
}

export function parseRules(a: HttpAnswer): PromRule[] {
  const d = apiData(a);
  if (!Array.isArray(d.groups)) throw new ParseError(a.source, 'no data.groups array', a.body.slice(0, 200));
  const out: PromRule[] = [];
  for (const g of d.groups) {
    if (!Array.isArray(g?.rules)) throw new ParseError(a.source, `rule group ${g?.name ?? '?'} has no rules array`, JSON.stringify(g).slice(0, 200));
    for (const r of g.rules) {
      out.push({ group: String(g.name), file: String(g.file ?? ''), name: String(r.name), type: r.type === 'alerting' ? 'alerting' : 'recording', health: String(r.health ?? 'unknown'), lastError: String(r.lastError ?? '') });
    }
  }
  return out;
}

export function parseBuildinfo(a: HttpAnswer): { version: string; revision: string } {
  const d = apiData(a);
  if (typeof d.version !== 'string') throw new ParseError(a.source, 'buildinfo without a version', a.body.slice(0, 200));
  return { version: d.version, revision: String(d.revision ?? '') };
}

/** runtimeinfo: whether the last configuration (re)load succeeded, and when it was. */
export function parseRuntimeinfo(a: HttpAnswer): { reloadConfigSuccess: boolean; lastConfigTime: string } {
  const d = apiData(a);
  if (typeof d.reloadConfigSuccess !== 'boolean') throw new ParseError(a.source, 'runtimeinfo without reloadConfigSuccess', a.body.slice(0, 200));
  return { reloadConfigSuccess: d.reloadConfigSuccess, lastConfigTime: String(d.lastConfigTime ?? '') };
}

/** Grafana `/api/health`: `{"database":"ok","version":"..."}`. */
export function parseGrafanaHealth(a: HttpAnswer): { database: string; version: string } {
  const ctype = a.headers['content-type'] ?? '';
  if (/text\/html/i.test(ctype) || /^\s*</.test(a.body)) throw new ParseError(a.source, `answered HTML (HTTP ${a.status}), not Grafana's health API`, a.body.slice(0, 200));
  let j: any;
  try {
    j = JSON.parse(a.body);
  } catch {
    throw new ParseError(a.source, `answered HTTP ${a.status} with a body that is not JSON`, a.body.slice(0, 200));
  }
  if (typeof j?.database !== 'string') throw new ParseError(a.source, 'no "database" field: not Grafana\'s /api/health', a.body.slice(0, 200));
  return { database: j.database, version: String(j.version ?? '') };
}

// --- gathering: the monitoring suite's facts ---

export interface Endpoint {
  /** nixos-container whose LOCAL_ADDRESS to use. */
  container?: string;
  /** Address as the node sees it (default 127.0.0.1, or the container's address). */
  address?: string;
  port?: number;
}

/** Prometheus's endpoint, with the prefix its routes live under (`--web.route-prefix`, by default the path of `--web.external-url`). */
export interface PromEndpoint extends Endpoint {
  /** e.g. "/prometheus": the API is then at /prometheus/api/v1/…, readiness at /prometheus/-/ready. */
  routePrefix?: string;
}

/** "/prometheus/" → "/prometheus", "/" or none → "" (so `${prefix}/api/v1/…`). */
export function routePrefixPath(prefix: string | undefined): string {
  const p = (prefix ?? '').replace(/\/+$/, '');
  return p && !p.startsWith('/') ? `/${p}` : p;
}

export interface MonitoringFacts {
  prometheus: { address: string; port: number } | { error: string; source: string };
  ready?: Fact<{ status: number; body: string }>;
  buildinfo?: Fact<{ version: string; revision: string }>;
  targets?: Fact<PromTarget[]>;
  rules?: Fact<PromRule[]>;
  /** /api/v1/status/runtimeinfo (Prometheus ≥ 2.14): a failed reload leaves the previous configuration running. */
  runtime?: Fact<{ reloadConfigSuccess: boolean; lastConfigTime: string }>;
  grafana?: Fact<{ status: number; database: string; version: string }> | { skipped: string };
}

/** An endpoint as the node sees it: the address given, the container's LOCAL_ADDRESS (one locator scan, cached per run), else loopback. */
export async function resolveEndpoint(host: Host, ep: Endpoint, defPort: number): Promise<{ address: string; port: number }> {
  const port = ep.port ?? defPort;
  if (ep.address) return { address: ep.address, port };
  if (!ep.container) return { address: '127.0.0.1', port };
  const scan = await scanContainers(host);
  const c = scan.containers.get(ep.container);
  const addr = c?.conf?.LOCAL_ADDRESS?.replace(/\/\d+$/, '');
  if (!addr) {
    throw new Error(c ? `container ${ep.container} has no LOCAL_ADDRESS in ${c.confPath ?? 'its config'} (set the address in the expectation)` : `container ${ep.container} not found on the node`);
  }
  return { address: addr, port };
}

/** One API GET as a fact: the parsed value with the body's start as excerpt, or why there is none. */
async function getApi<T>(host: Host, timeoutMs: number, address: string, port: number, path: string, parse: (a: HttpAnswer) => T): Promise<Fact<T>> {
  const timeout = Math.min(15_000, Math.max(2000, Math.floor(timeoutMs / 5)));
  let a: HttpAnswer | undefined;
  try {
    a = await httpGet(host, address, port, path, timeout);
    return factOk(parse(a), a.source, a.body.slice(0, 400));
  } catch (e) {
    return factMissing(reasonOf(e), a?.source ?? `GET http://${address}:${port}${path}`, e instanceof ParseError ? e.excerpt : a?.body.slice(0, 200));
  }
}

/** Prometheus (ready, buildinfo, targets, rules, runtimeinfo: five channels in parallel) and, when expected, Grafana's health. */
export async function gatherMonitoring(host: Host, e: { prometheus: PromEndpoint; grafana?: Endpoint }, timeoutMs: number): Promise<MonitoringFacts> {
  const facts: MonitoringFacts = { prometheus: { error: 'not resolved', source: 'expectation' } };
  try {
    facts.prometheus = await resolveEndpoint(host, e.prometheus, 9090);
  } catch (err) {
    facts.prometheus = { error: reasonOf(err), source: 'container locator' };
  }
  if ('address' in facts.prometheus) {
    const { address, port } = facts.prometheus;
    // Every route, /-/ready included, lives under the route prefix.
    const pre = routePrefixPath(e.prometheus.routePrefix);
    // Five channels on the one connection, in parallel.
    [facts.ready, facts.buildinfo, facts.targets, facts.rules, facts.runtime] = await Promise.all([
      getApi(host, timeoutMs, address, port, `${pre}/-/ready`, (a) => ({ status: a.status, body: a.body.trim().slice(0, 200) })),
      getApi(host, timeoutMs, address, port, `${pre}/api/v1/status/buildinfo`, parseBuildinfo),
      getApi(host, timeoutMs, address, port, `${pre}/api/v1/targets?state=active`, parseTargets),
      getApi(host, timeoutMs, address, port, `${pre}/api/v1/rules`, parseRules),
      getApi(host, timeoutMs, address, port, `${pre}/api/v1/status/runtimeinfo`, parseRuntimeinfo),
    ]);
  }
  if (!e.grafana) facts.grafana = { skipped: 'Grafana is not expected on this node (no monitoring.grafana in the expectation)' };
  else {
    try {
      const g = await resolveEndpoint(host, e.grafana, 3000);
      facts.grafana = await getApi(host, timeoutMs, g.address, g.port, '/api/health', (a) => ({ status: a.status, ...parseGrafanaHealth(a) }));
    } catch (err) {
      facts.grafana = factMissing(reasonOf(err), 'container locator');
    }
  }
  return facts;
}
