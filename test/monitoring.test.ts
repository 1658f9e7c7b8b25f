// monitoring suite: parsers on real Prometheus 2.42 answers, evaluate(), and gather() through the
// local transport's forward() against a real Prometheus, an HTML server, garbage and silence.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalHost } from '../src/transport/local.js';
import type { NodeSpec, SuiteContext } from '../src/core/types.js';
import { ParseError } from '../src/core/types.js';
import { apiData, parseHttpAnswer, parseRules, parseRuntimeinfo, parseTargets, type HttpAnswer } from '../src/probes/prometheus.js';
import { evaluate, monitoringSuite, type MonitoringExpect, type MonitoringFacts } from '../suites/monitoring.js';
import { gatherRuleFiles, parseAlerts } from '../src/probes/monitoring-alerts.js';

const fx = (f: string) => readFileSync(join(__dirname, '..', 'fixtures', 'prometheus', f), 'utf8');
const answer = (body: string, ctype = 'application/json', status = 200): HttpAnswer => ({ status, headers: { 'content-type': ctype }, body, source: 'GET test' });
const by = (os: ReturnType<typeof evaluate>, id: string) => os.find((o) => o.id === id)!;

describe('prometheus parsers', () => {
  it('reads targets and rules', () => {
    const t = parseTargets(answer(fx('targets-one-down.json')));
    expect(t.map((x) => `${x.job}/${x.instance}:${x.health}`)).toEqual(['alchemist/127.0.0.1:19099:down', 'prometheus/127.0.0.1:19090:up']);
    expect(t[0].lastError).toMatch(/connection refused/);
    const r = parseRules(answer(fx('rules.json')));
    expect(r.filter((x) => x.type === 'alerting').map((x) => x.name)).toEqual(['InstanceDown', 'HighMemory']);
    expect(r.find((x) => x.type === 'recording')?.name).toBe('job:up:sum');
  });
  it('HTML, garbage and API errors are ParseErrors with a plain reason', () => {
    expect(() => apiData(answer('<!DOCTYPE html><html>login</html>', 'text/html; charset=utf-8'))).toThrow(/answered HTML.*not the Prometheus API/);
    expect(() => apiData(answer('\u0000\u0001garbage', 'application/octet-stream'))).toThrow(/not JSON/);
    expect(() => apiData(answer('{"status":"error","errorType":"bad_data","error":"boom"}'))).toThrow(/API error bad_data: boom/);
    expect(() => apiData(answer('{"hello":1}'))).toThrow(/not a Prometheus API answer/);
    expect(() => parseHttpAnswer(Buffer.from('SSH-2.0-OpenSSH_9.2\r\n'), 'x')).toThrow(ParseError);
    expect(parseHttpAnswer(Buffer.from('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nok'), 'x')).toMatchObject({ status: 200, body: 'ok', headers: { 'content-type': 'text/plain' } });
  });
});

const base = (): MonitoringFacts => ({
  prometheus: { address: '10.233.5.2', port: 9090 },
  ready: { ok: true, value: { status: 200, body: 'Prometheus Server is Ready.' }, source: 'GET /-/ready', excerpt: '' },
  buildinfo: { ok: true, value: { version: '2.42.0', revision: 'x' }, source: 'GET buildinfo', excerpt: '' },
  targets: { ok: true, value: parseTargets(answer(fx('targets-all-up.json'))), source: 'GET targets', excerpt: '' },
  rules: { ok: true, value: parseRules(answer(fx('rules.json'))), source: 'GET rules', excerpt: '' },
  alerts: { ok: true, value: parseAlerts(answer(fx('alerts-none.json'))), source: 'GET alerts', excerpt: '' },
  grafana: { skipped: 'Grafana is not expected' },
});
const EXP: MonitoringExpect = { prometheus: { container: 'monitoring' }, rules: ['InstanceDown', 'HighMemory'], jobs: ['alchemist'] };

describe('monitoring evaluate', () => {
  it('passes a healthy Prometheus and skips an unexpected Grafana', () => {
    const os = evaluate(base(), EXP);
    expect(os.map((o) => o.id).sort()).toEqual([...monitoringSuite.checkIds].sort());
    for (const id of ['monitoring.prometheus-ready', 'monitoring.targets-up', 'monitoring.rules-loaded']) expect(by(os, id).status, id).toBe('pass');
    expect(by(os, 'monitoring.grafana-health').status).toBe('skipped');
    expect(os.every((o) => o.checklist.includes('monitoring') && o.evidence.source)).toBe(true);
  });
  it('names the down target with its error, and the missing rule', () => {
    const f = base();
    f.targets = { ok: true, value: parseTargets(answer(fx('targets-one-down.json'))), source: 'GET targets', excerpt: '' };
    const os = evaluate(f, { ...EXP, rules: [...EXP.rules, 'BackupTooOld'] });
    expect(by(os, 'monitoring.targets-up').status).toBe('fail');
    expect(by(os, 'monitoring.targets-up').message).toMatch(/alchemist\/127.0.0.1:19099 is down \(Get .*connection refused\)/);
    expect(by(os, 'monitoring.rules-loaded').status).toBe('fail');
    expect(by(os, 'monitoring.rules-loaded').message).toBe('missing: BackupTooOld');
    // allowDown waives a known-down target explicitly.
    expect(by(evaluate(f, { ...EXP, allowDown: ['alchemist'] }), 'monitoring.targets-up').status).toBe('pass');
  });
  it('a declared target that is not scraped at all fails, by JOB/INSTANCE or INSTANCE; scraped ones pass', () => {
    const f = base();
    const scraped = f.targets!.ok ? f.targets!.value.map((x) => `${x.job}/${x.instance}`) : [];
    expect(scraped.length).toBeGreaterThan(0);
    expect(by(evaluate(f, { ...EXP, targets: scraped }), 'monitoring.targets-up').status).toBe('pass');
    expect(by(evaluate(f, { ...EXP, targets: [scraped[0].split('/').slice(1).join('/')] }), 'monitoring.targets-up').status).toBe('pass');
    const o = by(evaluate(f, { ...EXP, targets: [...scraped, 'alchemist/10.233.2.2:6333'] }), 'monitoring.targets-up');
    expect(o.status).toBe('fail');
    expect(o.message).toMatch(/not scraped at all .*: alchemist\/10\.233\.2\.2:6333$/);
    expect(o.evidence.expected).toMatchObject({ targets: [...scraped, 'alchemist/10.233.2.2:6333'] });
    // The same instance under another job is not the declared target.
    const other = `other/${scraped[0].split('/').slice(1).join('/')}`;
    expect(by(evaluate(f, { ...EXP, targets: [other] }), 'monitoring.targets-up').status).toBe('fail');
  });
  it('a failed configuration reload (a broken rule file deployed, the earlier rules still loaded) fails prometheus-ready (real runtimeinfo)', () => {
    const f = base();
    f.runtime = { ok: true, value: parseRuntimeinfo(answer(fx('runtimeinfo.json'))), source: 'GET runtimeinfo', excerpt: '' };
    expect(by(evaluate(f, EXP), 'monitoring.prometheus-ready').status).toBe('pass');
    f.runtime = { ok: true, value: parseRuntimeinfo(answer(fx('runtimeinfo-reload-failed.json'))), source: 'GET runtimeinfo', excerpt: '' };
    const os = evaluate(f, EXP);
    expect(by(os, 'monitoring.prometheus-ready')).toMatchObject({ status: 'fail', message: expect.stringMatching(/runs an earlier configuration: its last configuration reload \(2026-12-03T09:48:54Z\) failed/) });
    expect(by(os, 'monitoring.rules-loaded').status).toBe('pass'); // the old rules are still there: only the reload tells
    // an older Prometheus without runtimeinfo: not a finding, said
    f.runtime = { ok: false, reason: 'HTTP 404', source: 'GET runtimeinfo' };
    expect(by(evaluate(f, EXP), 'monitoring.prometheus-ready')).toMatchObject({ status: 'pass', message: expect.stringMatching(/reload status unknown/) });
    expect(() => parseRuntimeinfo(answer('{"status":"success","data":{}}'))).toThrow(ParseError);
  });
  it('a not-ready Prometheus fails; no targets fails; errors stay errors', () => {
    const f = base();
    f.ready = { ok: true, value: { status: 503, body: 'Service Unavailable' }, source: 'GET /-/ready', excerpt: '' };
    f.targets = { ok: true, value: [], source: 'GET targets', excerpt: '' };
    f.rules = { ok: false, reason: 'answered HTML (HTTP 200, text/html)', source: 'GET rules' };
    const os = evaluate(f, EXP);
    expect(by(os, 'monitoring.prometheus-ready').status).toBe('fail');
    expect(by(os, 'monitoring.prometheus-ready').message).toMatch(/not ready: \/-\/ready answered HTTP 503/);
    expect(by(os, 'monitoring.targets-up').message).toMatch(/no active targets/);
    expect(by(os, 'monitoring.rules-loaded').status).toBe('error');
    const lost = evaluate({ prometheus: { error: 'container monitoring not found on the node', source: 'locator' }, grafana: { skipped: 'x' } }, EXP);
    expect(lost.filter((o) => o.status === 'error')).toHaveLength(4);
  });
  it('a target not scraped yet is an error (cannot say), not a pass', () => {
    const f = base();
    const t = parseTargets(answer(fx('targets-all-up.json')));
    t[0].health = 'unknown';
    f.targets = { ok: true, value: t, source: 'GET targets', excerpt: '' };
    const o = by(evaluate(f, EXP), 'monitoring.targets-up');
    expect(o.status).toBe('error');
    expect(o.message).toMatch(/not scraped yet/);
  });
  it('judges Grafana when expected', () => {
    const f = base();
    f.grafana = { ok: true, value: { status: 200, database: 'ok', version: '10.4.1' }, source: 'GET /api/health', excerpt: '' };
    expect(by(evaluate(f, EXP), 'monitoring.grafana-health').status).toBe('pass');
    f.grafana = { ok: true, value: { status: 503, database: 'failing', version: '10.4.1' }, source: 'GET /api/health', excerpt: '' };
    expect(by(evaluate(f, EXP), 'monitoring.grafana-health').status).toBe('fail');
  });
});

describe('monitoring.alerts-firing (red team B M4)', () => {
  it('a firing alert fails, named with its labels; a pending one is reported, not failed; allowFiring allows it', () => {
    const f = base();
    expect(by(evaluate(f, EXP), 'monitoring.alerts-firing')).toMatchObject({ status: 'pass', message: 'no alert firing' });
    f.alerts = { ok: true, value: parseAlerts(answer(fx('alerts-firing.json'))), source: 'GET alerts', excerpt: '' };
    const r = by(evaluate(f, EXP), 'monitoring.alerts-firing');
    expect(r.status).toBe('fail');
    expect(r.severity).toBe('medium');
    expect(r.message).toBe('1 alert(s) firing: ServiceUnhealthy{instance="10.233.3.2:8081", job="alchemist", service="alchemist-workflow", severity="warning"} since 2026-12-03T15:47:33.093981358Z (alchemist-workflow reports itself unhealthy); pending (not firing yet): ExampleDown{instance="10.233.1.2:9187", job="alchemist", severity="critical"} since 2026-12-03T15:47:33.093981358Z (10.233.1.2:9187 of job alchemist is down)');
    const ok = by(evaluate(f, { ...EXP, allowFiring: ['ServiceUnhealthy'] }), 'monitoring.alerts-firing');
    expect(ok.status).toBe('pass');
    expect(ok.message).toMatch(/^no alert firing \(1 allowed firing: ServiceUnhealthy\); pending \(not firing yet\): ExampleDown/);
  });
  it('an answer that is not the alerts API is an error, never a pass', () => {
    expect(() => parseAlerts(answer('{"status":"success","data":{}}'))).toThrow(/no data.alerts array/);
    expect(() => parseAlerts(answer('{"status":"success","data":{"alerts":[{"labels":{"alertname":"X"},"state":"weird"}]}}'))).toThrow(/lacks labels or a state/);
    const f = base();
    f.alerts = { ok: false, reason: 'GET alerts: answered HTML', source: 'GET alerts' };
    expect(by(evaluate(f, EXP), 'monitoring.alerts-firing').status).toBe('error');
    delete f.alerts;
    expect(by(evaluate(f, EXP), 'monitoring.alerts-firing').status).toBe('error');
  });
});

describe('rule files edited without a reload (red team B M5)', () => {
  const rt = (lastConfigTime: string) => ({ ok: true as const, value: { reloadConfigSuccess: true, lastConfigTime }, source: 'GET runtimeinfo', excerpt: '' });
  it('a rule file newer than the last configuration load fails rules-loaded naming it; older passes; unknown times are said, not failed', () => {
    const f = base();
    f.runtime = rt('2026-12-03T15:39:43Z');
    f.ruleFiles = { ok: true, value: [{ path: '/etc/prometheus/rules/alchemist.rules.yml', mtime: Date.parse('2026-12-03T15:30:00Z') / 1000 }], source: 'stat', excerpt: '' };
    expect(by(evaluate(f, EXP), 'monitoring.rules-loaded').status).toBe('pass');
    f.ruleFiles.value[0].mtime = Date.parse('2026-12-03T15:41:00Z') / 1000;
    const r = by(evaluate(f, EXP), 'monitoring.rules-loaded');
    expect(r.status).toBe('fail');
    expect(r.message).toBe('/etc/prometheus/rules/alchemist.rules.yml changed 2026-12-03T15:41:00.000Z, after Prometheus last loaded its configuration (2026-12-03T15:39:43Z): the running rules are not the deployed ones (reload Prometheus; the next restart changes them)');
    // a failed reload is prometheus-ready's finding, not this one's again
    expect(by(evaluate({ ...f, runtime: { ...rt('2026-12-03T15:39:43Z'), value: { reloadConfigSuccess: false, lastConfigTime: '2026-12-03T15:39:43Z' } } }, EXP), 'monitoring.rules-loaded').status).toBe('pass');
    f.ruleFiles = { ok: false, reason: 'container monitoring not running', source: 'locator' };
    expect(by(evaluate(f, EXP), 'monitoring.rules-loaded')).toMatchObject({ status: 'pass', message: expect.stringMatching(/\(rule files' times unknown: container monitoring not running\)$/) });
  });
  it('gatherRuleFiles stats the files where Prometheus runs (here: the local node) and refuses a garbled answer', async () => {
    const d = mkdtempSync(join(tmpdir(), 'leafcert-rules-'));
    try {
      const file = join(d, "it's.rules.yml");
      writeFileSync(file, 'groups: []\n');
      const got = await gatherRuleFiles(new LocalHost('local'), { address: '127.0.0.1' }, [file, file, 'relative.yml'], 10_000);
      expect(got.ok && got.value.map((x) => x.path)).toEqual([file]);
      expect(got.ok && Math.abs(got.value[0].mtime * 1000 - Date.now()) < 60_000).toBe(true);
      const liar = Object.assign(Object.create(new LocalHost('local')), { exec: async () => ({ code: 0, stdout: 'garbage\n', stderr: '' }) });
      expect((await gatherRuleFiles(liar, { address: '127.0.0.1' }, [file], 10_000)).ok).toBe(false);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});

describe('monitoring gather through forward() against real servers', () => {
  let dir: string;
  let prom: ChildProcess;
  let promPort = 0;
  let html: Server;
  let garbage: ReturnType<typeof createTcpServer>;
  let silent: ReturnType<typeof createTcpServer>;
  const host = new LocalHost('local-test');
  const node: NodeSpec = { name: 'local-test', transport: 'local', ssh: { user: 'root', port: 22, connectTimeoutMs: 1000 }, expect: 'x' };
  const ctx: SuiteContext = { node, host, identity: {}, options: { allowMutating: false, timeoutMs: 20_000, baseDir: '/' }, progress: () => {} };
  const listen = (s: { listen: (...a: any[]) => unknown; address: () => AddressInfo | string | null }) =>
    new Promise<number>((res) => s.listen(0, '127.0.0.1', () => res((s.address() as AddressInfo).port)));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lc-prom-'));
    html = createServer((_q, r) => r.writeHead(200, { 'content-type': 'text/html' }).end('<!DOCTYPE html><html><body>Sign in</body></html>'));
    const htmlPort = await listen(html);
    garbage = createTcpServer((s) => s.end('\x00\x01\x02 not http at all'));
    await listen(garbage);
    silent = createTcpServer(() => {});
    await listen(silent);
    const free = createTcpServer();
    promPort = await listen(free);
    await new Promise((r) => free.close(r));
    writeFileSync(join(dir, 'rules.yml'), 'groups:\n  - name: g\n    rules:\n      - alert: InstanceDown\n        expr: up == 0\n');
    writeFileSync(join(dir, 'prom.yml'), [
      'global: { scrape_interval: 1s, evaluation_interval: 1s }',
      `rule_files: [ ${join(dir, 'rules.yml')} ]`,
      'scrape_configs:',
      `  - { job_name: prometheus, static_configs: [ { targets: ['127.0.0.1:${promPort}'] } ] }`,
      `  - { job_name: web, static_configs: [ { targets: ['127.0.0.1:${htmlPort}'] } ] }`,
    ].join('\n'));
    prom = spawn('prometheus', [`--config.file=${join(dir, 'prom.yml')}`, `--web.listen-address=127.0.0.1:${promPort}`, `--storage.tsdb.path=${join(dir, 'data')}`], { stdio: 'ignore' });
    // Ready once both targets have been scraped once.
    for (let i = 0; i < 100; i++) {
      await new Promise((r) => setTimeout(r, 200));
      try {
        const j = await (await fetch(`http://127.0.0.1:${promPort}/api/v1/targets`)).json();
        if (j.data.activeTargets.length === 2 && j.data.activeTargets.every((t: any) => t.health !== 'unknown')) break;
      } catch {
        /* not up yet */
      }
    }
  });
  afterAll(async () => {
    prom?.kill('SIGTERM');
    html?.close();
    garbage?.close();
    silent?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('reads a real Prometheus: ready, the HTML target named as down, the rule loaded', async () => {
    const e: MonitoringExpect = { prometheus: { address: '127.0.0.1', port: promPort }, rules: ['InstanceDown'] };
    const os = evaluate(await monitoringSuite.gather(ctx, e), e);
    expect(by(os, 'monitoring.prometheus-ready').status).toBe('pass');
    const t = by(os, 'monitoring.targets-up');
    expect(t.status).toBe('fail'); // the HTML "target" is not an exporter
    expect(t.message).toMatch(/^web\/127\.0\.0\.1:\d+ is down/);
    expect(by(os, 'monitoring.rules-loaded').status).toBe('pass');
    const missing = by(evaluate(await monitoringSuite.gather(ctx, { ...e, rules: ['InstanceDown', 'DiskFull'] }), { ...e, rules: ['InstanceDown', 'DiskFull'] }), 'monitoring.rules-loaded');
    expect(missing.message).toBe('missing: DiskFull');
  });

  it('HTML, garbage and silence are errors with a clear reason', async () => {
    for (const [srv, re] of [
      [html, /answered HTML/],
      [garbage, /not HTTP/],
      [silent, /no complete answer within/],
    ] as const) {
      const port = (srv.address() as AddressInfo).port;
      const e: MonitoringExpect = { prometheus: { address: '127.0.0.1', port }, rules: ['X'] };
      const os = evaluate(await monitoringSuite.gather({ ...ctx, options: { ...ctx.options, timeoutMs: 10_000 } }, e), e);
      for (const id of ['monitoring.prometheus-ready', 'monitoring.targets-up', 'monitoring.rules-loaded']) {
        expect(by(os, id).status, `${id} on port ${port}`).toBe('error');
        expect(by(os, id).message).toMatch(re);
      }
    }
  });

  it('Grafana where expected: /api/health ok passes, HTML fails as an error', async () => {
    const grafana = createServer((q, r) => {
      if (q.url === '/api/health') r.writeHead(200, { 'content-type': 'application/json' }).end('{"commit":"abc","database":"ok","version":"10.4.1"}');
      else r.writeHead(404).end();
    });
    const gport = await listen(grafana);
    try {
      const e: MonitoringExpect = { prometheus: { address: '127.0.0.1', port: promPort }, rules: ['InstanceDown'], grafana: { address: '127.0.0.1', port: gport } };
      const g = by(evaluate(await monitoringSuite.gather(ctx, e), e), 'monitoring.grafana-health');
      expect(g.status, g.message).toBe('pass');
      expect(g.message).toMatch(/Grafana 10\.4\.1 healthy/);
      const htmlPort = (html.address() as AddressInfo).port;
      const e2 = { ...e, grafana: { address: '127.0.0.1', port: htmlPort } };
      const h = by(evaluate(await monitoringSuite.gather(ctx, e2), e2), 'monitoring.grafana-health');
      expect(h.status).toBe('error');
      expect(h.message).toMatch(/HTML/);
    } finally {
      grafana.close();
    }
  });

  it('a closed port fails prometheus-ready and is an error for the API checks, naming the address', async () => {
    const e: MonitoringExpect = { prometheus: { address: '127.0.0.1', port: 1 }, rules: [] };
    const os = evaluate(await monitoringSuite.gather(ctx, e), e);
    const o = by(os, 'monitoring.targets-up');
    expect(o.status).toBe('error');
    expect(o.message).toMatch(/127\.0\.0\.1:1/);
    // The node refused the port: Prometheus is observed not answering (fail), the API facts are unknown (error).
    expect(by(os, 'monitoring.prometheus-ready').status).toBe('fail');
    expect(by(os, 'monitoring.prometheus-ready').message).toMatch(/nothing listens on 127\.0\.0\.1:1/);
  });
});
