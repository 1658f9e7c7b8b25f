// One HTTP(S) request from the harness to an address, addressed by name: the URL's host goes in
// SNI and the Host header, the TCP connection goes to `connect` (the node), as a client resolving
// the name to that node would. Redirects are not followed: a redirect is itself a fact to check.
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
