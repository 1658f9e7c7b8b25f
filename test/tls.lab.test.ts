// tls suite against a lab node: healthy passes every check; each lab tls fault makes the checks
// it names fail; healing brings every check back to pass.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type TestLab } from './helpers/lab.js';
import { faultsFor, nginxEdit, notPassing, statusOf, suiteRunner, type SuiteRunner } from './helpers/net.js';
import { tlsSuite } from '../suites/tls.js';

describe('tls suite on a lab node', () => {
  let lab: TestLab;
  let r: SuiteRunner;
  let node: string;
  beforeAll(async () => {
    lab = await startLab({ name: 'tls' });
    node = lab.info.nodes[0].name;
    r = await suiteRunner(lab, node, tlsSuite);
  });
  afterAll(async () => {
    await r?.close();
    await lab?.down();
  });

  it('healthy node passes every check, with evidence', async () => {
    const os = await r.run();
    expect(notPassing(os)).toEqual([]);
    expect(new Set(os.map((o) => o.id))).toEqual(new Set(tlsSuite.checkIds));
    for (const o of os) expect(o.evidence.source).toBeTruthy();
  });

  const faults = faultsFor('tls', tlsSuite);
  it('every lab tls fault names checks of this suite', () => {
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

  // No registry fault breaks the handshake alone yet: nginx serving plain HTTP on 443 (`listen 443`
  // without `ssl`, a classic slip) does.
  it('443 without ssl (test-local fault): tls.handshake fails, the rest cannot be judged (error)', async () => {
    const heal = await nginxEdit(lab, node, 's/:443 ssl/:443/g');
    try {
      const os = await r.run();
      expect(statusOf(os, 'tls.handshake').every((s) => s === 'fail')).toBe(true);
      expect(os.filter((o) => o.id !== 'tls.handshake').every((o) => o.status === 'error')).toBe(true);
    } finally {
      await heal();
    }
    expect(notPassing(await r.run())).toEqual([]);
  });
});
