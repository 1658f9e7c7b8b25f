// Real handshakes against TLS servers on 127.0.0.1 with certificates made by openssl here.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Ajv from 'ajv';
import { evaluateEndpoint, gatherEndpoint, tlsSuite, type TlsEndpointExpect } from '../suites/tls.js';
import { probeProtocol, probeProtocolOpenssl } from '../src/probes/tls.js';
import { probeWeakCiphers } from '../src/probes/tls-ciphers.js';
import net from 'node:net';

let dir: string;
const ossl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
const servers: tls.Server[] = [];

function issue(name: string, opts: { key?: 'ec' | 'rsa1024' | 'rsapss3072'; san?: string; cn?: string; selfSigned?: boolean; days?: number }) {
  if (opts.key === 'rsa1024') ossl('genrsa', '-out', `${name}.key`, '1024');
  else if (opts.key === 'rsapss3072') ossl('genpkey', '-algorithm', 'RSA-PSS', '-pkeyopt', 'rsa_keygen_bits:3072', '-out', `${name}.key`);
  else ossl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`);
  const subj = `/CN=${opts.cn ?? 'api.alchemist.local'}`;
  writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${opts.san ?? 'DNS:api.alchemist.local,DNS:monitoring.alchemist.local'}\n`);
  if (opts.selfSigned) {
    ossl('req', '-x509', '-new', '-key', `${name}.key`, '-subj', subj, '-days', String(opts.days ?? 90), '-out', `${name}.crt`, '-addext', `subjectAltName=${opts.san ?? 'DNS:api.alchemist.local'}`);
  } else {
    ossl('req', '-new', '-key', `${name}.key`, '-subj', subj, '-out', `${name}.csr`);
    ossl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', String(opts.days ?? 90), '-extfile', `${name}.ext`, '-out', `${name}.crt`);
  }
  return { key: readFileSync(join(dir, `${name}.key`)), cert: readFileSync(join(dir, `${name}.crt`)) };
}

async function serve(opts: tls.TlsOptions): Promise<number> {
  const s = tls.createServer(opts, (sock) => sock.end());
  s.on('tlsClientError', () => {});
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as AddressInfo).port;
}

const base = (port: number): TlsEndpointExpect => ({ endpoint: `api.alchemist.local:${port}`, connect: '127.0.0.1', ca: 'ca.crt', minDaysLeft: 21, minProtocol: 'TLSv1.2' });
const now = () => new Date();
const id = (clock = new Date()) => ({ clock: clock.toISOString() });
const status = (os: ReturnType<typeof evaluateEndpoint>) => Object.fromEntries(os.map((o) => [o.id, o.status]));

let good: number, old: number, selfSigned: number, wrongSan: number, weak: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'leafcert-tls-'));
  ossl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '365', '-subj', '/CN=leafcert test CA');
  good = await serve({ ...issue('good', {}), minVersion: 'TLSv1.2' });
  old = await serve({ ...issue('old', {}), minVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' });
  selfSigned = await serve(issue('self', { selfSigned: true }));
  wrongSan = await serve(issue('wrong', { san: 'DNS:wrong.alchemist.local', cn: 'api.alchemist.local' }));
  weak = await serve({ ...issue('weak', { key: 'rsa1024' }), ciphers: 'DEFAULT@SECLEVEL=0' });
});
afterAll(() => {
  for (const s of servers) s.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('tls suite', () => {
  it('healthy endpoint passes every check, with certificate evidence', async () => {
    const f = await gatherEndpoint(base(good), '127.0.0.1', dir);
    const os = evaluateEndpoint(f, base(good), id(), now());
    expect(status(os)).toEqual({
      'tls.handshake': 'pass', 'tls.chain': 'pass', 'tls.hostname': 'pass', 'tls.not-expired': 'pass',
      'tls.not-yet-valid': 'pass', 'tls.min-days-left': 'pass', 'tls.min-protocol': 'pass', 'tls.ciphers': 'pass', 'tls.key-strength': 'pass',
    });
    expect(os.find((o) => o.id === 'tls.ciphers')!.message).toMatch(/^weak suites refused \(ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE\); default handshake TLSv1\.3 /);
    const ev = os[0].evidence.observed as Record<string, string>;
    expect(ev.fingerprintSha256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(ev.subjectAltName).toContain('DNS:api.alchemist.local');
    expect(ev.protocol).toMatch(/TLSv1\.[23]/);
    expect(os.find((o) => o.id === 'tls.key-strength')!.message).toBe('ec 256 bits (prime256v1)');
  });

  it('detects a server that accepts TLS 1.0 and 1.1 (the client really offers them here)', async () => {
    const f = await gatherEndpoint(base(old), '127.0.0.1', dir);
    expect(f.protocols.map((p) => `${p.version}:${p.verdict}`)).toEqual(['TLSv1:accepted', 'TLSv1.1:accepted']);
    const os = evaluateEndpoint(f, base(old), id(), now());
    expect(status(os)['tls.min-protocol']).toBe('fail');
    // and the modern server refuses them
    const g = await gatherEndpoint(base(good), '127.0.0.1', dir);
    expect(g.protocols.map((p) => p.verdict)).toEqual(['refused', 'refused']);
  });

  it('openssl s_client fallback agrees with the node client', async () => {
    const o = { host: '127.0.0.1', port: old, servername: 'api.alchemist.local', timeoutMs: 5000 };
    expect((await probeProtocolOpenssl(o, 'TLSv1')).verdict).toBe('accepted');
    expect((await probeProtocolOpenssl({ ...o, port: good }, 'TLSv1')).verdict).toBe('refused');
    expect((await probeProtocol({ ...o, port: good }, 'TLSv1.1')).verdict).toBe('refused');
  });

  it('expiry, not-yet-valid and days left are judged by the harness clock AND the node clock', async () => {
    const f = await gatherEndpoint(base(good), '127.0.0.1', dir);
    const notAfter = Date.parse(f.handshake!.chain[0].validTo);
    // harness fine, node clock 100 days ahead: expired by the node's clock
    const ahead = evaluateEndpoint(f, base(good), id(new Date(notAfter + 86400_000)), now());
    expect(status(ahead)['tls.not-expired']).toBe('fail');
    expect(ahead.find((o) => o.id === 'tls.not-expired')!.message).toMatch(/by the node clock/);
    // harness clock 80 days on: fewer than 21 days left
    const late = evaluateEndpoint(f, base(good), id(new Date(notAfter - 10 * 86400_000)), new Date(notAfter - 10 * 86400_000));
    expect(status(late)['tls.min-days-left']).toBe('fail');
    expect(status(late)['tls.not-expired']).toBe('pass');
    // node clock a year behind: not yet valid there
    const behind = evaluateEndpoint(f, base(good), id(new Date(Date.now() - 365 * 86400_000)), now());
    expect(status(behind)['tls.not-yet-valid']).toBe('fail');
    // unknown node clock: error, never pass
    expect(status(evaluateEndpoint(f, base(good), {}, now()))['tls.not-expired']).toBe('error');
  });

  it('an intermediate that expires before the leaf sets the days left (the chain stops verifying then)', async () => {
    ossl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'int.key', '-subj', '/CN=test intermediate', '-out', 'int.csr');
    writeFileSync(join(dir, 'int.ext'), 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n');
    ossl('x509', '-req', '-in', 'int.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '5', '-extfile', 'int.ext', '-out', 'int.crt');
    ossl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'leafi.key');
    ossl('req', '-new', '-key', 'leafi.key', '-subj', '/CN=api.alchemist.local', '-out', 'leafi.csr');
    writeFileSync(join(dir, 'leafi.ext'), 'subjectAltName=DNS:api.alchemist.local\n');
    ossl('x509', '-req', '-in', 'leafi.csr', '-CA', 'int.crt', '-CAkey', 'int.key', '-CAcreateserial', '-days', '90', '-extfile', 'leafi.ext', '-out', 'leafi.crt');
    const port = await serve({ key: readFileSync(join(dir, 'leafi.key')), cert: Buffer.concat([readFileSync(join(dir, 'leafi.crt')), readFileSync(join(dir, 'int.crt'))]), minVersion: 'TLSv1.2' });
    const os = evaluateEndpoint(await gatherEndpoint(base(port), '127.0.0.1', dir), base(port), id(), now());
    expect(status(os)).toMatchObject({ 'tls.chain': 'pass', 'tls.not-expired': 'pass', 'tls.min-days-left': 'fail' });
    const m = os.find((o) => o.id === 'tls.min-days-left')!;
    expect(m.message).toMatch(/^[45] days left by the harness clock, [45] days left by the node clock \(CN=test intermediate in the served chain expires .*, before the leaf\); minimum 21$/);
    expect((m.evidence.observed as any).expiresFirst.subject).toBe('CN=test intermediate');
  });

  it('self-signed certificate fails the chain (only the given CA is trusted)', async () => {
    const f = await gatherEndpoint(base(selfSigned), '127.0.0.1', dir);
    const os = evaluateEndpoint(f, base(selfSigned), id(), now());
    expect(status(os)['tls.chain']).toBe('fail');
    expect(os.find((o) => o.id === 'tls.chain')!.message).toMatch(/SELF_SIGNED/);
  });

  it('name only in the CN, not a SAN, fails hostname', async () => {
    const f = await gatherEndpoint(base(wrongSan), '127.0.0.1', dir);
    const os = evaluateEndpoint(f, base(wrongSan), id(), now());
    expect(status(os)['tls.hostname']).toBe('fail');
    expect(status(os)['tls.chain']).toBe('pass');
  });

  it('a 1024-bit RSA key fails key-strength', async () => {
    const f = await gatherEndpoint(base(weak), '127.0.0.1', dir);
    const os = evaluateEndpoint(f, base(weak), id(), now());
    expect(status(os)['tls.key-strength']).toBe('fail');
    expect(os.find((o) => o.id === 'tls.key-strength')!.message).toMatch(/rsa key of 1024 bits < 2048/);
  });

  it('an RSA-PSS 3072-bit key is an RSA key: it passes key-strength, and is judged by its modulus', async () => {
    const port = await serve({ ...issue('pss', { key: 'rsapss3072' }), minVersion: 'TLSv1.2' });
    const f = await gatherEndpoint(base(port), '127.0.0.1', dir);
    expect(f.handshake!.chain[0].keyType).toBe('rsa-pss');
    const os = evaluateEndpoint(f, base(port), id(), now());
    expect(status(os)).toMatchObject({ 'tls.handshake': 'pass', 'tls.chain': 'pass', 'tls.key-strength': 'pass' });
    expect(os.find((o) => o.id === 'tls.key-strength')!.message).toBe('rsa-pss 3072 bits');
    // keyTypes [rsa] admits it; [ec] does not; a 4096-bit minimum fails it by its modulus
    expect(status(evaluateEndpoint(f, { ...base(port), keyTypes: ['rsa'] }, id(), now()))['tls.key-strength']).toBe('pass');
    expect(status(evaluateEndpoint(f, { ...base(port), keyTypes: ['ec'] }, id(), now()))['tls.key-strength']).toBe('fail');
    const big = evaluateEndpoint(f, { ...base(port), minKeyBits: { rsa: 4096 } }, id(), now()).find((o) => o.id === 'tls.key-strength')!;
    expect([big.status, big.message]).toEqual(['fail', 'rsa-pss key of 3072 bits < 4096']);
  });

  it('weak cipher suites: a TLS 1.2 server accepting NULL / anonymous suites fails tls.ciphers (red team T6), every other check still passes', async () => {
    const port = await serve({ ...issue('nullc', {}), maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-NULL-SHA:AECDH-NULL-SHA:ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0' });
    const os = evaluateEndpoint(await gatherEndpoint(base(port), '127.0.0.1', dir), base(port), id(), now());
    const s = status(os);
    expect(s['tls.ciphers']).toBe('fail');
    expect(Object.entries(s).filter(([k, v]) => k !== 'tls.ciphers' && v !== 'pass')).toEqual([]);
    expect(os.find((o) => o.id === 'tls.ciphers')!.message).toMatch(/^weak suite accepted: TLSv1\.2 (ECDHE-ECDSA-NULL-SHA \(no encryption\)|AECDH-NULL-SHA \(anonymous \(no authentication\), no encryption\))$/);
    // anonymous only
    const anon = await serve({ ...issue('anon', {}), maxVersion: 'TLSv1.2', ciphers: 'AECDH-AES128-SHA:ECDHE-ECDSA-AES128-GCM-SHA256:@SECLEVEL=0' });
    const a = evaluateEndpoint(await gatherEndpoint(base(anon), '127.0.0.1', dir), base(anon), id(), now()).find((o) => o.id === 'tls.ciphers')!;
    expect([a.status, a.message]).toEqual(['fail', 'weak suite accepted: TLSv1.2 AECDH-AES128-SHA (anonymous (no authentication))']);
  });

  it('weak cipher suites: a TLS 1.3-only server passes (protocol_version alert); reset, silence, a non-TLS answer or nothing listening is error', async () => {
    const only13 = await serve({ ...issue('only13', {}), minVersion: 'TLSv1.3' });
    const os = evaluateEndpoint(await gatherEndpoint(base(only13), '127.0.0.1', dir), base(only13), id(), now());
    expect(status(os)['tls.ciphers']).toBe('pass');
    expect(os.find((o) => o.id === 'tls.ciphers')!.message).toMatch(/^weak suites refused \(ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION\); default handshake TLSv1\.3/);
    const raw = (handler: (c: net.Socket) => void) => new Promise<number>((r) => {
      const s = net.createServer(handler);
      servers.push(s as never);
      s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port));
    });
    const o = { host: '127.0.0.1', servername: 'api.alchemist.local', timeoutMs: 1500 };
    const http = await raw((c) => c.on('data', () => c.end('HTTP/1.1 400 Bad Request\r\n\r\n')));
    const reset = await raw((c) => c.destroy());
    const silent = await raw(() => undefined);
    expect(await probeWeakCiphers({ ...o, port: http })).toMatchObject({ verdict: 'unknown', detail: 'ERR_SSL_WRONG_VERSION_NUMBER' });
    expect(await probeWeakCiphers({ ...o, port: reset })).toMatchObject({ verdict: 'unknown', detail: 'ECONNRESET' });
    expect(await probeWeakCiphers({ ...o, port: silent })).toMatchObject({ verdict: 'unknown', detail: 'no answer within 1500 ms' });
    expect(await probeWeakCiphers({ ...o, port: 1 })).toMatchObject({ verdict: 'unknown', detail: 'ECONNREFUSED' });
    // the default handshake fine, the weak-suite probe without an answer: error, never pass
    const f = await gatherEndpoint(base(good), '127.0.0.1', dir);
    const c = evaluateEndpoint({ ...f, weakCiphers: { verdict: 'unknown', detail: 'ECONNRESET (tried twice)', offered: 'x' } }, base(good), id(), now()).find((x) => x.id === 'tls.ciphers')!;
    expect([c.status, c.message]).toEqual(['error', 'could not test weak suites: ECONNRESET (tried twice)']);
    expect(evaluateEndpoint({ ...f, weakCiphers: undefined }, base(good), id(), now()).find((x) => x.id === 'tls.ciphers')!.status).toBe('error');
  });

  it('missing CA file and refused port: error / fail, never pass', async () => {
    const e = { ...base(good), ca: 'nope.pem' };
    const os = evaluateEndpoint(await gatherEndpoint(e, '127.0.0.1', dir), e, id(), now());
    expect(os.every((o) => o.status === 'error')).toBe(true);
    expect(os[0].message).toMatch(/nope\.pem: ENOENT/);
    const closed = base(1);
    const os2 = evaluateEndpoint(await gatherEndpoint(closed, '127.0.0.1', dir), closed, id(), now());
    expect(status(os2)['tls.handshake']).toBe('fail');
    expect(os2.filter((o) => o.id !== 'tls.handshake').every((o) => o.status === 'error')).toBe(true);
  });

  it('schema: additionalProperties false', () => {
    const v = new Ajv.default({ strict: false }).compile(tlsSuite.schema);
    expect(v([base(443)])).toBe(true);
    expect(v([{ ...base(443), minDays: 3 }])).toBe(false);
    expect(v([{ ...base(443), minProtocol: 'SSLv3' }])).toBe(false);
    expect(v([])).toBe(false); // an empty list would plan the suite and check nothing
  });
});

describe('TLS client contexts are shared per CA and setting (src/probes/tls-context.ts)', () => {
  it('a second gather of an endpoint builds no new context; a different CA gets its own, and its own chain verdict', async () => {
    const { cachedContexts } = await import('../src/probes/tls-context.js');
    await gatherEndpoint(base(good), '127.0.0.1', dir);
    const n = cachedContexts();
    const again = await gatherEndpoint(base(good), '127.0.0.1', dir);
    expect(cachedContexts()).toBe(n);
    expect(status(evaluateEndpoint(again, base(good), id(), now()))['tls.chain']).toBe('pass');
    // The self-signed server's own certificate as the CA: a new context, and that chain verifies.
    writeFileSync(join(dir, 'self-as-ca.crt'), readFileSync(join(dir, 'self.crt')));
    const selfAsCa = { ...base(selfSigned), ca: 'self-as-ca.crt' };
    const f = await gatherEndpoint(selfAsCa, '127.0.0.1', dir);
    expect(cachedContexts()).toBe(n + 1);
    expect(status(evaluateEndpoint(f, selfAsCa, id(), now()))['tls.chain']).toBe('pass');
    // …and the shared context of ca.crt still refuses that server's chain.
    const g = await gatherEndpoint(base(selfSigned), '127.0.0.1', dir);
    expect(status(evaluateEndpoint(g, base(selfSigned), id(), now()))['tls.chain']).toBe('fail');
  });
});
