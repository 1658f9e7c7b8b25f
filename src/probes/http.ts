// One HTTP(S) request from the harness to an address, addressed by name: the URL's host goes in
// SNI and the Host header, the TCP connection goes to `connect` (the node), as a client resolving
// the name to that node would. Redirects are not followed: a redirect is itself a fact to check.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';

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
}

const MAX_BODY = 256 * 1024;

export function httpProbe(o: { url: string; connect: string; ca?: Buffer; timeoutMs: number }): Promise<HttpProbe> {
  const u = new URL(o.url);
  const isHttps = u.protocol === 'https:';
  const port = Number(u.port || (isHttps ? 443 : 80));
  const started = process.hrtime.bigint();
  const ms = () => Number((process.hrtime.bigint() - started) / 1_000_000n);
  return new Promise((res) => {
    const base = { url: o.url, connect: o.connect };
    let done = false;
    const finish = (r: HttpProbe) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      res(r);
    };
    const opts: https.RequestOptions = {
      host: o.connect, port, method: 'GET', path: `${u.pathname}${u.search}`,
      headers: { Host: u.host, 'User-Agent': 'leafcert', Accept: 'application/json, */*' },
      agent: false,
    };
    if (isHttps) Object.assign(opts, { servername: u.hostname, ca: o.ca, rejectUnauthorized: true });
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
      finish({ ...base, ok: false, error: `no complete response within ${o.timeoutMs} ms` });
    }, o.timeoutMs);
    req.on('error', (e: NodeJS.ErrnoException) => finish({ ...base, ok: false, error: e.code ? `${e.code}: ${e.message}` : e.message }));
    req.end();
  });
}

/** A probe of one URL with what was gathered around it: the CA read, and latency re-measurements. */
export type HttpFacts = HttpProbe & { caError?: string; samples?: number[] };

/** How many more requests an over-budget first request gets (the median of all is judged). */
export const LATENCY_RETRIES = 2;

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
  const first: HttpFacts = await httpProbe(req);
  // Over budget: measure twice more and judge the median, so one stall of a busy harness (many
  // nodes at once on few cores) is not blamed on the node, while an endpoint that is slow most
  // of the time still fails (the best of N would let one lucky request pass it). All samples
  // are evidence.
  if (o.maxMs !== undefined && first.ok && first.totalMs! > o.maxMs) {
    first.samples = [first.totalMs!];
    for (let k = 0; k < LATENCY_RETRIES; k++) {
      const again = await httpProbe(req);
      if (!again.ok) break;
      first.samples.push(again.totalMs!);
    }
  }
  return first;
}
