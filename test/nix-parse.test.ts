// Every .nix file of the repository parses with plain Nix (flake, modules, VM tests, fixtures):
// nixpkgs cannot be evaluated here, but a syntax error must never reach `nix flake check`.
import { spawnSync } from 'node:child_process';
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

// The VM tests cannot run here, but their Python test scripts can be assembled (stub nixpkgs,
// fixtures/nix/stub-nixpkgs.nix) and parsed: a syntax or indentation error would otherwise first
// show up after a VM build.
const python = spawnSync('python3', ['--version']).status === 0;
const inCI = !!process.env.CI && !['0', 'false'].includes(process.env.CI.toLowerCase());

// Locally a missing tool skips (and says so in the title); in CI (.ci/run sets CI=true) a skip
// would hide the check, so the missing tool is a failure naming the package.
describe('tools the Nix tests need', () => {
  it.runIf(inCI)('in CI, nix-instantiate and python3 are installed (scripts/install-deps.sh)', () => {
    expect(nixInstantiate, skipReason).toBe(true);
    expect(python, 'python3 not found: the VM test scripts cannot be checked; install python3 (apt-get install python3, or scripts/install-deps.sh)').toBe(true);
  });
});
describe.skipIf(!nixInstantiate || !python)(`VM test scripts are valid Python${nixInstantiate && python ? '' : ' (skipped: needs nix-instantiate and python3)'}`, () => {
  it.each(['vm-tests/leafcert.nix', 'vm-tests/fault.nix'])('%s', (file) => {
    const r = nix(['--eval', '--strict', '--json', '-E', `let s = import ./fixtures/nix/stub-nixpkgs.nix; in (import ./${file} { inherit (s) pkgs self; }).testScript`]);
    expect(r.stderr).toBe('');
    const script = JSON.parse(r.stdout) as string;
    expect(script).toContain('certify()');
    const py = spawnSync('python3', ['-c', 'import ast, sys; ast.parse(sys.stdin.read())'], { input: script, encoding: 'utf8' });
    expect(py.stderr).toBe('');
    expect(py.status).toBe(0);
  });

  it('a broken script is caught (the check can fail)', () => {
    const py = spawnSync('python3', ['-c', 'import ast, sys; ast.parse(sys.stdin.read())'], { input: 'with subtest("x"):\nleaf.succeed("true")\n', encoding: 'utf8' });
    expect(py.status).not.toBe(0);
  });
});
