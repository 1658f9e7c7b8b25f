// lib.manifest (nix/lib/manifest.nix) evaluated by plain Nix on stub configs shaped like NixOS's:
// the output must equal the checked-in manifests, satisfy the schema, carry option paths, and
// survive configs that lack options or throw for options without a value.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { optionPath, parseManifest, type Manifest } from '../src/nix/manifest.js';
import { evalManifest, nix, nixInstantiate, repoRoot, skipReason } from './helpers/nix.js';

const fixture = (name: string) => JSON.parse(readFileSync(join(repoRoot, 'fixtures/nix', name), 'utf8'));

describe.skipIf(!nixInstantiate)(`lib.manifest on stub configs${nixInstantiate ? '' : ` (skipped: ${skipReason})`}`, () => {
  for (const name of ['alchemist-as-written', 'example', 'guide-as-written', 'guide-hardened']) {
    it(`${name}.nix evaluates to ${name}.manifest.json`, () => {
      const got = evalManifest(`import ./fixtures/nix/${name}.nix`);
      expect(got).toEqual(fixture(`${name}.manifest.json`));
      expect(() => parseManifest(got, name)).not.toThrow();
    });
  }

  it('an empty config still yields a complete, valid manifest', () => {
    const m = parseManifest(evalManifest('{ }'), 'empty');
    expect(m.version).toBe(1);
    expect(m.host.firewall).toMatchObject({ path: 'networking.firewall', enable: true, backend: 'iptables', allowedTCPPorts: [] });
    expect(m.containers).toEqual([]);
  });

  it('options NixOS throws for (used but not defined) become null, not an evaluation error', () => {
    const m = parseManifest(
      evalManifest(`{ services.nginx = { enable = true; virtualHosts."a.example" = { forceSSL = true; enableACME = true; sslCertificate = throw "The option used but not defined"; }; }; services.borgbackup.jobs.j = { repo = throw "undefined"; paths = [ "/x" ]; }; }`),
      'throwing',
    );
    expect(m.host.nginx.virtualHosts[0]).toMatchObject({ name: 'a.example', sslCertificate: null, enableACME: true });
    expect(m.host.borg[0]).toMatchObject({ repo: null, paths: ['/x'] });
  });

  it('marks Nix path literals (copied to the store) and derivations (store paths)', () => {
    const m = parseManifest(
      evalManifest(`{ services.nginx.virtualHosts.k = { sslCertificateKey = ./fixtures/nix/example.nix; }; services.postgresql = { enable = true; initialScript = { outPath = "/nix/store/aaaa-init.sql"; type = "derivation"; }; }; }`),
      'paths',
    );
    expect(m.host.nginx.virtualHosts[0].sslCertificateKey).toBe(`nix-path:${join(repoRoot, 'fixtures/nix/example.nix')}`);
    expect(m.host.postgresql.initialScript).toBe('/nix/store/aaaa-init.sql');
  });

  it('a container given by path (its config throws) and NAT forwardPorts with lists still validate', () => {
    const m = parseManifest(
      evalManifest(`{ containers.web = { path = "/nix/var/nix/profiles/per-container/web"; config = throw "used but not defined"; }; networking.nat = { enable = true; forwardPorts = [ { sourcePort = 8443; proto = "tcp"; destination = "10.0.0.2:443"; loopbackIPs = [ "192.0.2.1" ]; } ]; }; }`),
      'path-container',
    );
    expect(m.containers[0]).toMatchObject({ name: 'web', privateUsers: 'no' });
    expect(m.containers[0].config.firewall.allowedTCPPorts).toEqual([]);
    expect(m.host.networking.nat.forwardPorts[0]).toMatchObject({ sourcePort: 8443, loopbackIPs: ['192.0.2.1'] });
  });

  it('PostgreSQL: a forced listen_addresses wins over enableTCPIP (nixpkgs sets one from the other)', () => {
    const pgIn = (pg: string) => parseManifest(evalManifest(`{ services.postgresql = { enable = true; ${pg} }; }`), 'pg').host.listeners.find((l: { service: string }) => l.service === 'postgresql');
    expect(pgIn('enableTCPIP = true; settings.listen_addresses = "10.233.2.2,localhost";')).toMatchObject({ address: '10.233.2.2,localhost', path: 'services.postgresql.settings.listen_addresses' });
    expect(pgIn('enableTCPIP = true;')).toMatchObject({ address: '*', path: 'services.postgresql.enableTCPIP' });
    expect(pgIn('enableTCPIP = true; settings.listen_addresses = "*";')).toMatchObject({ address: '*' });
    expect(pgIn('')).toMatchObject({ address: 'localhost' });
  });

  it('the manifest carries each certificate\'s ACME server (its own, else defaults.server)', () => {
    const got = parseManifest(evalManifest('{ security.acme = { defaults.server = "https://ca.internal/dir"; certs.a = { domain = "a.internal"; }; certs.b = { domain = "b.com"; server = "https://acme-v02.api.letsencrypt.org/directory"; }; }; }'), 's');
    expect(got.host.acme).toMatchObject({ defaultServer: 'https://ca.internal/dir', certs: [{ name: 'a', server: 'https://ca.internal/dir' }, { name: 'b', server: 'https://acme-v02.api.letsencrypt.org/directory' }] });
  });

  it('falls back to nftables.enable for the backend on nixpkgs without networking.firewall.backend', () => {
    const m = parseManifest(evalManifest('{ networking.nftables.enable = true; }'), 'nft');
    expect(m.host.firewall.backend).toBe('nftables');
  });

  it('uses /var/lib/containers before stateVersion 22.05', () => {
    const m = parseManifest(evalManifest('{ system.stateVersion = "21.11"; }'), 'old');
    expect(m.system.containerStateDirectory).toBe('/var/lib/containers');
  });
});

describe('option paths in the manifest (checked-in fixtures)', () => {
  const m: Manifest = parseManifest(fixture('alchemist-as-written.manifest.json'), 'as-written');

  it('quotes attribute names the way lib.showOption does', () => {
    const c = m.containers.find((x) => x.name === 'alchemist')!;
    expect(optionPath(c.unit.path, 'serviceConfig', 'MemoryMax')).toBe('systemd.services."container@alchemist".serviceConfig.MemoryMax');
    expect(m.host.etc.find((e) => e.name === 'alchemist/secrets.env')!.path).toBe('environment.etc."alchemist/secrets.env"');
    expect(m.host.nginx.virtualHosts.map((v) => v.path)).toContain('services.nginx.virtualHosts."monitoring.alchemist.local"');
  });

  it('prefixes a container\'s inner options with containers.NAME.config', () => {
    const c = m.containers.find((x) => x.name === 'alchemist')!;
    expect(optionPath(c.config.firewall.path, 'allowedTCPPorts')).toBe('containers.alchemist.config.networking.firewall.allowedTCPPorts');
    expect(c.config.postgresql.path).toBe('containers.alchemist.config.services.postgresql');
    expect(c.config.units.find((u) => u.name === 'alchemist')!.serviceConfig).toMatchObject({ MemoryMax: '8G', MemoryHigh: '6G', CPUQuota: '400%' });
  });

  it('records which units use each slice', () => {
    expect(m.host.slices).toEqual([{ name: 'alchemist', path: 'systemd.slices.alchemist', sliceConfig: { MemoryMax: '32G', CPUQuota: '800%' }, usedBy: [] }]);
  });

  it('every object in the manifest that mirrors options carries a path', () => {
    const missing: string[] = [];
    const walk = (v: unknown, where: string) => {
      if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${where}[${i}]`));
      else if (v && typeof v === 'object') {
        const o = v as Record<string, unknown>;
        const mirrors = ['name', 'enable'].some((k) => k in o) && !('service' in o);
        if (mirrors && typeof o.path !== 'string' && !where.match(/\.(settings|environment|sliceConfig|serviceConfig|basicAuth|encryption|prune|keep)$/)) missing.push(where);
        for (const [k, x] of Object.entries(o)) walk(x, `${where}.${k}`);
      }
    };
    walk(m, 'm');
    expect(missing).toEqual([]);
  });
});

// fixtures/nix/example.nix is written by hand to mirror nix/modules/leaf-node-example.nix as NixOS
// would evaluate it. A miniature module evaluator (fixtures/nix/eval-module.nix) runs the real
// module here, so the stub cannot silently drift from it: every value the module sets that
// lib.manifest reads must appear in the stub with the same value.
describe.skipIf(!nixInstantiate)(`the example stub mirrors the example module${nixInstantiate ? '' : ` (skipped: ${skipReason})`}`, () => {
  const json = (expr: string) => {
    const r = nix(['--eval', '--strict', '--json', '-E', expr]);
    if (r.code !== 0) throw new Error(r.stderr);
    return JSON.parse(r.stdout);
  };
  const mod = json('import ./fixtures/nix/eval-module.nix');
  const stub = json('import ./fixtures/nix/example.nix');
  const sorted = (xs: number[] = []) => [...xs].sort((a, b) => a - b);
  const pick = (o: Record<string, unknown> | undefined, keys: string[]) => Object.fromEntries(keys.filter((k) => o && k in o).map((k) => [k, o![k]]));
  // Keys the stub must mirror where the module sets them (nixpkgs modules add others, e.g. StateDirectory).
  const unitKeys = ['MemoryMax', 'MemoryHigh', 'CPUQuota', 'TasksMax', 'EnvironmentFile', 'StateDirectory', 'LoadCredential'];

  it('host: firewall, nginx, borg, container units, audit', () => {
    expect(sorted(stub.networking.firewall.allowedTCPPorts)).toEqual(sorted(mod.networking.firewall.allowedTCPPorts));
    expect(stub.networking.firewall.logRefusedConnections).toBe(mod.networking.firewall.logRefusedConnections);
    for (const [name, v] of Object.entries<any>(mod.services.nginx.virtualHosts)) {
      const s = stub.services.nginx.virtualHosts[name];
      expect(pick(s, ['forceSSL', 'sslCertificate', 'sslCertificateKey'])).toEqual(pick(v, ['forceSSL', 'sslCertificate', 'sslCertificateKey']));
      for (const [loc, l] of Object.entries<any>(v.locations)) expect(s.locations[loc].proxyPass).toBe(l.proxyPass);
    }
    expect(Object.keys(stub.services.nginx.virtualHosts).sort()).toEqual(Object.keys(mod.services.nginx.virtualHosts).sort());
    const [sb, mb] = [stub.services.borgbackup.jobs.alchemist, mod.services.borgbackup.jobs.alchemist];
    expect(pick(sb, ['paths', 'repo', 'startAt'])).toEqual(pick(mb, ['paths', 'repo', 'startAt']));
    expect(pick(sb.encryption, ['mode', 'passCommand'])).toEqual(mb.encryption);
    for (const n of Object.keys(mod.containers)) {
      const declared = pick(mod.systemd.services[`container@${n}`].serviceConfig, unitKeys);
      expect(pick(stub.systemd.services[`container@${n}`].serviceConfig, Object.keys(declared))).toEqual(declared);
    }
    expect(stub.security.audit.rules).toEqual(mod.security.audit.rules);
    expect(stub.security.auditd.enable).toBe(mod.security.auditd.enable);
  });

  it('containers and what runs inside them', () => {
    expect(Object.keys(stub.containers).sort()).toEqual(Object.keys(mod.containers).sort());
    for (const [n, c] of Object.entries<any>(mod.containers)) {
      const s = stub.containers[n];
      expect(pick(s, ['autoStart', 'privateNetwork', 'privateUsers', 'hostAddress', 'localAddress', 'extraFlags']), n).toEqual(pick(c, ['autoStart', 'privateNetwork', 'privateUsers', 'hostAddress', 'localAddress', 'extraFlags']));
      expect(sorted(s.config.networking.firewall.allowedTCPPorts), n).toEqual(sorted(c.config.networking.firewall.allowedTCPPorts));
      for (const [u, def] of Object.entries<any>(c.config.systemd?.services ?? {})) {
        const su = s.config.systemd.services[u];
        expect(su, `${n}/${u}`).toBeDefined();
        const declared = pick(def.serviceConfig, unitKeys);
        expect(pick(su.serviceConfig, Object.keys(declared)), `${n}/${u}`).toEqual(declared);
        if (def.environment) expect(pick(su.environment, Object.keys(def.environment)), `${n}/${u}`).toEqual(def.environment);
      }
      const [sp, mp] = [s.config.services?.postgresql, c.config.services?.postgresql];
      if (mp) {
        expect(pick(sp.settings, Object.keys(mp.settings))).toEqual(mp.settings);
        expect(sp.authentication.replace(/\s+/g, ' ')).toBe(mp.authentication.replace(/\s+/g, ' '));
        expect(sp.ensureUsers).toEqual(mp.ensureUsers);
      }
      if (c.config.services?.postgresqlBackup) expect(pick(s.config.services.postgresqlBackup, ['enable', 'databases', 'location', 'startAt'])).toEqual(c.config.services.postgresqlBackup);
      for (const [r, def] of Object.entries<any>(c.config.services?.redis?.servers ?? {})) expect(pick(s.config.services.redis.servers[r], Object.keys(def))).toEqual(def);
      if (c.config.services?.grafana) {
        expect(s.config.services.grafana.settings.server).toEqual(c.config.services.grafana.settings.server);
        expect(s.config.services.grafana.settings.security).toEqual(c.config.services.grafana.settings.security);
      }
      if (c.config.services?.prometheus) expect(pick(s.config.services.prometheus, ['listenAddress', 'port'])).toEqual(pick(c.config.services.prometheus, ['listenAddress', 'port']));
    }
  });
});

// flake.nix evaluated against stub nixpkgs (fixtures/nix/stub-nixpkgs.nix: builders return their
// arguments, nixosSystem is the miniature module system): the outputs exist with the right
// shapes, the package derives a registry URL for every locked dependency, and the example
// configuration's manifest passes every config check.
describe.skipIf(!nixInstantiate)(`flake outputs (stub nixpkgs)${nixInstantiate ? '' : ` (skipped: ${skipReason})`}`, () => {
  const flake = `let s = import ./fixtures/nix/stub-nixpkgs.nix; flake = (import ./flake.nix).outputs { self = flake; nixpkgs = s.nixpkgs; }; in flake`;
  const json = (expr: string) => {
    const r = nix(['--eval', '--strict', '--json', '-E', expr]);
    if (r.code !== 0) throw new Error(r.stderr);
    return JSON.parse(r.stdout);
  };

  it('packages, apps, nixosModules, lib.manifest and checks are there', () => {
    const o = json(`let f = ${flake}; in { packages = builtins.attrNames f.packages.x86_64-linux; apps = f.apps.x86_64-linux.leafcert; modules = builtins.attrNames f.nixosModules; checks = builtins.attrNames f.checks.x86_64-linux; arm = builtins.attrNames f.checks.aarch64-linux; manifest = builtins.isFunction f.lib.manifest; vm = f.checks.x86_64-linux.vm-leaf.name; fault = f.checks.x86_64-linux.vm-fault.name; }`);
    expect(o.packages.sort()).toEqual(['default', 'example-manifest', 'leafcert']);
    expect(o.apps).toMatchObject({ type: 'app', program: expect.stringMatching(/-leafcert-0\.1\.0\/bin\/leafcert$/) });
    expect(o.modules).toEqual(['leaf-node-example']);
    expect(o.checks.sort()).toEqual(['config-example', 'vm-fault', 'vm-leaf']);
    expect(o.manifest).toBe(true);
    expect([o.vm, o.fault]).toEqual(['leafcert-leaf-node', 'leafcert-leaf-node-fault']);
  });

  it('the package fetches every locked dependency by a derived registry URL and its lockfile hash', () => {
    const lock = json(`(${flake}).packages.x86_64-linux.leafcert.npmDeps.packageLock`);
    const entries = Object.entries<any>(lock.packages).filter(([k]) => k !== '');
    expect(entries.length).toBeGreaterThan(50);
    for (const [path, p] of entries) {
      const name = path.split('node_modules/').pop()!;
      expect(p.resolved, path).toBe(`https://registry.npmjs.org/${name}/-/${name.split('/').pop()}-${p.version}.tgz`);
      expect(p.integrity, path).toMatch(/^sha(512|1)-/);
    }
    const pkg = json(`let p = (${flake}).packages.x86_64-linux.leafcert; in { inherit (p) pname version npmRebuildFlags; src = map toString p.src.fileset; install = p.installPhase; }`);
    expect(pkg.src.map((f: string) => f.replace(repoRoot, ''))).toEqual(['/package.json', '/package-lock.json', '/tsconfig.json', '/bin', '/scripts', '/src', '/suites', '/schemas']);
    // src/ is installed too: the probes' .sh files are read at run time.
    expect(pkg.install).toContain('cp -r package.json bin dist schemas src node_modules');
  });

  it('the example configuration (nixosConfigurations.leaf-example) passes every config check it declares something for', async () => {
    const { evaluateManifest } = await import('../src/nix/policy.js');
    const m = parseManifest(json(`let f = ${flake}; in f.lib.manifest f.nixosConfigurations.leaf-example.config`), 'leaf-example');
    expect(m.containers.map((c) => c.name).sort()).toEqual(['agent', 'alchemist', 'graph', 'monitoring', 'workflow']);
    const out = evaluateManifest(m, 'x');
    expect(out.filter((o) => o.status !== 'pass' && o.status !== 'skipped')).toEqual([]);
    // Nothing of the kind declared is skipped with the reason, never counted as a pass.
    for (const o of out.filter((x) => x.status === 'skipped')) expect(o.message, o.id).toMatch(/^not applicable: /);
    expect(out.find((o) => o.id === 'config.backup-declared')?.status).toBe('pass');
  });
});
