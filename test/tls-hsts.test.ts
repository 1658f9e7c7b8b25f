// tls.hsts: the Strict-Transport-Security header of the HTTPS response, read on the handshake's own
// connection (real TLS servers on 127.0.0.1 answering a raw HTTP head), its judge, and what plan
// --from-nix emits from the vhosts' extraConfig.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { declaredHsts, evaluateEndpoint, fromManifest, gatherEndpoint, judgeHsts, parseHsts, type TlsEndpointExpect } from '../suites/tls.js';
import { parseHttpHead } from '../src/probes/tls.js';
import { loadManifest } from '../src/nix/manifest.js';
import { planInventory } from '../src/nix/plan.js';
import { parseInventory } from '../src/inventory/load.js';
import { tlsSuite } from '../suites/tls.js';

const root = join(import.meta.dirname, '..');
let dir: string;
const servers: tls.Server[] = [];
const ossl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });

/** A TLS server that answers every request with `head` (or nothing when undefined), counting connections. */
async function serve(head: string | undefined): Promise<{ port: number; conns: () => number }> {
  let n = 0;
  const s = tls.createServer({ key: readFileSync(join(dir, 'srv.key')), cert: readFileSync(join(dir, 'srv.crt')) }, (sock) => {
    n++;
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('\r\n\r\n') && head !== undefined) sock.end(head);
    });
    sock.on('error', () => {});
  });
  s.on('tlsClientError', () => {});
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { port: (s.address() as AddressInfo).port, conns: () => n };
}

const HSTS = { minMaxAge: 63072000, includeSubDomains: true };
const exp = (port: number, hsts: TlsEndpointExpect['hsts'] = HSTS, timeout?: string): TlsEndpointExpect => ({ endpoint: `api.alchemist.local:${port}`, connect: '127.0.0.1', ca: 'ca.crt', hsts, ...(timeout ? { timeout } : {}) });
const run = async (e: TlsEndpointExpect) => evaluateEndpoint(await gatherEndpoint(e, '127.0.0.1', dir), e, { clock: new Date().toISOString() }, new Date());
const hstsOf = (os: ReturnType<typeof evaluateEndpoint>) => os.find((o) => o.id === 'tls.hsts')!;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'leafcert-hsts-'));
  ossl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '30', '-subj', '/CN=hsts test CA');
  ossl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'srv.key', '-subj', '/CN=api.alchemist.local', '-out', 'srv.csr');
  ossl('x509', '-req', '-in', 'srv.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '30', '-out', 'srv.crt');
});
afterAll(() => {
  for (const s of servers) s.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('tls.hsts on a served response', () => {
  it('header present with enough max-age: pass, read on the handshake connection (one connection for handshake and request)', async () => {
    const s = await serve('HTTP/1.1 200 OK\r\nStrict-Transport-Security: max-age=63072000; includeSubDomains\r\nContent-Length: 0\r\n\r\n');
    const os = await run(exp(s.port));
    const h = hstsOf(os);
    expect(h.status).toBe('pass');
    expect(h.evidence.observed).toEqual({ status: 200, strictTransportSecurity: ['max-age=63072000; includeSubDomains'] });
    expect(s.conns()).toBe(1);
    // the other checks are unaffected
    expect(os.find((o) => o.id === 'tls.handshake')!.status).toBe('pass');
  });

  it('header missing on a 200: fail; with a short max-age or no includeSubDomains: fail', async () => {
    const none = await serve('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    expect(hstsOf(await run(exp(none.port))).status).toBe('fail');
    const short = await serve('HTTP/1.1 200 OK\r\nstrict-transport-security: max-age=300; includeSubDomains\r\n\r\n');
    const r = hstsOf(await run(exp(short.port)));
    expect(r.status).toBe('fail');
    expect(r.message).toContain('max-age=300 < 63072000');
    const noSub = await serve('HTTP/1.1 200 OK\r\nStrict-Transport-Security: max-age=63072000\r\n\r\n');
    expect(hstsOf(await run(exp(noSub.port))).message).toContain('no includeSubDomains');
  });

  it('no answer to the request or a garbled head: error, never pass or fail', async () => {
    const silent = await serve(undefined);
    const r = hstsOf(await run(exp(silent.port, HSTS, '600ms')));
    expect(r.status).toBe('error');
    expect(r.message).toMatch(/no HTTP response head within 600 ms/);
    const garbled = await serve('SSH-2.0-OpenSSH\r\n\r\n');
    expect(hstsOf(await run(exp(garbled.port))).status).toBe('error');
  });

  it('not judged when the expectation has no hsts (no request is sent)', async () => {
    const s = await serve('HTTP/1.1 200 OK\r\n\r\n');
    const e = exp(s.port, undefined);
    delete e.hsts;
    const f = await gatherEndpoint(e, '127.0.0.1', dir);
    expect(f.handshake!.http).toBeUndefined();
    expect(evaluateEndpoint(f, e, { clock: new Date().toISOString() }, new Date()).some((o) => o.id === 'tls.hsts')).toBe(false);
  });

  it('schema takes hsts and rejects unknown keys in it', () => {
    const inv = (hsts: unknown) => `version: 1\nnodes: [{ name: n, host: 127.0.0.1, expect: x }]\nexpectations:\n  x:\n    tls: [{ endpoint: "a.b:443", ca: ca.pem, hsts: ${JSON.stringify(hsts)} }]\n`;
    expect(() => parseInventory(inv({ minMaxAge: 31536000, path: '/health' }), join(dir, 'i.yaml'), { suites: [tlsSuite] })).not.toThrow();
    expect(() => parseInventory(inv({ maxAge: 1 }), join(dir, 'i.yaml'), { suites: [tlsSuite] })).toThrow();
    expect(() => parseInventory(inv({ minMaxAge: 0 }), join(dir, 'i.yaml'), { suites: [tlsSuite] })).toThrow();
  });
});

describe('tls.hsts judge', () => {
  const head = (status: number, ...sts: string[]) => ({ status, headers: sts.length ? { 'strict-transport-security': sts } : {} });
  it('parses the directives', () => {
    expect(parseHsts('max-age=31536000; includeSubDomains; preload')).toEqual({ maxAge: 31536000, includeSubDomains: true });
    expect(parseHsts('max-age="600"')).toEqual({ maxAge: 600, includeSubDomains: false });
    expect(parseHsts('includeSubDomains').error).toBe('no max-age directive');
    expect(parseHsts('max-age=abc').error).toMatch(/unparseable/);
    expect(parseHsts('max-age=1; max-age=2').error).toMatch(/twice/);
  });
  it('judges status and header', () => {
    const e = { minMaxAge: 600 };
    expect(judgeHsts(head(200, 'max-age=600'), e).status).toBe('pass');
    expect(judgeHsts(head(301, 'max-age=0'), e).message).toContain('0 deletes the policy');
    expect(judgeHsts(head(200), e).status).toBe('fail');
    // nginx's add_header without `always` does not decorate a 404: says nothing
    expect(judgeHsts(head(404), e).status).toBe('error');
    // declared `always`: it must be there on a 404 too
    expect(judgeHsts(head(404), { ...e, always: true }).status).toBe('fail');
    expect(judgeHsts(head(200, 'includeSubDomains'), e).status).toBe('fail');
    // clients use the first header only
    expect(judgeHsts(head(200, 'max-age=10', 'max-age=99999'), e).status).toBe('fail');
    expect(judgeHsts({ error: 'x', timedOut: true }, e).status).toBe('error');
    expect(judgeHsts(undefined, e).status).toBe('error');
  });
  it('parses response heads', () => {
    expect(parseHttpHead('HTTP/1.1 204 No Content\r\nA: 1\r\na: 2\r\nB:3')).toEqual({ status: 204, headers: { a: ['1', '2'], b: ['3'] } });
    expect(parseHttpHead('hello').error).toMatch(/not an HTTP response/);
    expect(parseHttpHead('HTTP/1.1 200 OK\r\nnocolon').error).toMatch(/garbled/);
  });
});

describe('plan --from-nix emits the HSTS expectation', () => {
  it('reads the add_header line: max-age, includeSubDomains, always; not a variable or max-age=0', () => {
    expect(declaredHsts('add_header Strict-Transport-Security "max-age=63072000; includeSubDomains" always;')).toEqual({ minMaxAge: 63072000, includeSubDomains: true, always: true });
    expect(declaredHsts("add_header 'Strict-Transport-Security' 'max-age=600';")).toEqual({ minMaxAge: 600 });
    expect(declaredHsts('add_header Strict-Transport-Security max-age=600;')).toEqual({ minMaxAge: 600 });
    expect(declaredHsts('add_header Strict-Transport-Security $hsts_header;')).toBeUndefined();
    expect(declaredHsts('add_header Strict-Transport-Security "max-age=0";')).toBeUndefined();
  });

  it('example manifest: both HTTPS vhosts get hsts, cited to their extraConfig; the inventory loads', () => {
    const file = join(root, 'fixtures/nix/example.manifest.json');
    const p = planInventory(loadManifest(file), { manifestFile: file, outFile: join(root, 'fixtures/nix/inventory.yaml'), ca: 'ca.pem', suiteKeys: ['tls'] });
    const [name] = Object.keys((p.inventory as any).expectations);
    const t = (p.inventory as any).expectations[name].tls;
    expect(t.map((x: any) => x.hsts)).toEqual([{ minMaxAge: 63072000, includeSubDomains: true, always: true }, { minMaxAge: 63072000, includeSubDomains: true, always: true }]);
    expect(p.optionPaths[`expectations.${name}.tls.0.hsts`]).toBe('services.nginx.virtualHosts."api.alchemist.local".extraConfig');
    expect(() => parseInventory(p.yaml, join(root, 'fixtures/nix/inventory.yaml'), { suites: [tlsSuite] })).not.toThrow();
  });

  it('no header declared: no hsts; an http-level header inherited by a vhost without add_header is emitted, cited there', () => {
    const m = loadManifest(join(root, 'fixtures/nix/guide-as-written.manifest.json'));
    const cite: [string, string][] = [];
    expect(fromManifest(m, (s, o) => cite.push([s.join('.'), o]))!.every((t) => t.hsts === undefined)).toBe(true);
    m.host.nginx.commonHttpConfig = 'add_header Strict-Transport-Security "max-age=31536000";';
    cite.length = 0;
    const t = fromManifest(m, (s, o) => cite.push([s.join('.'), o]))!;
    expect(t[0].hsts).toEqual({ minMaxAge: 31536000 });
    expect(cite).toContainEqual(['tls.0.hsts', 'services.nginx.commonHttpConfig']);
    // a vhost with its own add_header does not inherit it
    m.host.nginx.virtualHosts[0].extraConfig = 'add_header X-Frame-Options DENY;';
    expect(fromManifest(m, () => undefined)![0].hsts).toBeUndefined();
  });
});
