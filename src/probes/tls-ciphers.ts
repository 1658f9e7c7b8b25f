// Weak cipher suites, from the harness: one handshake offering nothing but the weak TLS ≤ 1.2
// classes (anonymous aNULL, unencrypted eNULL, EXPORT, RC4, 3DES/DES, MD5). A server that completes
// it agreed to one of them. Node's OpenSSL refuses to offer most of them at its default security
// level, hence @SECLEVEL=0; classes OpenSSL 3 no longer has at all (EXPORT, RC4, single DES and, in
// some builds, 3DES) are simply not offered: what is tested is aNULL, eNULL and NULL-MD5. TLS 1.3 is
// not offered: its suites are all AEAD. A refusal is only a TLS alert that says "no such suite"
// (handshake_failure, insufficient_security) or "no such version" (protocol_version, a TLS 1.3-only
// server); anything else (reset, silence, a non-TLS answer) says nothing and is `unknown`.
import tls from 'node:tls';
import { clientContext } from './tls-context.js';

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

export function probeWeakCiphers(o: { host: string; port: number; servername: string; timeoutMs: number }): Promise<CipherProbe> {
  return new Promise((res) => {
    let s: tls.TLSSocket | undefined;
    let settled = false;
    const done = (r: Omit<CipherProbe, 'offered'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s?.destroy();
      res({ ...r, offered: WEAK_CIPHERS });
    };
    const timer = setTimeout(() => done({ verdict: 'unknown', detail: `no answer within ${o.timeoutMs} ms` }), o.timeoutMs);
    try {
      s = tls.connect({
        host: o.host, port: o.port, servername: o.servername, rejectUnauthorized: false,
        secureContext: clientContext({ ciphers: WEAK_CIPHERS, minVersion: 'TLSv1', maxVersion: 'TLSv1.2' }),
        checkServerIdentity: () => undefined,
      });
    } catch (e) {
      return done({ verdict: 'unknown', detail: `client cannot offer the weak suites: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
    }
    s.once('secureConnect', () => done({ verdict: 'accepted', detail: `negotiated ${s!.getProtocol()} ${s!.getCipher()?.name ?? '?'}`, protocol: s!.getProtocol() ?? undefined, cipher: s!.getCipher()?.name }));
    s.once('error', (e: NodeJS.ErrnoException) => {
      const code = e.code ?? e.message;
      done(REFUSAL.test(code) ? { verdict: 'refused', detail: code } : { verdict: 'unknown', detail: code });
    });
  });
}

/** The probe, once more when the first try got no answer (silence is not a refusal). */
export async function gatherWeakCiphers(o: { host: string; port: number; servername: string; timeoutMs: number }): Promise<CipherProbe> {
  const p = await probeWeakCiphers(o);
  if (p.verdict !== 'unknown' || !/^(no answer|ECONNRESET)/.test(p.detail)) return p;
  const q = await probeWeakCiphers(o);
  return q.verdict === 'unknown' ? { ...q, detail: `${q.detail} (tried twice)` } : q;
}
