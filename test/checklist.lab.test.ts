// checklist suite against a full lab node: the lab's self-managed certificate (90 days) passes the
// renewal window, NET's tls-expiring-soon fault (10 days left) fails checklist.tls-renewal and heals;
// documentation and runbooks are always manual.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type TestLab } from './helpers/lab.js';
import { resultOf, runChecks, statusOf } from './helpers/ops.js';

const NODE = 'leaf-1';
let lab: TestLab;

describe('checklist on a full lab node', () => {
  beforeAll(async () => {
    lab = await startLab({ name: 'checklist', flavour: 'full' });
  });
  afterAll(async () => {
    await lab?.down();
  });

  it('healthy: renewal window passes, documentation and runbooks are manual', async () => {
    const { results, code } = await runChecks(lab, ['checklist']);
    expect(statusOf(results, 'checklist.tls-renewal'), resultOf(results, 'checklist.tls-renewal').message).toBe('pass');
    expect(statusOf(results, 'checklist.documentation')).toBe('manual');
    expect(statusOf(results, 'checklist.runbooks')).toBe('manual');
    expect(code).toBe(0);
  });

  it('a certificate inside the renewal window fails checklist.tls-renewal, and heals', async () => {
    await lab.fault(NODE, 'tls-expiring-soon');
    try {
      const { results, code } = await runChecks(lab, ['checklist']);
      const r = resultOf(results, 'checklist.tls-renewal');
      expect(r.status).toBe('fail');
      expect(r.message).toMatch(/inside the 30-day renewal window/);
      expect(code).toBe(1);
    } finally {
      await lab.heal(NODE, 'tls-expiring-soon');
    }
    const { results } = await runChecks(lab, ['checklist']);
    expect(statusOf(results, 'checklist.tls-renewal')).toBe('pass');
  });
});
