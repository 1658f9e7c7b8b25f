// Per-check metadata from the registry and the digests of the check set and the inventory, in
// every report (issue 13 part 6).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import '../suites/firewall.js'; // registers the firewall checks
import { checkDef } from '../src/core/checks.js';
import type { Inventory, Result } from '../src/core/types.js';
import { runInventory } from '../src/engine/run.js';
import { makeAjv } from '../src/inventory/validate.js';
import { HtmlReporter } from '../src/reporters/html.js';
import { JsonReporter } from '../src/reporters/json.js';
import { JunitReporter } from '../src/reporters/junit.js';
import { checkMeta, checkSet, IMPACT } from '../src/reporters/metadata.js';
import { TapReporter } from '../src/reporters/tap.js';
import type { Reporter, RunMeta } from '../src/reporters/types.js';
import { FakeHost, fakeSuite, identity, node, result } from './helpers/fakes.js';

const validateEvidence = makeAjv().compile(JSON.parse(readFileSync('schemas/evidence.schema.json', 'utf8')));

describe('check metadata', () => {
  it('impact follows InSpec: critical 1.0, high 0.7, medium 0.5, low 0.3, info 0.0', () => {
    expect(IMPACT).toEqual({ critical: 1, high: 0.7, medium: 0.5, low: 0.3, info: 0 });
  });

  it('title, description, fix, severity and references come from the definition', () => {
    const d = checkDef('firewall.port-closed')!;
    const m = checkMeta('firewall.port-closed')!;
    expect(m).toMatchObject({ title: d.title, description: d.description, fix: d.fix, severity: d.severity, impact: IMPACT[d.severity] });
    expect(m.references.length).toBe(d.checklist.length);
    expect(m.references[0]).toContain(`docs/checklist.md: ${d.checklist[0]}`);
    expect(checkMeta('nope.nothing')).toBeUndefined();
  });

  it('the check-set digest is order-free and changes with any definition', () => {
    const a = checkSet(['firewall.port-closed', 'firewall.enabled']);
    expect(checkSet(['firewall.enabled', 'firewall.port-closed', 'firewall.enabled'])).toEqual(a);
    expect(a.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(checkSet(['firewall.port-closed']).sha256).not.toBe(a.sha256);
    const d = checkDef('firewall.port-closed')!;
    const fix = d.fix;
    try {
      d.fix = `${fix} (edited)`;
      expect(checkSet(['firewall.port-closed', 'firewall.enabled']).sha256).not.toBe(a.sha256);
    } finally {
      d.fix = fix;
    }
    expect(checkSet(['firewall.port-closed', 'firewall.enabled']).sha256).toBe(a.sha256);
  });
});

/** Every format's files from one run of the engine over fake hosts. */
async function runAll(): Promise<{ json: any; junit: string; tap: string; html: string; meta: RunMeta }> {
  const d = mkdtempSync(join(tmpdir(), 'leafcert-meta-'));
  const p = { json: join(d, 'e.json'), junit: join(d, 'j.xml'), tap: join(d, 'r.tap'), html: join(d, 'r.html') };
  let meta: RunMeta | undefined;
  const spy: Reporter = { onRunStart: (m) => void (meta = m), onNodeStart() {}, onResult() {}, onNodeEnd() {}, onRunEnd: async () => {} };
  const inv: Inventory & { sha256: string } = {
    file: '/srv/inv.yaml',
    sha256: 'f'.repeat(64),
    baseDir: '/tmp',
    nodes: [node('leaf-1')],
    expectations: { base: { firewall: {} } },
    waivers: [],
    defaults: { timeoutMs: 1000, concurrency: 1 },
  };
  const suite = fakeSuite('firewall', { checkIds: ['firewall.port-closed', 'firewall.enabled'], status: (_n, id) => (id === 'firewall.enabled' ? 'fail' : 'pass') });
  await runInventory(inv, { allowMutating: false, timeoutMs: 1000, baseDir: '/tmp', concurrency: 1 }, [spy, new JsonReporter(p.json), new JunitReporter(p.junit), new TapReporter(p.tap), new HtmlReporter(p.html)], {
    suites: [suite],
    openHost: async (n) => new FakeHost(n.name, n.host),
    gatherIdentity: async () => identity,
    now: () => new Date(),
  });
  return { json: JSON.parse(readFileSync(p.json, 'utf8')), junit: readFileSync(p.junit, 'utf8'), tap: readFileSync(p.tap, 'utf8'), html: readFileSync(p.html, 'utf8'), meta: meta! };
}

describe('metadata and digests in every report', () => {
  it('the engine passes the planned check set; JSON, JUnit, TAP and HTML carry both digests and the metadata', async () => {
    const { json, junit, tap, html, meta } = await runAll();
    const set = checkSet(['firewall.port-closed', 'firewall.enabled']);
    expect(meta.checks).toEqual(set);
    const inv = 'f'.repeat(64);

    expect(validateEvidence(json), JSON.stringify(validateEvidence.errors)).toBe(true);
    expect(json.run.inventory.sha256).toBe(inv);
    expect(json.checks.sha256).toBe(set.sha256);
    expect(json.checks.ids).toEqual(set.ids);
    expect(json.checks.definitions['firewall.enabled']).toEqual(checkMeta('firewall.enabled'));
    expect(json.results.map((r: Result & { impact: number }) => r.impact)).toEqual(json.results.map((r: Result) => IMPACT[r.severity]));

    expect(junit).toContain(`<property name="checks.sha256" value="${set.sha256}"/>`);
    expect(junit).toContain(`<property name="inventory.sha256" value="${inv}"/>`);
    expect(junit).toContain(`<property name="check.firewall.enabled.impact" value="${IMPACT[checkDef('firewall.enabled')!.severity].toFixed(1)}"/>`);
    expect(junit).toContain('<property name="check.firewall.enabled.fix" value="');
    expect(junit).toContain(`fix: ${checkDef('firewall.enabled')!.fix.slice(0, 40)}`);
    const XSD = resolve('schemas/junit-10.xsd');
    if (spawnSync('xmllint', ['--version']).status === 0) {
      const f = join(mkdtempSync(join(tmpdir(), 'leafcert-meta-')), 'j.xml');
      writeFileSync(f, junit);
      const r = spawnSync('xmllint', ['--noout', '--schema', XSD, f], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
    }

    expect(tap).toContain(`# inventory sha256 ${inv}, check set sha256 ${set.sha256} (2 checks)`);
    expect(tap).toMatch(/not ok \d+ - leaf-1\.firewall firewall\.enabled[\s\S]*impact: 0\.\d/);

    expect(html).toContain(set.sha256);
    expect(html).toContain(inv);
    expect(html).toContain(checkDef('firewall.enabled')!.fix.slice(0, 40).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;'));
  });

  it('a report written without the engine (no planned set) digests the checks it saw', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'leafcert-meta-')), 'e.json');
    const rep = new JsonReporter(path);
    rep.onRunStart({ harness: { name: 'leafcert', version: '0' }, startedAt: '2026-11-27T04:00:00.000Z', inventory: { path: '/i', sha256: '' }, argv: [], nodes: [node('leaf-1')], planned: 1 });
    rep.onNodeStart(node('leaf-1'), identity);
    rep.onResult(result());
    rep.flush();
    const doc = JSON.parse(readFileSync(path, 'utf8'));
    expect(doc.checks.sha256).toBe(checkSet(['firewall.port-closed']).sha256);
    expect(validateEvidence(doc), JSON.stringify(validateEvidence.errors)).toBe(true);
  });
});
