// Requests against HTTP(S) servers on 127.0.0.1 addressed by name (SNI + Host), as nginx vhosts are.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Ajv from 'ajv';
import { healthSuite, median, redirectMatches, subsetMismatches, type HealthList } from '../suites/health.js';

let dir: string;
let httpsPort: number;
let httpPort: number;
const servers: http.Server[] = [];
let mode: { body: string; status: number; delay: number } = { body: '{"status":"ok","db":{"up":true}}', status: 200, delay: 0 };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'leafcert-health-'));
  const o = (...a: string[]) => execFileSync('openssl', a, { cwd: dir, stdio: 'pipe' });
  o('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '30', '-subj', '/CN=test CA');
  o('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 's.key', '-out', 's.csr', '-subj', '/CN=api.alchemist.local');
  writeFileSync(join(dir, 's.ext'), 'subjectAltName=DNS:api.alchemist.local\n');
  o('x509', '-req', '-in', 's.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '30', '-extfile', 's.ext', '-out', 's.crt');
  const s = https.createServer({ key: readFileSync(join(dir, 's.key')), cert: readFileSync(join(dir, 's.crt')) }, (req, res) => {
    // Only the right vhost answers, as with nginx server_name.
    if (req.headers.host?.replace(/:\d+$/, '') !== 'api.alchemist.local') return res.writeHead(421).end();
    setTimeout(() => res.writeHead(mode.status, { 'content-type': 'application/json' }).end(mode.body), mode.delay);
  });
  const p = http.createServer((req, res) => res.writeHead(301, { location: `https://${req.headers.host}${req.url}` }).end());
  servers.push(s, p);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => p.listen(0, '127.0.0.1', r));
  httpsPort = (s.address() as AddressInfo).port;
  httpPort = (p.address() as AddressInfo).port;
});
afterAll(() => {
  for (const s of servers) s.close();
  rmSync(dir, { recursive: true, force: true });
});

const ctx = (baseDir: string) => ({ node: { name: 'n', host: '127.0.0.1' }, host: { address: '127.0.0.1' }, options: { baseDir, timeoutMs: 10_000 } }) as never;
const list = (): HealthList => [
  { url: `https://api.alchemist.local:${httpsPort}/health`, ca: 'ca.crt', status: 200, json: { status: 'ok', db: { up: true } }, maxMs: 500 },
  { url: `http://api.alchemist.local:${httpPort}/`, status: 301, redirect: `https://api.alchemist.local:${httpPort}/` },
];
async function run(l = list()) {
  const facts = await healthSuite.gather(ctx(dir), l);
  return healthSuite.evaluate(facts, l, {} as never);
}
const st = (os: Awaited<ReturnType<typeof run>>) => os.map((o) => `${o.id}:${o.status}`);

describe('health suite', () => {
  it('healthy: status, json subset, latency, redirect pass (SNI + Host sent)', async () => {
    mode = { body: '{"status":"ok","db":{"up":true},"version":"1.2"}', status: 200, delay: 0 };
    const os = await run();
    expect(st(os)).toEqual(['health.status:pass', 'health.json:pass', 'health.latency:pass', 'health.status:pass', 'health.redirect:pass', 'health.redirect:pass']);
    // the https health path is asked over plain http too, and redirects to itself on https
    expect(os[5].subject).toBe(`http://api.alchemist.local:${httpPort}/health`);
    expect(os[5].message).toBe(`301 → https://api.alchemist.local:${httpPort}/health`);
  });
  it('a health path served in clear on plain http (a location exempted from the redirect, red team H1) fails redirect', async () => {
    mode = { body: '{"status":"ok","db":{"up":true}}', status: 200, delay: 0 };
    // port 80 of this "nginx": / redirects, /health is proxied in clear
    const leaky = http.createServer((req, res) =>
      req.url === '/health' ? res.writeHead(200, { 'content-type': 'application/json' }).end(mode.body) : res.writeHead(301, { location: `https://${req.headers.host}${req.url}` }).end());
    servers.push(leaky);
    await new Promise<void>((r) => leaky.listen(0, '127.0.0.1', r));
    const port = (leaky.address() as AddressInfo).port;
    const l: HealthList = [list()[0], { url: `http://api.alchemist.local:${port}/`, status: 301, redirect: `https://api.alchemist.local:${port}/` }];
    const os = await run(l);
    expect(st(os)).toEqual(['health.status:pass', 'health.json:pass', 'health.latency:pass', 'health.status:pass', 'health.redirect:pass', 'health.redirect:fail']);
    expect(os[5].subject).toBe(`http://api.alchemist.local:${port}/health`);
    expect(os[5].message).toBe(`HTTP 200, not a redirect: /health is served over plain http (expected 301 → https://api.alchemist.local:${port}/health)`);
    // a redirect elsewhere (to /) or with another status than the entry's fails too; silence is an error
    const facts = await healthSuite.gather(ctx(dir), l);
    const judge = (p: object) => healthSuite.evaluate({ ...facts, plain: [{ ...facts.plain![0], ...p }] }, l, {} as never)[5];
    expect(judge({ status: 301, headers: { location: `https://api.alchemist.local:${port}/` } }).status).toBe('fail');
    expect(judge({ status: 302, headers: { location: `https://api.alchemist.local:${port}/health` } }).status).toBe('fail');
    expect(judge({ status: 301, headers: { location: `https://api.alchemist.local:${port}/health` } }).status).toBe('pass');
    expect(judge({ status: 404, headers: {} }).message).toBe(`HTTP 404, not a redirect (expected 301 → https://api.alchemist.local:${port}/health)`);
    expect(judge({ ok: false, error: 'ECONNRESET' }).status).toBe('error');
    expect(healthSuite.evaluate({ probes: facts.probes }, l, {} as never)[5].status).toBe('error');
    // no redirect entry for the host: plain http is not expected to redirect, nothing is asked
    expect(st(await run([list()[0]]))).toEqual(['health.status:pass', 'health.json:pass', 'health.latency:pass']);
  });
  it('500 fails status; wrong JSON fails json; slow fails latency', async () => {
    mode = { body: '{"status":"ok","db":{"up":true}}', status: 500, delay: 0 };
    expect(st(await run())[0]).toBe('health.status:fail');
    mode = { body: '{"status":"degraded","db":{"up":true}}', status: 200, delay: 0 };
    const os = await run();
    expect(st(os)[1]).toBe('health.json:fail');
    expect(os[1].message).toBe('$.status: expected "ok", got "degraded"');
    mode = { body: 'not json', status: 200, delay: 0 };
    expect((await run())[1].message).toMatch(/not JSON/);
    mode = { body: '{"status":"ok","db":{"up":true}}', status: 200, delay: 700 };
    const slow = await run();
    expect(st(slow)[2]).toBe('health.latency:fail');
    expect(slow[2].message).toMatch(/median of 3 requests \d+ ms \(samples \d+, \d+, \d+ ms\), budget 500 ms/);
  });
  it('one slow request over budget is re-measured: the median of 3 is judged, all are evidence', async () => {
    let n = 0;
    mode = { body: '{"status":"ok","db":{"up":true}}', status: 200, delay: 0 };
    const orig = mode;
    Object.defineProperty(mode, 'delay', { get: () => (n++ === 0 ? 700 : 0) });
    const os = await run();
    mode = { ...orig, delay: 0 };
    expect(st(os)[2]).toBe('health.latency:pass');
    expect(os[2].message).toMatch(/median of 3 requests/);
    expect((os[2].evidence.observed as { samples: number[] }).samples).toHaveLength(3);
  });
  it('slow most of the time fails even when one request is fast (the median, not the best, is judged)', async () => {
    let n = 0;
    mode = { body: '{"status":"ok","db":{"up":true}}', status: 200, delay: 0 };
    const orig = mode;
    // 1st slow, 2nd fast, 3rd slow: best-of-3 would pass this endpoint.
    Object.defineProperty(mode, 'delay', { get: () => (n++ === 1 ? 0 : 700) });
    const os = await run();
    mode = { ...orig, delay: 0 };
    expect(st(os)[2]).toBe('health.latency:fail');
    expect((os[2].evidence.observed as { samples: number[] }).samples).toHaveLength(3);
    expect(median([700, 5, 710])).toBe(700);
    expect(median([5, 700])).toBe(700);
  });
  it('redirect target compared by scheme, host, port and path, not by string prefix', () => {
    expect(redirectMatches('https://api.x.local/', 'http://api.x.local/', 'https://api.x.local')).toBe(true);
    expect(redirectMatches('https://api.x.local/health?a=1', 'http://api.x.local/health', 'https://api.x.local/')).toBe(true);
    expect(redirectMatches('https://api.x.local.evil/', 'http://api.x.local/', 'https://api.x.local')).toBe(false);
    expect(redirectMatches('https://api.x.local@evil.test/', 'http://api.x.local/', 'https://api.x.local')).toBe(false);
    expect(redirectMatches('https://api.x.local:8443/', 'http://api.x.local/', 'https://api.x.local/')).toBe(false);
    expect(redirectMatches('http://api.x.local/', 'http://api.x.local/', 'https://api.x.local/')).toBe(false);
    expect(redirectMatches('https://api.x.local/apiary', 'http://api.x.local/', 'https://api.x.local/api')).toBe(false);
    expect(redirectMatches('https://api.x.local/api/v1', 'http://api.x.local/', 'https://api.x.local/api')).toBe(true);
    expect(redirectMatches('/elsewhere', 'http://api.x.local/', 'https://api.x.local/')).toBe(false);
    expect(redirectMatches('::not a url', 'http://api.x.local/', 'https://api.x.local/')).toBe(false);
    const l: HealthList = [{ url: 'http://api.x.local/', status: 301, redirect: 'https://api.x.local' }];
    const facts = { probes: [{ url: l[0].url, connect: '10.250.0.2', ok: true, status: 301, headers: { location: 'https://api.x.local.evil/' } }] };
    expect(st(healthSuite.evaluate(facts as never, l, {} as never))).toEqual(['health.status:pass', 'health.redirect:fail']);
  });

  it('redirect to the wrong place, or none, fails', async () => {
    const l: HealthList = [{ url: `http://api.alchemist.local:${httpPort}/`, status: 301, redirect: 'https://other.local/' }];
    expect(st(await run(l))).toEqual(['health.status:pass', 'health.redirect:fail']);
    mode = { body: '{}', status: 200, delay: 0 };
    const l2: HealthList = [{ url: `https://api.alchemist.local:${httpsPort}/`, ca: 'ca.crt', redirect: 'https://x/' }];
    expect(st(await run(l2))).toEqual(['health.status:pass', 'health.redirect:fail']);
  });
  it('refused connection, untrusted certificate, missing CA: error, never pass', async () => {
    const l: HealthList = [{ url: 'https://api.alchemist.local:1/health', ca: 'ca.crt', json: { status: 'ok' } }];
    expect(st(await run(l))).toEqual(['health.status:error', 'health.json:error']);
    const os = await run([{ url: `https://api.alchemist.local:${httpsPort}/health` }]);
    expect(os[0].status).toBe('error');
    expect(os[0].message).toMatch(/UNABLE_TO_VERIFY|self.signed|issuer/i);
    expect((await run([{ url: `https://api.alchemist.local:${httpsPort}/`, ca: 'missing.pem' }]))[0].message).toMatch(/missing\.pem/);
  });
  it('connect defaults to the node address, and the node\'s own name means its address', async () => {
    mode = { body: '{"status":"ok","db":{"up":true}}', status: 200, delay: 0 };
    const l: HealthList = [{ url: `https://api.alchemist.local:${httpsPort}/health`, ca: 'ca.crt', connect: 'n' }, { url: `https://api.alchemist.local:${httpsPort}/health`, ca: 'ca.crt' }];
    expect(st(await run(l))).toEqual(['health.status:pass', 'health.status:pass']);
  });

  it('subset match is recursive; arrays compare whole', () => {
    expect(subsetMismatches({ a: { b: 1 } }, { a: { b: 1, c: 2 }, d: 3 })).toEqual([]);
    expect(subsetMismatches({ a: [1, 2] }, { a: [1, 2, 3] })).toEqual(['$.a: expected [1,2], got [1,2,3]']);
    expect(subsetMismatches({ a: 1 }, [])).toEqual(['$: expected an object, got []']);
  });
  it('schema: additionalProperties false', () => {
    const v = new Ajv.default({ strict: false }).compile(healthSuite.schema);
    expect(v(list())).toBe(true);
    expect(v([{ url: 'https://x/', stauts: 200 }])).toBe(false);
    expect(v([])).toBe(false); // an empty list would plan the suite and check nothing
  });
});
