// audit suite against a full lab node. The lab cannot have kernel audit or AppArmor of its own
// (neither is namespaced; PID 1 of a node is not systemd), so every audit check must come back
// `skipped` with that reason — never `pass`. The findings themselves are proven on NixOS-shaped
// fixtures in test/audit.test.ts; this is the lab half of the audit fault requirement.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type TestLab } from './helpers/lab.js';
import { runChecks } from './helpers/ops.js';

let lab: TestLab;

describe('audit on a full lab node', () => {
  beforeAll(async () => {
    lab = await startLab({ name: 'audit', flavour: 'full' });
  });
  afterAll(async () => {
    await lab?.down();
  });

  it('every audit check is skipped with the platform reason, none passes', async () => {
    const { results, code } = await runChecks(lab, ['audit']);
    const audit = results.filter((r) => r.id.startsWith('audit.'));
    expect(audit.map((r) => r.id).sort()).toEqual(['audit.apparmor', 'audit.auditd', 'audit.enabled', 'audit.rules', 'audit.rules-unit']);
    for (const r of audit) {
      expect(r.status, `${r.id}: ${r.message}`).toBe('skipped');
      expect(r.message).toMatch(/platform cannot provide this: PID 1 is "[^"]+", not systemd|auditd not expected/);
    }
    // Nothing here was counted as a pass: a run that evidenced nothing is incomplete (exit 3), not certified.
    expect(code).toBe(3);
  });

  it('an expectation that demands auditd is skipped on the lab too, not passed', async () => {
    const { results } = await runChecks(lab, ['audit'], [], (e) => {
      e.audit.auditd = true;
    });
    const r = results.find((x) => x.id === 'audit.auditd')!;
    expect(r.status).toBe('skipped');
    expect(r.message).toMatch(/platform cannot provide this/);
  });
});
