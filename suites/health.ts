// health: HTTP(S) endpoints through the nginx vhosts, from the harness: status, JSON fields (subset),
// a latency budget, and the http → https redirect.
import { resolve } from 'node:path';
import type { Evidence, Outcome, Suite, SuiteContext } from '../src/core/types.js';
import { parseDuration } from '../src/core/units.js';
import { defineChecks, outcome, type CheckDef } from '../src/core/checks.js';
import { optionPath, type Manifest } from '../src/core/manifest.js';
import { gatherHttp, saturatedSample, type HttpFacts } from '../src/probes/http.js';

const CL = ['monitoring'];

export interface HealthExpect {
  url: string;
  /** Address to connect to (default, or the node's own name: the node's address); the URL's host is sent as SNI and Host. */
  connect?: string;
  /** PEM CA to verify https against (only it is trusted). */
  ca?: string;
  /** Expected status (default 200). */
  status?: number;
  /** Fields the JSON body must contain (subset match, nested). */
  json?: Record<string, unknown>;
  /** Latency budget for the whole request, ms. */
  maxMs?: number;
  /** Expected redirect target: same scheme, host and port, path under this one, e.g. https://api.alchemist.local/. */
  redirect?: string;
  timeout?: string;
}
export type HealthList = HealthExpect[];

export const schema = {
  type: 'array',
  // An empty list would plan the suite and check nothing.
  minItems: 1,
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['url'],
    properties: {
      url: { type: 'string', pattern: '^https?://' },
      connect: { type: 'string', minLength: 1 },
      ca: { type: 'string', minLength: 1 },
      status: { type: 'integer', minimum: 100, maximum: 599 },
      json: { type: 'object' },
      maxMs: { type: 'integer', minimum: 1 },
      redirect: { type: 'string', pattern: '^https?://' },
      timeout: { type: 'string' },
    },
  },
};

export interface HealthFacts {
  /** `samples`: every whole-request time when the first one was over the latency budget. */
  probes: HttpFacts[];
  /** The https health paths requested over plain http (plainPaths), in their order. */
  plain?: HttpFacts[];
}

/**
 * Every https health path of a host whose plain http is expected to redirect (a `redirect` entry
 * for that host), requested over http as well: a `location /health` in the port-80 server that
 * proxies instead of redirecting serves the endpoint in clear while `/` still redirects. Each must
 * answer the redirect entry's status (default 301 or 308) to the same path on the https target.
 */
export interface PlainPath {
  url: string;
  /** The https health URL it comes from, and the redirect entry whose server it asks. */
  from: string;
  via: HealthExpect;
  status: number[];
  redirect: string;
}

export function plainPaths(list: HealthList): PlainPath[] {
  const out: PlainPath[] = [];
  const seen = new Set(list.map((e) => e.url));
  const url = (s: string) => {
    try {
      return new URL(s);
    } catch {
      return undefined;
    }
  };
  for (const e of list) {
    const u = url(e.url);
    if (u?.protocol !== 'https:') continue;
    for (const r of list.filter((x) => x.redirect && url(x.url)?.protocol === 'http:' && url(x.url)!.hostname === u.hostname && url(x.redirect)?.protocol === 'https:')) {
      const plain = new URL(`${u.pathname}${u.search}`, new URL(r.url).origin).href;
      if (seen.has(plain)) continue;
      seen.add(plain);
      out.push({ url: plain, from: e.url, via: r, status: r.status ? [r.status] : [301, 308], redirect: new URL(`${u.pathname}${u.search}`, new URL(r.redirect!).origin).href });
    }
  }
  return out;
}

export const CHECKS = defineChecks('health', {
  status: {
    title: 'Endpoint answers the expected status', severity: 'high', checklist: CL,
    description: 'A GET from the harness, to the node\'s address with the URL\'s host as SNI and Host (as a client resolving the name to the node), answers the expected status (default 200).',
    fix: 'Make the service behind the vhost answer: check its unit (systemctl status) and services.nginx.virtualHosts.<name>.locations.<path>.proxyPass.',
  },
  json: {
    title: 'JSON body has the expected fields', severity: 'high', checklist: CL,
    description: 'The body is JSON containing the expected fields (a recursive subset; arrays compared whole).',
    fix: 'Fix the application\'s health handler (or its dependencies, e.g. the database it reports on), or correct `json` in the expectation.',
  },
  latency: {
    title: 'Answers within the latency budget', severity: 'medium', checklist: CL,
    description: 'The whole request (connect, TLS, body) takes at most maxMs; over budget, two more requests are made and the median of the three is judged. A request during which the harness itself stalled as long as it was late is not judged (error when none is left).',
    fix: 'Find what slows the endpoint (upstream service, services.nginx proxy buffering/timeouts, resource limits) or raise maxMs if the budget was wrong.',
  },
  redirect: {
    title: 'Redirects to the expected https URL', severity: 'medium', checklist: CL,
    description: 'The URL answers a 3xx whose Location has the scheme, host and port of the expected URL and a path under its path (compared as parsed URLs, not as a string prefix). Every https health path of that host is requested over plain http too and must answer the same redirect status (default 301 or 308) to that path on https: a health location served in clear on port 80 fails.',
    fix: 'Set services.nginx.virtualHosts.<name>.forceSSL = true (plain HTTP answers with a redirect to https), and serve no location on the port-80 server but the ACME challenge.',
  },
});

async function gather(ctx: SuiteContext, expect: HealthList): Promise<HealthFacts> {
  const get = async (e: HealthExpect, url = e.url): Promise<HttpFacts> => {
    const connect = e.connect === undefined || e.connect === ctx.node.name ? ctx.host.address ?? ctx.node.host : e.connect;
    if (!connect) return { url, connect: '', ok: false, error: 'no address to connect to (no connect and the node has no host)' };
    const timeoutMs = e.timeout ? parseDuration(e.timeout) : Math.max(5000, (e.maxMs ?? 0) * 4);
    return gatherHttp({ url, connect, caFile: e.ca ? resolve(ctx.options.baseDir, e.ca) : undefined, timeoutMs, maxMs: url === e.url ? e.maxMs : undefined });
  };
  const [probes, plain] = await Promise.all([Promise.all(expect.map((e) => get(e))), Promise.all(plainPaths(expect).map((p) => get(p.via, p.url)))]);
  return { probes, plain };
}

/** Median of the samples; with an even count the upper middle one (never flatter the node). */
export function median(samples: number[]): number {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/**
 * Does `location` (resolved against the request URL) go where `expected` says: same scheme, host
 * and port, and a path under the expected one? A string prefix is not enough:
 * `https://api.x.local.evil/` starts with `https://api.x.local`.
 */
export function redirectMatches(location: string, requestUrl: string, expected: string): boolean {
  let got: URL;
  let want: URL;
  try {
    got = new URL(location, requestUrl);
    want = new URL(expected);
  } catch {
    return false;
  }
  if (got.protocol !== want.protocol || got.hostname !== want.hostname || got.port !== want.port) return false;
  const base = want.pathname.endsWith('/') ? want.pathname : `${want.pathname}/`;
  if (got.pathname !== want.pathname && !got.pathname.startsWith(base)) return false;
  return want.search === '' || got.search === want.search;
}

/** Does `actual` contain every field of `want` (recursively; arrays compared whole)? Lists mismatching paths. */
export function subsetMismatches(want: unknown, actual: unknown, path = '$'): string[] {
  if (want !== null && typeof want === 'object' && !Array.isArray(want)) {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return [`${path}: expected an object, got ${JSON.stringify(actual)}`];
    return Object.entries(want as Record<string, unknown>).flatMap(([k, v]) =>
      k in (actual as object) ? subsetMismatches(v, (actual as Record<string, unknown>)[k], `${path}.${k}`) : [`${path}.${k}: missing`]);
  }
  return JSON.stringify(want) === JSON.stringify(actual) ? [] : [`${path}: expected ${JSON.stringify(want)}, got ${JSON.stringify(actual)}`];
}

function evaluate(f: HealthFacts, list: HealthList): Outcome[] {
  const out: Outcome[] = [];
  list.forEach((e, i) => {
    const p = f.probes[i];
    const subject = e.url;
    const source = `GET ${e.url} via ${p.connect || '?'} from the harness${e.ca ? ` (trusting only ${e.ca})` : ''}`;
    const bodyExcerpt = p.body?.slice(0, 300);
    const push = (def: CheckDef, status: Outcome['status'], message: string, ev: Partial<Evidence> = {}) =>
      out.push(outcome(def, subject, status, message, { source, ...ev }));
    const wanted: [CheckDef, boolean][] = [[CHECKS.status, true], [CHECKS.json, !!e.json], [CHECKS.latency, e.maxMs !== undefined], [CHECKS.redirect, !!e.redirect]];
    if (!p.ok) {
      // Refused/reset/timeout/TLS verification: we could not get a status at all.
      for (const [def, on] of wanted) if (on) push(def, 'error', `no response: ${p.error}`, { observed: p.error });
      return;
    }
    const expStatus = e.status ?? 200;
    push(CHECKS.status, p.status === expStatus ? 'pass' : 'fail', `HTTP ${p.status}${p.status === expStatus ? '' : `, expected ${expStatus}`}`,
      { expected: expStatus, observed: p.status, excerpt: bodyExcerpt });
    if (e.json) {
      let parsed: unknown;
      let perr: string | undefined;
      try {
        parsed = JSON.parse(p.body ?? '');
      } catch (err) {
        perr = (err as Error).message;
      }
      const mism = perr ? [`body is not JSON (${perr})`] : subsetMismatches(e.json, parsed);
      push(CHECKS.json, mism.length ? 'fail' : 'pass', mism.length ? mism.join('; ') : `body contains ${JSON.stringify(e.json)}`,
        { expected: e.json, observed: perr ? '(not JSON)' : parsed, excerpt: bodyExcerpt });
    }
    if (e.maxMs !== undefined) {
      const maxMs = e.maxMs;
      const all = p.samples ?? [p.totalMs ?? Infinity];
      const lags = p.lags ?? [p.lagMs ?? 0];
      // Samples slowed by the harness itself (its event loop stalled as long as they were late) are not the node's latency.
      const clean = all.filter((t, k) => !saturatedSample(t, lags[k] ?? 0, maxMs));
      const observed = { totalMs: p.totalMs, ttfbMs: p.ttfbMs, samples: all, harnessLagMs: lags };
      if (!clean.length) {
        push(CHECKS.latency, 'error', `harness saturated: its event loop stalled ${Math.max(...lags)} ms during each of ${all.length} requests (${all.join(', ')} ms, budget ${maxMs} ms); latency not judged`,
          { expected: `≤ ${maxMs} ms`, observed });
      } else {
        const judged = median(clean);
        const ok = judged <= maxMs;
        const dropped = all.length - clean.length;
        const detail = p.samples ? `median of ${clean.length} requests ${judged} ms (samples ${clean.join(', ')} ms)` : `${p.totalMs} ms (first byte ${p.ttfbMs} ms)`;
        const note = dropped ? `; ${dropped} more taken while the harness stalled not judged` : '';
        push(CHECKS.latency, ok ? 'pass' : 'fail', `${detail}, budget ${maxMs} ms${note}`, { expected: `≤ ${maxMs} ms`, observed });
      }
    }
    if (e.redirect) {
      const loc = typeof p.headers?.location === 'string' ? p.headers.location : undefined;
      const isRedirect = [301, 302, 303, 307, 308].includes(p.status ?? 0);
      const ok = isRedirect && !!loc && redirectMatches(loc, e.url, e.redirect);
      push(CHECKS.redirect, ok ? 'pass' : 'fail',
        ok ? `${p.status} → ${loc}` : isRedirect ? `${p.status} → ${loc ?? '(no Location)'}, expected ${e.redirect}…` : `HTTP ${p.status}, not a redirect (expected → ${e.redirect}…)`,
        { expected: `3xx → ${e.redirect}…`, observed: { status: p.status, location: loc ?? null } });
    }
  });
  plainPaths(list).forEach((pp, i) => {
    const p = f.plain?.[i];
    const source = `GET ${pp.url} via ${p?.connect || '?'} from the harness (the https health URL ${pp.from} over plain http)`;
    const expected = `${pp.status.join(' or ')} → ${pp.redirect}`;
    const push = (status: Outcome['status'], message: string, observed: unknown) => out.push(outcome(CHECKS.redirect, pp.url, status, message, { source, expected, observed }));
    if (!p || p.url !== pp.url) return push('error', 'not gathered', null);
    if (!p.ok) return push('error', `no response: ${p.error}`, p.error);
    const loc = typeof p.headers?.location === 'string' ? p.headers.location : undefined;
    const observed = { status: p.status, location: loc ?? null };
    const isRedirect = [301, 302, 303, 307, 308].includes(p.status ?? 0);
    const served = (p.status ?? 0) >= 200 && (p.status ?? 0) < 300 ? `: ${new URL(pp.url).pathname} is served over plain http` : '';
    if (!isRedirect) return push('fail', `HTTP ${p.status}, not a redirect${served} (expected ${expected})`, { ...observed, excerpt: p.body?.slice(0, 200) });
    const ok = pp.status.includes(p.status!) && !!loc && redirectMatches(loc, pp.url, pp.redirect);
    push(ok ? 'pass' : 'fail', ok ? `${p.status} → ${loc}` : `${p.status} → ${loc ?? '(no Location)'}, expected ${expected}`, observed);
  });
  return out;
}

export const healthSuite: Suite<HealthList, HealthFacts> = {
  name: 'health',
  key: 'health',
  schema,
  gather,
  evaluate: (facts, expect) => evaluate(facts, expect),
  checkIds: Object.values(CHECKS).map((c) => c.id),
  checks: Object.values(CHECKS),
  fromManifest,
};

/**
 * The plan's health expectations: what nginx itself declares. forceSSL answers plain HTTP with a
 * 301 to https, so every forceSSL vhost gets a redirect check (undefined when there is none).
 */
export function fromManifest(m: Manifest, cite: (segs: (string | number)[], optionPath: string) => void): HealthList | undefined {
  const redirecting = m.host.nginx.enable ? m.host.nginx.virtualHosts.filter((v) => v.forceSSL) : [];
  if (!redirecting.length) return undefined;
  return redirecting.map((v, i) => {
    const sni = v.serverName ?? v.name;
    cite(['health', i, 'redirect'], optionPath(v.path, 'forceSSL'));
    return { url: `http://${sni}/`, status: 301, redirect: `https://${sni}/` };
  });
}
