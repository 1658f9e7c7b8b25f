// Issue 13 part 9: with --strict, a check the platform cannot make (skipped) fails the run (exit 1)
// and every report says why; manual items are not affected.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli.js';
import { strictly, STRICT_PREFIX } from '../src/engine/strict.js';
import { FakeHost, fakeSuite, identity, result } from './helpers/fakes.js';

// alpha.one passes, alpha.two cannot be checked on this platform, beta.one is a manual item.
const statuses: Record<string, 'pass' | 'skipped' | 'manual'> = { 'alpha.one': 'pass', 'alpha.two': 'skipped', 'beta.one': 'manual', 'beta.two': 'pass' };
const deps = {
  suites: [fakeSuite('alpha', { status: (_n, id) => statuses[id] }), fakeSuite('beta', { status: (_n, id) => statuses[id] })],
  openHost: async (n: { name: string }) => new FakeHost(n.name),
  gatherIdentity: async () => identity,
};

let d: string;
beforeAll(() => {
  d = mkdtempSync(join(tmpdir(), 'leafcert-strict-'));
  writeFileSync(join(d, 'inv.yaml'), 'nodes:\n  - { name: leaf, host: 10.250.0.2, expect: e }\nexpectations:\n  e: { alpha: {}, beta: {} }\n');
  writeFileSync(
    join(d, 'waived.yaml'),
    'nodes:\n  - { name: leaf, host: 10.250.0.2, expect: e }\nexpectations:\n  e: { alpha: {}, beta: {} }\nwaivers:\n  - { check: alpha.two, reason: "no auditd on this kernel, OPS-9", approvedBy: auditor, expires: 2099-12-31 }\n',
  );
});

async function run(...args: string[]): Promise<{ code: number; out: string; junit: string; doc: any }> {
  let out = '';
  const w = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  const junit = join(d, 'junit.xml');
  const json = join(d, 'e.json');
  try {
    const code = await main(['node', 'leafcert', 'run', '--junit', junit, '--json', json, ...args], deps);
    return { code, out, junit: readFileSync(junit, 'utf8'), doc: JSON.parse(readFileSync(json, 'utf8')) };
  } finally {
    w.mockRestore();
  }
}

describe('--strict', () => {
  it('without it a skipped check passes the gate (exit 0)', async () => {
    const r = await run('-i', join(d, 'inv.yaml'));
    expect(r.code).toBe(0);
    expect(r.doc.counts).toMatchObject({ pass: 2, skipped: 1, manual: 1, fail: 0 });
  });

  it('with it the skipped check fails the run (exit 1), and console, JUnit and JSON say why; manual stays manual', async () => {
    const r = await run('-i', join(d, 'inv.yaml'), '--strict');
    expect(r.code).toBe(1);
    expect(r.doc.counts).toMatchObject({ pass: 2, skipped: 0, manual: 1, fail: 1 });
    const two = r.doc.results.find((x: any) => x.id === 'alpha.two');
    expect(two).toMatchObject({ status: 'fail', originalStatus: 'skipped', message: `${STRICT_PREFIX} alpha.two on leaf` });
    expect(r.doc.results.find((x: any) => x.id === 'beta.one').status).toBe('manual');
    expect(r.junit).toContain(`<failure message="${STRICT_PREFIX} alpha.two on leaf" type="alpha.two">`);
    expect(r.junit).toContain('status: fail (was skipped)');
    expect(r.out).toContain(STRICT_PREFIX);
    expect(r.out).toMatch(/NOT CERTIFIED/);
  });

  it('a waiver can still accept a known gap (exit 0, waived)', async () => {
    const r = await run('-i', join(d, 'waived.yaml'), '--strict');
    expect(r.code).toBe(0);
    expect(r.doc.results.find((x: any) => x.id === 'alpha.two')).toMatchObject({ status: 'waived', originalStatus: 'fail' });
  });

  it('touches nothing but skipped', () => {
    for (const status of ['pass', 'fail', 'error', 'manual', 'waived'] as const) expect(strictly(result({ status }))).toEqual(result({ status }));
  });

  it('check-config --strict: the example manifest (3 checks with nothing declared to judge, skipped) exits 1; without it 0', async () => {
    const cc = async (...args: string[]) => {
      const w = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
      const e = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
      const json = join(d, 'cc.json');
      try {
        const code = await main(['node', 'leafcert', 'check-config', 'fixtures/nix/example.manifest.json', '--json', json, ...args]);
        return { code, doc: JSON.parse(readFileSync(json, 'utf8')) };
      } finally {
        w.mockRestore();
        e.mockRestore();
      }
    };
    const plain = await cc();
    expect(plain.code).toBe(0);
    const skipped = plain.doc.results.filter((x: any) => x.status === 'skipped').length;
    expect(skipped).toBeGreaterThan(0);
    const strict = await cc('--strict');
    expect(strict.code).toBe(1);
    expect(strict.doc.results.filter((x: any) => x.originalStatus === 'skipped' && x.status === 'fail').length).toBe(skipped);
  });
});
