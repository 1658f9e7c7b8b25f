// check-config on NixOS configurations of the deployment written independently from its guide, each
// in its own style (fixtures/nix/independent/<name>/: modules evaluated by the miniature module
// system, fixtures/nix/mini-nixos.nix). The checked-in manifests are what lib.manifest makes of
// them (checkout path written as /src/leafcert); the verdicts are pinned: every flaw the author
// left in is flagged, a faithful hardened configuration has no finding, and plan --from-nix
// writes a loadable inventory for each.
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadManifest, parseManifest, type Manifest } from '../src/nix/manifest.js';
import { evaluateManifest } from '../src/nix/policy.js';
import { planInventory } from '../src/nix/plan.js';
import { parseInventory } from '../src/inventory/load.js';
import type { Outcome, Suite } from '../src/core/types.js';
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
import { unissuable } from '../suites/config/certs.js';
import { evalManifest, nixInstantiate, repoRoot, skipReason } from './helpers/nix.js';

const dir = join(repoRoot, 'fixtures/nix/independent');
const manifest = (name: string): Manifest => loadManifest(join(dir, `${name}.manifest.json`));
const normalize = (v: unknown) => JSON.parse(JSON.stringify(v).split(repoRoot).join('/src/leafcert'));
const failing = (os: Outcome[]) => {
  const by: Record<string, string[]> = {};
  for (const o of os.filter((x) => x.status === 'fail')) (by[o.id] ??= []).push(o.subject);
  for (const k of Object.keys(by)) by[k].sort();
  return by;
};
const ctrs = (...names: string[]) => names.map((n) => `container ${n}`);

// Per configuration: the findings expected (the author's flaws, the guide's flaws it copies).
const EXPECTED: Record<string, Record<string, string[]>> = {
  // The guide's snippets pasted into files wired with imports.
  'guide-split': {
    'config.audit-rules': ['audit'],
    'config.backup-db-dump': ['container alchemist: postgresql'],
    'config.backup-encryption': ['borg job alchemist'],
    'config.backup-offsite': ['borg job alchemist'],
    'config.backup-paths': ['borg job alchemist'],
    'config.container-cap-sys-admin': ctrs('alchemist', 'alchemist-agent', 'alchemist-graph', 'alchemist-workflow'),
    'config.container-limits': ctrs('alchemist', 'alchemist-agent', 'alchemist-graph', 'alchemist-workflow'),
    'config.container-port-reach': ['container alchemist tcp/4222'],
    'config.container-private-users': ctrs('alchemist', 'alchemist-agent', 'alchemist-graph', 'alchemist-workflow'),
    'config.hsts': ['nginx api.alchemist.com'],
    'config.port-unserved': ['tcp/3000', 'tcp/8080'],
    'config.secret-owner': ['anthropic-api-key', 'jwt-secret', 'openai-api-key', 'postgres-password'].map((s) => `age.secrets.${s} group alchemist`),
    'config.state-version': ctrs('alchemist', 'alchemist-agent', 'alchemist-graph', 'alchemist-workflow').map((c) => `${c}: system.stateVersion`).sort(),
    'config.trusted-bridge': ['trusted br-alchemist'],
    'config.vhost-serves': ['nginx api.alchemist.com'],
  },
  // mkForce/mkDefault, nftables, per-interface ports and ranges, credentials: nothing to find.
  'hardened-nft': {},
  // The guide's bridge topology done carefully (hostBridge, per-interface exporter port, HSTS at
  // http level, Prometheus scraping the host and the domains, alert rules): nothing to find.
  'bridge-hardened': {},
  'containers-binds': {
    'config.container-cap-sys-admin': ['container agent'],
    'config.container-port-reach': ['container api tcp/8443'],
    'config.container-private-users': ['container agent'],
    // The env file is bind-mounted from /run/agenix (root 0400) into a container with its own UID
    // range: bind mounts are not idmapped, so the unit cannot read it (nixos-facts §11).
    'config.secret-reach': ['container api: alchemist-api.service EnvironmentFile /run/secrets/api/env'],
    // LISTEN_ADDR=0.0.0.0 where the forward of 8443 leads (by design: reachable wildcard binds fail).
    'config.wildcard-bind': ['container api: alchemist-api.service LISTEN_ADDR'],
  },
  'host-services': {
    'config.backup-encryption': ['borg job etc'],
    'config.pg-trust': ['postgresql'],
  },
  'nginx-vhosts': {
    // old.alchemist.example is served with certificate alchemist.example, which does not name it.
    'config.cert-names': ['nginx old.alchemist.example certificate'],
    'config.hsts': ['nginx alchemist.example'],
    'config.secret-in-store': ['nginx status.alchemist.example basicAuth ops'],
  },
  'odd-shapes': {
    'config.container-limits': ['container worker'],
    'config.container-private-users': ['container gateway'],
    'config.dnat-bypass': ['DNAT 9000 → 10.77.0.3:9000'],
    'config.secret-in-store': ['container worker: worker.service EnvironmentFile in the store'],
    'config.wildcard-bind': ['qdrant-grpc:6334', 'qdrant:6333'],
  },
};
const NAMES = Object.keys(EXPECTED);

describe.skipIf(!nixInstantiate)(`independent configurations evaluate to their manifests${nixInstantiate ? '' : ` (skipped: ${skipReason})`}`, () => {
  for (const name of NAMES) {
    it(name, () => {
      const got = normalize(evalManifest(`import ./fixtures/nix/independent/${name}`));
      expect(got).toEqual(JSON.parse(readFileSync(join(dir, `${name}.manifest.json`), 'utf8')));
      expect(() => parseManifest(got, name)).not.toThrow();
    });
  }
});

describe('check-config on independently written configurations', () => {
  for (const name of NAMES) {
    it(`${name}: exactly the expected findings`, () => {
      expect(failing(evaluateManifest(manifest(name), name))).toEqual(EXPECTED[name]);
    });
  }

  it('every finding names an option path and a fix, never a stack trace', () => {
    for (const name of NAMES) {
      for (const o of evaluateManifest(manifest(name), name).filter((x) => x.status === 'fail')) {
        expect(o.evidence.optionPath, `${name} ${o.id}`).toMatch(/^[A-Za-z"]/);
        expect(o.message, `${name} ${o.id}`).not.toMatch(/\bat \S+ \(|TypeError|undefined/);
      }
    }
  });

  it('bind-mounted data is backed up at its host path; a config-only job beside a data job is fine', () => {
    const c = evaluateManifest(manifest('containers-binds'), 'c').find((o) => o.id === 'config.backup-paths')!;
    expect(c.status).toBe('pass');
    const h = evaluateManifest(manifest('host-services'), 'h').filter((o) => o.id === 'config.backup-paths');
    expect(h.map((o) => o.status)).toEqual(['pass', 'pass']);
    expect(h.find((o) => o.subject === 'borg job etc')!.message).toMatch(/declared state is in job\(s\) state/);
  });

  it('LoadCredential ID:NAME takes the credential the container was given', () => {
    const out = evaluateManifest(manifest('hardened-nft'), 'b').filter((o) => o.id === 'config.secret-reach');
    expect(out.map((o) => [o.subject, o.status])).toEqual([['container alchemist: alchemist.service LoadCredential alchemist-env', 'pass']]);
    const m = manifest('hardened-nft');
    m.containers[0].extraFlags = [];
    const bad = evaluateManifest(m, 'b').filter((o) => o.id === 'config.secret-reach' && o.status === 'fail');
    expect(bad[0].message).toMatch(/loads credential alchemist-env, but the container is given no such credential/);
  });

  it('a vhost listening on its own TLS port serves that port; a per-interface range is judged like a port', () => {
    const out = evaluateManifest(manifest('nginx-vhosts'), 'e').find((o) => o.id === 'config.port-unserved' && o.subject === 'tcp/8443')!;
    expect(out).toMatchObject({ status: 'pass', message: 'tcp/8443 is opened for nginx admin.alchemist.internal' });
    const b = evaluateManifest(manifest('hardened-nft'), 'b').find((o) => o.subject === 'tcp/9100')!;
    expect(b.evidence.optionPath).toBe('networking.firewall.interfaces.wg-mgmt.allowedTCPPortRanges');
  });

  it('NAT forwardPorts with a port range and no destination port need those ports open in the container', () => {
    const m = manifest('odd-shapes');
    const reach = evaluateManifest(m, 'f').filter((o) => o.id === 'config.container-port-reach');
    expect(reach.map((o) => o.subject).sort()).toContain('container gateway tcp/8005');
    m.containers.find((c) => c.name === 'gateway')!.config.firewall.allowedTCPPorts = [8080];
    const bad = evaluateManifest(m, 'f').filter((o) => o.id === 'config.container-port-reach' && o.status === 'fail');
    expect(bad).toHaveLength(11);
  });

  it('machine.slice holds the containers that set no Slice: its memory limit covers them', () => {
    const m = manifest('odd-shapes');
    m.host.slices.push({ name: 'machine', path: 'systemd.slices.machine', sliceConfig: { MemoryMax: '20G' }, usedBy: [] });
    const out = evaluateManifest(m, 'f');
    expect(out.find((o) => o.id === 'config.container-limits' && o.subject === 'container worker')!.status).toBe('pass');
    expect(out.find((o) => o.id === 'config.unused-slice' && o.subject === 'machine.slice')).toMatchObject({ status: 'pass', message: expect.stringMatching(/holds container@worker/) });
  });

  it('a container in a sub-slice is bounded by the limits of the slice it nests in (a-b.slice under a.slice)', () => {
    const m = manifest('odd-shapes');
    const w = m.containers.find((c) => c.name === 'worker')!;
    w.unit.serviceConfig = { Slice: 'apps-domains.slice' };
    m.host.slices.push({ name: 'apps-domains', path: 'systemd.slices.apps-domains', sliceConfig: { CPUQuota: '200%' }, usedBy: [] });
    const verdict = () => evaluateManifest(m, 'f').find((o) => o.id === 'config.container-limits' && o.subject === 'container worker')!;
    expect(verdict().status).toBe('fail');
    m.host.slices.push({ name: 'apps', path: 'systemd.slices.apps', sliceConfig: { MemoryMax: '12G' }, usedBy: [] });
    expect(verdict()).toMatchObject({ status: 'pass', message: expect.stringMatching(/apps\.slice/) });
  });

  it('secret owners: users every NixOS has and users enabled modules create are declared', () => {
    const m = manifest('host-services');
    m.host.secretFiles.push({ ...m.host.secretFiles[0], name: 'x', path: 'sops.secrets.x', owner: 'systemd-network', group: 'sshd' });
    const out = evaluateManifest(m, 'h').filter((o) => o.id === 'config.secret-owner');
    expect(out.filter((o) => o.status === 'fail')).toEqual([]);
  });

  it('valid odd shapes: specifier paths in LoadCredential, UDP forwards, numeric limits, nullable env — no crash, no false finding', () => {
    const m = manifest('odd-shapes');
    const w = m.containers.find((c) => c.name === 'worker')!;
    const u = w.config.units[0];
    Object.assign(u.serviceConfig, { LoadCredential: ['a:%d/x'], MemoryMax: 8589934592, StateDirectory: ['worker', 'worker-cache'], EnvironmentFile: null });
    u.environment.OPTIONAL = null;
    w.forwardPorts = [{ protocol: 'udp', hostPort: 5353, containerPort: 53 }];
    m.host.borg[0].startAt = ['*-*-* 03:00:00', 'Mon 04:00'];
    const out = evaluateManifest(m, 'f');
    expect(out.filter((o) => o.status === 'fail' && /secret-reach|port-reach/.test(o.id))).toEqual([]);
    expect(() => planInventory(m, { manifestFile: 'm.json', suiteKeys: ['config', 'secrets', 'backup', 'containers', 'firewall'] })).not.toThrow();
  });

  it('a root-only secret bind-mounted into a user-namespaced container is unreadable there; without userns it reaches', () => {
    const m = manifest('containers-binds');
    const api = m.containers.find((c) => c.name === 'api')!;
    expect(evaluateManifest(m, 'c').find((o) => o.id === 'config.secret-reach')!.message).toMatch(/bind mounts are not idmapped.*--load-credential=NAME:\/run\/agenix\/api\/env/);
    api.privateUsers = 'no';
    expect(evaluateManifest(m, 'c').find((o) => o.id === 'config.secret-reach')!.status).toBe('pass');
    api.privateUsers = 'pick';
    m.host.secretFiles.push({ name: 'api', path: 'age.secrets.api', provider: 'agenix', file: null, target: '/run/agenix/api', owner: '0', group: '0', mode: '0444' });
    expect(evaluateManifest(m, 'c').find((o) => o.id === 'config.secret-reach')!.status).toBe('pass');
  });

  it('nginx protocols below TLS 1.2 are a finding, and are not planned as the live floor', () => {
    const m = manifest('bridge-hardened');
    m.host.nginx.sslProtocols = 'TLSv1 TLSv1.1 TLSv1.2';
    m.host.nginx.virtualHosts[0].extraConfig = 'ssl_protocols TLSv1.2 TLSv1.3;';
    const bad = evaluateManifest(m, 'g').filter((o) => o.status === 'fail');
    expect(bad.map((o) => [o.id, o.evidence.optionPath])).toEqual([['config.tls-protocols', 'services.nginx.sslProtocols']]);
    const tls = (planInventory(m, { manifestFile: 'm.json', suiteKeys: ['tls'] }).inventory as any).expectations['leaf-bridge-1'].tls;
    expect(tls[0].minProtocol).toBeUndefined();
    m.host.nginx.sslProtocols = 'TLSv1.3';
    expect((planInventory(m, { manifestFile: 'm.json', suiteKeys: ['tls'] }).inventory as any).expectations['leaf-bridge-1'].tls[0].minProtocol).toBe('TLSv1.3');
  });

  it('extraCommands with the nftables backend is an evaluation failure (NixOS asserts it), also from a stub evaluation', () => {
    const m = manifest('hardened-nft');
    m.host.firewall.extraCommands = 'iptables -t nat -A PREROUTING -p tcp --dport 8080 -j DNAT --to-destination 10.231.0.2:8080';
    const bad = evaluateManifest(m, 'b').filter((o) => o.status === 'fail' && o.id === 'config.evaluates');
    expect(bad.map((o) => o.evidence.optionPath)).toEqual(['networking.firewall.extraCommands']);
  });

  it('a wide TCP port range is one finding, naming what is served inside it', () => {
    const m = manifest('bridge-hardened');
    m.host.firewall.allowedTCPPortRanges = [{ from: 1, to: 65535 }];
    const bad = evaluateManifest(m, 'g').filter((o) => o.status === 'fail');
    expect(bad.map((o) => [o.id, o.subject])).toEqual([['config.port-unserved', 'tcp/1-65535']]);
    expect(bad[0].message).toMatch(/opens 65535 TCP ports .*only 22 \(sshd\), 80 \(nginx\), 443 \(nginx\), 9100 \(prometheus-node-exporter\)/);
  });

  it('a reversed port range is a finding (iptables would open the span between, nftables refuse the ruleset)', () => {
    const m = manifest('bridge-hardened');
    m.host.firewall.allowedTCPPortRanges = [{ from: 9000, to: 900 }];
    const bad = evaluateManifest(m, 'g').filter((o) => o.status === 'fail');
    expect(bad.map((o) => [o.id, o.subject])).toEqual([['config.port-unserved', 'tcp/9000-900']]);
    expect(bad[0].message).toMatch(/reversed range .* opens 900-9000 \(8101 ports\)/);
  });

  it('a password inside a URL in a unit environment is a secret in the store (fingerprinted); variables are not', () => {
    const m = manifest('bridge-hardened');
    const env = m.containers.find((c) => c.name === 'alchemist')!.config.units[0].environment;
    env.DATABASE_URL = 'postgres://alchemist:${DB_PASSWORD}@10.233.1.2/alchemist';
    expect(evaluateManifest(m, 'g').filter((o) => o.status === 'fail')).toEqual([]);
    env.DATABASE_URL = 'postgres://alchemist:S3cr3tPassw0rd@10.233.1.2/alchemist';
    const bad = evaluateManifest(m, 'g').filter((o) => o.status === 'fail');
    expect(bad.map((o) => [o.id, o.evidence.optionPath])).toEqual([['config.secret-in-store', 'containers.alchemist.config.systemd.services.alchemist.environment']]);
    expect(JSON.stringify(bad)).not.toContain('S3cr3tPassw0rd');
  });

  it("ACME from Let's Encrypt (the default) for a .local/.internal name never issues; a private ACME server can", () => {
    const m = manifest('nginx-vhosts');
    const status = m.host.nginx.virtualHosts.find((v) => v.name === 'status.alchemist.example')!;
    Object.assign(status, { name: 'monitoring.alchemist.local', serverName: null, serverAliases: [], enableACME: true, useACMEHost: null });
    const verdict = () => evaluateManifest(m, 'e').find((o) => o.id === 'config.cert-names' && o.subject === 'nginx monitoring.alchemist.local certificate')!;
    expect(verdict()).toMatchObject({ status: 'fail', message: expect.stringMatching(/Let's Encrypt .* never issues monitoring\.alchemist\.local/) });
    m.host.acme!.defaultServer = 'https://ca.alchemist.internal/acme/acme/directory';
    expect(verdict().status).toBe('pass');
    expect(unissuable(['api.alchemist.com', '*.alchemist.com', 'grafana.internal', 'db', 'nas.home.arpa'], null)).toEqual(['grafana.internal', 'db', 'nas.home.arpa']);
    expect(unissuable(['x.local'], 'https://acme-v02.api.letsencrypt.org/directory')).toEqual(['x.local']);
  });

  it('useACMEHost: the shared certificate must exist and name the host (enableACME hosts give their own names)', () => {
    const out = evaluateManifest(manifest('nginx-vhosts'), 'e').filter((o) => o.id === 'config.cert-names');
    expect(out.map((o) => [o.subject, o.status]).sort()).toEqual([
      ['nginx alchemist.example certificate', 'pass'], ['nginx old.alchemist.example certificate', 'fail'], ['nginx status.alchemist.example certificate', 'pass'],
    ]);
    expect(out.find((o) => o.status === 'fail')!.message).toMatch(/names alchemist\.example, www\.alchemist\.example, status\.alchemist\.example but not old\.alchemist\.example.*security\.acme\.certs\."alchemist\.example"\.extraDomainNames/);
    const m = manifest('nginx-vhosts');
    const api = m.host.nginx.virtualHosts.find((v) => v.name === 'alchemist.example')!;
    Object.assign(api, { enableACME: false, useACMEHost: 'wild' });
    m.host.acme!.certs = [{ name: 'wild', path: 'security.acme.certs.wild', domain: '*.alchemist.example', extraDomainNames: ['alchemist.example'] }];
    const again = evaluateManifest(m, 'e').filter((o) => o.id === 'config.cert-names');
    expect(again.find((o) => o.subject === 'nginx alchemist.example certificate')!.status).toBe('pass');
    expect(again.find((o) => o.subject === 'nginx status.alchemist.example certificate')!.message).toMatch(/no certificate of that name is declared/);
    delete (m.host as { acme?: unknown }).acme;
    expect(() => evaluateManifest(m, 'e')).not.toThrow();
  });

  it("host-services' API comes from its own module (options + config = mkIf cfg.enable): the unit is there with the option defaults", () => {
    const u = manifest('host-services').host.units.find((x) => x.name === 'alchemist')!;
    expect(u.environment.ALCHEMIST_BIND).toBe('127.0.0.1:8080');
    expect(u.serviceConfig).toMatchObject({ MemoryMax: '3G', LoadCredential: ['jwt:/var/lib/alchemist-secrets/jwt', 'db:/run/agenix/pg-alchemist'] });
  });

  it('PostgreSQL lines dropped by a higher-priority mkOverride are not held against it', () => {
    const pg = manifest('odd-shapes').containers.find((c) => c.name === 'worker')!.config.postgresql;
    expect(pg.authentication).not.toMatch(/trust/);
    expect(evaluateManifest(manifest('host-services'), 'h').find((o) => o.id === 'config.pg-trust')!.message).toMatch(/connects as replicator \(databases: replication\)/);
  });
});

describe('plan --from-nix on independently written configurations', () => {
  const all: Suite<any, any>[] = [firewallSuite, tlsSuite, healthSuite, isolationSuite, limitsSuite, postgresSuite, backupSuite, monitoringSuite, secretsSuite, auditSuite, checklistSuite, configSuite];
  const plan = (name: string) => planInventory(manifest(name), {
    manifestFile: join(dir, `${name}.manifest.json`),
    outFile: join(dir, 'inventory.yaml'),
    ca: 'ca.pem',
    suiteKeys: all.map((s) => s.key),
  });

  for (const name of NAMES) {
    it(`${name}: the inventory loads with every suite's schema`, () => {
      const p = plan(name);
      expect(() => parseInventory(p.yaml, join(dir, 'inventory.yaml'), { suites: all })).not.toThrow();
    });
  }

  it('an optional EnvironmentFile (-PATH) is planned optional: a node without it is not a finding', () => {
    const files = (plan('host-services').inventory as any).expectations;
    const all = Object.values(files).flatMap((e: any) => e.secrets?.files ?? []);
    expect(all.find((f: any) => f.path === '/etc/alchemist/overrides.env')).toMatchObject({ optional: true });
    expect(all.filter((f: any) => f.optional).map((f: any) => f.path)).toEqual(['/etc/alchemist/overrides.env']);
  });

  it("a host unit's LoadCredential sources are planned as secret files", () => {
    const all = Object.values((plan('host-services').inventory as any).expectations).flatMap((e: any) => e.secrets?.files ?? []);
    expect(all.map((f: any) => f.path)).toEqual(expect.arrayContaining(['/var/lib/alchemist-secrets/jwt', '/run/agenix/pg-alchemist']));
    expect(all.find((f: any) => f.path === '/var/lib/alchemist-secrets/jwt')).toMatchObject({ format: 'raw' });
  });

  it('with several borg jobs, the one that backs up the database is planned (not the first by name)', () => {
    const p = plan('host-services');
    const e = Object.values((p.inventory as any).expectations).find((x: any) => x.backup) as any;
    expect(e.backup).toMatchObject({ job: 'state', maxAge: '2h' });
    expect(Object.entries(p.optionPaths).find(([k]) => k.endsWith('.backup.job'))?.[1]).toMatch(/\(of 2 jobs: it backs up the database\)$/);
  });

  it('a TLS vhost with its own listen entries is planned on its port', () => {
    const e = (plan('nginx-vhosts').inventory as any).expectations['edge-1'];
    expect(e.tls.map((t: any) => t.endpoint)).toContain('admin.alchemist.internal:8443');
    expect(plan('nginx-vhosts').optionPaths['expectations.edge-1.tls.0.endpoint']).toBe('services.nginx.virtualHosts."admin.alchemist.internal".listen');
  });

  it('sshd opened by openFirewall (as NixOS does) is planned open, not closed', () => {
    const e = (plan('guide-split').inventory as any).expectations['alchemist-leaf-node'];
    expect(e.firewall.open).toContain(22);
    expect(e.firewall.closed ?? []).not.toContain(22);
  });

  it('ports the host forwards (NAT source range, container forwardPorts) are not planned closed', () => {
    const e = (plan('odd-shapes').inventory as any).expectations['odd-1'];
    expect(e.firewall.closed).toEqual([5432, 6333, 6334, 8080, 9000]);
    const c = (plan('containers-binds').inventory as any).expectations['leaf-fra-1'];
    expect(c.firewall.closed).not.toContain(8443);
  });

  it("a container unit's credential under /run/credentials/@system is the container's --load-credential source, never a file under its root", () => {
    const m = manifest('odd-shapes');
    const files = (mm: Manifest) => ((planInventory(mm, { manifestFile: 'm.json', suiteKeys: ['secrets'] }).inventory as any).expectations['odd-1'].secrets?.files ?? []).map((f: any) => f.path);
    expect(files(m).filter((p: string) => p.includes('credentials'))).toEqual([]);
    m.containers.find((c) => c.name === 'worker')!.extraFlags = ['--load-credential=token:/run/agenix/worker-token'];
    expect(files(m)).toContain('/run/agenix/worker-token');
  });

  it('secrets of container units: bind mounts with hostPath and ID:NAME credentials resolve to the host file', () => {
    const files = (name: string, host: string) => (plan(name).inventory as any).expectations[host].secrets.files.map((f: any) => f.path);
    expect(files('containers-binds', 'leaf-fra-1')).toContain('/run/agenix/api/env');
    expect(files('hardened-nft', 'leaf-ams-2')).toContain('/run/agenix/alchemist-env');
  });
});
