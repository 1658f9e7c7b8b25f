// Issue 13 part 7: a signed bundle verifies with ssh-keygen alone and with `leafcert verify`, and
// one changed byte in any of its files makes verify fail naming that file.
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createBundle, BundleError } from '../src/bundle/bundle.js';
import { verifyBundle } from '../src/bundle/verify.js';
import { main } from '../src/cli.js';
import { FakeHost, fakeSuite, identity } from './helpers/fakes.js';

let work: string;
let key: string;
let allowed: string;
let reports: string[];
let inventory: string;

function keygen(dir: string, name: string): string {
  const k = join(dir, name);
  const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', k]);
  expect(r.status).toBe(0);
  return k;
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'leafcert-bundle-'));
  key = keygen(work, 'auditor');
  allowed = join(work, 'allowed_signers');
  writeFileSync(allowed, `ci@example.org namespaces="leafcert-bundle" ${readFileSync(`${key}.pub`, 'utf8')}`);
  inventory = join(work, 'inventory.yaml');
  writeFileSync(inventory, 'nodes: []\n');
  const sha = createHash('sha256').update(readFileSync(inventory)).digest('hex');
  mkdirSync(join(work, 'reports'));
  reports = ['junit.xml', 'evidence.json', 'results.tap', 'report.html'].map((f) => join(work, 'reports', f));
  writeFileSync(reports[0], '<?xml version="1.0"?><testsuites/>\n');
  writeFileSync(reports[1], JSON.stringify({ harness: { name: 'leafcert' }, run: { inventory: { path: inventory, sha256: sha } } }));
  writeFileSync(reports[2], 'TAP version 14\n1..0\n');
  writeFileSync(reports[3], '<!doctype html><p>CERTIFIED</p>\n');
});

let n = 0;
function bundle(over: Partial<Parameters<typeof createBundle>[0]> = {}): string {
  const out = join(work, `bundle-${n++}`);
  createBundle({ out, key, reports, harnessVersion: '0.1.0', ...over });
  return out;
}

/** The real CLI in-process: its exit code and what it printed. */
async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  try {
    return { code: await main(['node', 'leafcert', ...args]), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
    process.exitCode = undefined;
  }
}

afterEach(() => {
  process.exitCode = undefined;
});

describe('leafcert bundle', () => {
  it('holds the reports, the inventory from the JSON report, bundle.json, SHA256SUMS and its signature', () => {
    const b = bundle();
    expect(readdirSync(b).sort()).toEqual(['SHA256SUMS', 'SHA256SUMS.sig', 'bundle.json', 'inputs', 'reports']);
    expect(readdirSync(join(b, 'reports')).sort()).toEqual(['evidence.json', 'junit.xml', 'report.html', 'results.tap']);
    expect(readdirSync(join(b, 'inputs'))).toEqual(['inventory.yaml']);
    const sums = readFileSync(join(b, 'SHA256SUMS'), 'utf8');
    expect(sums.trim().split('\n').map((l) => l.slice(66))).toEqual([
      'bundle.json',
      'inputs/inventory.yaml',
      'reports/evidence.json',
      'reports/junit.xml',
      'reports/report.html',
      'reports/results.tap',
    ]);
    // sha256sum itself reads the manifest.
    const c = spawnSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: b, encoding: 'utf8' });
    expect(c.status, c.stdout + c.stderr).toBe(0);
  });

  it('verifies with ssh-keygen -Y verify, without leafcert', () => {
    const b = bundle();
    const r = spawnSync('ssh-keygen', ['-Y', 'verify', '-f', allowed, '-I', 'ci@example.org', '-n', 'leafcert-bundle', '-s', join(b, 'SHA256SUMS.sig')], {
      input: readFileSync(join(b, 'SHA256SUMS')),
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Good "leafcert-bundle" signature for ci@example.org/);
    // Another namespace must not accept it (a bundle signature is not a git or file signature).
    const other = spawnSync('ssh-keygen', ['-Y', 'verify', '-f', allowed, '-I', 'ci@example.org', '-n', 'file', '-s', join(b, 'SHA256SUMS.sig')], {
      input: readFileSync(join(b, 'SHA256SUMS')),
    });
    expect(other.status).not.toBe(0);
  });

  it('leafcert verify: exit 0 and the signer, with and without --identity', async () => {
    const b = bundle();
    const r = await cli('verify', b, '--allowed-signers', allowed);
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toMatch(/Good "leafcert-bundle" signature for ci@example.org with ED25519 key SHA256:/);
    expect(r.out).toMatch(/VALID: .*: 6 files match the signed SHA256SUMS/);
    expect((await cli('verify', b, '--allowed-signers', allowed, '--identity', 'ci@example.org')).code).toBe(0);
    const wrong = await cli('verify', b, '--allowed-signers', allowed, '--identity', 'mallory@example.org');
    expect(wrong.code).toBe(1);
    expect(wrong.out).toMatch(/signature: SHA256SUMS.sig does not verify SHA256SUMS for mallory@example.org/);
  });

  it('one changed byte in any file fails verify, naming that file', () => {
    const b = bundle();
    const files = ['SHA256SUMS', 'SHA256SUMS.sig', 'bundle.json', 'inputs/inventory.yaml', 'reports/evidence.json', 'reports/junit.xml', 'reports/report.html', 'reports/results.tap'];
    for (const f of files) {
      const copy = join(work, `altered-${n++}`);
      cpSync(b, copy, { recursive: true });
      const bytes = readFileSync(join(copy, f));
      // The middle byte, flipped in its lowest bit (the signature's base64 stays base64-ish).
      const i = Math.floor(bytes.length / 2);
      bytes[i] ^= 1;
      writeFileSync(join(copy, f), bytes);
      const v = verifyBundle(copy, allowed);
      expect(v.problems.length, f).toBeGreaterThan(0);
      expect(v.problems.join('\n'), f).toContain(f);
      if (f.startsWith('reports/') || f.startsWith('inputs/') || f === 'bundle.json') expect(v.problems).toEqual([expect.stringMatching(new RegExp(`^altered: ${f} \\(sha256 `))]);
      // The signed manifest or its signature: the signature no longer holds (a changed hash in
      // SHA256SUMS also shows as that file altered).
      else expect(v.problems[0]).toMatch(/^signature: /);
    }
  });

  it('names a missing file, an extra file, and exits 1 through the CLI', async () => {
    const b = bundle();
    rmSync(join(b, 'reports/results.tap'));
    appendFileSync(join(b, 'reports/extra.txt'), 'slipped in\n');
    const r = await cli('verify', b, '--allowed-signers', allowed);
    expect(r.code).toBe(1);
    expect(r.out).toContain('missing: reports/results.tap');
    expect(r.out).toContain('extra: reports/extra.txt (not in SHA256SUMS)');
    expect(r.out).toMatch(/NOT VALID: .*: 2 problems/);
  });

  it("a key not in allowed_signers is not valid", () => {
    const b = bundle({ key: keygen(work, 'stranger') });
    expect(verifyBundle(b, allowed).problems).toEqual([expect.stringMatching(/^signature: SHA256SUMS.sig is not valid for SHA256SUMS by any key/)]);
  });

  it('invocation errors are exit 2 with one line; nothing half-made is left', async () => {
    const b = bundle();
    expect((await cli('verify', join(work, 'nope'), '--allowed-signers', allowed)).err).toMatch(/^leafcert: .*nope: not a bundle directory\n$/);
    expect((await cli('verify', join(work, 'nope'), '--allowed-signers', allowed)).code).toBe(2);
    expect((await cli('verify', b, '--allowed-signers', join(work, 'none'))).code).toBe(2);
    // --out not empty, a changed inventory, an unusable key.
    const notEmpty = await cli('bundle', '--out', b, '--key', key, ...reports);
    expect(notEmpty.code).toBe(2);
    expect(notEmpty.err).toMatch(/not empty; a bundle needs a new directory/);
    const other = join(work, 'other.yaml');
    writeFileSync(other, 'nodes: [x]\n');
    expect(() => bundle({ inventory: other })).toThrow(/is not the one the run read/);
    const junk = join(work, 'junk-key');
    writeFileSync(junk, 'not a key\n', { mode: 0o600 });
    const out = join(work, 'never');
    expect(() => createBundle({ out, key: junk, reports, harnessVersion: '0' })).toThrow(BundleError);
    expect(readdirSync(work)).not.toContain('never');
  });

  it('bundle through the CLI: exit 0, then verify exit 0', async () => {
    const out = join(work, 'via-cli', 'nested');
    const r = await cli('bundle', '--out', out, '--key', key, ...reports);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/bundle .*nested: 8 files, SHA256SUMS signed/);
    expect((await cli('verify', out, '--allowed-signers', allowed)).code).toBe(0);
  });

  it('run --bundle DIR --sign-key KEY: the final reports and the inventory, signed; bad flags are exit 2 before the run', async () => {
    const deps = { suites: [fakeSuite('alpha')], openHost: async (x: { name: string }) => new FakeHost(x.name), gatherIdentity: async () => identity };
    const inv = join(work, 'run-inv.yaml');
    writeFileSync(inv, 'nodes:\n  - { name: leaf, host: 10.250.0.2, expect: e }\nexpectations:\n  e: { alpha: {} }\n');
    const out = join(work, 'run-bundle');
    const rep = (f: string) => join(work, 'run-reports', f);
    const args = ['run', '-i', inv, '--json', rep('e.json'), '--junit', rep('j.xml')];
    let opened = 0;
    const counting = { ...deps, openHost: async (x: { name: string }) => (opened++, new FakeHost(x.name)) };
    const quiet = async (a: string[]) => {
      const e = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
      const o = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
      try {
        return await main(['node', 'leafcert', ...a], counting);
      } finally {
        e.mockRestore();
        o.mockRestore();
        process.exitCode = undefined;
      }
    };
    expect(await quiet([...args, '--bundle', out])).toBe(2);
    expect(await quiet([...args, '--bundle', out, '--sign-key', join(work, 'no-key')])).toBe(2);
    expect(await quiet([...args, '--json', join(out, 'e.json'), '--bundle', out, '--sign-key', key])).toBe(2);
    expect(opened).toBe(0);
    expect(await quiet([...args, '--bundle', out, '--sign-key', key])).toBe(0);
    expect(opened).toBe(1);
    expect(readdirSync(join(out, 'reports')).sort()).toEqual(['e.json', 'j.xml']);
    expect(readFileSync(join(out, 'reports/e.json'), 'utf8')).toBe(readFileSync(rep('e.json'), 'utf8'));
    expect(JSON.parse(readFileSync(join(out, 'reports/e.json'), 'utf8')).complete).toBe(true);
    expect(readdirSync(join(out, 'inputs'))).toEqual(['run-inv.yaml']);
    expect(verifyBundle(out, allowed).problems).toEqual([]);
  });
});
