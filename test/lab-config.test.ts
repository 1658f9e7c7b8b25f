// Lab pieces that need no root: ids, config text, certificates, fault registry, expectations.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate, createPublicKey } from 'node:crypto';
import { labId } from '../src/lab/state.js';
import { nginxConf, sshdConfig } from '../src/lab/config.js';
import { ensureCa, issueCert, TLS_NAMES } from '../src/lab/pki.js';
import { PG_SETTINGS, pgHba, postgresqlConf, prometheusConfig, prometheusRules } from '../src/lab/services.js';
import { CONTAINERS } from '../src/lab/full.js';
import { allFaults } from '../src/lab/faults/index.js';
import { expectations } from '../src/lab/expect/index.js';
import type { LabInfo, LabNodeInfo } from '../src/lab/types.js';

describe('lab ids and config text', () => {
  it('derives a stable 6-hex id per state dir, different for different dirs', () => {
    expect(labId('/tmp/a')).toMatch(/^[0-9a-f]{6}$/);
    expect(labId('/tmp/a')).toBe(labId('/tmp/a/'));
    expect(labId('/tmp/a')).not.toBe(labId('/tmp/b'));
  });

  it('nginx: 301 on 80, TLS 1.2/1.3 only on 443, /health proxied to the app of the flavour', () => {
    const light = nginxConf({ flavour: 'light' });
    expect(light).toContain('ssl_protocols TLSv1.2 TLSv1.3;');
    expect(light).toContain('return 301 https://$host$request_uri;');
    expect(light).toContain('proxy_pass http://127.0.0.1:8080/health;');
    expect(nginxConf({ flavour: 'full' })).toContain('proxy_pass http://10.233.1.2:8080/health;');
    expect(nginxConf({ flavour: 'light', protocols: 'TLSv1 TLSv1.2' })).toContain('ssl_protocols TLSv1 TLSv1.2;');
  });

  it('sshd: key-only root login', () => {
    const c = sshdConfig();
    expect(c).toMatch(/^PasswordAuthentication no$/m);
    expect(c).toMatch(/^PermitRootLogin prohibit-password$/m);
    expect(c).toMatch(/^HostKey \/etc\/ssh\/ssh_host_ed25519_key$/m);
  });

  it('postgres: every tuning setting explicit, no trust in pg_hba', () => {
    const conf = postgresqlConf();
    for (const k of ['shared_buffers', 'effective_cache_size', 'maintenance_work_mem', 'work_mem', 'wal_buffers', 'max_wal_size',
      'min_wal_size', 'random_page_cost', 'effective_io_concurrency', 'max_worker_processes', 'max_parallel_workers'])
      expect(conf, k).toMatch(new RegExp(`^${k} = `, 'm'));
    expect(Object.keys(PG_SETTINGS).length).toBeGreaterThanOrEqual(11);
    const rules = pgHba().split('\n').filter((l) => l.trim() && !l.startsWith('#'));
    for (const r of rules) expect(r).not.toMatch(/\btrust\b/);
    expect(pgHba()).toMatch(/^host\s+all\s+all\s+127\.0\.0\.1\/32\s+scram-sha-256$/m);
  });

  it('prometheus scrapes every non-monitoring container and loads ExampleDown', () => {
    const cfg = prometheusConfig(CONTAINERS);
    for (const c of CONTAINERS.filter((x) => x.name !== 'monitoring')) expect(cfg).toContain(`'10.233.${c.n}.2:${c.ports[0]}'`);
    expect(prometheusRules()).toContain('alert: ExampleDown');
  });
});

describe('lab certificates', () => {
  const dir = mkdtempSync(join(tmpdir(), 'leafcert-pki-test-'));
  it('issues from the lab CA with SANs and chosen validity, self-signed and weak variants', async () => {
    try {
      await ensureCa(dir, 'test');
      const ca = new X509Certificate((await import('node:fs')).readFileSync(join(dir, 'ca.pem')));
      const ok = new X509Certificate((await issueCert(dir, { dns: TLS_NAMES, ips: ['10.250.1.2'] })).cert);
      expect(ok.subjectAltName).toBe('DNS:api.alchemist.local, DNS:monitoring.alchemist.local, IP Address:10.250.1.2');
      expect(ok.verify(ca.publicKey)).toBe(true);
      expect(ok.checkHost('api.alchemist.local')).toBe('api.alchemist.local');
      const past = new Date(Date.now() - 86400_000);
      const expired = new X509Certificate((await issueCert(dir, { dns: TLS_NAMES, ips: [], notBefore: new Date(Date.now() - 9 * 86400_000), notAfter: past })).cert);
      expect(new Date(expired.validTo).getTime()).toBeLessThan(Date.now());
      const self = new X509Certificate((await issueCert(dir, { dns: TLS_NAMES, ips: [], selfSigned: true })).cert);
      expect(self.verify(ca.publicKey)).toBe(false);
      expect(self.issuer).toBe(self.subject);
      const weak = await issueCert(dir, { dns: TLS_NAMES, ips: [], key: 'rsa1024' });
      expect(createPublicKey(weak.cert).asymmetricKeyDetails?.modulusLength).toBe(1024);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('lab fault registry and expectations', () => {
  const suites = ['firewall', 'tls', 'health', 'isolation', 'limits', 'postgres', 'secrets', 'backup', 'monitoring', 'audit', 'checklist', 'tuning', 'hardening'];
  it('names faults uniquely, by their area, each with the property and the checks that catch it', () => {
    const names = allFaults.map((f) => f.name);
    expect(new Set(names).size).toBe(names.length);
    for (const f of allFaults) {
      expect(suites, f.name).toContain(f.area);
      expect(f.name.startsWith(`${f.area}-`), f.name).toBe(true);
      expect(f.breaks.length, f.name).toBeGreaterThan(10);
      expect(f.catches.length, f.name).toBeGreaterThan(0);
      for (const c of f.catches) expect(c.startsWith(`${f.area}.`) || c.includes('.'), `${f.name} ${c}`).toBe(true);
    }
    for (const area of ['firewall', 'tls', 'health']) expect(allFaults.some((f) => f.area === area), area).toBe(true);
  });

  it('writes firewall, tls and health expectations for a node', () => {
    const node: LabNodeInfo = { name: 'leaf-1', address: '10.250.7.2', netns: 'lc-x-1', initPid: 1, flavour: 'light', firewall: 'iptables', containers: [], nodeDir: '/x' };
    const lab: LabInfo = { state: '/s', inventory: '/s/inventory.yaml', identityFile: '/s/id_ed25519', knownHosts: '/s/known_hosts', caCert: '/s/ca.pem', nodes: [node] };
    expect(expectations.firewall!(node, lab)).toMatchObject({ open: [22, 80, 443], closed: [5432, 6379, 4222, 8080, 3000, 9090] });
    expect(expectations.tls!(node, lab)).toContainEqual({ endpoint: 'api.alchemist.local:443', connect: '10.250.7.2', ca: '/s/ca.pem', minDaysLeft: 21, minProtocol: 'TLSv1.2', hsts: { minMaxAge: 63072000, includeSubDomains: true, always: true } });
    expect(expectations.health!(node, lab)).toContainEqual(expect.objectContaining({ url: 'https://api.alchemist.local/health', status: 200, json: { status: 'ok' }, maxMs: 500 }));
  });
});
