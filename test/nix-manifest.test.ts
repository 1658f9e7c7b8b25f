// lib.manifest (nix/lib/manifest.nix) evaluated by plain Nix on stub configs shaped like NixOS's:
// the output must equal the checked-in manifests, satisfy the schema, carry option paths, and
// survive configs that lack options or throw for options without a value.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { optionPath, parseManifest, type Manifest } from '../src/nix/manifest.js';
import { evalManifest, nixInstantiate, repoRoot, skipReason } from './helpers/nix.js';

const fixture = (name: string) => JSON.parse(readFileSync(join(repoRoot, 'fixtures/nix', name), 'utf8'));

describe.skipIf(!nixInstantiate)(`lib.manifest on stub configs${nixInstantiate ? '' : ` (skipped: ${skipReason})`}`, () => {
  for (const name of ['alchemist-as-written', 'example']) {
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
