import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { optionPathFor } from '../src/engine/option-paths.js';
import { runInventory } from '../src/engine/run.js';
import { parseInventory } from '../src/inventory/load.js';
import { loadManifest } from '../src/nix/manifest.js';
import { planInventory } from '../src/nix/plan.js';
import type { Reporter, RunSummary } from '../src/reporters/types.js';
import type { Result } from '../src/core/types.js';
import { suites } from '../src/suites.js';
import { FakeHost, fakeSuite, identity, node } from './helpers/fakes.js';

const map = {
  'expectations.leaf.postgres.settings.shared_buffers': 'containers.alchemist.config.services.postgresql.settings.shared_buffers',
  'expectations.leaf.postgres.settings.work_mem': 'containers.alchemist.config.services.postgresql.settings.work_mem',
  'expectations.leaf.postgres.noTrust': 'containers.alchemist.config.services.postgresql.authentication',
  'expectations.leaf.firewall.open': 'networking.firewall.allowedTCPPorts',
  'expectations.leafy.firewall.open': 'elsewhere',
};

describe('optionPathFor', () => {
  it('cites the location named by the subject', () => {
    expect(optionPathFor(map, 'leaf', 'postgres', 'setting shared_buffers')).toBe('containers.alchemist.config.services.postgresql.settings.shared_buffers');
  });
  it('cites every option under the key when the subject names none of them', () => {
    expect(optionPathFor(map, 'leaf', 'postgres', 'server')).toBe(
      'containers.alchemist.config.services.postgresql.settings.shared_buffers; containers.alchemist.config.services.postgresql.settings.work_mem; containers.alchemist.config.services.postgresql.authentication',
    );
  });
  it('keeps expectations and keys apart, and says nothing without a map', () => {
    expect(optionPathFor(map, 'leaf', 'firewall', 'tcp/22')).toBe('networking.firewall.allowedTCPPorts');
    expect(optionPathFor(map, 'leaf', 'tls', 'api')).toBeUndefined();
    expect(optionPathFor(undefined, 'leaf', 'firewall', 'tcp/22')).toBeUndefined();
  });
});

describe('option paths from plan --from-nix reach the evidence', () => {
  it('an inventory written by plan carries the map, and run cites it in each result', async () => {
    const fx = join(import.meta.dirname, '..', 'fixtures/nix/example.manifest.json');
    const out = join(import.meta.dirname, '..', 'fixtures/nix/inventory.yaml');
    const p = planInventory(loadManifest(fx), { manifestFile: fx, outFile: out, nodes: [{ name: 'leaf-1', host: '192.0.2.1' }], ca: 'ca.pem', suiteKeys: suites.map((s) => s.key) });
    const inv = parseInventory(p.yaml, out, { suites });
    expect(inv.optionPaths?.['expectations.alchemist-leaf-node.firewall.open']).toBe('networking.firewall.allowedTCPPorts');

    // Drive the engine with a stand-in suite under the firewall key, so no node is needed.
    const firewall = { ...fakeSuite('firewall'), key: 'firewall', schema: {} };
    const results: Result[] = [];
    const rec: Reporter = { onRunStart() {}, onNodeStart() {}, onResult: (r) => void results.push(r), onNodeEnd() {}, async onRunEnd(_s: RunSummary) {} };
    const one = { ...inv, nodes: [node('leaf-1', { expect: 'alchemist-leaf-node' })], expectations: { 'alchemist-leaf-node': { firewall: {} } } };
    await runInventory(one, { allowMutating: false, timeoutMs: 1000, baseDir: '/tmp', concurrency: 1 }, [rec], {
      suites: [firewall],
      openHost: async (n) => new FakeHost(n.name, n.host),
      gatherIdentity: async () => identity,
      now: () => new Date('2026-11-27T05:00:00Z'),
    });
    expect(results.length).toBeGreaterThan(0);
    for (const r of results) expect(r.evidence.optionPath).toContain('networking.firewall.allowedTCPPorts');
  });
});
