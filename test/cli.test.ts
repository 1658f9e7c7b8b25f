// The CLI end to end: spawned from dist/ (what users run) for invocation errors, unreachable nodes
// and signals; in-process with fake suites for the pass/fail exit codes.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Parser } from 'tap-parser';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli.js';
import { makeAjv } from '../src/inventory/validate.js';
import { FakeHost, fakeSuite, identity } from './helpers/fakes.js';

// A private build: other work rebuilding dist/ at the same time must not swap files under a test.
const PRIVATE = mkdtempSync(join(tmpdir(), 'leafcert-cli-build-'));
const BIN = join(PRIVATE, 'dist/src/cli.js');
const evidenceSchema = makeAjv().compile(JSON.parse(readFileSync('schemas/evidence.schema.json', 'utf8')));

function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, CI: 'true', ...env }, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'leafcert-cli-'));
}

function write(dir: string, name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

function noStackTrace(s: string) {
  expect(s).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  expect(s).not.toMatch(/node:internal|TypeError|ReferenceError/);
}

function tapOk(text: string): boolean {
  let ok = true;
  const p = new Parser({ strict: true }, (s) => (ok = s.ok));
  p.end(text);
  return ok;
}

beforeAll(() => {
  // tsc emits even with type errors elsewhere in the tree; the CLI is what matters here.
  const built = spawnSync(resolve('node_modules/.bin/tsc'), ['-p', 'tsconfig.json', '--outDir', join(PRIVATE, 'dist')], { encoding: 'utf8' });
  if (!existsSync(BIN)) throw new Error(`build failed: ${built.stdout}${built.stderr}`);
  copyFileSync('package.json', join(PRIVATE, 'package.json'));
  symlinkSync(resolve('node_modules'), join(PRIVATE, 'node_modules'));
  // The package ships its source tree: probes read their .sh files from src/probes, the lab from src/lab/sh.
  symlinkSync(resolve('src'), join(PRIVATE, 'src'));
  symlinkSync(resolve('schemas'), join(PRIVATE, 'schemas'));
}, 120_000);
afterAll(() => rmSync(PRIVATE, { recursive: true, force: true }));

describe('leafcert CLI: invocation', () => {
  it('--help lists run and its options; --version prints the version; both exit 0', () => {
    const help = cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('run [options]');
    const runHelp = cli(['run', '--help']);
    expect(runHelp.code).toBe(0);
    for (const o of ['--inventory', '--junit', '--tap', '--json', '--concurrency', '--only', '--timeout', '--allow-mutating', 'Exit codes']) {
      expect(runHelp.stdout).toContain(o);
    }
    const v = cli(['--version']);
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toBe(JSON.parse(readFileSync('package.json', 'utf8')).version);
  });

  it.each([
    [['run'], /^leafcert: required option '-i, --inventory <file>' not specified$/],
    [['run', '-i', 'x.yaml', '--bogus'], /^leafcert: unknown option '--bogus'/],
    [['run', '-i', 'x.yaml', '--concurrency', '0'], /--concurrency.*expected a whole number/],
    [['run', '-i', 'x.yaml', '--timeout', 'soon'], /--timeout.*expected seconds/],
    [['run', '-i', '/nonexistent/inventory.yaml'], /^leafcert: \/nonexistent\/inventory.yaml: cannot read inventory: no such file$/],
    [['frobnicate'], /^leafcert: unknown command 'frobnicate'/],
  ])('%j → exit 2 with one clear line', (args, message) => {
    const r = cli(args as string[]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')[0]).toMatch(message);
    noStackTrace(r.stderr);
  });

  it('an invalid inventory: each problem on one line with file:line:col and path, exit 2, no report written', () => {
    const d = tmp();
    const inv = write(d, 'inv.yaml', 'nodes:\n  - name: a\n    hots: 10.250.0.2\n    expect: e\nexpectations:\n  e: { firewall: { open: "22" } }\n');
    const r = cli(['run', '-i', inv, '--junit', join(d, 'junit.xml')]);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toContain(`leafcert: ${inv}:2:5: nodes[0]: missing required key "host"`);
    expect(lines).toContain(`leafcert: ${inv}:3:5: nodes[0].hots: unknown key "hots" (expected one of: name, host, port, transport, expect, ssh, labels)`);
    expect(lines.some((l) => l.startsWith(`leafcert: ${inv}:6:`) && l.includes('expectations.e.firewall.open'))).toBe(true);
    noStackTrace(r.stderr);
    expect(() => readFileSync(join(d, 'junit.xml'))).toThrow();
  });

  it('malformed YAML → exit 2 naming the line', () => {
    const d = tmp();
    const inv = write(d, 'inv.yaml', 'nodes: [\n  { name: a\nexpectations: {}\n');
    const r = cli(['run', '-i', inv]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^leafcert: ${inv}:\\d+:\\d+: YAML syntax: `));
    noStackTrace(r.stderr);
  });

  it('--only naming nothing, or a report path that is a directory → exit 2 before anything runs', () => {
    const d = tmp();
    const inv = write(d, 'inv.yaml', 'nodes:\n  - { name: a, host: 127.0.0.1, expect: e }\nexpectations:\n  e: { firewall: { open: [22] } }\n');
    const only = cli(['run', '-i', inv, '--only', 'nosuch.check']);
    expect(only.code).toBe(2);
    expect(only.stderr).toMatch(/^leafcert: --only nosuch.check matches no check id or suite name/);
    const same = cli(['run', '-i', inv, '--junit', join(d, 'r.out'), '--tap', join(d, 'r.out')]);
    expect(same.code).toBe(2);
    expect(same.stderr.trim()).toMatch(/^leafcert: --tap .*r\.out: same file as --junit; each report needs its own path$/);
    const clobber = cli(['run', '-i', inv, '--json', inv]);
    expect(clobber.code).toBe(2);
    expect(clobber.stderr).toMatch(/same file as --inventory/);
    expect(readFileSync(inv, 'utf8')).toContain('expectations:');
    mkdirSync(join(d, 'dir.xml'));
    const dir = cli(['run', '-i', inv, '--junit', join(d, 'dir.xml')]);
    expect(dir.code).toBe(2);
    expect(dir.stderr.trim()).toMatch(/^leafcert: --junit .*dir\.xml: is a directory$/);
  });
});

describe('leafcert CLI: nodes that cannot be checked', () => {
  let silent: Server;
  let silentPort = 0;
  let closedPort = 0;
  beforeAll(async () => {
    // A TCP listener that accepts and never speaks: an SSH handshake that hangs.
    silent = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    silentPort = (silent.address() as any).port;
    // A port that was just free: connection refused.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    closedPort = (probe.address() as any).port;
    await new Promise((r) => probe.close(r));
  });
  afterAll(() => silent?.close());

  function inventory(d: string, port: number, connectTimeout = '3s') {
    write(d, 'known_hosts', '');
    spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(d, 'id_ed25519')]);
    return write(
      d,
      'inv.yaml',
      `defaults:\n  ssh: { user: root, identityFile: ./id_ed25519, knownHosts: ./known_hosts, connectTimeout: ${connectTimeout} }\nnodes:\n  - { name: leaf-down, host: 127.0.0.1, port: ${port}, expect: e }\nexpectations:\n  e: { firewall: { open: [22], closed: [5432] } }\n`,
    );
  }

  it('unreachable (connection refused) → exit 3, an error result per check in every report, never a pass', () => {
    const d = tmp();
    const inv = inventory(d, closedPort);
    const r = cli(['run', '-i', inv, '--junit', join(d, 'junit.xml'), '--tap', join(d, 'r.tap'), '--json', join(d, 'e.json')]);
    expect(r.code, r.stdout + r.stderr).toBe(3);
    noStackTrace(r.stdout + r.stderr);
    expect(r.stdout).toMatch(/ERROR leaf-down firewall\..*: .*(refused|ECONNREFUSED)/i);
    const doc = JSON.parse(readFileSync(join(d, 'e.json'), 'utf8'));
    expect(evidenceSchema(doc)).toBe(true);
    expect(doc.results.length).toBeGreaterThan(0);
    expect(doc.results.every((x: any) => x.status === 'error')).toBe(true);
    const xml = readFileSync(join(d, 'junit.xml'), 'utf8');
    expect(xml).toContain('<error message=');
    expect(xml).not.toMatch(/<testcase[^>]*>\s*<system-out>/); // no testcase without error
    expect(tapOk(readFileSync(join(d, 'r.tap'), 'utf8'))).toBe(false);
  });

  it('a node that accepts TCP but never speaks ssh: an error result, exit 3, no crash while another node keeps the run alive', () => {
    const d = tmp();
    write(d, 'known_hosts', '');
    spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(d, 'id_ed25519')]);
    const inv = write(
      d,
      'inv.yaml',
      'defaults:\n  ssh: { user: root, identityFile: ./id_ed25519, knownHosts: ./known_hosts, connectTimeout: 4s }\n' +
        `nodes:\n  - { name: leaf-mute, host: 127.0.0.1, port: ${silentPort}, expect: e, ssh: { connectTimeout: 1s } }\n` +
        `  - { name: leaf-slow, host: 127.0.0.1, port: ${silentPort}, expect: e }\n` +
        'expectations:\n  e: { firewall: { open: [22], closed: [5432] } }\n',
    );
    const r = cli(['run', '-i', inv, '--json', join(d, 'e.json')]);
    expect(r.code, r.stdout + r.stderr).toBe(3);
    noStackTrace(r.stdout + r.stderr);
    expect(r.stderr).not.toMatch(/Connection lost before handshake/);
    const doc = JSON.parse(readFileSync(join(d, 'e.json'), 'utf8'));
    expect(doc.complete).toBe(true);
    expect(doc.results.filter((x: any) => x.node === 'leaf-mute').map((x: any) => x.message)).toContain(`leaf-mute (root@127.0.0.1:${silentPort}): no ssh handshake within 1000 ms`);
    expect(doc.results.every((x: any) => x.status === 'error')).toBe(true);
  });

  it('SIGINT during a hanging connection: stops, finishes valid reports with "interrupted" errors, exit 3', async () => {
    const d = tmp();
    const inv = inventory(d, silentPort, '60s');
    const child = spawn(process.execPath, [BIN, 'run', '-i', inv, '--json', join(d, 'e.json'), '--junit', join(d, 'junit.xml')], {
      env: { ...process.env, CI: 'true' },
    });
    const exited = new Promise<number | null>((r) => child.on('exit', r));
    let out = '';
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (out += b));
    await vi.waitFor(() => expect(out).toContain('check ids) from'), { timeout: 10_000 });
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGINT');
    const code = await exited;
    expect(code, out).toBe(3);
    expect(out).toContain('SIGINT: stopping');
    noStackTrace(out);
    const doc = JSON.parse(readFileSync(join(d, 'e.json'), 'utf8'));
    expect(evidenceSchema(doc)).toBe(true);
    expect(doc.complete).toBe(true);
    expect(doc.run.interrupted).toBe(true);
    expect(doc.results.length).toBeGreaterThan(0);
    expect(doc.results.every((x: any) => x.status === 'error' && /interrupted/.test(x.message))).toBe(true);
  });
});

describe('leafcert CLI: verdicts (in-process, fake suites)', () => {
  const suites = [fakeSuite('alpha'), fakeSuite('beta', { status: (n) => (n === 'bad' ? 'fail' : 'pass') })];
  const deps = {
    suites,
    openHost: async (n: any) => new FakeHost(n.name),
    gatherIdentity: async () => identity,
  };
  let d: string;
  beforeAll(() => {
    d = tmp();
    write(
      d,
      'inv.yaml',
      'nodes:\n  - { name: good, host: 10.250.0.2, expect: e }\n  - { name: bad, host: 10.250.0.6, expect: e }\nexpectations:\n  e: { alpha: {}, beta: {} }\n',
    );
  });

  async function quiet<T>(f: () => Promise<T>): Promise<T> {
    const w = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      return await f();
    } finally {
      w.mockRestore();
    }
  }

  it('all pass → 0; a failed check → 1; --only limits to passing checks → 0; reports are valid', async () => {
    const reports = ['--junit', join(d, 'junit.xml'), '--tap', join(d, 'r.tap'), '--json', join(d, 'e.json')];
    expect(await quiet(() => main(['node', 'leafcert', 'run', '-i', join(d, 'inv.yaml'), ...reports], deps))).toBe(1);
    const doc = JSON.parse(readFileSync(join(d, 'e.json'), 'utf8'));
    expect(evidenceSchema(doc)).toBe(true);
    expect(doc.run.exitCode).toBe(1);
    expect(doc.run.argv).toEqual(['run', '-i', join(d, 'inv.yaml'), ...reports]);
    expect(doc.counts).toMatchObject({ pass: 6, fail: 2 });
    expect(tapOk(readFileSync(join(d, 'r.tap'), 'utf8'))).toBe(false);
    expect(readFileSync(join(d, 'junit.xml'), 'utf8')).toContain('<failure message="beta.one on bad"');

    expect(await quiet(() => main(['node', 'leafcert', 'run', '-i', join(d, 'inv.yaml'), '--only', 'alpha', ...reports], deps))).toBe(0);
    expect(tapOk(readFileSync(join(d, 'r.tap'), 'utf8'))).toBe(true);
    expect(await quiet(() => main(['node', 'leafcert', 'run', '-i', join(d, 'inv.yaml'), '--only', 'beta.*', '-c', '1'], deps))).toBe(1);
  });

  it('a waiver makes the failing check pass the gate → 0', async () => {
    write(
      d,
      'waived.yaml',
      'nodes:\n  - { name: bad, host: 10.250.0.6, expect: e }\nexpectations:\n  e: { beta: {} }\nwaivers:\n  - { check: "beta.*", node: bad, reason: "ticket 12", approvedBy: sre-lead, expires: 2099-12-31 }\n',
    );
    expect(await quiet(() => main(['node', 'leafcert', 'run', '-i', join(d, 'waived.yaml')], deps))).toBe(0);
  });
});

describe('leafcert CLI: the run cannot end in a silent exit 0 or a stack trace', () => {
  const deps = (status: 'pass' | 'skipped' = 'pass') => ({
    suites: [fakeSuite('alpha', { status: () => status })],
    openHost: async (n: any) => new FakeHost(n.name),
    gatherIdentity: async () => identity,
  });
  async function capture(f: () => Promise<number>) {
    let out = '';
    let err = '';
    const o = vi.spyOn(process.stdout, 'write').mockImplementation((s: any) => ((out += String(s)), true));
    const e = vi.spyOn(process.stderr, 'write').mockImplementation((s: any) => ((err += String(s)), true));
    try {
      return { code: await f(), out, err };
    } finally {
      o.mockRestore();
      e.mockRestore();
    }
  }

  it('a report that cannot be written → exit 3 with one line naming it; the other reports say 3 too', async () => {
    const d = tmp();
    const inv = write(d, 'inv.yaml', 'nodes:\n  - { name: good, host: 10.250.0.2, expect: e }\nexpectations:\n  e: { alpha: {} }\n');
    // The report's directory turns into a regular file during the run: a write-time failure (a file
    // where a directory is needed on the command line is refused up front, exit 2).
    mkdirSync(join(d, 'not-a-dir'));
    const swap = () => {
      rmSync(join(d, 'not-a-dir'), { recursive: true, force: true });
      write(d, 'not-a-dir', '');
    };
    const r = await capture(() =>
      main(['node', 'leafcert', 'run', '-i', inv, '--junit', join(d, 'not-a-dir/junit.xml'), '--json', join(d, 'e.json')], { ...deps(), suites: [fakeSuite('alpha', { onGather: swap })] }),
    );
    expect(r.code).toBe(3);
    expect(r.err).toMatch(new RegExp(`leafcert: .*report ${join(d, 'not-a-dir/junit.xml')} could not be written: (ENOTDIR|EEXIST)`));
    expect(r.out).not.toMatch(/^CERTIFIED/m);
    expect(JSON.parse(readFileSync(join(d, 'e.json'), 'utf8')).run.exitCode).toBe(3);
  });

  it('missing parent directories of a report path are created', async () => {
    const d = tmp();
    const inv = write(d, 'inv.yaml', 'nodes:\n  - { name: good, host: 10.250.0.2, expect: e }\nexpectations:\n  e: { alpha: {} }\n');
    const r = await capture(() => main(['node', 'leafcert', 'run', '-i', inv, '--junit', join(d, 'a/b/junit.xml')], deps()));
    expect(r.code).toBe(0);
    expect(existsSync(join(d, 'a/b/junit.xml'))).toBe(true);
  });

  it('every result skipped or manual → NOT CERTIFIED, nothing was evidenced, exit 3', async () => {
    const d = tmp();
    const inv = write(d, 'inv.yaml', 'nodes:\n  - { name: good, host: 10.250.0.2, expect: e }\nexpectations:\n  e: { alpha: {} }\n');
    const r = await capture(() => main(['node', 'leafcert', 'run', '-i', inv], deps('skipped')));
    expect(r.code).toBe(3);
    expect(r.out).toContain('NOT CERTIFIED');
    expect(r.out).toContain('nothing was evidenced: every result is skipped or manual');
  });

  it('an exception that escapes everything: one line, partial reports (complete=false), exit 3', () => {
    const d = tmp();
    const inv = write(d, 'inv.yaml', 'nodes:\n  - { name: good, host: 10.250.0.2, expect: e }\nexpectations:\n  e: { alpha: {} }\n');
    // A suite whose gather lets an error escape from a timer (as ssh2's stray 'error' did) and never settles.
    const script = write(
      d,
      'crash.mjs',
      `import { main } from ${JSON.stringify(join(PRIVATE, 'dist/src/cli.js'))};\n` +
        `const suite = { name: 'alpha', key: 'alpha', schema: { type: 'object' }, checkIds: ['alpha.one'],\n` +
        `  gather: () => new Promise(() => setTimeout(() => { throw new Error('kaboom'); }, 50)), evaluate: () => [] };\n` +
        `const host = { describe: 'fake', roundTrips: 0, exec: async () => ({}), readFile: async () => Buffer.alloc(0), forward: async () => null, close: async () => undefined };\n` +
        `main(['node', 'leafcert', 'run', '-i', ${JSON.stringify(inv)}, '--json', ${JSON.stringify(join(d, 'e.json'))}],\n` +
        `  { suites: [suite], openHost: async () => host, gatherIdentity: async () => ({}) }).then((c) => process.exit(c));\n`,
    );
    const r = spawnSync(process.execPath, [script], { encoding: 'utf8', env: { ...process.env, CI: 'true' }, timeout: 60_000 });
    expect(r.status, r.stdout + r.stderr).toBe(3);
    noStackTrace(r.stdout + r.stderr);
    expect(r.stderr.trim().split('\n')).toEqual(['leafcert: internal error, run stopped: kaboom; reports are partial (complete=false), exit 3']);
    expect(JSON.parse(readFileSync(join(d, 'e.json'), 'utf8')).complete).toBe(false);
  });
});

describe('leafcert CLI: report digests', () => {
  it('the summary names each report with the sha256 of its final content', async () => {
    const d = tmp();
    write(d, 'inv.yaml', 'nodes:\n  - { name: good, host: 10.250.0.2, expect: e }\nexpectations:\n  e: { alpha: {} }\n');
    let out = '';
    const w = vi.spyOn(process.stdout, 'write').mockImplementation((s: any) => ((out += String(s)), true));
    try {
      const code = await main(['node', 'leafcert', 'run', '-i', join(d, 'inv.yaml'), '--json', join(d, 'e.json'), '--junit', join(d, 'j.xml')], {
        suites: [fakeSuite('alpha')],
        openHost: async (n: any) => new FakeHost(n.name),
        gatherIdentity: async () => identity,
      });
      expect(code).toBe(0);
    } finally {
      w.mockRestore();
    }
    const { createHash } = await import('node:crypto');
    for (const f of ['e.json', 'j.xml']) {
      const sha = createHash('sha256').update(readFileSync(join(d, f))).digest('hex');
      expect(out).toContain(`  ${join(d, f)}  sha256:${sha}`);
    }
  });
});
