// tls: each endpoint, from the harness as a client sees it: handshake with SNI, chain to the given
// CA only, the name in a SAN (never the CN), validity judged by the harness's clock AND the node's,
// old protocols refused, key type and size.
import { resolve } from 'node:path';
import { X509Certificate } from 'node:crypto';
import type { Evidence, NodeIdentity, Outcome, Suite, SuiteContext } from '../src/core/types.js';
import { parseDuration } from '../src/core/units.js';
import { outcome, type CheckDef } from '../src/core/checks.js';
import { CHECKS } from './tls/checks.js';
import { judgeCiphers } from './tls/ciphers.js';
import { optionPath, type Manifest } from '../src/core/manifest.js';
import { serverHsts } from './config/web-secrets.js';
import { declaredHsts, hstsSchema, judgeHsts, type HstsExpect } from './tls/hsts.js';
import { judgeKey, type KeyFamily } from './tls/key.js';
import { gatherTlsEndpoint, TLS_VERSIONS, type TlsEndpointFacts, type TlsHandshake, type TlsVersion, type CertInfo } from '../src/probes/tls.js';

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
  /** Key families: an RSA-PSS key is 'rsa'. */
  keyTypes?: KeyFamily[];
  minKeyBits?: { rsa?: number; ec?: number };
  /** The served HTTPS response carries Strict-Transport-Security (checked on the handshake's own connection). */
  hsts?: HstsExpect;
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
      hsts: hstsSchema,
      timeout: { type: 'string' },
    },
  },
};

export type { TlsEndpointFacts };
export { CHECKS };
export { declaredHsts, judgeHsts, parseHsts, type HstsExpect } from './tls/hsts.js';
export interface TlsFacts {
  endpoints: TlsEndpointFacts[];
}

const DAY = 86_400_000;
const DEFAULT_DAYS = 21;
function splitEndpoint(ep: string): { host: string; port: number } {
  const i = ep.lastIndexOf(':');
  return { host: ep.slice(0, i), port: Number(ep.slice(i + 1)) };
}

export function gatherEndpoint(e: TlsEndpointExpect, target: string | undefined, baseDir: string): Promise<TlsEndpointFacts> {
  const { host, port } = splitEndpoint(e.endpoint);
  const timeoutMs = e.timeout ? parseDuration(e.timeout) : 5000;
  return gatherTlsEndpoint({ endpoint: e.endpoint, target, port, servername: e.servername ?? host, caPath: resolve(baseDir, e.ca), minProtocol: e.minProtocol ?? 'TLSv1.2', timeoutMs, requestPath: e.hsts ? e.hsts.path ?? '/' : undefined });
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

type Push = (def: CheckDef, status: Outcome['status'], message: string, evidence?: Partial<Evidence>) => void;

/** The clock-judged checks (not-expired, not-yet-valid, min-days-left): by the harness's clock and the node's. */
function judgeClocks(push: Push, leaf: CertInfo, e: TlsEndpointExpect, identity: NodeIdentity, now: Date, chain: CertInfo[] = [leaf]): void {
  const notAfter = Date.parse(leaf.validTo);
  const notBefore = Date.parse(leaf.validFrom);
  const nodeNow = identity.clock ? Date.parse(identity.clock) : undefined;
  const clocks: [string, number][] = [['harness', now.getTime()], ...(nodeNow !== undefined ? [['node', nodeNow] as [string, number]] : [])];
  const clockEv = { harnessClock: now.toISOString(), nodeClock: identity.clock ?? '(unknown)', notBefore: leaf.validFrom, notAfter: leaf.validTo };
  const noNodeClock = nodeNow === undefined ? ' (node clock unknown)' : '';

  const expiredBy = clocks.filter(([, t]) => t >= notAfter).map(([n]) => n);
  push(CHECKS['not-expired'], expiredBy.length ? 'fail' : nodeNow === undefined ? 'error' : 'pass',
    expiredBy.length ? `expired ${leaf.validTo} by the ${expiredBy.join(' and ')} clock` : `valid until ${leaf.validTo} by both clocks${noNodeClock}`,
    { expected: 'notAfter in the future', observed: clockEv });

  const earlyBy = clocks.filter(([, t]) => t < notBefore).map(([n]) => n);
  push(CHECKS['not-yet-valid'], earlyBy.length ? 'fail' : nodeNow === undefined ? 'error' : 'pass',
    earlyBy.length ? `not valid before ${leaf.validFrom} by the ${earlyBy.join(' and ')} clock` : `valid since ${leaf.validFrom} by both clocks${noNodeClock}`,
    { expected: 'notBefore in the past', observed: clockEv });

  // The served chain stops verifying when its first certificate expires: an intermediate (or the
  // root) that ends before the leaf sets the days left.
  const min = e.minDaysLeft ?? DEFAULT_DAYS;
  const first = chain.reduce((a, c) => (Date.parse(c.validTo) < Date.parse(a.validTo) ? c : a), leaf);
  const end = Date.parse(first.validTo);
  const left = clocks.map(([n, t]) => [n, Math.trunc((end - t) / DAY)] as [string, number]);
  const short = left.filter(([, d]) => d < min);
  const byChain = first !== leaf && end < notAfter ? ` (${first.subject} in the served chain expires ${first.validTo}, before the leaf)` : '';
  push(CHECKS['min-days-left'], short.length ? 'fail' : nodeNow === undefined ? 'error' : 'pass',
    `${left.map(([n, d]) => `${d} days left by the ${n} clock`).join(', ')}${byChain}; minimum ${min}${noNodeClock}`,
    { expected: `≥ ${min} days`, observed: { ...clockEv, daysLeft: Object.fromEntries(left), ...(byChain ? { expiresFirst: { subject: first.subject, notAfter: first.validTo } } : {}) } });
}

export function evaluateEndpoint(f: TlsEndpointFacts, e: TlsEndpointExpect, identity: NodeIdentity, now: Date): Outcome[] {
  const out: Outcome[] = [];
  const subject = e.endpoint;
  const src = `TLS handshake with ${f.target ?? '?'}:${f.port} (SNI ${f.servername}) from the harness, trusting only ${f.caPath}`;
  const push = (def: CheckDef, status: Outcome['status'], message: string, evidence: Partial<Evidence> = {}) =>
    out.push(outcome(def, subject, status, message, { source: src, ...evidence }));
  // tls.hsts is judged only where the expectation asks for it.
  const all = Object.values(CHECKS).filter((d) => d !== CHECKS.hsts || e.hsts);
  const allError = (msg: string, evidence: Partial<Evidence> = {}) => {
    for (const def of all) push(def, 'error', msg, evidence);
  };
  if (f.caError) return allError(f.caError, { source: f.caPath }), out;
  if (!f.target) return allError('no address to connect to (no connect in the expectation and the node has no host)'), out;
  const h = f.handshake!;
  if (!h.ok) {
    // A timeout is no answer, not a refusal: error (the harness or network may be overloaded).
    const status = h.timedOut ? 'error' : h.tcpFailed && /ECONNREFUSED/.test(h.error ?? '') ? 'fail' : h.tcpFailed ? 'error' : 'fail';
    push(CHECKS.handshake, status, `${f.target}:${f.port}: ${h.tcpFailed ? 'TCP connection failed' : 'TLS handshake failed'}: ${h.error}`, { expected: 'handshake', observed: h.error });
    for (const def of all.slice(1)) push(def, 'error', `no certificate to judge: handshake failed (${h.error})`);
    return out;
  }
  const leaf = h.chain[0];
  const ev = certEvidence(leaf, h);
  const excerpt = leaf.pem;
  if (f.defaultClientError) push(CHECKS.handshake, 'fail', `a default client refuses this server: ${f.defaultClientError} (certificate read with a permissive client)`, { expected: 'handshake with a default client', observed: f.defaultClientError, excerpt });
  else push(CHECKS.handshake, 'pass', `${h.protocol} ${h.cipher} in ${h.ms} ms`, { expected: 'handshake', observed: ev, excerpt });

  push(CHECKS.chain, h.authorized ? 'pass' : 'fail',
    h.authorized ? `chain verifies to ${e.ca} (issuer ${leaf.issuer})` : `chain does not verify to ${e.ca}: ${h.authorizationError}`,
    { expected: `issued (via the served chain) by the CA in ${f.caPath}`, observed: { authorizationError: h.authorizationError ?? null, chain: h.chain.map((c) => `${c.subject} ← ${c.issuer}`) }, excerpt });

  const x = new X509Certificate(leaf.pem);
  const names = e.names ?? [splitEndpoint(e.endpoint).host];
  const missing = names.filter((n) => !(/^[\d.]+$|:/.test(n) ? x.checkIP(n) : x.checkHost(n, { subject: 'never' })));
  push(CHECKS.hostname, missing.length ? 'fail' : 'pass',
    missing.length ? `${missing.join(', ')} not in the SANs (${leaf.subjectAltName ?? 'no SAN'}; CN is not accepted)` : `${names.join(', ')} matched in SANs`,
    { expected: names, observed: leaf.subjectAltName ?? '(no SAN)', excerpt: `subject: ${leaf.subject}` });

  judgeClocks(push, leaf, e, identity, now, h.chain);

  const minP = e.minProtocol ?? 'TLSv1.2';
  const accepted = f.protocols.filter((p) => p.verdict === 'accepted');
  const unknown = f.protocols.filter((p) => p.verdict === 'unknown');
  const negotiatedTooLow = h.protocol && TLS_VERSIONS.indexOf(h.protocol as TlsVersion) < TLS_VERSIONS.indexOf(minP);
  const pStatus = accepted.length || negotiatedTooLow ? 'fail' : unknown.length ? 'error' : 'pass';
  push(CHECKS['min-protocol'], pStatus,
    accepted.length ? `${accepted.map((p) => p.version).join(', ')} accepted (minimum ${minP})`
      : negotiatedTooLow ? `negotiated ${h.protocol} below ${minP}`
      : unknown.length ? `could not test ${unknown.map((p) => `${p.version} (${p.detail})`).join(', ')}`
      : `${f.protocols.map((p) => p.version).join(', ') || 'nothing'} refused; default handshake ${h.protocol}`,
    { expected: `nothing below ${minP}`, observed: Object.fromEntries(f.protocols.map((p) => [p.version, `${p.verdict}: ${p.detail} (${p.via})`])) });

  const c = judgeCiphers(f, h);
  push(CHECKS.ciphers, c.status, c.message, { expected: c.expected, observed: c.observed });

  const k = judgeKey(leaf, e);
  push(CHECKS['key-strength'], k.status, k.message, { expected: k.expected, observed: k.observed });

  if (e.hsts) {
    const j = judgeHsts(h.http, e.hsts);
    push(CHECKS.hsts, j.status, j.message, {
      source: `GET ${e.hsts.path ?? '/'} (Host ${f.servername}) on the handshake's connection to ${f.target}:${f.port}`,
      expected: `Strict-Transport-Security max-age ≥ ${e.hsts.minMaxAge}${e.hsts.includeSubDomains ? '; includeSubDomains' : ''}`, observed: j.observed,
    });
  }
  return out;
}

export const tlsSuite: Suite<TlsExpect, TlsFacts> = {
  name: 'tls',
  key: 'tls',
  schema,
  gather,
  evaluate: (facts, expect, ctx) => facts.endpoints.flatMap((f, i) => evaluateEndpoint(f, expect[i], ctx.identity, ctx.now)),
  checkIds: Object.values(CHECKS).map((c) => c.id),
  checks: Object.values(CHECKS),
  fromManifest,
};

/** Minimum protocol from nginx's sslProtocols ("TLSv1.2 TLSv1.3" → TLSv1.2). */
function minProtocol(p: string | null): string | undefined {
  const vs = (p ?? '').split(/\s+/).filter((v) => /^TLSv1(\.[0-3])?$/.test(v)).sort();
  return vs[0];
}

/**
 * The plan's tls expectations: every nginx vhost that serves HTTPS, trusting `ca` (default
 * "ca.pem" next to the inventory); undefined when there is none.
 */
export function fromManifest(m: Manifest, cite: (segs: (string | number)[], optionPath: string) => void, opts: { ca?: string } = {}): TlsExpect | undefined {
  const nginx = m.host.nginx;
  const tlsHosts = nginx.enable ? nginx.virtualHosts.filter((v) => v.forceSSL || v.onlySSL || v.addSSL) : [];
  if (!tlsHosts.length) return undefined;
  const proto = minProtocol(nginx.sslProtocols);
  return tlsHosts.map((v, i) => {
    const sni = v.serverName ?? v.name;
    // A vhost with its own `listen` entries serves TLS only on their ssl ports (nginx module: listen replaces the defaults).
    const own = v.listen.filter((l) => l.ssl === true).map((l) => (typeof l.port === 'number' ? l.port : nginx.defaultSSLListenPort));
    const t: TlsEndpointExpect = { endpoint: `${sni}:${own[0] ?? nginx.defaultSSLListenPort}`, ca: opts.ca ?? 'ca.pem', names: [sni, ...v.serverAliases] };
    cite(['tls', i, 'endpoint'], own.length ? optionPath(v.path, 'listen') : v.serverName ? optionPath(v.path, 'serverName') : v.path);
    cite(['tls', i, 'names'], v.serverAliases.length ? optionPath(v.path, 'serverAliases') : v.path);
    // A declared floor below TLS 1.2 is not planned: the default (TLSv1.2) stays the expectation, so
    // the live check fails on it (config.tls-protocols names the option).
    if (proto && proto >= 'TLSv1.2') {
      t.minProtocol = proto as TlsVersion;
      cite(['tls', i, 'minProtocol'], optionPath(nginx.path, 'sslProtocols'));
    }
    const declared = serverHsts(v, `${nginx.commonHttpConfig}\n${nginx.appendHttpConfig}`);
    const hsts = declared && declaredHsts(declared.line);
    if (hsts) {
      t.hsts = hsts;
      cite(['tls', i, 'hsts'], declared.from === 'vhost' ? optionPath(v.path, 'extraConfig') : optionPath(nginx.path, nginx.commonHttpConfig.includes('Strict-Transport-Security') ? 'commonHttpConfig' : 'appendHttpConfig'));
    }
    return t;
  });
}
