// The CLI in one file (dist/leafcert.js, scripts/bundle.js; `npm run build` writes it, npm test
// builds first): bin/leafcert.js loads it, and it must behave as dist/src/cli.js does: the same
// output and exit codes, and every file the code finds next to its own module still found
// (package.json for the version, schemas/, the generated validators, src/probes/*.sh).
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';

const BIN = resolve('bin/leafcert.js');
const BUNDLE = resolve('dist/leafcert.js');
const CLI = resolve('dist/src/cli.js');
const tmp = mkdtempSync(join(tmpdir(), 'leafcert-startup-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function leafcert(entry: string, args: string[]) {
  const r = spawnSync(process.execPath, [entry, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Both ways in: the launcher (→ the bundle) and dist/src/cli.js; durations and paths of this run masked. */
function both(args: string[]) {
  const mask = (s: string) => s.replace(/\d+(\.\d+)? ?(ms|s)\b/g, 'T').replace(/sha256:[0-9a-f]{64}/g, 'sha256:H').replace(/\+\d+ ms/g, '+T');
  const [a, b] = [leafcert(BIN, args), leafcert(CLI, args)];
  return { bundled: { ...a, stdout: mask(a.stdout), stderr: mask(a.stderr) }, unbundled: { ...b, stdout: mask(b.stdout), stderr: mask(b.stderr) } };
}

describe('start-up: the CLI in one file', () => {
  it('is built, and not older than dist/src (so the launcher loads it)', () => {
    const bundle = statSync(BUNDLE, { throwIfNoEntry: false });
    expect(bundle, 'dist/leafcert.js is missing: run npm run build').toBeDefined();
    expect(bundle!.mtimeMs).toBeGreaterThanOrEqual(statSync(CLI).mtimeMs);
  });

  it('--version and --help: the same as dist/src/cli.js', () => {
    const version = JSON.parse(readFileSync('package.json', 'utf8')).version;
    for (const args of [['--version'], ['--help'], ['run', '--help'], ['lab', '--help'], ['nosuch']]) {
      const { bundled, unbundled } = both(args);
      expect(bundled, args.join(' ')).toEqual(unbundled);
    }
    expect(leafcert(BIN, ['--version'])).toMatchObject({ code: 0, stdout: `${version}\n` });
  });

  it('an invalid inventory: the same messages and exit 2 (the generated inventory validator found)', () => {
    for (const f of ['wrong-types', 'unknown-keys', 'cross-field', 'malformed']) {
      const { bundled, unbundled } = both(['run', '-i', `fixtures/inventory/${f}.yaml`]);
      expect(bundled.code, f).toBe(2);
      expect(bundled.stderr, f).toMatch(/^leafcert: /);
      expect(bundled, f).toEqual(unbundled);
    }
    expect(both(['run', '-i', join(tmp, 'none.yaml')]).bundled).toMatchObject({ code: 2, stderr: expect.stringContaining('cannot read inventory') });
  });

  it('check-config: schemas/manifest.schema.json and the manifest validator found, same verdicts', () => {
    for (const f of ['fixtures/nix/example.manifest.json', 'fixtures/nix/bad/bad-port.json', 'fixtures/nix/bad/no-version.json']) {
      const { bundled, unbundled } = both(['check-config', f]);
      expect(bundled, f).toEqual(unbundled);
    }
    expect(leafcert(BIN, ['check-config', 'fixtures/nix/example.manifest.json']).code).toBe(0);
  });

  it('a run on this machine reads its probe script from src/probes (local transport)', () => {
    const inv = join(tmp, 'local.yaml');
    writeFileSync(inv, 'nodes:\n  - { name: here, host: 127.0.0.1, transport: local, expect: here }\nexpectations:\n  here:\n    firewall: { open: [22], closed: [5432] }\n');
    const results = (entry: string, out: string) => {
      const r = leafcert(entry, ['run', '-i', inv, '--only', 'firewall.enabled,firewall.default-drop', '--json', out]);
      expect([0, 1], r.stderr).toContain(r.code);
      const report = JSON.parse(readFileSync(out, 'utf8'));
      return report.results.map((x: { id: string; status: string; message?: string; evidence?: { source?: string } }) => [x.id, x.status, x.message, x.evidence?.source]);
    };
    const bundled = results(BIN, join(tmp, 'b.json'));
    expect(bundled.length).toBeGreaterThan(0);
    // A probe script that cannot be read is an `error`; the firewall probe's source names its commands.
    for (const [, status] of bundled) expect(status).not.toBe('error');
    expect(bundled).toEqual(results(CLI, join(tmp, 'd.json')));
  }, 60_000);

  it('the launcher loads the bundle when it is current, dist/src/cli.js when it is missing or stale', () => {
    // A copy of the launcher over this build's dist/src, with a stand-in bundle of our own.
    const root = join(tmp, 'pkg');
    mkdirSync(join(root, 'bin'), { recursive: true });
    mkdirSync(join(root, 'dist'));
    copyFileSync(BIN, join(root, 'bin', 'leafcert.js'));
    symlinkSync(resolve('dist/src'), join(root, 'dist', 'src'));
    const bin = join(root, 'bin', 'leafcert.js');
    const version = JSON.parse(readFileSync('package.json', 'utf8')).version;
    expect(leafcert(bin, ['--version'])).toMatchObject({ code: 0, stdout: `${version}\n` });
    const standIn = join(root, 'dist', 'leafcert.js');
    writeFileSync(standIn, "process.stdout.write('stand-in bundle\\n');\n");
    expect(leafcert(bin, ['--version']).stdout).toBe('stand-in bundle\n');
    utimesSync(standIn, new Date('2001-01-01'), new Date('2001-01-01'));
    expect(leafcert(bin, ['--version']).stdout).toBe(`${version}\n`);
  });

  it('SIGINT while the bundle loads: the handlers the launcher installed first count for the run (one interrupt module, not a copy)', async () => {
    const d = mkdtempSync(join(tmp, 'signal-'));
    const inv = join(d, 'inv.yaml');
    writeFileSync(inv, 'nodes:\n  - { name: here, host: 127.0.0.1, transport: local, expect: here }\nexpectations:\n  here:\n    firewall: { open: [22], closed: [5432] }\n');
    // A module hook holds the bundle's loading for 3 s and says when it started.
    const mark = join(d, 'loading');
    writeFileSync(
      join(d, 'hooks.mjs'),
      `import { writeFileSync } from 'node:fs';\n` +
        `export async function load(url, context, next) {\n` +
        `  if (url.endsWith('/dist/leafcert.js')) { writeFileSync(${JSON.stringify(mark)}, url); await new Promise((r) => setTimeout(r, 3000)); }\n` +
        `  return next(url, context);\n}\n`,
    );
    writeFileSync(join(d, 'register.mjs'), `import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n`);
    const json = join(d, 'r.json');
    const child = spawn(process.execPath, ['--import', join(d, 'register.mjs'), BIN, 'run', '-i', inv, '--json', json], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (err += b));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    await vi.waitFor(() => expect(existsSync(mark)).toBe(true), { timeout: 30_000, interval: 20 });
    expect(readFileSync(mark, 'utf8')).toMatch(/\/dist\/leafcert\.js$/);
    child.kill('SIGINT');
    expect(await exited, out + err).toBe(3);
    expect(err.trim().split('\n')).toEqual(['leafcert: SIGINT: stopping, the run is interrupted: unfinished checks are reported as errors, exit 3']);
    const report = JSON.parse(readFileSync(json, 'utf8'));
    expect(report.run).toMatchObject({ interrupted: true, exitCode: 3 });
    expect(report.results.every((x: { status: string; message: string }) => x.status === 'error' && /interrupted/.test(x.message))).toBe(true);
  });
});
