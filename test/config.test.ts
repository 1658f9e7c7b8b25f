// The config suite (static policy checks on a manifest): the deployment as written is flagged for
// each of its flaws, the example configuration passes every check, a bad manifest is a clear
// error naming the field, and secret values never reach a report.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configSuite, readManifestFacts } from '../suites/config.js';
import { createHash } from 'node:crypto';
import { CHECKLIST } from '../src/checklist.js';
import { describeJsonFailure, loadManifest, ManifestError, parseManifest, type Manifest } from '../src/nix/manifest.js';
import { CONFIG_CHECK_IDS, dnatRules, evaluateManifest, hbaMethod } from '../src/nix/policy.js';
import { fingerprint, placeholders, secretAssignments } from '../src/nix/secrets.js';
import { ParseError, type Outcome } from '../src/core/types.js';

const root = join(import.meta.dirname, '..');
const fx = (name: string) => join(root, 'fixtures/nix', name);
const asWritten = () => loadManifest(fx('alchemist-as-written.manifest.json'));
const example = () => loadManifest(fx('example.manifest.json'));
const clone = (m: Manifest): Manifest => JSON.parse(JSON.stringify(m));
const failing = (os: Outcome[], id: string) => os.filter((o) => o.id === id && o.status === 'fail');

describe('config checks on the Alchemist deployment as written', () => {
  const out = evaluateManifest(asWritten(), 'manifest as-written');

  it('fails every check its flaws touch (each flaw of the deployment is found); it does declare a backup job', () => {
    const failed = new Set(out.filter((o) => o.status === 'fail').map((o) => o.id));
    // It declares a job with an encrypting mode, serves every TLS host, hands no secret file to a
    // container unit, evaluates as modelled, and uses no ACME certificate (self-made certificates).
    const clean = ['config.backup-declared', 'config.backup-encryption', 'config.vhost-serves', 'config.secret-reach', 'config.evaluates', 'config.container-port-reach', 'config.cert-names', 'config.tls-protocols'];
    expect([...failed].sort()).toEqual(CONFIG_CHECK_IDS.filter((id) => !clean.includes(id)).sort());
    expect(out.filter((o) => o.id === 'config.backup-declared').map((o) => o.status)).toEqual(['pass']);
  });

  it('secrets: /etc text, unit environment, nginx basicAuth, borg passphrase, redis, grafana', () => {
    const subjects = failing(out, 'config.secret-in-store').map((o) => o.evidence.optionPath);
    expect(subjects).toEqual(expect.arrayContaining([
      'environment.etc."alchemist/secrets.env".text',
      'containers.alchemist.config.systemd.services.alchemist.environment',
      'services.nginx.virtualHosts."monitoring.alchemist.local".basicAuth',
      'services.borgbackup.jobs.alchemist.encryption.passphrase',
      'containers.alchemist.config.services.redis.servers.alchemist.settings.requirepass',
      'containers.monitoring.config.services.grafana.settings.security.admin_password',
      'containers.monitoring.config.services.grafana.settings.security.secret_key',
      'containers.alchemist-agent.config.systemd.services.alchemist-domain-agent.environment',
    ]));
  });

  it('placeholders are named with their option path', () => {
    const paths = failing(out, 'config.placeholder').map((o) => o.evidence.optionPath);
    expect(paths).toEqual(expect.arrayContaining([
      'services.borgbackup.jobs.alchemist.encryption.passphrase',
      'services.nginx.virtualHosts."monitoring.alchemist.local".basicAuth.admin',
      'environment.etc."alchemist/secrets.env".text',
      'containers.alchemist.config.systemd.services.alchemist.environment.OPENAI_API_KEY',
    ]));
  });

  it('pg_hba trust lines inside the alchemist container', () => {
    const [f] = failing(out, 'config.pg-trust');
    expect(f.evidence.optionPath).toBe('containers.alchemist.config.services.postgresql.authentication');
    expect(f.evidence.observed).toEqual(['local all all trust', 'host all all 127.0.0.1/32 trust', 'host all all ::1/128 trust']);
  });

  it('wildcard binds: Grafana http_addr, OLLAMA_HOST, exporters; not nginx', () => {
    const subjects = failing(out, 'config.wildcard-bind').map((o) => o.subject);
    expect(subjects).toEqual(expect.arrayContaining(['container monitoring: grafana:3000', 'container ollama: ollama.service OLLAMA_HOST', 'container monitoring: prometheus:9091', 'container alchemist: nats:4222', 'netdata:19999']));
    expect(subjects.some((s) => s.includes('nginx'))).toBe(false);
  });

  it('DNAT of 8080 and 3000 past nginx', () => {
    const f = failing(out, 'config.dnat-bypass');
    expect(f.map((o) => o.subject)).toEqual(['DNAT 8080 → 10.233.1.2:8080', 'DNAT 3000 → 10.233.6.2:3000']);
    expect(f[0].message).toMatch(/proxyPass/);
    expect(f[0].evidence.optionPath).toBe('networking.firewall.extraCommands');
  });

  it('every container: no user namespace, CAP_SYS_ADMIN kept', () => {
    expect(failing(out, 'config.container-private-users')).toHaveLength(6);
    expect(failing(out, 'config.container-cap-sys-admin')).toHaveLength(6);
  });

  it('alchemist.slice is unused, br-alchemist is unused, 3000/8080 are served by nothing on the host', () => {
    expect(failing(out, 'config.unused-slice').map((o) => o.subject)).toEqual(['alchemist.slice']);
    expect(failing(out, 'config.unused-bridge').map((o) => o.subject)).toEqual(['bridge br-alchemist']);
    expect(failing(out, 'config.port-unserved').map((o) => o.subject).sort()).toEqual(['tcp/3000', 'tcp/8080']);
    expect(out.filter((o) => o.id === 'config.port-unserved' && o.status === 'pass').map((o) => o.subject).sort()).toEqual(['tcp/443', 'tcp/80']);
  });

  it('backup paths on the host while the data lives in the containers', () => {
    const [f] = failing(out, 'config.backup-paths');
    expect(f.evidence.observed).toEqual(['/var/lib/alchemist', '/var/lib/postgresql', '/var/lib/qdrant']);
    expect(f.message).toContain('/var/lib/nixos-containers/alchemist/var/lib/postgresql/15');
  });

  it('audit without rules or auditd; AppArmor without policies', () => {
    expect(failing(out, 'config.audit-rules')[0].message).toMatch(/rules is empty.*auditd/);
    expect(failing(out, 'config.apparmor-policies')).toHaveLength(1);
  });

  it('every outcome cites an option path and says what to change', () => {
    for (const o of out.filter((x) => x.status === 'fail')) {
      expect(o.evidence.optionPath, o.subject).toBeTruthy();
      expect(o.checklist.length).toBeGreaterThan(0);
      expect(o.evidence.source).toBe('manifest as-written');
    }
  });
});

describe('config checks on the example configuration', () => {
  it('passes every check that has something to judge; the rest are skipped with the reason', () => {
    const out = evaluateManifest(example(), 'manifest example');
    const notPass = out.filter((o) => o.status !== 'pass');
    // The example declares no bridge, no slice with limits, no AppArmor and no ACME certificate, and its stub lists no users: nothing to judge there.
    expect(notPass.map((o) => `${o.id} ${o.status}`).sort()).toEqual(['config.apparmor-policies skipped', 'config.cert-names skipped', 'config.secret-owner skipped', 'config.unused-bridge skipped', 'config.unused-slice skipped']);
    for (const o of notPass) expect(o.message).toMatch(/^not applicable: /);
    expect(new Set(out.map((o) => o.id))).toEqual(new Set(CONFIG_CHECK_IDS));
    for (const o of out) expect(o.evidence.source).toBe('manifest example');
  });

  it('each single flaw planted into the example is caught by its check only', () => {
    const plant: [string, (m: Manifest) => void][] = [
      ['config.pg-trust', (m) => { m.containers.find((c) => c.name === 'alchemist')!.config.postgresql.authentication += 'host all all 10.0.0.0/8 trust\n'; }],
      ['config.dnat-bypass', (m) => { m.host.firewall.extraCommands = 'iptables -t nat -A PREROUTING -p tcp --dport 8443 -j DNAT --to-destination 10.233.1.2:8080\n'; }],
      ['config.unused-bridge', (m) => { m.host.networking.bridges.push({ name: 'br0', path: 'networking.bridges.br0', interfaces: [] }); }],
      ['config.port-unserved', (m) => { m.host.firewall.allowedTCPPorts.push(4444); }],
      ['config.container-private-users', (m) => { m.containers[0].privateUsers = 'no'; m.containers[0].extraFlags.push('--drop-capability=CAP_SYS_ADMIN'); }],
      ['config.unused-slice', (m) => { m.host.slices.push({ name: 'alchemist', path: 'systemd.slices.alchemist', sliceConfig: { MemoryMax: '32G' }, usedBy: [] }); }],
      ['config.wildcard-bind', (m) => { m.containers.find((c) => c.name === 'monitoring')!.config.listeners[0].address = '0.0.0.0'; }],
      ['config.backup-paths', (m) => { m.host.borg[0].paths!.push('/var/lib/grafana'); }],
      ['config.audit-rules', (m) => { m.host.security.auditd.enable = false; }],
      ['config.apparmor-policies', (m) => { m.host.security.apparmor.enable = true; }],
    ];
    for (const [id, mutate] of plant) {
      const m = clone(example());
      mutate(m);
      const failed = [...new Set(evaluateManifest(m, 'x').filter((o) => o.status === 'fail').map((o) => o.id))];
      expect(failed, id).toEqual([id]);
    }
  });

  it('a secret value is fingerprinted, never echoed', () => {
    const m = clone(example());
    m.host.nginx.virtualHosts[0].basicAuth = { ops: 'hunter2-correct-horse' };
    m.host.borg[0].encryption.passphrase = 'borg-real-passphrase-123';
    m.containers[0].config.units[0].environment.OPENAI_API_KEY = 'sk-live-abcdef0123456789';
    const out = evaluateManifest(m, 'x');
    const text = JSON.stringify(out);
    for (const s of ['hunter2-correct-horse', 'borg-real-passphrase-123', 'sk-live-abcdef0123456789']) expect(text).not.toContain(s);
    expect(text).toContain(fingerprint('hunter2-correct-horse'));
    expect(failing(out, 'config.secret-in-store')).toHaveLength(3);
  });

  it('commands and files that fetch a secret are not secrets (BORG_PASSCOMMAND, *_FILE)', () => {
    const m = clone(example());
    m.host.units.push({ name: 'borgbackup-job-alchemist', path: 'systemd.services.borgbackup-job-alchemist', environment: { BORG_PASSCOMMAND: 'cat /var/lib/alchemist-secrets/borg-passphrase', BORG_REPO: '/var/lib/borg/alchemist', DB_PASSWORD_FILE: '/run/secrets/db' }, serviceConfig: {} });
    expect(failing(evaluateManifest(m, 'x'), 'config.secret-in-store')).toEqual([]);
    m.host.units[m.host.units.length - 1].environment.BORG_PASSPHRASE = 'not-a-placeholder';
    expect(failing(evaluateManifest(m, 'x'), 'config.secret-in-store')).toHaveLength(1);
  });

  it('privateUsers = "identity" namespaces capabilities but does not isolate UIDs', () => {
    const m = clone(example());
    m.containers[0].privateUsers = 'identity';
    const out = evaluateManifest(m, 'x');
    expect(failing(out, 'config.container-cap-sys-admin')).toEqual([]);
    expect(failing(out, 'config.container-private-users').map((o) => o.subject)).toEqual([`container ${m.containers[0].name}`]);
  });

  it('drop-capability instead of a user namespace satisfies the CAP_SYS_ADMIN check', () => {
    const m = clone(example());
    for (const c of m.containers) {
      c.privateUsers = 'no';
      c.extraFlags = ['--drop-capability=CAP_SYS_ADMIN'];
    }
    const out = evaluateManifest(m, 'x');
    expect(failing(out, 'config.container-cap-sys-admin')).toEqual([]);
    expect(failing(out, 'config.container-private-users')).toHaveLength(m.containers.length);
  });
});

describe('parsers', () => {
  it('pg_hba methods, with ip/mask form and comments', () => {
    expect(hbaMethod('local all all trust')).toBe('trust');
    expect(hbaMethod('host all all 127.0.0.1/32 scram-sha-256')).toBe('scram-sha-256');
    expect(hbaMethod('host all all 127.0.0.1 255.255.255.255 trust')).toBe('trust');
    expect(hbaMethod('hostssl db u ::1/128 md5 # trust')).toBe('md5');
    expect(hbaMethod('# local all all trust')).toBeUndefined();
  });

  it('DNAT rules from extraCommands', () => {
    expect(dnatRules('iptables -t nat -A PREROUTING -i eth0 -p tcp --dport 8080 -j DNAT --to-destination 10.233.1.2:8080\n# -j DNAT\niptables -A INPUT -j ACCEPT')).toEqual([
      { line: 'iptables -t nat -A PREROUTING -i eth0 -p tcp --dport 8080 -j DNAT --to-destination 10.233.1.2:8080', dport: 8080, to: '10.233.1.2:8080', iface: 'eth0', dest: undefined },
    ]);
  });

  it('secret assignments and placeholders', () => {
    expect(secretAssignments('# c\nOPENAI_API_KEY=x\nRUST_LOG=warn\nPASSWORD_FILE=/run/s\nEMPTY_TOKEN=\n').map((a) => a.key)).toEqual(['OPENAI_API_KEY']);
    expect(placeholders('a @JWT_SECRET@ b your_api_key_here c CHANGEME')).toEqual(['@JWT_SECRET@', 'your_api_key_here', 'CHANGEME']);
    expect(placeholders('user@example.com $__file{/run/x}')).toEqual([]);
  });
});

describe('nothing declared is never a pass', () => {
  const bare = () => {
    const m = clone(example());
    m.host.borg = [];
    m.containers = [];
    m.host.postgresql.enable = false;
    return m;
  };

  it('no borg job: config.backup-declared fails (backups item), config.backup-paths is skipped', () => {
    const out = evaluateManifest(bare(), 'x');
    const declared = out.filter((o) => o.id === 'config.backup-declared');
    expect(declared.map((o) => o.status)).toEqual(['fail']);
    expect(declared[0].checklist).toEqual(['backups']);
    expect(declared[0].message).toMatch(/no backup job is declared \(services\.borgbackup\.jobs is empty\)/);
    expect(declared[0].evidence.optionPath).toBe('services.borgbackup.jobs');
    const paths = out.filter((o) => o.id === 'config.backup-paths');
    expect(paths.map((o) => o.status)).toEqual(['skipped']);
    expect(paths[0].message).toMatch(/^not applicable: no borg job declared/);
    // Nothing under the backups item passes for a configuration without a backup.
    expect(out.filter((o) => o.checklist.includes('backups') && o.status === 'pass')).toEqual([]);
  });

  it('no PostgreSQL and no containers: pg-trust and both container checks are skipped with the reason', () => {
    const out = evaluateManifest(bare(), 'x');
    for (const [id, why] of [
      ['config.pg-trust', /no PostgreSQL is enabled/],
      ['config.container-private-users', /no containers declared/],
      ['config.container-cap-sys-admin', /no containers declared/],
    ] as const) {
      const os = out.filter((o) => o.id === id);
      expect(os.map((o) => o.status), id).toEqual(['skipped']);
      expect(os[0].message).toMatch(why);
    }
  });

  it('a declared job passes config.backup-declared naming it', () => {
    const o = evaluateManifest(example(), 'x').find((x) => x.id === 'config.backup-declared')!;
    expect(o.status).toBe('pass');
    expect(o.message).toMatch(/borg job\(s\) declared: /);
  });

  it('config.backup-declared is on the backups checklist item', () => {
    expect(CHECKLIST.find((i) => i.id === 'backups')!.checks).toContain('config.backup-declared');
  });
});

describe('bad manifests', () => {
  const cases: [string, RegExp][] = [
    ['not-json.json', /not JSON/],
    ['no-version.json', /^.*: version: missing/],
    ['old-version.json', /version: is 0, written by an older leafcert/],
    ['missing-firewall.json', /host: missing field: missing required key "firewall"/],
    ['unknown-shape.json', /containers\[1\]\.unit\.serviceConfig\.MemoryMax: unknown or malformed option shape: .*got a mapping \(option systemd\.services\."container@alchemist"\.serviceConfig\.MemoryMax\)/],
    ['bad-port.json', /host\.firewall\.allowedTCPPorts\[1\]: .*expected integer, got "eighty" \(option networking\.firewall\.allowedTCPPorts\)/],
  ];
  it.each(cases)('%s is a ManifestError naming the field', (file, re) => {
    let err: unknown;
    try {
      loadManifest(fx(`bad/${file}`));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ManifestError);
    expect((err as Error).message).toMatch(re);
  });

  it('an unknown key is reported, not ignored', () => {
    const m = JSON.parse(readFileSync(fx('example.manifest.json'), 'utf8'));
    m.host.firewall.allowedTCPPortz = [1];
    expect(() => parseManifest(m, 'x')).toThrow(/host\.firewall: unknown or malformed option shape: unknown key "allowedTCPPortz".*\(option networking\.firewall\.allowedTCPPortz\)/);
  });
});

describe('config suite', () => {
  it('gather reads the manifest relative to the inventory; evaluate is pure', async () => {
    const facts = await configSuite.gather({ options: { baseDir: join(root, 'fixtures/nix'), allowMutating: false, timeoutMs: 1000 } } as any, { manifest: 'alchemist-as-written.manifest.json' });
    const out = configSuite.evaluate(facts, { manifest: 'x' }, {} as any);
    expect(out.some((o) => o.status === 'fail')).toBe(true);
    expect(new Set(out.map((o) => o.id))).toEqual(new Set(configSuite.checkIds));
  });

  it('a manifest that is not JSON: position, size and sha256 in the error, never its content', () => {
    const dir = mkdtempSync(join(tmpdir(), 'leafcert-config-'));
    const file = join(dir, 'secrets.env');
    const content = 'DB_PASSWORD=hunter2-correct-horse\nAPI_TOKEN=sk-live-abcdef0123456789\n';
    writeFileSync(file, content);
    let err: unknown;
    try {
      readManifestFacts(dir, { manifest: 'secrets.env' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ParseError);
    const p = err as ParseError;
    expect(p.excerpt).toBeUndefined();
    const sha = createHash('sha256').update(content).digest('hex');
    expect(p.message).toMatch(new RegExp(`not JSON: unexpected character at line 1, column 1 \\(offset 0\\); file of ${Buffer.byteLength(content)} bytes, sha256 ${sha}`));
    for (const leak of ['DB_PASS', 'hunter2', 'sk-live', 'D"', '"DB']) expect(JSON.stringify({ m: p.message, e: p.excerpt }), leak).not.toContain(leak);
    // check-config's loader says the same, without content either.
    expect(() => loadManifest(file)).toThrow(/not JSON \(unexpected character at line 1, column 1/);
    try {
      loadManifest(file);
    } catch (e) {
      expect((e as Error).message).not.toMatch(/hunter2|DB_PASSWORD/);
    }
  });

  it('the JSON error position points at the broken line and column', () => {
    const text = '{\n  "version": 1,\n  "host": {"secret": "abc" x}\n}\n';
    let e: unknown;
    try {
      JSON.parse(text);
    } catch (x) {
      e = x;
    }
    expect(describeJsonFailure(text, e)).toMatch(/^Expected ',' or '}' after property value at line 3, column 28 \(offset 45\); file of \d+ bytes, sha256 [0-9a-f]{64}$/);
    const cut = '{"version": 1, "host": {"a": "abc';
    try {
      JSON.parse(cut);
    } catch (x) {
      e = x;
    }
    expect(describeJsonFailure(cut, e)).toMatch(/^Unterminated string at line 1, column 34 \(offset 33\)/);
    expect(describeJsonFailure(cut, e)).not.toContain('abc');
  });

  it('a missing or bad manifest is a ParseError (→ error results), never a pass', () => {
    expect(() => readManifestFacts(root, { manifest: 'fixtures/nix/nope.json' })).toThrow(ParseError);
    expect(() => readManifestFacts(root, { manifest: 'fixtures/nix/bad/old-version.json' })).toThrow(/version: is 0/);
  });
});

describe('leafcert check-config (built CLI)', () => {
  const cli = join(root, 'bin/leafcert.js');
  const run = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8' });
  const dir = mkdtempSync(join(tmpdir(), 'leafcert-config-'));

  it('exit 0 on the example, with JUnit and JSON evidence carrying option paths', () => {
    const r = run(['check-config', fx('example.manifest.json'), '--junit', join(dir, 'ex.xml'), '--json', join(dir, 'ex.json')]);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(join(dir, 'ex.xml'), 'utf8')).toContain('option: containers.alchemist.config.services.postgresql.authentication');
    expect(readFileSync(join(dir, 'ex.json'), 'utf8')).toContain('"optionPath": "services.borgbackup.jobs.alchemist.paths"');
  });

  it('exit 1 on the deployment as written, naming the checks', () => {
    const r = run(['check-config', fx('alchemist-as-written.manifest.json'), '--tap', join(dir, 'aw.tap')]);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('config.dnat-bypass');
    expect(readFileSync(join(dir, 'aw.tap'), 'utf8')).toMatch(/^not ok .* config\.pg-trust/m);
  });

  it('exit 2 with one line naming the field on a bad manifest', () => {
    const r = run(['check-config', fx('bad/old-version.json')]);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/old-version\.json: version: is 0/);
    writeFileSync(join(dir, 'empty.json'), '');
    expect(run(['check-config', join(dir, 'empty.json')]).status).toBe(2);
  });

  it('`run` applies the config checks through the `config` expectation (1 flawed, 0 clean, 3 unreadable manifest)', () => {
    const inv = (manifest: string) => {
      const f = join(dir, `inv-${manifest.replace(/\W/g, '_')}.yaml`);
      writeFileSync(f, `nodes:\n  - { name: here, transport: local, expect: leaf }\nexpectations:\n  leaf:\n    config: { manifest: ${fx(manifest)} }\n`);
      return f;
    };
    const flawed = run(['run', '--inventory', inv('alchemist-as-written.manifest.json'), '--json', join(dir, 'run.json')]);
    expect(flawed.status, flawed.stderr).toBe(1);
    const ev = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8'));
    expect(ev.results.find((r: any) => r.id === 'config.dnat-bypass').evidence.optionPath).toBe('networking.firewall.extraCommands');
    expect(run(['run', '--inventory', inv('example.manifest.json')]).status).toBe(0);
    const bad = run(['run', '--inventory', inv('bad/old-version.json')]);
    expect(bad.status).toBe(3);
    expect(bad.stdout).toMatch(/version: is 0, written by an older leafcert/);
  });
});
