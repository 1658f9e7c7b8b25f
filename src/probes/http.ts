// One HTTP(S) request from the harness to an address, addressed by name: the URL's host goes in
// SNI and the Host header, the TCP connection goes to `connect` (the node), as a client resolving
// the name to that node would. Redirects are not followed: a redirect is itself a fact to check.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { clientContext } from './tls-context.js';

export interface HttpProbe {
  url: string;
  connect: string;
  ok: boolean;
  error?: string;
  status?: number;
  headers?: Record<string, string | string[] | undefined>;
  body?: string;
  /** Request start → first response byte, and → end of body (includes TCP + TLS setup). */
  ttfbMs?: number;
  totalMs?: number;
  tlsProtocol?: string;
  /** The harness's worst event-loop stall while the request ran (ms): time the node is not to blame for. */
  lagMs?: number;
  /** No complete response within the timeout: silence, not an answer. */
  timedOut?: boolean;
}

// One ticker for every request in flight: a timer that fires late says the harness itself was busy
// (or starved of CPU), so that much of a slow request is not the node's latency.
const TICK_MS = 20;
const watching = new Set<{ lag: number }>();
let ticker: NodeJS.Timeout | undefined;
let lastTick = 0;
function watchLag(): { lag: number; stop(): number } {
  const w = { lag: 0 };
  watching.add(w);
  if (!ticker) {
    lastTick = performance.now();
    ticker = setInterval(() => {
      const now = performance.now();
      const late = Math.max(0, now - lastTick - TICK_MS);
      lastTick = now;
      for (const x of watching) x.lag = Math.max(x.lag, late);
    }, TICK_MS);
    ticker.unref();
  }
  return Object.assign(w, {
    stop() {
      // The stall that ends now (event loop blocked since the last tick) counts too.
      w.lag = Math.max(w.lag, performance.now() - lastTick - TICK_MS);
      watching.delete(w);
      if (!watching.size && ticker) (clearInterval(ticker), (ticker = undefined));
      return Math.round(Math.max(0, w.lag));
    },
  });
}

/**
 * Was an over-budget sample slow because of the harness? When the harness stalled as long as the
 * sample was over budget, or for a fifth of the budget (a harness starved of CPU that long shares
 * its starvation with the network stack and, in a lab, with the node), the node might have
 * answered in time: not evidence. A sample within budget is evidence whatever the stall.
 */
export function saturatedSample(totalMs: number, lagMs: number, maxMs: number): boolean {
  return totalMs > maxMs && lagMs >= Math.max(TICK_MS, Math.min(totalMs - maxMs, maxMs / 5));
}

const MAX_BODY = 256 * 1024;

export function httpProbe(o: { url: string; connect: string; ca?: Buffer; timeoutMs: number }): Promise<HttpProbe> {
  const u = new URL(o.url);
  const isHttps = u.protocol === 'https:';
  const port = Number(u.port || (isHttps ? 443 : 80));
  const started = process.hrtime.bigint();
  const ms = () => Number((process.hrtime.bigint() - started) / 1_000_000n);
  const lag = watchLag();
  return new Promise((res) => {
    const base = { url: o.url, connect: o.connect };
    let done = false;
    const finish = (r: HttpProbe) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      res({ ...r, lagMs: lag.stop() });
    };
    const opts: https.RequestOptions = {
      host: o.connect, port, method: 'GET', path: `${u.pathname}${u.search}`,
      headers: { Host: u.host, 'User-Agent': 'leafcert', Accept: 'application/json, */*' },
      agent: false,
    };
    if (isHttps) Object.assign(opts, { servername: u.hostname, secureContext: clientContext({ ca: o.ca }), rejectUnauthorized: true });
    const req = (isHttps ? https : http).request(opts, (resp) => {
      const ttfbMs = ms();
      const chunks: Buffer[] = [];
      let size = 0;
      resp.on('data', (d: Buffer) => {
        size += d.length;
        if (size <= MAX_BODY) chunks.push(d);
      });
      resp.on('end', () => finish({
        ...base, ok: true, status: resp.statusCode, headers: resp.headers, body: Buffer.concat(chunks).toString('utf8'), ttfbMs, totalMs: ms(),
        tlsProtocol: isHttps ? ((resp.socket as import('node:tls').TLSSocket).getProtocol?.() ?? undefined) : undefined,
      }));
      resp.on('error', (e) => finish({ ...base, ok: false, error: `response: ${e.message}` }));
    });
    const timer = setTimeout(() => {
      req.destroy();
      finish({ ...base, ok: false, timedOut: true, error: `no complete response within ${o.timeoutMs} ms` });
    }, o.timeoutMs);
    req.on('error', (e: NodeJS.ErrnoException) => finish({ ...base, ok: false, error: e.code ? `${e.code}: ${e.message}` : e.message }));
    req.end();
  });
}

/**
 * A probe of one URL with what was gathered around it: the CA read, and latency re-measurements
 * with the harness's event-loop stall during each (`lags`, same order as `samples`).
 */
export type HttpFacts = HttpProbe & { caError?: string; samples?: number[]; lags?: number[] };

/** How many more requests an over-budget first request gets (the median of all is judged). */
export const LATENCY_RETRIES = 2;
/** More tries, spaced out, while the samples say the harness was saturated. */
export const SATURATED_RETRIES = 3;

/**
 * One URL, gathered: reads `caFile` (a harness-side file, resolved by the caller), requests the URL,
 * and when `maxMs` is given and the first request was over it, measures twice more.
 */
export async function gatherHttp(o: { url: string; connect: string; caFile?: string; timeoutMs: number; maxMs?: number }): Promise<HttpFacts> {
  let ca: Buffer | undefined;
  if (o.caFile) {
    try {
      ca = readFileSync(o.caFile);
    } catch (err) {
      return { url: o.url, connect: o.connect, ok: false, error: `cannot read CA file ${o.caFile}`, caError: `${o.caFile}: ${(err as NodeJS.ErrnoException).code}` };
    }
  }
  const req = { url: o.url, connect: o.connect, ca, timeoutMs: o.timeoutMs };
  let first: HttpFacts = await httpProbe(req);
  // No answer in time says nothing about the node while the harness or the box is overloaded:
  // once more after a pause, and still silent it stays an error (never a status or latency finding).
  if (first.timedOut) {
    await new Promise((r) => setTimeout(r, 500));
    first = await httpProbe(req);
    if (first.timedOut) first.error = `${first.error} (tried twice)`;
  }
  // Over budget: measure twice more and judge the median, so one stall of a busy harness (many
  // nodes at once on few cores) is not blamed on the node, while an endpoint that is slow most
  // of the time still fails (the best of N would let one lucky request pass it). All samples
  // are evidence.
  // A sample taken while the harness stalled is not judged: while every sample so far is such, a
  // few more are taken, spaced out so the load can pass.
  if (o.maxMs !== undefined && first.ok && first.totalMs! > o.maxMs) {
    const maxMs = o.maxMs;
    first.samples = [first.totalMs!];
    first.lags = [first.lagMs ?? 0];
    const clean = () => first.samples!.filter((t, i) => !saturatedSample(t, first.lags![i], maxMs)).length;
    let waits = 0;
    for (let k = 0; k < LATENCY_RETRIES + SATURATED_RETRIES && clean() < 1 + LATENCY_RETRIES; k++) {
      const last = first.samples.length - 1;
      if (saturatedSample(first.samples[last], first.lags[last], maxMs)) await new Promise((r) => setTimeout(r, 250 * ++waits));
      const again = await httpProbe(req);
      if (!again.ok) break;
      first.samples.push(again.totalMs!);
      first.lags.push(again.lagMs ?? 0);
    }
  }
  return first;
}
