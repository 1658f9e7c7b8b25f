// `leafcert plan --from-nix`: manifests become inventories that load through the inventory loader
// with every suite's schema, each value citing its NixOS option path.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { parseInventory } from '../src/inventory/load.js';
import { loadManifest } from '../src/nix/manifest.js';
import { planInventory } from '../src/nix/plan.js';
import type { Suite } from '../src/core/types.js';
import { firewallSuite } from '../suites/firewall.js';
import { tlsSuite } from '../suites/tls.js';
import { healthSuite } from '../suites/health.js';
import { isolationSuite } from '../suites/isolation.js';
import { limitsSuite } from '../suites/limits.js';
import { postgresSuite } from '../suites/postgres.js';
import { backupSuite } from '../suites/backup.js';
import { monitoringSuite } from '../suites/monitoring.js';
import { secretsSuite } from '../suites/secrets.js';
import { auditSuite } from '../suites/audit.js';
import { checklistSuite } from '../suites/checklist.js';
import { configSuite } from '../suites/config.js';

const root = join(import.meta.dirname, '..');
const fx = (name: string) => join(root, 'fixtures/nix', name);
const all: Suite<any, any>[] = [firewallSuite, tlsSuite, healthSuite, isolationSuite, limitsSuite, postgresSuite, backupSuite, monitoringSuite, secretsSuite, auditSuite, checklistSuite, configSuite];
const keys = all.map((s) => s.key);
const plan = (name: string) =>
  planInventory(loadManifest(fx(`${name}.manifest.json`)), {
    manifestFile: fx(`${name}.manifest.json`),
    outFile: join(root, 'fixtures/nix/inventory.yaml'),
    nodes: [{ name: 'leaf-1', host: '192.168.1.2' }],
    ca: 'ca.pem',
    suiteKeys: keys,
  });

describe('plan --from-nix on the example configuration', () => {
  const p = plan('example');
  const e = (p.inventory as any).expectations['alchemist-leaf-node'];

  it('loads through the inventory loader with every suite schema', () => {
    const inv = parseInventory(p.yaml, join(root, 'fixtures/nix/inventory.yaml'), { suites: all });
    expect(inv.nodes).toEqual([expect.objectContaining({ name: 'leaf-1', host: '192.168.1.2', expect: 'alchemist-leaf-node' })]);
    expect(Object.keys(inv.expectations['alchemist-leaf-node']).sort()).toEqual(['audit', 'backup', 'checklist', 'config', 'containers', 'firewall', 'health', 'limits', 'monitoring', 'postgres', 'secrets', 'tls']);
  });

  it('derives the expectations from the declared options', () => {
    expect(e.firewall).toMatchObject({ open: [22, 80, 443], refuse: 'drop', backend: 'iptables', trusted: ['lo'] });
    expect(e.firewall.closed).toEqual([3000, 5432, 6379, 8080, 8081, 8082, 8083, 9090]);
    expect(e.tls.map((t: any) => t.endpoint)).toEqual(['api.alchemist.local:443', 'monitoring.alchemist.local:443']);
    expect(e.containers.alchemist).toEqual({ privateNetwork: true, privateUsers: true, dropCapabilities: ['CAP_SYS_MODULE'], ports: [8080], innerFirewall: true });
    expect(e.limits.containers.alchemist).toEqual({ memoryMax: '8G', memoryHigh: '7G', cpuQuota: '400%', tasksMax: 4096 });
    expect(e.postgres).toMatchObject({ container: 'alchemist', noTrust: true, listenAddresses: ['localhost'], port: 5432 });
    expect(e.postgres.settings).toMatchObject({ shared_buffers: '512MB', work_mem: '10MB', random_page_cost: 1.1 });
    expect(e.backup).toEqual({ job: 'alchemist', maxAge: '26h', paths: expect.arrayContaining(['/var/lib/nixos-containers/alchemist/var/backup/postgresql']), timer: true, postgres: { container: 'alchemist' }, offNode: true, encryption: 'repokey-blake2' });
    expect(e.monitoring).toEqual({ prometheus: { port: 9090, container: 'monitoring' }, rules: ['TargetDown', 'PrometheusRuleFailures'], grafana: { port: 3000, container: 'monitoring' } });
    expect(e.health[0]).toEqual({ url: 'http://api.alchemist.local/', status: 301, redirect: 'https://api.alchemist.local/' });
    expect(e.config).toEqual({ manifest: 'example.manifest.json' });
    // Host files, then the files units inside containers read, as the host holds them (the bind mount's source).
    expect(e.secrets.files.slice(0, 3)).toEqual([{ path: '/var/lib/alchemist-tls/key.pem', format: 'raw' }, { path: '/var/lib/alchemist-secrets/borg-passphrase', format: 'raw' }, { path: '/var/lib/alchemist-secrets/agent/alchemist.env', format: 'env' }]);
    expect(e.secrets.files.map((f: { path: string }) => f.path)).toContain('/var/lib/alchemist-secrets/monitoring/grafana-secret-key');
    expect(e.audit).toEqual({ audit: true, auditd: true, apparmor: false, minRules: 2 });
    expect(e.checklist).toEqual({ renewal: { certs: [{ path: '/var/lib/alchemist-tls/fullchain.pem', renewBeforeDays: 30 }] } });
  });

  it('cites the option path next to every emitted value', () => {
    expect(p.optionPaths['expectations.alchemist-leaf-node.firewall.open']).toBe('networking.firewall.allowedTCPPorts');
    expect(p.optionPaths['expectations.alchemist-leaf-node.limits.containers.alchemist.memoryMax']).toBe('systemd.services."container@alchemist".serviceConfig.MemoryMax');
    expect(p.optionPaths['expectations.alchemist-leaf-node.postgres.settings.shared_buffers']).toBe('containers.alchemist.config.services.postgresql.settings.shared_buffers');
    // every key of every suite expectation is cited (in the map and as a YAML comment)
    const doc = parseDocument(p.yaml);
    const uncited: string[] = [];
    for (const [suite, value] of Object.entries(e)) {
      const items = Array.isArray(value) ? value.map((v, i) => [i, v] as const) : [[undefined, value] as const];
      for (const [i, v] of items) {
        for (const k of Object.keys(v as object)) {
          if (suite === 'tls' && k === 'ca') continue; // not an option: --ca
          if (suite === 'secrets' && k === 'files') continue; // cited per file path
          if (suite === 'checklist') continue; // cited per renewal entry
          if (suite === 'health' && (k === 'url' || k === 'status')) continue; // cited on redirect
          if (suite === 'monitoring' && k !== 'prometheus' && k !== 'rules' && k !== 'grafana') continue;
          const segs = ['expectations', 'alchemist-leaf-node', suite, ...(i === undefined ? [] : [i]), k];
          const cited = Object.keys(p.optionPaths).some((c) => c === segs.join('.') || c.startsWith(segs.join('.') + '.'));
          if (!cited) uncited.push(segs.join('.'));
        }
      }
    }
    expect(uncited).toEqual([]);
    expect(p.yaml).toContain('memoryMax: 8G # systemd.services."container@alchemist".serviceConfig.MemoryMax');
    expect(doc.errors).toEqual([]);
  });
});

describe('plan --from-nix on the deployment as written', () => {
  const p = plan('alchemist-as-written');
  const e = (p.inventory as any).expectations['alchemist-leaf-node'];

  it('loads, and keeps the declared state (flaws included) for drift checks', () => {
    parseInventory(p.yaml, join(root, 'fixtures/nix/inventory.yaml'), { suites: all });
    expect(e.firewall.open).toEqual([80, 443, 3000, 8080]);
    expect(e.firewall.extraRules).toEqual([
      'iptables -t nat -A PREROUTING -p tcp --dport 8080 -j DNAT --to-destination 10.233.1.2:8080',
      'iptables -t nat -A PREROUTING -p tcp --dport 3000 -j DNAT --to-destination 10.233.6.2:3000',
    ]);
    expect(e.firewall.trusted).toEqual(['br-alchemist', 'lo']);
    expect(e.containers.alchemist).toEqual({ privateNetwork: true, privateUsers: false, ports: [4222, 6333, 6334, 8080, 8081, 9090], innerFirewall: true });
    expect(e.limits.slices).toEqual({ 'alchemist.slice': { memoryMax: '32G', cpuQuota: '800%' } });
    expect(e.limits.containers).toBeUndefined();
    expect(e.backup.paths).toContain('/var/lib/postgresql');
    expect(e.postgres.noTrust).toBe(true);
  });

  it('ports opened on one interface are neither expected open everywhere nor expected closed', () => {
    const m = loadManifest(fx('example.manifest.json'));
    m.host.firewall.interfaces.push({ name: 'wg0', path: 'networking.firewall.interfaces.wg0', allowedTCPPorts: [9090], allowedUDPPorts: [51820], allowedTCPPortRanges: [], allowedUDPPortRanges: [] });
    const e = (planInventory(m, { manifestFile: 'm.json', suiteKeys: keys }).inventory as any).expectations['alchemist-leaf-node'];
    expect(e.firewall.interfaces).toEqual({ wg0: { tcp: [9090], udp: [51820] } });
    expect(e.firewall.open).toEqual([22, 80, 443]);
    expect(e.firewall.closed).not.toContain(9090);
  });

  it("a container's ports opened on its eth0 (interfaces.eth0.allowedTCPPorts) are its declared ports; lo's are not", () => {
    const m = loadManifest(fx('example.manifest.json'));
    const fw = m.containers.find((c) => c.name === 'alchemist')!.config.firewall;
    const global = [...fw.allowedTCPPorts];
    fw.allowedTCPPorts = [];
    fw.interfaces.push({ name: 'eth0', path: 'containers.alchemist.config.networking.firewall.interfaces.eth0', allowedTCPPorts: global, allowedUDPPorts: [], allowedTCPPortRanges: [{ from: 7000, to: 7001 }], allowedUDPPortRanges: [] });
    fw.interfaces.push({ name: 'lo', path: 'containers.alchemist.config.networking.firewall.interfaces.lo', allowedTCPPorts: [9999], allowedUDPPorts: [], allowedTCPPortRanges: [], allowedUDPPortRanges: [] });
    const p = planInventory(m, { manifestFile: 'm.json', suiteKeys: keys });
    expect((p.inventory as any).expectations['alchemist-leaf-node'].containers.alchemist.ports).toEqual([...global, 7000, 7001].sort((a, b) => a - b));
    expect(p.optionPaths['expectations.alchemist-leaf-node.containers.alchemist.ports']).toMatch(/interfaces\.eth0\.allowedTCPPorts/);
  });

  it('ACME virtual hosts become renewal-timer expectations', () => {
    const m = loadManifest(fx('example.manifest.json'));
    Object.assign(m.host.nginx.virtualHosts[0], { enableACME: true, sslCertificate: null, sslCertificateKey: null });
    const p = planInventory(m, { manifestFile: 'm.json', suiteKeys: keys });
    const e = (p.inventory as any).expectations['alchemist-leaf-node'];
    expect(e.checklist.renewal.acme).toEqual({ certs: ['api.alchemist.local'] });
    expect(p.optionPaths['expectations.alchemist-leaf-node.checklist.renewal.acme']).toBe('services.nginx.virtualHosts."api.alchemist.local".enableACME');
  });

  it('emits limits of units inside containers (containerServices), citing their options', () => {
    expect(e.limits.containerServices.alchemist).toEqual({ 'alchemist.service': { memoryMax: '8G', memoryHigh: '6G', cpuQuota: '400%' } });
    expect(p.optionPaths['expectations.alchemist-leaf-node.limits.containerServices.alchemist.alchemist.service.memoryMax']).toBe('containers.alchemist.config.systemd.services.alchemist.serviceConfig.MemoryMax');
    expect(p.notes.join('\n')).not.toMatch(/units inside containers with limits are not emitted/);
  });
});

describe('leafcert plan (built CLI)', () => {
  const cli = join(root, 'bin/leafcert.js');
  const dir = mkdtempSync(join(tmpdir(), 'leafcert-plan-'));
  const run = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8' });

  it('writes an inventory that `run` would load, and the option-path map', () => {
    const out = join(dir, 'inv.yaml');
    writeFileSync(join(dir, 'id_ed25519'), 'not read by plan');
    const r = run(['plan', '--from-nix', fx('example.manifest.json'), '--node', 'leaf=alchemist-leaf-node', '--out', out, '--identity-file', 'id_ed25519', '--option-paths', join(dir, 'paths.json')]);
    expect(r.status, r.stderr).toBe(0);
    const inv = parseInventory(readFileSync(out, 'utf8'), out);
    expect(inv.nodes[0]).toMatchObject({ name: 'leaf', host: 'alchemist-leaf-node' });
    expect(inv.nodes[0].ssh.identityFile).toBe(join(dir, 'id_ed25519'));
    expect(JSON.parse(readFileSync(join(dir, 'paths.json'), 'utf8'))['expectations.alchemist-leaf-node.firewall.open']).toBe('networking.firewall.allowedTCPPorts');
  });

  it('writes the inventory but warns when `run` would refuse it (a key file not created yet)', () => {
    const out = join(dir, 'later.yaml');
    const r = run(['plan', '--from-nix', fx('example.manifest.json'), '--out', out, '--identity-file', 'missing-key']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: `run` will refuse this inventory until this is fixed: .*missing-key/);
    expect(readFileSync(out, 'utf8')).toContain('identityFile: missing-key');
  });

  it('exit 2 with the field named on a bad manifest or a bad --node', () => {
    const r = run(['plan', '--from-nix', fx('bad/missing-firewall.json')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/missing-firewall\.json: host: missing field/);
    expect(run(['plan', '--from-nix', fx('example.manifest.json'), '--node', 'nohost']).status).toBe(2);
  });
});
