// Issue 13 part 8 on a lab: `leafcert diff` of a healthy run and a run with one fault on one node
// names exactly the checks that newly fail, and nothing when the node is healed again.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type TestLab } from './helpers/lab.js';
import type { Result } from '../src/core/types.js';

const FAULT = 'firewall-extra-port';

describe('leafcert diff on lab runs', () => {
  let lab: TestLab;
  let dir: string;
  let faulted: string;
  const runs: Record<string, string> = {};

  const run = async (name: string) => {
    const out = join(dir, `${name}.json`);
    const r = await lab.leafcert(['run', '--inventory', lab.inventory, '--json', out]);
    if (!existsSync(out)) throw new Error(`leafcert wrote no JSON report (exit ${r.code}): ${(r.stderr || r.stdout).slice(0, 600)}`);
    runs[name] = out;
    return JSON.parse(readFileSync(out, 'utf8')).results as Result[];
  };
  const bad = (rs: Result[]) => new Set(rs.filter((r) => r.status === 'fail' || r.status === 'error').map((r) => `${r.node} ${r.id} ${r.subject}`));

  let healthy: Result[];
  let withFault: Result[];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'leafcert-diff-lab-'));
    lab = await startLab({ name: 'diff', nodes: 2 });
    faulted = lab.info.nodes[1].name;
    healthy = await run('healthy');
    await lab.fault(faulted, FAULT);
    try {
      withFault = await run('faulted');
    } finally {
      await lab.heal(faulted, FAULT);
    }
    await run('healed');
  }, 600_000);
  afterAll(async () => {
    await lab?.down();
  });

  it('healthy → faulted: exit 1, exactly the new failures, all on the faulted node', async () => {
    const out = join(dir, 'diff.json');
    const r = await lab.leafcert(['diff', runs.healthy, runs.faulted, '--json', out]);
    expect(r.code, r.stderr).toBe(1);
    const d = JSON.parse(readFileSync(out, 'utf8'));
    const named = d.newFailures.map((c: Result) => `${c.node} ${c.id} ${c.subject}`);
    // Computed independently: what fails or errors now and did not before.
    const before = bad(healthy);
    const expected = [...bad(withFault)].filter((k) => !before.has(k));
    expect(named.sort()).toEqual(expected.sort());
    expect(named.length).toBeGreaterThan(0);
    expect(d.newFailures.every((c: Result) => c.node === faulted)).toBe(true);
    expect(d.newFailures.map((c: Result) => c.id)).toContain('firewall.port-closed');
    for (const k of named) expect(r.stdout).toContain(k.split(' ').slice(1).join(' '));
    expect(r.stdout).toMatch(new RegExp(`REGRESSION: ${named.length} new failures?`));
  });

  it('faulted → healed: the same checks are fixed, exit 0', async () => {
    const out = join(dir, 'back.json');
    const r = await lab.leafcert(['diff', runs.faulted, runs.healed, '--json', out]);
    expect(r.code, r.stderr).toBe(0);
    const d = JSON.parse(readFileSync(out, 'utf8'));
    const fixed = d.fixed.map((c: Result) => `${c.node} ${c.id} ${c.subject}`).sort();
    const was = [...bad(withFault)].filter((k) => !bad(healthy).has(k)).sort();
    expect(fixed).toEqual(was);
    expect(d.newFailures).toEqual([]);
  });
});
