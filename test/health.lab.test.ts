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
      // port 80 answering itself breaks only the redirect (of / and of /health asked over http): /health over https is still fine
      'health-no-redirect': (os) => {
        expect(statusOf(os, 'health.redirect')).toEqual(['fail', 'fail']);
        expect(statusOf(os, 'health.json')).toEqual(['pass']);
      },
      // /health proxied in clear on port 80: / still redirects, the https path asked over http does not
      'health-plain-location': (os) => {
        const r = os.filter((o) => o.id === 'health.redirect');
        expect(r.map((o) => `${o.subject} ${o.status}`)).toEqual(['http://api.alchemist.local/ pass', 'http://api.alchemist.local/health fail']);
        expect(r[1].message).toMatch(/^HTTP 200, not a redirect: \/health is served over plain http/);
        expect(statusOf(os, 'health.status')).toEqual(['pass', 'pass']);
      },
    },
  });
});
