// tls.ciphers's judgement: did the server complete a handshake offering only weak TLS ≤ 1.2 suites
// (src/probes/tls-ciphers.ts)? Accepted fails naming the suite; a refusal by TLS alert passes; no
// answer or a non-TLS answer is an error (never a pass).
import type { TlsEndpointFacts, TlsHandshake } from '../../src/probes/tls.js';

/** What is weak about a negotiated suite, by OpenSSL's name for it. */
export function weakness(cipher: string): string[] {
  const w: string[] = [];
  if (/^(ADH|AECDH)-|^AECDH|-anon-/i.test(cipher)) w.push('anonymous (no authentication)');
  if (/NULL/i.test(cipher)) w.push('no encryption');
  if (/^EXP/i.test(cipher)) w.push('export-grade');
  if (/RC4/i.test(cipher)) w.push('RC4');
  if (/DES-CBC3|3DES/i.test(cipher)) w.push('3DES');
  else if (/(^|-)DES-/i.test(cipher)) w.push('DES');
  if (/MD5/i.test(cipher)) w.push('MD5');
  return w;
}

export function judgeCiphers(f: TlsEndpointFacts, h: TlsHandshake): { status: 'pass' | 'fail' | 'error'; message: string; expected: string; observed: unknown } {
  const p = f.weakCiphers;
  const expected = 'no handshake offering only weak suites (aNULL, eNULL, EXPORT, RC4, 3DES/DES, MD5)';
  if (!p) return { status: 'error', message: 'weak cipher suites not probed', expected, observed: null };
  const observed = { offered: p.offered, verdict: p.verdict, detail: p.detail, defaultHandshake: `${h.protocol ?? '?'} ${h.cipher ?? '?'}` };
  if (p.verdict === 'accepted') {
    const why = weakness(p.cipher ?? '');
    return { status: 'fail', message: `weak suite accepted: ${p.protocol ?? '?'} ${p.cipher ?? '?'}${why.length ? ` (${why.join(', ')})` : ''}`, expected, observed };
  }
  if (p.verdict === 'unknown') return { status: 'error', message: `could not test weak suites: ${p.detail}`, expected, observed };
  return { status: 'pass', message: `weak suites refused (${p.detail}); default handshake ${h.protocol ?? '?'} ${h.cipher ?? '?'}`, expected, observed };
}
