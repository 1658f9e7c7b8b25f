// Outside-in TLS from the harness: a handshake with SNI that trusts only the given CA, the served
// chain as X509Certificates, and per-protocol probes (can a client get TLS 1.0/1.1 at all?).
// Node 20 / OpenSSL 3 will not even offer TLS 1.0/1.1 at the default security level, so the
// protocol probes lower it (`DEFAULT@SECLEVEL=0`): otherwise "refused" could be our own client
// refusing. When Node still cannot offer the version, `openssl s_client` is tried instead. A third
// handshake offers only weak cipher suites (tls-ciphers.ts).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { clientContext } from './tls-context.js';
import { gatherWeakCiphers, type CipherProbe } from './tls-ciphers.js';
import { offerHandshake, type OfferVerdict } from './tls-offer.js';

export type TlsVersion = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
export const TLS_VERSIONS: TlsVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

export interface CertInfo {
  subject: string;
  issuer: string;
  subjectAltName?: string;
  validFrom: string;
  validTo: string;
  fingerprint256: string;
  serialNumber: string;
  keyType?: string;
  keyBits?: number;
  curve?: string;
  pem: string;
}

export interface TlsHandshake {
  ok: boolean;
  /** When not ok: errno / OpenSSL code, and whether TCP itself failed. */
  error?: string;
  tcpFailed?: boolean;
  /** No answer within the timeout (after one retry): says nothing about the server. */
  timedOut?: boolean;
  ms: number;
  protocol?: string;
  cipher?: string;
  /** Chain verification against the given CA only (hostname checked separately). */
  authorized?: boolean;
  authorizationError?: string;
  /** Leaf first. */
  chain: CertInfo[];
  /** The response head to the request sent on this connection after the handshake (when asked for). */
  http?: HttpHead;
}

/** Status and headers of one HTTP/1.1 response read on the handshake's own connection. */
export interface HttpHead {
  status?: number;
  /** Lower-case names; every value of a repeated header, in order. */
  headers?: Record<string, string[]>;
  /** No (complete, parseable) response head: why. */
  error?: string;
  timedOut?: boolean;
}

/** Parses an HTTP/1.x response head (status line and header lines, CRLF or LF). */
export function parseHttpHead(text: string): HttpHead {
  const lines = text.split(/\r?\n/);
  const m = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(lines[0] ?? '');
  if (!m) return { error: `not an HTTP response: ${JSON.stringify((lines[0] ?? '').slice(0, 80))}` };
  const headers: Record<string, string[]> = {};
  for (const l of lines.slice(1)) {
    if (!l) break;
    const i = l.indexOf(':');
    if (i <= 0) return { error: `garbled header line: ${JSON.stringify(l.slice(0, 80))}` };
    (headers[l.slice(0, i).trim().toLowerCase()] ??= []).push(l.slice(i + 1).trim());
  }
  return { status: Number(m[1]), headers };
}

export type ProtocolVerdict = OfferVerdict;
export interface ProtocolProbe {
  version: TlsVersion;
  verdict: ProtocolVerdict;
  detail: string;
  via: 'node' | 'openssl s_client';
}

const EC_BITS: Record<string, number> = { prime256v1: 256, secp384r1: 384, secp521r1: 521, 'P-256': 256, 'P-384': 384, 'P-521': 521, secp256k1: 256 };

export function certInfo(x: X509Certificate): CertInfo {
  const k = x.publicKey;
  const d = k.asymmetricKeyDetails ?? {};
  const bits = d.modulusLength ?? (d.namedCurve ? EC_BITS[d.namedCurve] : k.asymmetricKeyType === 'ed25519' ? 256 : k.asymmetricKeyType === 'ed448' ? 448 : undefined);
  return {
    subject: x.subject.replace(/\n/g, ', '),
    issuer: x.issuer.replace(/\n/g, ', '),
    subjectAltName: x.subjectAltName,
    validFrom: new Date(x.validFrom).toISOString(),
    validTo: new Date(x.validTo).toISOString(),
    fingerprint256: x.fingerprint256,
    serialNumber: x.serialNumber,
    keyType: k.asymmetricKeyType,
    keyBits: bits,
    curve: d.namedCurve,
    pem: x.toString(),
  };
}

interface ConnectOpts {
  host: string;
  port: number;
  servername: string;
  ca?: string | Buffer;
  timeoutMs: number;
  /** Lower OpenSSL's security level and minimum version: to read a certificate a default client rejects. */
  permissive?: boolean;
  /** After the handshake, GET this path (Host = servername) on the same connection and read the response head. */
  requestPath?: string;
}

const MAX_HEAD = 32 * 1024;

// A fleet's nodes serve the same CA (and intermediates) in every chain: parsed once, by fingerprint.
const parsed = new Map<string, X509Certificate>();
function parsedCert(fingerprint: string, raw: Buffer): X509Certificate {
  let x = parsed.get(fingerprint);
  if (!x) {
    x = new X509Certificate(raw);
    if (parsed.size >= 256) parsed.delete(parsed.keys().next().value!);
    parsed.set(fingerprint, x);
  }
  return x;
}

export function tlsHandshake(o: ConnectOpts): Promise<TlsHandshake & { certs: X509Certificate[] }> {
  const started = Date.now();
  return new Promise((res) => {
    let connected = false;
    const s = tls.connect({
      host: o.host, port: o.port, servername: o.servername, rejectUnauthorized: false,
      secureContext: clientContext({ ca: o.ca, ...(o.permissive ? { ciphers: 'DEFAULT@SECLEVEL=0', minVersion: 'TLSv1' as const } : {}) }),
      // authorized must mean "chain verifies to the CA": names are checked on their own, SAN only.
      checkServerIdentity: () => undefined,
    });
    let settled = false;
    const done = (r: TlsHandshake & { certs: X509Certificate[] }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.destroy();
      res(r);
    };
    // setImmediate: after a stalled event loop the timer and a finished handshake are due together; let the I/O land first.
    let timer = setTimeout(() => setImmediate(() => done({ ok: false, error: `no TLS handshake within ${o.timeoutMs} ms`, tcpFailed: !connected, timedOut: true, ms: Date.now() - started, chain: [], certs: [] })), o.timeoutMs);
    s.once('connect', () => (connected = true));
    let head: (TlsHandshake & { certs: X509Certificate[] }) | undefined;
    s.once('secureConnect', () => {
      const certs: X509Certificate[] = [];
      let c: tls.DetailedPeerCertificate | undefined = s.getPeerCertificate(true);
      const seen = new Set<string>();
      while (c && c.raw && !seen.has(c.fingerprint256)) {
        seen.add(c.fingerprint256);
        certs.push(parsedCert(c.fingerprint256, c.raw));
        c = c.issuerCertificate;
      }
      const hs = {
        ok: true, ms: Date.now() - started, protocol: s.getProtocol() ?? undefined, cipher: s.getCipher()?.name,
        authorized: s.authorized, authorizationError: s.authorizationError ? String(s.authorizationError) : undefined,
        chain: certs.map(certInfo), certs,
      };
      if (o.requestPath === undefined) return done(hs);
      // The same connection carries one request (no second TCP/TLS setup): its response head is the served headers.
      head = hs;
      clearTimeout(timer);
      timer = setTimeout(() => setImmediate(() => done({ ...hs, http: { error: `no HTTP response head within ${o.timeoutMs} ms`, timedOut: true } })), o.timeoutMs);
      let buf = '';
      s.on('data', (d: Buffer) => {
        buf += d.toString('latin1');
        const end = buf.search(/\r?\n\r?\n/);
        if (end >= 0) done({ ...hs, http: parseHttpHead(buf.slice(0, end)) });
        else if (buf.length > MAX_HEAD) done({ ...hs, http: { error: `no end of the response head in ${MAX_HEAD} bytes` } });
      });
      s.once('end', () => done({ ...hs, http: { error: `connection closed before the response head ended (${buf.length} bytes read)` } }));
      s.write(`GET ${o.requestPath} HTTP/1.1\r\nHost: ${o.servername}\r\nUser-Agent: leafcert\r\nAccept: */*\r\nConnection: close\r\n\r\n`);
    });
    s.once('error', (e: NodeJS.ErrnoException) =>
      done(head ? { ...head, http: { error: `connection failed during the request: ${e.code ?? e.message}` } } : { ok: false, error: e.code ?? e.message, tcpFailed: !connected, ms: Date.now() - started, chain: [], certs: [] }));
  });
}

// Errors that mean OUR client could not offer/complete the version: not evidence about the server.
const CLIENT_SIDE = new Set(['ERR_SSL_NO_PROTOCOLS_AVAILABLE', 'ERR_SSL_NO_CIPHERS_AVAILABLE', 'ERR_SSL_LEGACY_SIGALG_DISALLOWED_OR_UNSUPPORTED', 'ERR_TLS_INVALID_PROTOCOL_VERSION', 'ERR_SSL_CA_MD_TOO_WEAK', 'ERR_SSL_EE_KEY_TOO_SMALL', 'ERR_SSL_DH_KEY_TOO_SMALL']);

/** Can a client negotiate exactly `version`? */
export async function probeProtocol(o: ConnectOpts, version: TlsVersion): Promise<ProtocolProbe> {
  const r = await offerHandshake(o, { minVersion: version, maxVersion: version, ciphers: 'DEFAULT@SECLEVEL=0' }, {
    cannotConnect: (code) => code,
    error: (code) => {
      if (CLIENT_SIDE.has(code)) return { verdict: 'unknown', detail: `client cannot offer ${version}: ${code}` };
      if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ETIMEDOUT') return { verdict: 'unknown', detail: `no connection: ${code}` };
      // protocol_version / handshake_failure alerts, unsupported protocol, reset, close before hello
      return { verdict: 'refused', detail: code };
    },
  });
  return { version, verdict: r.verdict, detail: r.verdict === 'accepted' ? `negotiated ${r.protocol} ${r.cipher ?? ''}`.trim() : r.detail, via: 'node' };
}

const OPENSSL_FLAG: Record<TlsVersion, string> = { TLSv1: '-tls1', 'TLSv1.1': '-tls1_1', 'TLSv1.2': '-tls1_2', 'TLSv1.3': '-tls1_3' };

/** Fallback: OpenSSL's own client on the harness. */
export function probeProtocolOpenssl(o: ConnectOpts, version: TlsVersion): Promise<ProtocolProbe> {
  return new Promise((res) => {
    const args = ['s_client', '-connect', `${o.host}:${o.port}`, '-servername', o.servername, OPENSSL_FLAG[version], '-cipher', 'DEFAULT:@SECLEVEL=0'];
    const child = execFile('openssl', args, { timeout: o.timeoutMs }, (err, stdout, stderr) => {
      const m = /Protocol\s*:\s*(\S+)/.exec(stdout) ?? /New, (TLSv[\d.]+)/.exec(stdout);
      const via = 'openssl s_client' as const;
      if ((err as NodeJS.ErrnoException | null)?.code === 'ENOENT') return res({ version, verdict: 'unknown', detail: 'openssl not installed on the harness', via });
      if (!err && m && m[1] === version) return res({ version, verdict: 'accepted', detail: `negotiated ${m[1]}`, via });
      if (/no protocols available|unsupported protocol.*client/i.test(stderr)) return res({ version, verdict: 'unknown', detail: stderr.trim().split('\n')[0], via });
      res({ version, verdict: 'refused', detail: (stderr.trim().split('\n').find((l) => /alert|error/i.test(l)) ?? `exit ${err?.code ?? 0}`).slice(0, 200), via });
    });
    child.stdin?.end();
  });
}

export async function probeProtocolAny(o: ConnectOpts, version: TlsVersion): Promise<ProtocolProbe> {
  let p = await probeProtocol(o, version);
  // Silence is not an answer: one more try before it is reported as unknown.
  if (p.verdict === 'unknown' && p.detail.startsWith('no answer within')) p = await probeProtocol(o, version);
  if (p.verdict !== 'unknown' || p.detail.startsWith('no ')) return p;
  const q = await probeProtocolOpenssl(o, version);
  return q.verdict === 'unknown' ? { ...q, detail: `${p.detail}; openssl: ${q.detail}` } : q;
}

/** One endpoint, gathered from the harness (no round trip to the node). */
export interface TlsEndpointFacts {
  endpoint: string;
  target?: string;
  port: number;
  servername: string;
  caPath: string;
  caError?: string;
  handshake?: TlsHandshake;
  /** Set when a default client failed but a permissive one got the certificate (e.g. key too small). */
  defaultClientError?: string;
  protocols: ProtocolProbe[];
  /** A handshake offering only weak TLS ≤ 1.2 suites (tls-ciphers.ts). */
  weakCiphers?: CipherProbe;
}

/**
 * Reads the CA file (a harness-side file, already resolved), then, when there is a target: a
 * handshake trusting only that CA and, at the same time, a probe of every version below
 * `minProtocol`. A default client that gives up (e.g. EE_KEY_TOO_SMALL) is followed by a
 * permissive one, so the certificate can still be judged.
 */
export async function gatherTlsEndpoint(o: { endpoint: string; target?: string; port: number; servername: string; caPath: string; minProtocol: TlsVersion; timeoutMs: number; requestPath?: string }): Promise<TlsEndpointFacts> {
  const { endpoint, target, port, servername, caPath } = o;
  const f: TlsEndpointFacts = { endpoint, target, port, servername, caPath, protocols: [] };
  let ca: Buffer;
  try {
    ca = readFileSync(caPath);
    new X509Certificate(ca);
  } catch (err) {
    f.caError = `cannot use CA file ${caPath}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
    return f;
  }
  if (!target) return f;
  const c = { host: target, port, servername, ca, timeoutMs: o.timeoutMs, requestPath: o.requestPath };
  const below = TLS_VERSIONS.slice(0, TLS_VERSIONS.indexOf(o.minProtocol));
  let [hs, protocols, weak] = await Promise.all([tlsHandshake(c), Promise.all(below.map((v) => probeProtocolAny(c, v))), gatherWeakCiphers(c)]);
  f.protocols = protocols;
  f.weakCiphers = weak;
  // A handshake with no answer says nothing about the server (a busy harness or network): tried once
  // more, and still silent it stays a timeout, never "a default client refuses this server".
  if (hs.timedOut) {
    const again = await tlsHandshake(c);
    hs = again.timedOut ? { ...again, error: `${again.error} (tried twice)` } : again;
  }
  const { certs: _certs, ...handshake } = hs;
  f.handshake = handshake;
  if (!hs.ok && !hs.tcpFailed && !hs.timedOut) {
    const again = await tlsHandshake({ ...c, permissive: true });
    if (again.ok && !again.timedOut) {
      const { certs: _c, ...h2 } = again;
      f.defaultClientError = hs.error;
      f.handshake = h2;
    }
  }
  return f;
}
