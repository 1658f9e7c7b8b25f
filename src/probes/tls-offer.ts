// One handshake offering only what `context` allows (a pinned version, a cipher class), for the
// probes that ask "does the server agree to this?" (tls.ts probeProtocol, tls-ciphers.ts): it
// connects, and `classify` says what an error means for that question. The connection is torn
// down as soon as the answer is known; no answer within timeoutMs is `unknown`.
import tls from 'node:tls';
import { clientContext, type ContextOptions } from './tls-context.js';

export type OfferVerdict = 'accepted' | 'refused' | 'unknown';
export interface OfferResult {
  verdict: OfferVerdict;
  detail: string;
  protocol?: string;
  cipher?: string;
}

export function offerHandshake(
  o: { host: string; port: number; servername: string; timeoutMs: number },
  context: ContextOptions,
  classify: { error(code: string): { verdict: OfferVerdict; detail: string }; cannotConnect(code: string): string },
): Promise<OfferResult> {
  return new Promise((res) => {
    let s: tls.TLSSocket | undefined;
    let settled = false;
    const done = (r: OfferResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s?.destroy();
      res(r);
    };
    const timer = setTimeout(() => done({ verdict: 'unknown', detail: `no answer within ${o.timeoutMs} ms` }), o.timeoutMs);
    try {
      s = tls.connect({
        host: o.host, port: o.port, servername: o.servername, rejectUnauthorized: false,
        secureContext: clientContext(context),
        checkServerIdentity: () => undefined,
      });
    } catch (e) {
      return done({ verdict: 'unknown', detail: classify.cannotConnect((e as NodeJS.ErrnoException).code ?? (e as Error).message) });
    }
    s.once('secureConnect', () => {
      const protocol = s!.getProtocol() ?? undefined;
      const cipher = s!.getCipher()?.name;
      done({ verdict: 'accepted', detail: `negotiated ${protocol} ${cipher ?? '?'}`, protocol, cipher });
    });
    s.once('error', (e: NodeJS.ErrnoException) => done(classify.error(e.code ?? e.message)));
  });
}
