// health suite against a lab node: healthy passes every check; each lab health fault makes the checks
// it names fail; healing brings every check back to pass.
import { describe, expect } from 'vitest';
import { statusOf } from './helpers/net.js';
import { netSuiteLab } from './helpers/suite-lab.js';
import { healthSuite } from '../suites/health.js';

describe('health suite on a lab node', () => {
  netSuiteLab({
    name: 'health',
    suite: healthSuite,
    detail: {
      // port 80 answering itself breaks only the redirect: /health over https is still fine
      'health-no-redirect': (os) => {
        expect(statusOf(os, 'health.redirect')).toEqual(['fail']);
        expect(statusOf(os, 'health.json')).toEqual(['pass']);
      },
    },
  });
});
