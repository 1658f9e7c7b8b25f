// The checklist map is read from the registered checks (each names its items where it is defined):
// structurally, every registered check names at least one existing item, every item has a check or
// a manual part, every suite's checks are registered, and docs/checklist.md is generated from it;
// the checklist suite reports manual items as manual and judges TLS renewal (ACME timers,
// self-managed certificates by the node's clock).
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHECKLIST, CHECKLIST_IDS, itemsForCheck, renderChecklistMarkdown } from '../src/checklist.js';
import { suites } from '../src/suites.js';
import type { Suite } from '../src/core/types.js';
import { checklistSuite, evaluate, parseTimers, type ChecklistFacts } from '../suites/checklist.js';
import { allChecks, checkDef } from '../src/core/checks.js';

const root = join(__dirname, '..');

/** Every suite module in suites/, registered or not yet. */
async function allSuites(): Promise<Suite[]> {
  const out: Suite[] = [];
  for (const f of readdirSync(join(root, 'suites')).filter((x) => x.endsWith('.ts'))) {
    const m = await import(`../suites/${f}`);
    for (const v of Object.values(m)) if (v && typeof v === 'object' && Array.isArray((v as Suite).checkIds) && typeof (v as Suite).evaluate === 'function') out.push(v as Suite);
  }
  return out;
}

describe('checklist map', () => {
  it('has every item of the guide', () => {
    expect(CHECKLIST_IDS).toEqual(['secrets', 'tls', 'tls-renewal', 'monitoring', 'backups', 'resource-limits', 'hardening', 'network-policies', 'audit-logging', 'documentation', 'runbooks']);
  });
  it('every registered check names at least one existing checklist item', async () => {
    await allSuites();
    const defs = allChecks();
    expect(defs.length).toBeGreaterThan(0);
    for (const d of defs) {
      expect(d.checklist.length, d.id).toBeGreaterThan(0);
      for (const item of d.checklist) expect(CHECKLIST_IDS, `${d.id} names ${item}`).toContain(item);
    }
  });
  it('every item has a check or a manual part', async () => {
    await allSuites();
    for (const i of CHECKLIST) expect(i.checks.length + (i.manual?.length ?? 0), i.id).toBeGreaterThan(0);
  });
  it('every suite check id is registered, and the map is what the definitions say', async () => {
    const all = await allSuites();
    for (const s of all) for (const id of s.checkIds) expect(checkDef(id), `${id} is not defined (defineChecks)`).toBeDefined();
    for (const s of suites) for (const id of s.checkIds) expect(itemsForCheck(id)).toEqual(checkDef(id)!.checklist);
    for (const i of CHECKLIST) for (const id of i.checks) expect(checkDef(id)!.checklist).toContain(i.id);
  });
  it('docs/checklist.md is generated from the map', () => {
    expect(readFileSync(join(root, 'docs', 'checklist.md'), 'utf8')).toBe(renderChecklistMarkdown());
  });
  it('manual items say what a person must confirm', () => {
    for (const id of ['documentation', 'runbooks']) expect(CHECKLIST.find((i) => i.id === id)!.manual!.length).toBeGreaterThan(0);
  });
});

const NOW = Date.parse('2026-11-27T06:00:00Z') / 1000;
const base = (over: Partial<ChecklistFacts> = {}): ChecklistFacts => ({ now: NOW, systemd: true, pid1: 'systemd', acme: { ok: true, timers: [], excerpt: '' }, certs: [], certErrors: [], ...over });
const TIMERS = `Id=acme-renew-api.alchemist.local.timer
LoadState=loaded
ActiveState=active
LastTriggerUSec=@${NOW - 6 * 3600}

Id=acme-renew-monitoring.alchemist.local.timer
LoadState=loaded
ActiveState=active
LastTriggerUSec=n/a
`;

describe('checklist suite', () => {
  it('reports documentation and runbooks as manual, never pass, tagged with their item', () => {
    const os = evaluate(base(), {});
    const doc = os.find((o) => o.id === 'checklist.documentation')!;
    expect(doc.status).toBe('manual');
    expect(doc.checklist).toEqual(['documentation']);
    expect((doc.evidence.expected as string[]).join(' ')).toMatch(/borgbackup-job-NAME/);
    expect(os.find((o) => o.id === 'checklist.runbooks')!.status).toBe('manual');
    // No renewal expectation: a person must say how certificates are renewed.
    expect(os.find((o) => o.id === 'checklist.tls-renewal')!.status).toBe('manual');
    for (const o of os) for (const item of o.checklist) expect(CHECKLIST.find((i) => i.id === item)!.checks).toContain(o.id);
  });
  it('judges ACME timers: recent passes, never-fired and missing fail', () => {
    const timers = parseTimers(TIMERS);
    expect(timers[0].lastTrigger).toBe(NOW - 6 * 3600);
    expect(timers[1].lastTrigger).toBeNull();
    const os = evaluate(base({ acme: { ok: true, timers, excerpt: '' } }), { renewal: { acme: { certs: ['api.alchemist.local', 'monitoring.alchemist.local', 'grafana.alchemist.local'] } } }).filter((o) => o.id === 'checklist.tls-renewal');
    expect(os.map((o) => `${o.subject}:${o.status}`)).toEqual(['api.alchemist.local:pass', 'monitoring.alchemist.local:fail', 'grafana.alchemist.local:fail']);
    expect(os[1].message).toMatch(/never fired/);
    const stale = evaluate(base({ now: NOW + 5 * 86400, acme: { ok: true, timers, excerpt: '' } }), { renewal: { acme: { certs: ['api.alchemist.local'] } } })[0];
    expect(stale.message).toMatch(/last fired 126h ago \(max 48h\)/);
  });
  it('without systemd the ACME part is skipped, not passed', () => {
    const o = evaluate(base({ systemd: false, pid1: 'leafcert-init', acme: { ok: false, reason: 'no systemd' } }), { renewal: { acme: {} } })[0];
    expect(o.status).toBe('skipped');
    expect(o.message).toMatch(/no systemd/);
  });
  it('judges self-managed certificates read from the node by the node clock', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lc-checklist-'));
    try {
      const mk = (name: string, days: number) =>
        execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.pem`), '-days', String(days), '-subj', `/CN=${name}`], { stdio: 'ignore' });
      mk('long', 90);
      mk('short', 10);
      const { LocalHost } = await import('../src/transport/local.js');
      const host = new LocalHost('local-test');
      const node = { name: 'local-test', transport: 'local' as const, ssh: { user: 'root', port: 22, connectTimeoutMs: 1000 }, expect: 'x' };
      const e = { renewal: { certs: [{ path: join(dir, 'long.pem'), renewBeforeDays: 30 }, { path: join(dir, 'short.pem'), renewBeforeDays: 30 }, { path: join(dir, 'missing.pem'), renewBeforeDays: 30 }, { path: join(dir, 'long.key'), renewBeforeDays: 30 }] } };
      const f = await checklistSuite.gather({ node, host, identity: {}, options: { allowMutating: false, timeoutMs: 10_000, baseDir: '/' }, progress: () => {} }, e);
      const os = evaluate(f, e).filter((o) => o.id === 'checklist.tls-renewal');
      expect(os.map((o) => o.status)).toEqual(['pass', 'fail', 'error', 'error']);
      expect(os[0].message).toMatch(/^(89|90) day\(s\) left; renewal due in (59|60) day/);
      expect(os[1].message).toMatch(/inside the 30-day renewal window/);
      expect(os[2].message).toMatch(/cannot read/);
      expect(os[3].message).toMatch(/not a PEM certificate/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
