// Every .nix file of the repository parses with plain Nix (flake, modules, VM tests, fixtures):
// nixpkgs cannot be evaluated here, but a syntax error must never reach `nix flake check`.
import { describe, expect, it } from 'vitest';
import { nix, nixFiles, nixInstantiate, skipReason } from './helpers/nix.js';

const files = nixFiles();

describe.skipIf(!nixInstantiate)(`nix-instantiate --parse${nixInstantiate ? '' : ` (skipped: ${skipReason})`}`, () => {
  it('finds the flake, the modules, the VM tests and the fixtures', () => {
    for (const f of ['flake.nix', 'nix/lib/manifest.nix', 'nix/modules/leaf-node-example.nix', 'nix/package.nix', 'vm-tests/leafcert.nix', 'vm-tests/fault.nix', 'fixtures/nix/alchemist-as-written.nix', 'fixtures/nix/example.nix']) {
      expect(files).toContain(f);
    }
  });

  it.each(files)('%s parses', (f) => {
    const r = nix(['--parse', f]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('reports a syntax error (the test can fail)', () => {
    const r = nix(['--parse', '-E', '{ a = ; }']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/syntax error/);
  });
});
