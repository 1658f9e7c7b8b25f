// health suite against a lab node: healthy passes every check; each lab health fault makes the checks
// it names fail; healing brings every check back to pass.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type TestLab } from './helpers/lab.js';
import { faultsFor, nginxEdit, notPassing, statusOf, suiteRunner, type SuiteRunner } from './helpers/net.js';
import { healthSuite } from '../suites/health.js';

describe('health suite on a lab node', () => {
  let lab: TestLab;
  let r: SuiteRunner;
  let node: string;
  beforeAll(async () => {
    lab = await startLab({ name: 'health' });
    node = lab.info.nodes[0].name;
    r = await suiteRunner(lab, node, healthSuite);
  });
  afterAll(async () => {
    await r?.close();
    await lab?.down();
  });

  it('healthy node passes every check, with evidence', async () => {
    const os = await r.run();
    expect(notPassing(os)).toEqual([]);
    expect(new Set(os.map((o) => o.id))).toEqual(new Set(healthSuite.checkIds));
    for (const o of os) expect(o.evidence.source).toBeTruthy();
  });

  const faults = faultsFor('health', healthSuite);
  it('every lab health fault names checks of this suite', () => {
    expect(faults.length).toBeGreaterThan(0);
    for (const f of faults) expect(f.catches.length, `${f.name} catches ${f.all.join(', ')}`).toBeGreaterThan(0);
  });

  for (const f of faults) {
    it(`${f.name}: makes ${f.catches.join(', ')} fail; heal → all pass`, async () => {
      await lab.fault(node, f.name);
      try {
        const os = await r.run();
        for (const id of f.catches) expect(statusOf(os, id), `${id}: ${JSON.stringify(os.filter((o) => o.id === id).map((o) => o.message))}`).toContain('fail');
      } finally {
        await lab.heal(node, f.name);
      }
      expect(notPassing(await r.run())).toEqual([]);
    });
  }

  // No registry fault breaks the 80 → 443 redirect yet: port 80 answering 200 itself does.
  it('port 80 serves instead of redirecting (test-local fault): health.redirect fails', async () => {
    const heal = await nginxEdit(lab, node, 's#return 301 https://$host$request_uri;#return 200 "plain http";#');
    try {
      const os = await r.run();
      expect(statusOf(os, 'health.redirect')).toEqual(['fail']);
      expect(statusOf(os, 'health.json')).toEqual(['pass']);
    } finally {
      await heal();
    }
    expect(notPassing(await r.run())).toEqual([]);
  });
});
