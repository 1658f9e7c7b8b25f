// One TLS client context per CA and client setting, reused by every connection that needs it. Node
// builds a SecureContext (the CA parsed into a fresh X509 store) for each tls.connect given `ca`;
// a fleet run makes several handshakes per node against a few CAs, and that rebuilding was a
// visible share of the harness's CPU. A context holds no per-connection state, so sharing it
// changes nothing a handshake sees.
import { createHash } from 'node:crypto';
import tls from 'node:tls';

export interface ContextOptions {
  ca?: string | Buffer;
  ciphers?: string;
  minVersion?: tls.SecureVersion;
  maxVersion?: tls.SecureVersion;
}

/** Bounded: a run over nodes with a CA each must not keep every context alive. */
const MAX_CONTEXTS = 64;
const contexts = new Map<string, tls.SecureContext>();

export function clientContext(o: ContextOptions): tls.SecureContext {
  const ca = o.ca === undefined ? '' : createHash('sha256').update(o.ca).digest('hex');
  const key = `${ca}|${o.ciphers ?? ''}|${o.minVersion ?? ''}|${o.maxVersion ?? ''}`;
  let c = contexts.get(key);
  if (!c) {
    c = tls.createSecureContext({
      ...(o.ca !== undefined ? { ca: o.ca } : {}),
      ...(o.ciphers ? { ciphers: o.ciphers } : {}),
      ...(o.minVersion ? { minVersion: o.minVersion } : {}),
      ...(o.maxVersion ? { maxVersion: o.maxVersion } : {}),
    });
    if (contexts.size >= MAX_CONTEXTS) contexts.delete(contexts.keys().next().value!);
    contexts.set(key, c);
  }
  return c;
}

/** How many contexts are cached (tests). */
export function cachedContexts(): number {
  return contexts.size;
}
