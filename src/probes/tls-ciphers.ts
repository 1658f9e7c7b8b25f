// Weak cipher suites, from the harness: one handshake offering nothing but the weak TLS ≤ 1.2
// classes (anonymous aNULL, unencrypted eNULL, EXPORT, RC4, 3DES/DES, MD5). A server that completes
// it agreed to one of them. Node's OpenSSL refuses to offer most of them at its default security
// level, hence @SECLEVEL=0; classes OpenSSL 3 no longer has at all (EXPORT, RC4, single DES and, in
// some builds, 3DES) are simply not offered: what is tested is aNULL, eNULL and NULL-MD5. TLS 1.3 is
// not offered: its suites are all AEAD. A refusal is only a TLS alert that says "no such suite"
// (handshake_failure, insufficient_security) or "no such version" (protocol_version, a TLS 1.3-only
// server); anything else (reset, silence, a non-TLS answer) says nothing and is `unknown`.
import { offerHandshake } from './tls-offer.js';

export const WEAK_CIPHERS = 'aNULL:eNULL:EXPORT:RC4:3DES:DES:MD5:@SECLEVEL=0';

export interface CipherProbe {
  verdict: 'accepted' | 'refused' | 'unknown';
  detail: string;
  /** Negotiated, when accepted. */
  protocol?: string;
  cipher?: string;
  /** The OpenSSL cipher string offered (TLS 1.0 – 1.2 only). */
  offered: string;
}

const REFUSAL = /ALERT_(HANDSHAKE_FAILURE|INSUFFICIENT_SECURITY|PROTOCOL_VERSION)$/;

export async function probeWeakCiphers(o: { host: string; port: number; servername: string; timeoutMs: number }): Promise<CipherProbe> {
  const r = await offerHandshake(o, { ciphers: WEAK_CIPHERS, minVersion: 'TLSv1', maxVersion: 'TLSv1.2' }, {
    cannotConnect: (code) => `client cannot offer the weak suites: ${code}`,
    error: (code) => ({ verdict: REFUSAL.test(code) ? 'refused' : 'unknown', detail: code }),
  });
  return { ...r, offered: WEAK_CIPHERS };
}

/** The probe, once more when the first try got no answer (silence is not a refusal). */
export async function gatherWeakCiphers(o: { host: string; port: number; servername: string; timeoutMs: number }): Promise<CipherProbe> {
  const p = await probeWeakCiphers(o);
  if (p.verdict !== 'unknown' || !/^(no answer|ECONNRESET)/.test(p.detail)) return p;
  const q = await probeWeakCiphers(o);
  return q.verdict === 'unknown' ? { ...q, detail: `${q.detail} (tried twice)` } : q;
}
