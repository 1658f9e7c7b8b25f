// Issue 15 item 1: a probe that got no answer because the harness or the network was overloaded is
// `error`, never a finding. TLS: a silent server is retried once, then is an error (not "a default
// client refuses this server"). Latency: samples taken while the harness's event loop stalled are
// not judged; when none is left the check is `error: harness saturated`.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateEndpoint, gatherEndpoint } from '../suites/tls.js';
import { healthSuite, type HealthList } from '../suites/health.js';
import { saturatedSample } from '../src/probes/http.js';

let dir: string;
const closers: (() => void)[] = [];
let tlsPort: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lc-fleet-timeouts-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'k.pem', '-out', 'ca.crt', '-days', '30', '-subj', '/CN=api.alchemist.local', '-addext', 'subjectAltName=DNS:api.alchemist.local'], { cwd: dir, stdio: 'ignore' });
  const s = tls.createServer({ key: readFileSync(join(dir, 'k.pem')), cert: readFileSync(join(dir, 'ca.crt')) }, (sock) => sock.end());
  s.on('tlsClientError', () => {});
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  tlsPort = (s.address() as AddressInfo).port;
  closers.push(() => s.close());
});
afterAll(() => {
  for (const c of closers) c();
  rmSync(dir, { recursive: true, force: true });
});

/** Accepts TCP; the first `silent` connections never get a byte back, later ones reach the TLS server. */
async function flaky(silent: number): Promise<{ port: number; conns: () => number }> {
  let n = 0;
  const held: net.Socket[] = [];
  const s = net.createServer((c) => {
    if (n++ < silent) {
      held.push(c);
      c.on('error', () => {});
      return;
    }
    const up = net.connect(tlsPort, '127.0.0.1');
    up.on('error', () => c.destroy());
    c.on('error', () => up.destroy());
    c.pipe(up).pipe(c);
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  closers.push(() => (held.forEach((h) => h.destroy()), s.close()));
  return { port: (s.address() as AddressInfo).port, conns: () => n };
}

const endpoint = (port: number) => ({ endpoint: `api.alchemist.local:${port}`, connect: '127.0.0.1', ca: 'ca.crt', minProtocol: 'TLSv1.2' as const, timeout: '400ms' });

describe('TLS: a handshake that got no answer is never a finding', () => {
  it('silent twice: every check is error, the handshake says it timed out twice, no "default client refuses"', async () => {
    const srv = await flaky(Infinity);
    const f = await gatherEndpoint(endpoint(srv.port), '127.0.0.1', dir);
    expect(f.handshake?.timedOut).toBe(true);
    expect(f.defaultClientError).toBeUndefined();
    const os = evaluateEndpoint(f, endpoint(srv.port), { clock: new Date().toISOString() }, new Date());
    expect(os.map((o) => o.status)).toEqual(os.map(() => 'error'));
    expect(os[0].message).toMatch(/no TLS handshake within 400 ms \(tried twice\)/);
    expect(os.map((o) => o.message).join('\n')).not.toMatch(/default client refuses/);
  });
  it('silent once (an overloaded moment): the retry answers and the endpoint is judged on it', async () => {
    const srv = await flaky(1);
    const f = await gatherEndpoint(endpoint(srv.port), '127.0.0.1', dir);
    expect(f.handshake?.ok).toBe(true);
    expect(f.defaultClientError).toBeUndefined();
    const os = evaluateEndpoint(f, endpoint(srv.port), { clock: new Date().toISOString() }, new Date());
    expect(os.find((o) => o.id === 'tls.handshake')?.status).toBe('pass');
    expect(os.find((o) => o.id === 'tls.chain')?.status).toBe('pass');
    expect(srv.conns()).toBeGreaterThanOrEqual(2);
  });
  it('a refused port is still a finding (the server answered)', async () => {
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as AddressInfo).port;
    await new Promise((r) => srv.close(r));
    const f = await gatherEndpoint(endpoint(port), '127.0.0.1', dir);
    const os = evaluateEndpoint(f, endpoint(port), { clock: new Date().toISOString() }, new Date());
    expect(os[0].status).toBe('fail');
  });
});

/** Busy-waits: the harness's event loop (and this in-process server with it) stalls. */
function stall(ms: number) {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    /* spin */
  }
}

describe('latency is judged only on samples the harness did not slow down', () => {
  let port: number;
  let behaviour: 'stall' | 'slow' | 'fast' = 'fast';
  beforeAll(async () => {
    const s = http.createServer((_req, res) => {
      const answer = () => res.end('{"status":"ok"}');
      if (behaviour === 'stall') {
        stall(1300);
        answer();
      } else if (behaviour === 'slow') setTimeout(answer, 1300);
      else answer();
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    port = (s.address() as AddressInfo).port;
    closers.push(() => s.close());
  });
  // A budget large enough that a loaded test machine's own stalls (tens of ms) stay under a fifth of it.
  const list = (): HealthList => [{ url: `http://api.alchemist.local:${port}/health`, maxMs: 800 }];
  const ctx = { node: { name: 'n', host: '127.0.0.1' }, host: { address: '127.0.0.1' }, options: { baseDir: '.', timeoutMs: 10_000 } } as never;
  const latency = async () => {
    const facts = await healthSuite.gather(ctx, list());
    return healthSuite.evaluate(facts, list(), {} as never).find((o) => o.id === 'health.latency')!;
  };

  it('the harness stalled through every sample: error "harness saturated" with the measured stall', async () => {
    behaviour = 'stall';
    const o = await latency();
    expect(o.status).toBe('error');
    expect(o.message).toMatch(/^harness saturated: its event loop stalled \d+ ms during each of \d+ requests/);
    const obs = o.evidence.observed as { samples: number[]; harnessLagMs: number[] };
    expect(obs.samples.length).toBeGreaterThanOrEqual(3);
    expect(Math.min(...obs.harnessLagMs)).toBeGreaterThan(800);
  });
  it('a node that is slow on its own (harness idle) still fails', async () => {
    behaviour = 'slow';
    const o = await latency();
    expect(o.status).toBe('fail');
    expect(o.message).toMatch(/median of 3 requests/);
  });
  it('a fast node passes', async () => {
    behaviour = 'fast';
    expect((await latency()).status).toBe('pass');
  });
  it('a request with no answer in time is tried once more, then every check of it is error', async () => {
    let n = 0;
    const held: http.ServerResponse[] = [];
    const s = http.createServer((_req, res) => (n++, held.push(res)));
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    closers.push(() => (held.forEach((h) => h.destroy()), s.close()));
    const l: HealthList = [{ url: `http://api.alchemist.local:${(s.address() as AddressInfo).port}/health`, maxMs: 800, timeout: '300ms', json: { status: 'ok' } }];
    const os = healthSuite.evaluate(await healthSuite.gather(ctx, l), l, {} as never);
    expect(n).toBe(2);
    expect(os.map((o) => o.status)).toEqual(['error', 'error', 'error']);
    expect(os[0].message).toBe('no response: no complete response within 300 ms (tried twice)');
  });
  it('the rule: late by no more than the stall = not evidence', () => {
    expect(saturatedSample(900, 800, 200)).toBe(true);
    expect(saturatedSample(900, 30, 200)).toBe(false);
    // A harness stalled for a fifth of the budget or more: its starvation is everyone's.
    expect(saturatedSample(2100, 950, 500)).toBe(true);
    expect(saturatedSample(2100, 60, 500)).toBe(false);
    expect(saturatedSample(100, 800, 200)).toBe(false);
  });
  it('evaluate drops stalled samples and judges the rest', () => {
    const facts = { probes: [{ url: 'http://x/', connect: 'x', ok: true, status: 200, totalMs: 900, samples: [900, 40, 950], lags: [880, 0, 930] }] };
    const o = healthSuite.evaluate(facts, [{ url: 'http://x/', maxMs: 150 }], {} as never).find((r) => r.id === 'health.latency')!;
    expect(o.status).toBe('pass');
    expect(o.message).toBe('median of 1 requests 40 ms (samples 40 ms), budget 150 ms; 2 more taken while the harness stalled not judged');
  });
});
