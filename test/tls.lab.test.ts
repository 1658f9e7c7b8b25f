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
      // plain HTTP on 443: the handshake fails, the rest cannot be judged (error, never pass)
      'tls-no-handshake': (os) => {
        expect(statusOf(os, 'tls.handshake').every((s) => s === 'fail')).toBe(true);
        expect(os.filter((o) => o.id !== 'tls.handshake').every((o) => o.status === 'error')).toBe(true);
      },
    },
  });
});
