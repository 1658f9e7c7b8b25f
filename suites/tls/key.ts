// tls.key-strength's judgement: the leaf key's family and size against keyTypes and minKeyBits.
// An RSA-PSS key (asymmetricKeyType 'rsa-pss', a PSS-restricted RSA key) is an RSA key: judged by its
// modulus like 'rsa'. Ed448 is EdDSA like Ed25519 (no size to judge).
import type { CertInfo } from '../../src/probes/tls.js';

export type KeyFamily = 'rsa' | 'ec' | 'ed25519';
export interface KeyExpect {
  keyTypes?: KeyFamily[];
  minKeyBits?: { rsa?: number; ec?: number };
}

/** The family a key type is judged as (keyTypes and minKeyBits speak of families); undefined: unknown. */
export function keyFamily(type: string): KeyFamily | 'ed448' | undefined {
  if (type === 'rsa' || type === 'rsa-pss') return 'rsa';
  if (type === 'ec' || type === 'ed25519' || type === 'ed448') return type;
  return undefined;
}

export function judgeKey(leaf: CertInfo, e: KeyExpect): { status: 'pass' | 'fail'; message: string; expected: unknown; observed: unknown } {
  const type = leaf.keyType ?? '';
  const bits = leaf.keyBits ?? 0;
  const family = keyFamily(type);
  const minBits: Record<string, number> = { rsa: e.minKeyBits?.rsa ?? 2048, ec: e.minKeyBits?.ec ?? 256, ed25519: 0, ed448: 0 };
  const problems: string[] = [];
  if (e.keyTypes && !e.keyTypes.includes(family as KeyFamily)) problems.push(`key type ${type || 'unknown'} not in ${e.keyTypes.join(', ')}`);
  if (!family) problems.push(`unexpected key type ${type || 'unknown'}`);
  else if (bits < minBits[family]) problems.push(`${type} key of ${bits} bits < ${minBits[family]}`);
  return {
    status: problems.length ? 'fail' : 'pass',
    message: problems.length ? problems.join('; ') : `${type} ${bits} bits${leaf.curve ? ` (${leaf.curve})` : ''}`,
    expected: { keyTypes: e.keyTypes ?? ['rsa', 'ec', 'ed25519'], minBits: { rsa: minBits.rsa, ec: minBits.ec } },
    observed: { type, bits, curve: leaf.curve },
  };
}
