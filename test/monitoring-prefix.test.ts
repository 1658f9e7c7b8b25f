// The Prometheus route prefix: plan --from-nix reads it from extraFlags (--web.route-prefix) or the
// path of webExternalUrl, and the monitoring probe asks /<prefix>/-/ready and /<prefix>/api/v1/… of a
// real Prometheus started with that prefix (without the prefix the same Prometheus is not found).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalHost } from '../src/transport/local.js';
import type { Host, NodeSpec, SuiteContext } from '../src/core/types.js';
import { loadManifest } from '../src/nix/manifest.js';
import { planInventory } from '../src/nix/plan.js';
import { parseInventory } from '../src/inventory/load.js';
import { routePrefixPath } from '../src/probes/prometheus.js';
import { declaredRoutePrefix, evaluate, monitoringSuite, type MonitoringExpect } from '../suites/monitoring.js';

const root = join(import.meta.dirname, '..');
const by = (os: ReturnType<typeof evaluate>, id: string) => os.find((o) => o.id === id)!;
const prom = (over: { webExternalUrl?: string | null; extraFlags?: string[] }) => ({
  path: 'containers.monitoring.config.services.prometheus', enable: true, listenAddress: '0.0.0.0', port: 9090, webExternalUrl: null, extraFlags: [],
  ruleFiles: [], rules: [], alertmanagers: [], alertmanagerEnable: false, scrapeConfigs: [], ...over,
});

describe('declared route prefix', () => {
  it('--web.route-prefix wins over webExternalUrl; "/" is no prefix', () => {
    expect(declaredRoutePrefix(prom({ webExternalUrl: 'https://mon.example/prometheus/' }))).toEqual({ value: '/prometheus', path: 'containers.monitoring.config.services.prometheus.webExternalUrl' });
    expect(declaredRoutePrefix(prom({ webExternalUrl: 'https://mon.example/prometheus/', extraFlags: ['--web.route-prefix=/'] }))).toBeUndefined();
    expect(declaredRoutePrefix(prom({ extraFlags: ['--log.level=warn', '--web.route-prefix=/prom/'] }))).toEqual({ value: '/prom', path: 'containers.monitoring.config.services.prometheus.extraFlags' });
    expect(declaredRoutePrefix(prom({ extraFlags: ['--web.route-prefix', 'prom'] }))?.value).toBe('/prom');
    expect(declaredRoutePrefix(prom({ webExternalUrl: 'https://mon.example/' }))).toBeUndefined();
    expect(declaredRoutePrefix(prom({}))).toBeUndefined();
    expect(routePrefixPath(undefined)).toBe('');
    expect(routePrefixPath('/a/b/')).toBe('/a/b');
  });

  it('the hardened guide configuration (webExternalUrl with /prometheus/) plans routePrefix /prometheus', () => {
    const file = join(root, 'fixtures/nix/guide-hardened.manifest.json');
    const p = planInventory(loadManifest(file), { manifestFile: file, outFile: join(root, 'fixtures/nix/inventory.yaml'), suiteKeys: ['monitoring'] });
    const [name] = Object.keys((p.inventory as any).expectations);
    expect((p.inventory as any).expectations[name].monitoring.prometheus).toMatchObject({ container: 'monitoring', routePrefix: '/prometheus' });
  });

  it('plan emits monitoring.prometheus.routePrefix with its option path; the inventory loads', () => {
    const file = join(root, 'fixtures/nix/example.manifest.json');
    const m = loadManifest(file);
    const c = m.containers.find((x) => x.config.prometheus.enable)!;
    c.config.prometheus.webExternalUrl = 'https://monitoring.alchemist.local/prometheus/';
    const p = planInventory(m, { manifestFile: file, outFile: join(root, 'fixtures/nix/inventory.yaml'), suiteKeys: ['monitoring'] });
    const [name] = Object.keys((p.inventory as any).expectations);
    const mon = (p.inventory as any).expectations[name].monitoring;
    expect(mon.prometheus.routePrefix).toBe('/prometheus');
    expect(p.optionPaths[`expectations.${name}.monitoring.prometheus.routePrefix`]).toBe(`containers.${c.name}.config.services.prometheus.webExternalUrl`);
    expect(() => parseInventory(p.yaml, join(root, 'fixtures/nix/inventory.yaml'), { suites: [monitoringSuite] })).not.toThrow();
    // without a prefix nothing is emitted
    c.config.prometheus.webExternalUrl = null;
    const q = planInventory(m, { manifestFile: file, outFile: join(root, 'fixtures/nix/inventory.yaml'), suiteKeys: ['monitoring'] });
    expect((q.inventory as any).expectations[name].monitoring.prometheus.routePrefix).toBeUndefined();
  });
});

describe('monitoring probe under a route prefix', () => {
  let dir: string;
  let proc: ChildProcess;
  let port = 0;
  const host = new LocalHost('local-test');
  const node: NodeSpec = { name: 'local-test', transport: 'local', ssh: { user: 'root', port: 22, connectTimeoutMs: 1000 }, expect: 'x' };
  const ctx: SuiteContext = { node, host, identity: {}, options: { allowMutating: false, timeoutMs: 20_000, baseDir: '/' }, progress: () => {} };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lc-prom-prefix-'));
    const free = createTcpServer();
    port = await new Promise<number>((r) => free.listen(0, '127.0.0.1', () => r((free.address() as AddressInfo).port)));
    await new Promise((r) => free.close(r));
    writeFileSync(join(dir, 'rules.yml'), 'groups:\n  - name: g\n    rules:\n      - alert: InstanceDown\n        expr: up == 0\n');
    writeFileSync(join(dir, 'prom.yml'), `global: { scrape_interval: 1s, evaluation_interval: 1s }\nrule_files: [ ${join(dir, 'rules.yml')} ]\nscrape_configs:\n  - { job_name: prometheus, metrics_path: /prom/metrics, static_configs: [ { targets: ['127.0.0.1:${port}'] } ] }\n`);
    // As NixOS's webExternalUrl = "http://…/prom/" makes it: the routes move under /prom.
    proc = spawn('prometheus', [`--config.file=${join(dir, 'prom.yml')}`, `--web.listen-address=127.0.0.1:${port}`, `--web.external-url=http://127.0.0.1:${port}/prom/`, `--storage.tsdb.path=${join(dir, 'data')}`], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      await new Promise((r) => setTimeout(r, 200));
      try {
        const j = await (await fetch(`http://127.0.0.1:${port}/prom/api/v1/targets`)).json();
        if (j.data.activeTargets.length === 1 && j.data.activeTargets[0].health === 'up') break;
      } catch {
        /* not up yet */
      }
    }
  }, 30_000);
  afterAll(() => {
    proc?.kill('SIGTERM');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('with routePrefix every request carries it and the checks pass', async () => {
    const asked: string[] = [];
    const recording: Host = Object.assign(Object.create(host), { forward: (p: number, a: string) => host.forward(p, a).then((s) => {
      const w = s.write.bind(s);
      s.write = ((d: any, ...r: any[]) => (asked.push(String(d).split(' ')[1]), w(d, ...r))) as typeof s.write;
      return s;
    }) });
    const e: MonitoringExpect = { prometheus: { address: '127.0.0.1', port, routePrefix: '/prom' }, rules: ['InstanceDown'] };
    const facts = await monitoringSuite.gather({ ...ctx, host: recording }, e);
    expect(asked.sort()).toEqual(['/prom/-/ready', '/prom/api/v1/alerts', '/prom/api/v1/rules', '/prom/api/v1/status/buildinfo', '/prom/api/v1/status/runtimeinfo', '/prom/api/v1/targets?state=active']);
    const os = evaluate(facts, e);
    for (const id of ['monitoring.prometheus-ready', 'monitoring.targets-up', 'monitoring.rules-loaded']) expect(by(os, id).status, `${id}: ${by(os, id).message}`).toBe('pass');
    expect(by(os, 'monitoring.rules-loaded').evidence.source).toContain(`http://127.0.0.1:${port}/prom/api/v1/rules`);
  });

  it('without it the same Prometheus is not found: not a pass', async () => {
    const e: MonitoringExpect = { prometheus: { address: '127.0.0.1', port }, rules: ['InstanceDown'] };
    const os = evaluate(await monitoringSuite.gather(ctx, e), e);
    expect(by(os, 'monitoring.rules-loaded').status).not.toBe('pass');
    expect(by(os, 'monitoring.prometheus-ready').status).not.toBe('pass');
  });
});
