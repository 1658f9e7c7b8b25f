// tls: each endpoint, from the harness as a client sees it: handshake with SNI, chain to the given
// CA only, the name in a SAN (never the CN), validity judged by the harness's clock AND the node's,
// old protocols refused, key type and size.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { X509Certificate } from 'node:crypto';
import type { NodeIdentity, Outcome, Suite, SuiteContext } from '../src/types.js';
import { parseDuration } from '../src/units.js';
import { probeProtocolAny, tlsHandshake, TLS_VERSIONS, type ProtocolProbe, type TlsHandshake, type TlsVersion, type CertInfo } from '../src/probes/tls.js';

export interface TlsEndpointExpect {
  /** Name and port clients use, e.g. api.alchemist.local:443. */
  endpoint: string;
  /** Address to connect to (default, or the node's own name: the node's address); the endpoint's name is still sent as SNI. */
  connect?: string;
  /** SNI override (default: the endpoint's host). */
  servername?: string;
  /** PEM file of the only CA to trust (relative to the inventory). */
  ca: string;
  /** Names that must be in the certificate's SANs (default: the endpoint's host). */
  names?: string[];
  minDaysLeft?: number;
  minProtocol?: TlsVersion;
  keyTypes?: ('rsa' | 'ec' | 'ed25519')[];
  minKeyBits?: { rsa?: number; ec?: number };
  timeout?: string;
}
export type TlsExpect = TlsEndpointExpect[];

export const schema = {
  type: 'array',
  // An empty list would plan the suite and check nothing.
  minItems: 1,
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['endpoint', 'ca'],
    properties: {
      endpoint: { type: 'string', pattern: '^[^\\s:]+:[0-9]{1,5}$' },
      connect: { type: 'string', minLength: 1 },
      servername: { type: 'string', minLength: 1 },
      ca: { type: 'string', minLength: 1 },
      names: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
      minDaysLeft: { type: 'integer', minimum: 0 },
      minProtocol: { enum: TLS_VERSIONS },
      keyTypes: { type: 'array', items: { enum: ['rsa', 'ec', 'ed25519'] }, minItems: 1 },
      minKeyBits: { type: 'object', additionalProperties: false, properties: { rsa: { type: 'integer', minimum: 1 }, ec: { type: 'integer', minimum: 1 } } },
      timeout: { type: 'string' },
    },
  },
};

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
}
export interface TlsFacts {
  endpoints: TlsEndpointFacts[];
}

const DAY = 86_400_000;
const DEFAULT_DAYS = 21;
const CL = ['tls'];

function splitEndpoint(ep: string): { host: string; port: number } {
  const i = ep.lastIndexOf(':');
  return { host: ep.slice(0, i), port: Number(ep.slice(i + 1)) };
}

export async function gatherEndpoint(e: TlsEndpointExpect, target: string | undefined, baseDir: string): Promise<TlsEndpointFacts> {
  const { host, port } = splitEndpoint(e.endpoint);
  const servername = e.servername ?? host;
  const caPath = resolve(baseDir, e.ca);
  const f: TlsEndpointFacts = { endpoint: e.endpoint, target, port, servername, caPath, protocols: [] };
  let ca: Buffer;
  try {
    ca = readFileSync(caPath);
    new X509Certificate(ca);
  } catch (err) {
    f.caError = `cannot use CA file ${caPath}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
    return f;
  }
  if (!target) return f;
  const timeoutMs = e.timeout ? parseDuration(e.timeout) : 5000;
  const o = { host: target, port, servername, ca, timeoutMs };
  const below = TLS_VERSIONS.slice(0, TLS_VERSIONS.indexOf(e.minProtocol ?? 'TLSv1.2'));
  const [hs, protocols] = await Promise.all([tlsHandshake(o), Promise.all(below.map((v) => probeProtocolAny(o, v)))]);
  f.protocols = protocols;
  const { certs: _certs, ...handshake } = hs;
  f.handshake = handshake;
  if (!hs.ok && !hs.tcpFailed) {
    // A default client gave up (e.g. EE_KEY_TOO_SMALL): look at the certificate with a permissive one.
    const again = await tlsHandshake({ ...o, permissive: true });
    if (again.ok) {
      const { certs: _c, ...h2 } = again;
      f.defaultClientError = hs.error;
      f.handshake = h2;
    }
  }
  return f;
}

async function gather(ctx: SuiteContext, expect: TlsExpect): Promise<TlsFacts> {
  const nodeAddr = ctx.host.address ?? ctx.node.host;
  // `connect: <this node's name>` (as in the design's inventory) means the node's own address.
  const target = (c?: string) => (c === undefined || c === ctx.node.name ? nodeAddr : c);
  const endpoints = await Promise.all(expect.map((e) => gatherEndpoint(e, target(e.connect), ctx.options.baseDir)));
  return { endpoints };
}

function certEvidence(c: CertInfo, h: TlsHandshake) {
  return {
    subject: c.subject, issuer: c.issuer, subjectAltName: c.subjectAltName ?? '(none)', notBefore: c.validFrom, notAfter: c.validTo,
    fingerprintSha256: c.fingerprint256, key: `${c.keyType ?? '?'} ${c.keyBits ?? '?'}${c.curve ? ` (${c.curve})` : ''}`, protocol: h.protocol, cipher: h.cipher,
  };
}

export function evaluateEndpoint(f: TlsEndpointFacts, e: TlsEndpointExpect, identity: NodeIdentity, now: Date): Outcome[] {
  const out: Outcome[] = [];
  const subject = e.endpoint;
  const src = `TLS handshake with ${f.target ?? '?'}:${f.port} (SNI ${f.servername}) from the harness, trusting only ${f.caPath}`;
  const push = (id: string, title: string, severity: Outcome['severity'], status: Outcome['status'], message: string, evidence: Partial<Outcome['evidence']> = {}, checklist = CL, subj = subject) =>
    out.push({ id, title, subject: subj, severity, status, message, checklist, evidence: { source: src, ...evidence } });
  const ids: [string, string, Outcome['severity']][] = [
    ['tls.handshake', 'TLS handshake with SNI succeeds', 'critical'],
    ['tls.chain', 'Chain verifies to the given CA', 'critical'],
    ['tls.hostname', 'Name is in a SAN', 'high'],
    ['tls.not-expired', 'Certificate not expired', 'critical'],
    ['tls.not-yet-valid', 'Certificate already valid', 'high'],
    ['tls.min-days-left', 'Days left before expiry', 'medium'],
    ['tls.min-protocol', 'Protocols below the minimum refused', 'high'],
    ['tls.key-strength', 'Key type and size', 'high'],
  ];
  const allError = (msg: string, evidence: Partial<Outcome['evidence']> = {}) => {
    for (const [id, title, sev] of ids) push(id, title, sev, 'error', msg, evidence, id === 'tls.min-days-left' ? ['tls', 'tls-renewal'] : CL);
  };
  if (f.caError) return allError(f.caError, { source: f.caPath }), out;
  if (!f.target) return allError('no address to connect to (no connect in the expectation and the node has no host)'), out;
  const h = f.handshake!;
  if (!h.ok) {
    const status = h.tcpFailed && /ECONNREFUSED/.test(h.error ?? '') ? 'fail' : h.tcpFailed ? 'error' : 'fail';
    push('tls.handshake', ids[0][1], 'critical', status, `${f.target}:${f.port}: ${h.tcpFailed ? 'TCP connection failed' : 'TLS handshake failed'}: ${h.error}`, { expected: 'handshake', observed: h.error });
    for (const [id, title, sev] of ids.slice(1)) push(id, title, sev, 'error', `no certificate to judge: handshake failed (${h.error})`, {}, id === 'tls.min-days-left' ? ['tls', 'tls-renewal'] : CL);
    return out;
  }
  const leaf = h.chain[0];
  const ev = certEvidence(leaf, h);
  const excerpt = leaf.pem;
  if (f.defaultClientError) push('tls.handshake', ids[0][1], 'critical', 'fail', `a default client refuses this server: ${f.defaultClientError} (certificate read with a permissive client)`, { expected: 'handshake with a default client', observed: f.defaultClientError, excerpt });
  else push('tls.handshake', ids[0][1], 'critical', 'pass', `${h.protocol} ${h.cipher} in ${h.ms} ms`, { expected: 'handshake', observed: ev, excerpt });

  push('tls.chain', ids[1][1], 'critical', h.authorized ? 'pass' : 'fail',
    h.authorized ? `chain verifies to ${e.ca} (issuer ${leaf.issuer})` : `chain does not verify to ${e.ca}: ${h.authorizationError}`,
    { expected: `issued (via the served chain) by the CA in ${f.caPath}`, observed: { authorizationError: h.authorizationError ?? null, chain: h.chain.map((c) => `${c.subject} ← ${c.issuer}`) }, excerpt });

  const x = new X509Certificate(leaf.pem);
  const names = e.names ?? [splitEndpoint(e.endpoint).host];
  const missing = names.filter((n) => !(/^[\d.]+$|:/.test(n) ? x.checkIP(n) : x.checkHost(n, { subject: 'never' })));
  push('tls.hostname', ids[2][1], 'high', missing.length ? 'fail' : 'pass',
    missing.length ? `${missing.join(', ')} not in the SANs (${leaf.subjectAltName ?? 'no SAN'}; CN is not accepted)` : `${names.join(', ')} matched in SANs`,
    { expected: names, observed: leaf.subjectAltName ?? '(no SAN)', excerpt: `subject: ${leaf.subject}` });

  const notAfter = Date.parse(leaf.validTo);
  const notBefore = Date.parse(leaf.validFrom);
  const nodeNow = identity.clock ? Date.parse(identity.clock) : undefined;
  const clocks: [string, number][] = [['harness', now.getTime()], ...(nodeNow !== undefined ? [['node', nodeNow] as [string, number]] : [])];
  const clockEv = { harnessClock: now.toISOString(), nodeClock: identity.clock ?? '(unknown)', notBefore: leaf.validFrom, notAfter: leaf.validTo };
  const noNodeClock = nodeNow === undefined ? ' (node clock unknown)' : '';

  const expiredBy = clocks.filter(([, t]) => t >= notAfter).map(([n]) => n);
  push('tls.not-expired', ids[3][1], 'critical', expiredBy.length ? 'fail' : nodeNow === undefined ? 'error' : 'pass',
    expiredBy.length ? `expired ${leaf.validTo} by the ${expiredBy.join(' and ')} clock` : `valid until ${leaf.validTo} by both clocks${noNodeClock}`,
    { expected: 'notAfter in the future', observed: clockEv });

  const earlyBy = clocks.filter(([, t]) => t < notBefore).map(([n]) => n);
  push('tls.not-yet-valid', ids[4][1], 'high', earlyBy.length ? 'fail' : nodeNow === undefined ? 'error' : 'pass',
    earlyBy.length ? `not valid before ${leaf.validFrom} by the ${earlyBy.join(' and ')} clock` : `valid since ${leaf.validFrom} by both clocks${noNodeClock}`,
    { expected: 'notBefore in the past', observed: clockEv });

  const min = e.minDaysLeft ?? DEFAULT_DAYS;
  const left = clocks.map(([n, t]) => [n, Math.trunc((notAfter - t) / DAY)] as [string, number]);
  const short = left.filter(([, d]) => d < min);
  push('tls.min-days-left', ids[5][1], 'medium', short.length ? 'fail' : nodeNow === undefined ? 'error' : 'pass',
    `${left.map(([n, d]) => `${d} days left by the ${n} clock`).join(', ')}; minimum ${min}${noNodeClock}`,
    { expected: `≥ ${min} days`, observed: { ...clockEv, daysLeft: Object.fromEntries(left) } }, ['tls', 'tls-renewal']);

  const minP = e.minProtocol ?? 'TLSv1.2';
  const accepted = f.protocols.filter((p) => p.verdict === 'accepted');
  const unknown = f.protocols.filter((p) => p.verdict === 'unknown');
  const negotiatedTooLow = h.protocol && TLS_VERSIONS.indexOf(h.protocol as TlsVersion) < TLS_VERSIONS.indexOf(minP);
  const pStatus = accepted.length || negotiatedTooLow ? 'fail' : unknown.length ? 'error' : 'pass';
  push('tls.min-protocol', ids[6][1], 'high', pStatus,
    accepted.length ? `${accepted.map((p) => p.version).join(', ')} accepted (minimum ${minP})`
      : negotiatedTooLow ? `negotiated ${h.protocol} below ${minP}`
      : unknown.length ? `could not test ${unknown.map((p) => `${p.version} (${p.detail})`).join(', ')}`
      : `${f.protocols.map((p) => p.version).join(', ') || 'nothing'} refused; default handshake ${h.protocol}`,
    { expected: `nothing below ${minP}`, observed: Object.fromEntries(f.protocols.map((p) => [p.version, `${p.verdict}: ${p.detail} (${p.via})`])) });

  const type = (leaf.keyType ?? '') as string;
  const bits = leaf.keyBits ?? 0;
  const minBits = { rsa: e.minKeyBits?.rsa ?? 2048, ec: e.minKeyBits?.ec ?? 256, ed25519: 0 } as Record<string, number>;
  const problems: string[] = [];
  if (e.keyTypes && !e.keyTypes.includes(type as never)) problems.push(`key type ${type} not in ${e.keyTypes.join(', ')}`);
  if (!(type in minBits)) problems.push(`unexpected key type ${type || 'unknown'}`);
  else if (bits < minBits[type]) problems.push(`${type} key of ${bits} bits < ${minBits[type]}`);
  push('tls.key-strength', ids[7][1], 'high', problems.length ? 'fail' : 'pass',
    problems.length ? problems.join('; ') : `${type} ${bits} bits${leaf.curve ? ` (${leaf.curve})` : ''}`,
    { expected: { keyTypes: e.keyTypes ?? ['rsa', 'ec', 'ed25519'], minBits: { rsa: minBits.rsa, ec: minBits.ec } }, observed: { type, bits, curve: leaf.curve } });
  return out;
}

export const tlsSuite: Suite<TlsExpect, TlsFacts> = {
  name: 'tls',
  key: 'tls',
  schema,
  gather,
  evaluate: (facts, expect, ctx) => facts.endpoints.flatMap((f, i) => evaluateEndpoint(f, expect[i], ctx.identity, ctx.now)),
  checkIds: ['tls.handshake', 'tls.chain', 'tls.hostname', 'tls.not-expired', 'tls.not-yet-valid', 'tls.min-days-left', 'tls.min-protocol', 'tls.key-strength'],
};
