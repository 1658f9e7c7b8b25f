// The checklist map is read from the registered checks (each names its items where it is defined):
// structurally, every registered check names at least one existing item, every item has a check or
// a manual part, every suite's checks are registered, and docs/checklist.md is generated from it;
// the checklist suite reports manual items as manual and judges TLS renewal (ACME timers,
// self-managed certificates by the node's clock).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import Ajv from 'ajv';
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

  describe('a self-managed certificate file is compared with the certificate served (red team C1)', () => {
    let dir: string;
    let server: tls.Server;
    let port: number;
    const mk = (name: string, days: number) =>
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.pem`),
        '-days', String(days), '-subj', '/CN=api.alchemist.local', '-addext', 'subjectAltName=DNS:api.alchemist.local,DNS:monitoring.alchemist.local'], { stdio: 'ignore' });
    const gather = async (e: { renewal: { certs: { path: string; renewBeforeDays: number; served?: string[] }[] } }) => {
      const { LocalHost } = await import('../src/transport/local.js');
      const node = { name: 'local-test', transport: 'local' as const, ssh: { user: 'root', port: 22, connectTimeoutMs: 1000 }, expect: 'x' };
      return checklistSuite.gather({ node, host: new LocalHost('local-test', '127.0.0.1'), identity: {}, options: { allowMutating: false, timeoutMs: 10_000, baseDir: '/' }, progress: () => {} }, e);
    };
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'lc-checklist-served-'));
      mk('stale', 90); // the file the renewal expectation names
      mk('new', 25); // what nginx was pointed at
      server = tls.createServer({ key: readFileSync(join(dir, 'new.key')), cert: readFileSync(join(dir, 'new.pem')) }, (s) => s.end());
      server.on('tlsClientError', () => {});
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      port = (server.address() as AddressInfo).port;
    });
    afterAll(() => {
      server?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('the served leaf is another certificate: fail, naming the served one and its days left', async () => {
      const e = { renewal: { certs: [{ path: join(dir, 'stale.pem'), renewBeforeDays: 30, served: [`api.alchemist.local:${port}`] }] } };
      const [o] = evaluate(await gather(e), e).filter((x) => x.id === 'checklist.tls-renewal');
      expect(o.status, o.message).toBe('fail');
      expect(o.message).toMatch(new RegExp(`^nginx serves a certificate other than the file the renewal renews: api.alchemist.local:${port} serves CN=api.alchemist.local \\(SHA-256 [0-9A-F:]{23}…, 2[45] day\\(s\\) left\\); .*stale.pem has (89|90) day\\(s\\) left$`));
      expect((o.evidence.observed as any).served[0].daysLeft).toBeLessThan(26);
    });

    it('the served leaf is the file: pass, saying where it is served', async () => {
      const e = { renewal: { certs: [{ path: join(dir, 'new.pem'), renewBeforeDays: 20, served: [`api.alchemist.local:${port}`] }] } };
      const [o] = evaluate(await gather(e), e).filter((x) => x.id === 'checklist.tls-renewal');
      expect(o.status, o.message).toBe('pass');
      expect(o.message).toMatch(new RegExp(`served on api.alchemist.local:${port}$`));
    });

    it('a given endpoint that does not answer is an error, never a pass on the file alone', async () => {
      const e = { renewal: { certs: [{ path: join(dir, 'stale.pem'), renewBeforeDays: 30, served: ['api.alchemist.local:1'] }] } };
      const [o] = evaluate(await gather(e), e).filter((x) => x.id === 'checklist.tls-renewal');
      expect(o.status).toBe('error');
      expect(o.message).toMatch(/cannot compare .* with the served certificate: api.alchemist.local:1: ECONNREFUSED/);
    });

    it('without served, the file\'s DNS names are compared on :443: another leaf valid for the name fails; a default server\'s leaf, nothing listening, a garbled answer', async () => {
      const fp = 'AA:'.repeat(31) + 'AA';
      const cert = { path: '/etc/nginx/ssl/fullchain.pem', notAfter: new Date((NOW + 89 * 86400) * 1000).toISOString(), subject: 'CN=api', fingerprint256: fp, names: ['api.alchemist.local'] };
      const leaf = (over: object) => ({ path: cert.path, endpoint: 'api.alchemist.local:443', connect: '10.0.0.2', derived: true, ok: true, fingerprint256: 'BB:'.repeat(31) + 'BB', subject: 'CN=api', notAfter: new Date((NOW + 24 * 86400) * 1000).toISOString(), covers: true, ...over });
      const e = { renewal: { certs: [{ path: cert.path, renewBeforeDays: 30 }] } };
      const judge = (served: object[]) => evaluate(base({ certs: [cert], served: served as any }), e)[0];
      expect(judge([leaf({})]).status).toBe('fail');
      expect(judge([leaf({})]).message).toMatch(/24 day\(s\) left/);
      expect(judge([leaf({ fingerprint256: fp })]).message).toMatch(/served on api.alchemist.local:443$/);
      expect(judge([leaf({ covers: false })]).status).toBe('pass'); // not served here: the default server answered
      expect(judge([leaf({ ok: false, refused: true, error: 'ECONNREFUSED' })]).status).toBe('pass');
      expect(judge([leaf({ ok: false, timedOut: true, error: 'no TLS handshake within 5000 ms' })]).status).toBe('error');
      expect(judge([leaf({ ok: false, error: 'ERR_SSL_WRONG_VERSION_NUMBER' })]).status).toBe('error');
      // the file inside its window stays a fail whatever is served
      expect(evaluate(base({ certs: [{ ...cert, notAfter: new Date((NOW + 10 * 86400) * 1000).toISOString() }], served: [leaf({ ok: false, timedOut: true, error: 'x' })] as any }), e)[0].status).toBe('fail');
    });

    it('schema: served endpoints are host:port', () => {
      const v = new Ajv.default({ strict: false, logger: false }).compile(checklistSuite.schema);
      expect(v({ renewal: { certs: [{ path: '/x.pem', renewBeforeDays: 30, served: ['api.alchemist.local:443'], connect: '10.0.0.2' }] } })).toBe(true);
      expect(v({ renewal: { certs: [{ path: '/x.pem', renewBeforeDays: 30, served: ['api.alchemist.local'] }] } })).toBe(false);
    });
  });
});
