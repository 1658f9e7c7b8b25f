// Issue 9: the static gate on the deployment as its guide writes it (fixtures/nix/guide-as-written.nix,
// nixpkgs defaults where the guide is silent) and as a careful operator hardens it
// (guide-hardened.nix). Every flaw class the guide's configuration contains is flagged with its
// option path and no false finding; the hardened one passes (exit 0); each new check fails on a
// single flaw planted into the hardened manifest, and on that check only.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadManifest, parseManifest, type Manifest } from '../src/nix/manifest.js';
import { dnatRules, evaluateManifest } from '../src/nix/policy.js';
import { shellCommands } from '../suites/config/shell.js';
import type { Outcome } from '../src/core/types.js';
import { evalManifest, nixInstantiate, skipReason } from './helpers/nix.js';

const root = join(import.meta.dirname, '..');
const fx = (name: string) => join(root, 'fixtures/nix', name);
const asWritten = () => loadManifest(fx('guide-as-written.manifest.json'));
const hardened = () => loadManifest(fx('guide-hardened.manifest.json'));
const failing = (os: Outcome[], id?: string) => os.filter((o) => o.status === 'fail' && (!id || o.id === id));
const ids = (os: Outcome[]) => [...new Set(failing(os).map((o) => o.id))].sort();
const ctr = (m: Manifest, name: string) => m.containers.find((c) => c.name === name)!;

describe('the deployment as the guide writes it', () => {
  const out = evaluateManifest(asWritten(), 'guide-as-written');

  it('flags every flaw class it contains, and nothing else', () => {
    expect(ids(out)).toEqual([
      'config.alert-rules', 'config.audit-rules', 'config.backup-db-dump', 'config.backup-encryption', 'config.backup-offsite',
      'config.backup-paths', 'config.container-cap-sys-admin', 'config.container-limits', 'config.container-port-reach',
      'config.container-private-users', 'config.evaluates', 'config.hsts', 'config.port-unserved', 'config.secret-in-store',
      'config.secret-owner', 'config.secret-reach', 'config.state-version', 'config.trusted-bridge', 'config.vhost-serves',
    ]);
  });

  it('names the option to change for each new flaw', () => {
    const at = (id: string) => failing(out, id).map((o) => o.evidence.optionPath);
    expect(at('config.hsts')).toEqual(['services.nginx.virtualHosts."api.alchemist.com".extraConfig']);
    expect(at('config.vhost-serves')).toEqual(['services.nginx.virtualHosts."api.alchemist.com".locations']);
    expect(at('config.secret-reach')).toEqual(['containers.alchemist.config.systemd.services.alchemist.serviceConfig.EnvironmentFile']);
    expect(at('config.secret-owner').sort()).toEqual(['anthropic-api-key', 'jwt-secret', 'openai-api-key', 'postgres-password'].map((s) => `age.secrets.${s}.group`));
    expect(at('config.backup-db-dump')).toEqual(['containers.alchemist.config.services.postgresqlBackup']);
    expect(at('config.backup-offsite')).toEqual(['services.borgbackup.jobs.alchemist.repo']);
    expect(at('config.backup-encryption')).toEqual(['services.borgbackup.jobs.alchemist.encryption.mode']);
    expect(at('config.state-version')).toHaveLength(6);
    expect(at('config.state-version')).toContain('containers.monitoring.config.system.stateVersion');
    expect(at('config.container-limits')).toContain('systemd.services."container@alchemist".serviceConfig.MemoryMax');
    expect(failing(out, 'config.container-limits').find((o) => o.subject === 'container alchemist')!.message).toMatch(/only units inside it are limited \(alchemist\)/);
    expect(at('config.container-port-reach')).toEqual(['containers.alchemist.config.networking.firewall.allowedTCPPorts']);
    expect(failing(out, 'config.container-port-reach')[0].message).toMatch(/NATS_URL.*port 4222/);
    expect(at('config.trusted-bridge')).toEqual(['networking.firewall.trustedInterfaces']);
    expect(at('config.alert-rules')).toEqual(['containers.monitoring.config.services.prometheus.rules']);
    expect(at('config.evaluates').sort()).toEqual(['containers.monitoring.config.services.grafana.settings.security.secret_key', 'services.borgbackup.jobs.alchemist.encryption.mode']);
    expect(failing(out, 'config.backup-paths')[0].message).toMatch(/\/var\/lib\/nixos-containers\/alchemist\/var\/lib\/alchemist/);
  });

  it('no false finding: wildcard binds nothing reaches, NixOS\'s own NAT shell, nginx/sshd', () => {
    expect(failing(out, 'config.wildcard-bind')).toEqual([]);
    const prom = out.find((o) => o.id === 'config.wildcard-bind' && o.subject === 'container monitoring: prometheus:9090')!;
    expect(prom.status).toBe('pass');
    expect(prom.message).toMatch(/nothing reaches that port/);
    expect(failing(out, 'config.dnat-bypass')).toEqual([]);
    expect(failing(out, 'config.unused-bridge')).toEqual([]);
  });
});

describe('the hardened deployment', () => {
  it('passes every check that has something to judge', () => {
    const out = evaluateManifest(hardened(), 'guide-hardened');
    expect(failing(out)).toEqual([]);
    expect(out.filter((o) => o.status === 'skipped').map((o) => o.id).sort()).toEqual(['config.apparmor-policies', 'config.unused-slice']);
  });

  // One flaw at a time: the check named fails, and no other.
  const plant: [string, string, (m: Manifest) => void][] = [
    ['config.hsts', 'no header', (m) => { m.host.nginx.virtualHosts[0].extraConfig = ''; }],
    ['config.hsts', 'a location with its own add_header drops it', (m) => { m.host.nginx.virtualHosts[0].locations[0].extraConfig = 'add_header X-Frame-Options DENY;'; }],
    ['config.vhost-serves', 'no location', (m) => { m.host.nginx.virtualHosts[0].locations = []; }],
    ['config.secret-reach', 'credential never given to the container', (m) => { ctr(m, 'alchemist').extraFlags = ctr(m, 'alchemist').extraFlags.filter((f) => !f.includes('jwt-secret')); }],
    ['config.secret-reach', 'host path as EnvironmentFile', (m) => { ctr(m, 'alchemist').config.units.find((u) => u.name === 'alchemist')!.serviceConfig.EnvironmentFile = '/run/agenix/openai-api-key'; }],
    ['config.secret-owner', 'group not declared', (m) => { m.host.users.groups = m.host.users.groups.filter((g) => g !== 'alchemist'); }],
    ['config.backup-db-dump', 'no postgresqlBackup', (m) => { ctr(m, 'alchemist').config.postgresqlBackup.enable = false; m.host.borg[0].paths!.push('/var/lib/nixos-containers/alchemist/var/lib/postgresql/17'); }],
    ['config.backup-offsite', 'local repository', (m) => { m.host.borg[0].repo = '/backup/alchemist'; }],
    ['config.backup-encryption', 'mode none', (m) => { m.host.borg[0].encryption.mode = 'none'; }],
    ['config.backup-encryption', 'authenticated only', (m) => { m.host.borg[0].encryption.mode = 'authenticated-blake2'; }],
    ['config.backup-paths', 'host-only paths', (m) => { m.host.borg[0].paths = ['/srv/alchemist-backup']; }],
    ['config.backup-paths', 'PostgreSQL dump left out', (m) => { m.host.borg[0].paths = m.host.borg[0].paths!.filter((p) => !p.includes('postgresql')); }],
    ['config.state-version', 'container without stateVersion', (m) => { ctr(m, 'alchemist-agent').config.system.stateVersionExplicit = false; }],
    ['config.secret-in-store', 'API keys in a /etc JSON file written with builtins.toJSON', (m) => { ctr(m, 'alchemist').config.etc.push({ name: 'alchemist/config.json', path: 'containers.alchemist.config.environment.etc."alchemist/config.json"', enable: true, mode: '0440', user: 'root', group: 'root', text: JSON.stringify({ providers: { openai: { apiKey: 'sk-proj-0123456789abcdef' } }, auth: { jwtSecretFile: '/run/agenix/jwt', tokenTtl: '3600' } }) }); }],
    ['config.hsts', 'addSSL: the API served over plain HTTP too', (m) => { Object.assign(m.host.nginx.virtualHosts[0], { forceSSL: false, onlySSL: false, addSSL: true }); }],
    ['config.dnat-bypass', 'PostgreSQL published by the container\'s forwardPorts', (m) => { ctr(m, 'alchemist').forwardPorts = [{ protocol: 'tcp', hostPort: 5432, containerPort: null }]; ctr(m, 'alchemist').config.firewall.allowedTCPPorts.push(5432); }],
    ['config.dnat-bypass', 'Redis published by networking.nat.forwardPorts', (m) => { Object.assign(m.host.networking.nat, { enable: true, forwardPorts: [{ sourcePort: 16379, proto: 'tcp', destination: `${ctr(m, 'alchemist').localAddress}:6379` }] }); }],
    ['config.container-limits', 'container@NAME unlimited', (m) => { ctr(m, 'alchemist').unit.serviceConfig = { Slice: 'machine.slice' }; }],
    ['config.container-port-reach', 'inner firewall closes NATS', (m) => { ctr(m, 'alchemist').config.firewall.allowedTCPPorts = [8080]; }],
    ['config.container-port-reach', 'Prometheus target blocked', (m) => { ctr(m, 'alchemist-graph').config.firewall.allowedTCPPorts = []; }],
    ['config.trusted-bridge', 'bridge trusted', (m) => { m.host.firewall.trustedInterfaces.push('br-alchemist'); }],
    ['config.alert-rules', 'no rules', (m) => { ctr(m, 'monitoring').config.prometheus.rules = []; }],
    ['config.alert-rules', 'no Alertmanager', (m) => { ctr(m, 'monitoring').config.prometheus.alertmanagers = []; }],
    ['config.evaluates', 'failed assertion', (m) => { m.host.evaluation.problems.push({ path: 'services.grafana.settings.security.secret_key', message: 'assertion fails: set it' }); }],
    ['config.wildcard-bind', 'NATS on every address with 4222 open', (m) => { ctr(m, 'alchemist').config.listeners.find((l) => l.service === 'nats')!.address = '0.0.0.0'; }],
    ['config.dnat-bypass', 'DNAT inside a called function, over continued lines', (m) => { m.host.firewall.extraCommands += '\nexpose() {\n  iptables -t nat -A PREROUTING -p tcp \\\n    --dport 8080 -j DNAT --to-destination 10.233.1.2:8080\n}\nexpose\n'; }],
  ];
  it.each(plant)('%s fails on: %s', (id, _what, mutate) => {
    const m = hardened();
    mutate(m);
    const out = evaluateManifest(m, 'x');
    expect(ids(out), id).toEqual([id]);
    for (const o of failing(out)) expect(o.evidence.optionPath, o.subject).toBeTruthy();
  });

  it('a /etc JSON file that only points at secrets (paths, $VARS) holds none', () => {
    const m = hardened();
    ctr(m, 'alchemist').config.etc.push({ name: 'a.json', path: 'environment.etc."a.json"', enable: true, mode: '0444', user: 'root', group: 'root', text: JSON.stringify({ apiKeyFile: '/run/agenix/k', apiKey: '$API_KEY', secretPath: '/run/x' }) });
    expect(failing(evaluateManifest(m, 'x'))).toEqual([]);
  });

  it('users NixOS modules declare count as declared; a br-* bridge trusted before it is declared is still a container bridge', () => {
    const m = hardened();
    m.host.users.users = [];
    m.host.users.groups = ['alchemist'];
    m.host.secretFiles.push({ name: 'tls', path: 'age.secrets.tls', provider: 'agenix', file: null, target: '/run/agenix/tls', owner: 'nginx', group: 'acme', mode: '0440' });
    expect(failing(evaluateManifest(m, 'x'))).toEqual([]);
    m.host.networking.bridges = [];
    m.host.firewall.trustedInterfaces.push('br-containers');
    expect(failing(evaluateManifest(m, 'x')).map((o) => `${o.id} ${o.subject}`)).toEqual(['config.trusted-bridge trusted br-containers']);
  });

  it('a secret file created inside the container (a unit\'s RuntimeDirectory or StateDirectory) is there', () => {
    const m = hardened();
    const units = ctr(m, 'alchemist').config.units;
    units.find((u) => u.name === 'alchemist')!.serviceConfig.EnvironmentFile = '/run/alchemist-env/secrets.env';
    units.push({ name: 'alchemist-env', path: 'containers.alchemist.config.systemd.services.alchemist-env', environment: {}, serviceConfig: { RuntimeDirectory: 'alchemist-env' } });
    expect(failing(evaluateManifest(m, 'x'))).toEqual([]);
  });

  it('a wildcard bind others need is told to move to the container address, not 127.0.0.1', () => {
    const m = hardened();
    ctr(m, 'alchemist').config.listeners.find((l) => l.service === 'nats')!.address = '0.0.0.0';
    const [f] = failing(evaluateManifest(m, 'x'), 'config.wildcard-bind');
    expect(f.message).toMatch(/localAddress 10\.233\.1\.2 \(where .*container alchemist-graph.* reach it; 127\.0\.0\.1 would cut them off\)/);
  });

  it('networking.nat.forwardPorts is NixOS\'s own forwarding, not a DNAT bypass', () => {
    const m = hardened();
    m.host.networking.nat.forwardPorts = [{ sourcePort: 8443, proto: 'tcp', destination: '10.233.1.2:8080' }];
    m.host.firewall.extraCommands = m.host.firewall.extraCommands.replace('# NAT from external ports to internal ports.',
      '# NAT from external ports to internal ports.\n  iptables -w -t nat -A nixos-nat-pre \\\n    -i eth0 -p tcp \\\n    --dport 8443 \\\n    -j DNAT --to-destination 10.233.1.2:8080\n');
    expect(dnatRules(m.host.firewall.extraCommands)).toHaveLength(1);
    expect(failing(evaluateManifest(m, 'x'), 'config.dnat-bypass')).toEqual([]);
  });
});

describe('extraCommands read as the shell runs it', () => {
  it('joins continued lines, splits lists, runs functions where called, drops comments', () => {
    const script = 'f() {\n  iptables -A X \\\n    -j ACCEPT; echo hi\n}\ng() { iptables -D Y -j DNAT; }\n# f\nf && true\n';
    expect(shellCommands(script)).toEqual(['iptables -A X      -j ACCEPT', 'echo hi', 'true']);
  });
  it('a DNAT rule in a function never called, or a teardown (-D), adds nothing', () => {
    expect(dnatRules('unused() {\n  iptables -t nat -A PREROUTING -p tcp --dport 1 -j DNAT --to-destination 10.0.0.1:1\n}\niptables -t nat -D PREROUTING -p tcp --dport 2 -j DNAT --to-destination 10.0.0.1:2 || true\n')).toEqual([]);
  });
  it('a rule split over lines is one rule with its port and target', () => {
    expect(dnatRules('iptables -t nat -A PREROUTING -p tcp \\\n  --dport 3000 \\\n  -j DNAT --to-destination 10.233.6.2:3000')).toMatchObject([{ dport: 3000, to: '10.233.6.2:3000' }]);
  });
});

describe('leafcert check-config on the two configurations (built CLI)', () => {
  const run = (args: string[]) => spawnSync(process.execPath, [join(root, 'bin/leafcert.js'), ...args], { cwd: root, encoding: 'utf8' });
  it('exit 0 on the hardened one', () => {
    const r = run(['check-config', fx('guide-hardened.manifest.json')]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });
  it('exit 1 on the guide as written: evaluation problems are findings with option paths, never a crash', () => {
    const r = run(['check-config', fx('guide-as-written.manifest.json')]);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('config.evaluates');
    expect(r.stdout).toContain('services.borgbackup.jobs.alchemist.encryption.mode');
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
  });
});

describe.skipIf(!nixInstantiate)(`lib.manifest: what the gate needs${nixInstantiate ? '' : ` (skipped: ${skipReason})`}`, () => {
  it('failed assertions and options used without value become evaluation problems with option paths', () => {
    const m = parseManifest(evalManifest(`{
      services.borgbackup.jobs.j = { repo = "/b"; encryption.mode = throw "used but not defined"; };
      services.nginx = { enable = true; virtualHosts.a = { forceSSL = true; sslCertificate = throw "undefined"; }; virtualHosts.b = { forceSSL = true; enableACME = true; sslCertificate = throw "undefined"; }; };
      containers.mon.config.assertions = [ { assertion = false; message = "services.grafana.settings.security.secret_key must be set"; } { assertion = true; message = "fine"; } ];
      assertions = [ { assertion = false; message = "something without an option"; } ];
    }`), 'eval');
    // The job has neither paths nor dumpCommand: NixOS rejects that too.
    expect(m.host.evaluation.problems.map((p) => p.path)).toEqual(['assertions', 'services.borgbackup.jobs.j.encryption.mode', 'services.borgbackup.jobs.j.paths', 'services.nginx.virtualHosts.a.sslCertificate']);
    expect(m.containers[0].config.evaluation.problems).toEqual([{ path: 'containers.mon.config.services.grafana.settings.security.secret_key', message: 'assertion fails: services.grafana.settings.security.secret_key must be set' }]);
    expect(failing(evaluateManifest(m, 'x'), 'config.evaluates')).toHaveLength(5);
  });

  it('stateVersion: unset, defaulted (NixOS warns) and explicit', () => {
    const sv = (expr: string) => parseManifest(evalManifest(expr), 'sv').host.system;
    expect(sv('{ }')).toMatchObject({ stateVersion: null, stateVersionExplicit: false });
    expect(sv('{ system.stateVersion = "25.11"; warnings = [ "system.stateVersion is not set, defaulting to 25.11." ]; }')).toMatchObject({ stateVersionExplicit: false });
    expect(sv('{ system.stateVersion = "25.11"; warnings = [ "other" ]; }')).toMatchObject({ stateVersion: '25.11', stateVersionExplicit: true });
  });

  it('redis with nixpkgs defaults: "" is redis on 6379 in /var/lib/redis; a named instance defaults to port 0 (no TCP)', () => {
    const m = parseManifest(evalManifest('{ services.redis.servers = { "" = { enable = true; }; cache = { enable = true; }; }; }'), 'redis');
    expect(m.host.redis.map((r) => [r.name, r.unit, r.port, r.stateDir, r.bind])).toEqual([['', 'redis', 6379, '/var/lib/redis', '127.0.0.1'], ['cache', 'redis-cache', 0, '/var/lib/redis-cache', '127.0.0.1']]);
    expect(m.host.listeners.filter((l) => l.service.startsWith('redis')).map((l) => `${l.service}:${l.port}`)).toEqual(['redis:6379']);
  });

  it('owners and groups of age secrets, /etc files and tmpfiles; nginx content; container network paths', () => {
    const m = parseManifest(evalManifest(`{
      age.secrets.k = { file = "/s/k.age"; group = "alchemist"; mode = "640"; };
      environment.etc."x/y.conf" = { source = "/nix/store/aaaa-y"; group = "svc"; };
      systemd.tmpfiles.rules = [ "d /var/lib/x 0750 alice bob -" ];
      users.groups.root = { };
      services.nginx = { enable = true; virtualHosts.a = { forceSSL = true; extraConfig = "add_header Strict-Transport-Security max-age=1;"; locations."/" = { root = "/srv"; extraConfig = "x"; }; }; };
      containers.c = { enableTun = true; hostAddress6 = "fc00::1"; extraVeths.v1 = { }; };
    }`), 'own');
    expect(m.host.secretFiles).toEqual([{ name: 'k', path: 'age.secrets.k', provider: 'agenix', file: '/s/k.age', target: '/run/agenix/k', owner: '0', group: 'alchemist', mode: '640' }]);
    expect(m.host.etc.find((e) => e.name === 'x/y.conf')).toMatchObject({ group: 'svc', text: '' });
    const owners = failing(evaluateManifest(m, 'x'), 'config.secret-owner').map((o) => o.subject).sort();
    expect(owners).toEqual(['age.secrets.k group alchemist', 'environment.etc."x/y.conf" group svc', 'tmpfiles /var/lib/x group bob', 'tmpfiles /var/lib/x user alice']);
    expect(m.host.nginx.virtualHosts[0].locations[0]).toMatchObject({ root: '/srv', extraConfig: 'x' });
    expect(m.containers[0]).toMatchObject({ enableTun: true, hostAddress6: 'fc00::1', extraVeths: ['v1'] });
  });
});

describe('plan --from-nix on the guide configurations', () => {
  it('secret files of units inside containers, with the modes and owners age.secrets declares; extraRules hold rules, never shell', async () => {
    const { planInventory, extraRuleCommands } = await import('../src/nix/plan.js');
    const { suites } = await import('../src/suites.js');
    const plan = planInventory(hardened(), { manifestFile: fx('guide-hardened.manifest.json'), suiteKeys: suites.map((s) => s.key) });
    const e = (plan.inventory.expectations as any)['alchemist-leaf-node'];
    expect(e.secrets.files).toContainEqual({ path: '/run/agenix/jwt-secret', format: 'raw', mode: '0440', owner: 'root', group: 'alchemist' });
    expect(e.monitoring.rules).toEqual(['TargetDown', 'CertificateExpiresSoon']);
    // ACME certificates chain to the public roots; self-managed ones to --ca.
    expect(e.tls.map((t: { ca: string }) => t.ca)).toEqual(['/etc/ssl/certs/ca-certificates.crt', '/etc/ssl/certs/ca-certificates.crt']);
    expect(plan.optionPaths['expectations.alchemist-leaf-node.tls.0.ca']).toBe('services.nginx.virtualHosts."api.alchemist.com".enableACME');
    const mixed = hardened();
    mixed.host.nginx.virtualHosts[1] = { ...mixed.host.nginx.virtualHosts[1], enableACME: false, sslCertificate: '/var/lib/tls/cert.pem', sslCertificateKey: '/var/lib/tls/key.pem' };
    const mp = planInventory(mixed, { manifestFile: 'm.json', ca: 'internal-ca.pem', acmeCa: 'roots.pem', suiteKeys: suites.map((s) => s.key) });
    expect((mp.inventory.expectations as any)['alchemist-leaf-node'].tls.map((t: { ca: string }) => t.ca)).toEqual(['roots.pem', 'internal-ca.pem']);
    expect(plan.optionPaths['expectations.alchemist-leaf-node.monitoring.rules']).toBe('containers.monitoring.config.services.prometheus.rules');
    expect(plan.optionPaths['expectations.alchemist-leaf-node.secrets.files.2.path']).toBe('containers.alchemist.config.systemd.services.alchemist.serviceConfig.LoadCredential');
    const written = planInventory(asWritten(), { manifestFile: fx('guide-as-written.manifest.json'), suiteKeys: suites.map((s) => s.key) });
    const w = (written.inventory.expectations as any)['alchemist-leaf-node'];
    expect(w.secrets.files).toEqual([{ path: '/var/lib/nixos-containers/alchemist/etc/alchemist/secrets.env', format: 'env' }]);
    for (const r of w.firewall.extraRules) expect(r).toMatch(/^iptables -w -t nat -A \S+ .*-j \S+/);
    expect(w.firewall.extraRules).toHaveLength(4);
    expect(extraRuleCommands('f() {\n  iptables -A nixos-fw -p tcp \\\n    --dport 9 -j nixos-fw-accept\n}\nf\niptables -D nixos-fw -p tcp --dport 9 -j nixos-fw-accept 2>/dev/null || true\n')).toEqual(['iptables -A nixos-fw -p tcp --dport 9 -j nixos-fw-accept']);
  });
});
