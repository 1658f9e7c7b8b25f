// checklist suite against a full lab node: the lab's self-managed certificate (90 days) passes the
// renewal window, NET's tls-expiring-soon fault (10 days left) fails checklist.tls-renewal and heals,
// and so does tls-served-elsewhere (nginx serves a certificate other than the renewal-checked file);
// documentation and runbooks are always manual.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type TestLab } from './helpers/lab.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHECKLIST } from '../src/checklist.js';
import '../src/suites.js'; // the map reads the registered checks' items: load every suite
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

  it('nginx pointed at another (25-day) certificate than the renewal-checked file fails checklist.tls-renewal, and heals', async () => {
    await lab.fault(NODE, 'tls-served-elsewhere');
    try {
      const { results, code } = await runChecks(lab, ['checklist']);
      const r = resultOf(results, 'checklist.tls-renewal');
      expect(r.status, r.message).toBe('fail');
      expect(r.message).toMatch(/^nginx serves a certificate other than the file the renewal renews: api\.alchemist\.local:443 serves .*2[45] day\(s\) left/);
      expect(r.message).toMatch(/fullchain\.pem has (89|90) day\(s\) left$/);
      expect(code).toBe(1);
    } finally {
      await lab.heal(NODE, 'tls-served-elsewhere');
    }
    const { results } = await runChecks(lab, ['checklist']);
    const r = resultOf(results, 'checklist.tls-renewal');
    expect(r.status).toBe('pass');
    expect(r.message).toMatch(/served on api\.alchemist\.local:443, monitoring\.alchemist\.local:443$/);
  });

  it('every result of every suite on the node is tagged with exactly the items the map gives its check', async () => {
    // The lab's own inventory, every suite on it.
    const out = join(lab.info.state, 'report-all.json');
    await lab.leafcert(['run', '--inventory', lab.inventory, '--json', out]);
    const results = JSON.parse(readFileSync(out, 'utf8')).results as { id: string; status: string; checklist?: string[] }[];
    expect(results.length).toBeGreaterThan(50);
    const wrong: string[] = [];
    for (const r of results) {
      if (r.status === 'error' && !(r.checklist ?? []).length) continue; // engine-made error results carry no tags
      const mapped = CHECKLIST.filter((i) => i.checks.includes(r.id)).map((i) => i.id).sort();
      const tagged = [...(r.checklist ?? [])].sort();
      if (mapped.join() !== tagged.join()) wrong.push(`${r.id}: report says [${tagged}], docs/checklist.md says [${mapped}]`);
    }
    expect([...new Set(wrong)]).toEqual([]);
  });
});
