// tls suite against a lab node: healthy passes every check; each lab tls fault makes the checks
// it names fail; healing brings every check back to pass.
import { describe, expect } from 'vitest';
import { statusOf } from './helpers/net.js';
import { netSuiteLab } from './helpers/suite-lab.js';
import { tlsSuite } from '../suites/tls.js';

describe('tls suite on a lab node', () => {
  netSuiteLab({
    name: 'tls',
    suite: tlsSuite,
    detail: {
      // NULL / anonymous suites on TLS 1.2: only the cipher check sees it, every other tls check passes
      'tls-weak-ciphers': (os) => {
        expect(os.filter((o) => o.status !== 'pass').map((o) => `${o.id} ${o.subject}`)).toEqual(['tls.ciphers api.alchemist.local:443', 'tls.ciphers monitoring.alchemist.local:443']);
        for (const o of os.filter((x) => x.id === 'tls.ciphers')) expect(o.message).toMatch(/^weak suite accepted: TLSv1\.2 (AECDH|ECDHE-ECDSA)-NULL-SHA/);
      },
      // plain HTTP on 443: the handshake fails, the rest cannot be judged (error, never pass)
      'tls-no-handshake': (os) => {
        expect(statusOf(os, 'tls.handshake').every((s) => s === 'fail')).toBe(true);
        expect(os.filter((o) => o.id !== 'tls.handshake').every((o) => o.status === 'error')).toBe(true);
      },
    },
  });
});
