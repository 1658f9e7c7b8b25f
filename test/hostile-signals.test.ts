// Issue 12 (items 7, 9): signals at any moment, start-up included. SIGINT/SIGTERM give exit 3, one
// line on stderr and valid reports saying the run was interrupted; a second signal exits 3 at
// once; SIGKILL before the first node finishes leaves reports that already say incomplete.
// The built CLI is spawned against a loopback port that accepts TCP and never speaks SSH, so a
// run can be caught at any stage; no lab is needed.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, constants, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Parser } from 'tap-parser';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { makeAjv } from '../src/inventory/validate.js';

const PRIVATE = mkdtempSync(join(tmpdir(), 'leafcert-hostile-signals-build-'));
const CLI = join(PRIVATE, 'dist/src/cli.js');
const BIN = join(PRIVATE, 'bin/leafcert.js');
const XSD = resolve('schemas/junit-10.xsd');
const haveXmllint = spawnSync('xmllint', ['--version']).status === 0;
const evidenceSchema = makeAjv().compile(JSON.parse(readFileSync('schemas/evidence.schema.json', 'utf8')));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let silent: Server;
let silentPort = 0;

beforeAll(async () => {
  // A private build: others rebuilding dist/ at the same time must not swap files under a test.
  const built = spawnSync(resolve('node_modules/.bin/tsc'), ['-p', 'tsconfig.json', '--outDir', join(PRIVATE, 'dist')], { encoding: 'utf8' });
  if (!existsSync(CLI)) throw new Error(`build failed: ${built.stdout}${built.stderr}`);
  mkdirSync(join(PRIVATE, 'bin'));
  copyFileSync('bin/leafcert.js', BIN);
  copyFileSync('package.json', join(PRIVATE, 'package.json'));
  symlinkSync(resolve('node_modules'), join(PRIVATE, 'node_modules'));
  // Files the CLI reads at run time next to its sources (schemas, probe scripts).
  for (const dir of ['schemas', 'src', 'suites']) symlinkSync(resolve(dir), join(PRIVATE, dir));
  // Accepts and never speaks: an SSH handshake that hangs until its (long) connect timeout.
  silent = createServer(() => undefined);
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  silentPort = (silent.address() as { port: number }).port;
}, 180_000);
afterAll(() => {
  silent?.close();
  rmSync(PRIVATE, { recursive: true, force: true });
});

interface Run {
  child: ChildProcess;
  dir: string;
  reports: { junit: string; tap: string; json: string; html: string };
  out: () => string;
  err: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The inventory text: one node on the silent port, a 60 s connect timeout. */
function inventoryText(d: string): string {
  writeFileSync(join(d, 'known_hosts'), '');
  spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(d, 'id_ed25519')]);
  return (
    'defaults:\n  ssh: { user: root, identityFile: ./id_ed25519, knownHosts: ./known_hosts, connectTimeout: 60s }\n' +
    `nodes:\n  - { name: leaf-mute, host: 127.0.0.1, port: ${silentPort}, expect: e }\n` +
    'expectations:\n  e: { firewall: { open: [22], closed: [5432] } }\n'
  );
}

function start(d: string, entry: string[], inv: string): Run {
  const reports = { junit: join(d, 'junit.xml'), tap: join(d, 'r.tap'), json: join(d, 'e.json'), html: join(d, 'r.html') };
  const child = spawn(process.execPath, [...entry, 'run', '-i', inv, '--junit', reports.junit, '--tap', reports.tap, '--json', reports.json, '--html', reports.html], {
    env: { ...process.env, CI: 'true' },
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (b) => (out += b));
  child.stderr!.on('data', (b) => (err += b));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
  return { child, dir: d, reports, out: () => out, err: () => err, exited };
}

/** Every report on disk is valid; returns what each says. */
function reportsOnDisk(r: Run) {
  const seen: Record<string, unknown> = {};
  if (existsSync(r.reports.junit)) {
    if (haveXmllint) expect(spawnSync('xmllint', ['--noout', '--schema', XSD, r.reports.junit], { encoding: 'utf8' }).stderr).toMatch(/validates$/m);
    const xml = readFileSync(r.reports.junit, 'utf8');
    seen.junit = {
      complete: /<property name="leafcert.complete" value="true"\/>/.test(xml) && !/<property name="leafcert.complete" value="false"\/>/.test(xml),
      interrupted: xml.includes('<property name="leafcert.interrupted" value="true"/>'),
      errors: Number(/<testsuites [^>]*errors="(\d+)"/.exec(xml)?.[1]),
    };
  }
  if (existsSync(r.reports.json)) {
    const doc = JSON.parse(readFileSync(r.reports.json, 'utf8'));
    expect(evidenceSchema(doc), JSON.stringify(evidenceSchema.errors)).toBe(true);
    seen.json = doc;
  }
  if (existsSync(r.reports.tap)) {
    let summary: any;
    const p = new Parser({ strict: true }, (s) => (summary = s));
    p.end(readFileSync(r.reports.tap, 'utf8'));
    seen.tap = summary;
  }
  if (existsSync(r.reports.html)) seen.html = readFileSync(r.reports.html, 'utf8');
  return seen as { junit?: { complete: boolean; interrupted: boolean; errors: number }; json?: any; tap?: any; html?: string };
}

/** A run stopped by a signal: exit 3, the one line, all four reports finished and saying interrupted. */
async function expectInterrupted(r: Run, sig: 'SIGINT' | 'SIGTERM') {
  const { code, signal } = await r.exited;
  expect({ code, signal }, r.out() + r.err()).toEqual({ code: 3, signal: null });
  expect(r.err().trim().split('\n')).toEqual([`leafcert: ${sig}: stopping, the run is interrupted: unfinished checks are reported as errors, exit 3`]);
  expect(r.out() + r.err()).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  const seen = reportsOnDisk(r);
  expect(Object.keys(seen).sort()).toEqual(['html', 'json', 'junit', 'tap']);
  expect(seen.json.complete).toBe(true);
  expect(seen.json.run).toMatchObject({ interrupted: true, exitCode: 3 });
  expect(seen.json.results.length).toBeGreaterThan(0);
  expect(seen.json.results.every((x: any) => x.status === 'error' && /interrupted/.test(x.message))).toBe(true);
  expect(seen.junit).toMatchObject({ complete: true, interrupted: true });
  expect(seen.junit!.errors).toBe(seen.json.results.length);
  expect(seen.tap.ok).toBe(false);
  expect(seen.html).toContain('INCOMPLETE (exit code 3, interrupted)');
  expect(r.out()).toMatch(/^INCOMPLETE: .*\(interrupted\)$/m);
}

/** A FIFO as the inventory: leafcert blocks reading it, so a signal sent then lands before the inventory is loaded. */
function fifoInventory(d: string): string {
  const fifo = join(d, 'inv.yaml');
  expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
  return fifo;
}

/** Wait until leafcert has opened the FIFO for reading (it is then loading the inventory); returns the write end. */
async function readerOpened(fifo: string, r: Run): Promise<number> {
  for (let i = 0; i < 1500; i++) {
    try {
      return openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENXIO') throw e;
    }
    if (r.child.exitCode !== null || r.child.signalCode !== null) throw new Error(`leafcert ended before reading the inventory: ${r.out()}${r.err()}`);
    await sleep(20);
  }
  throw new Error('leafcert never opened the inventory');
}

describe('signals during start-up', () => {
  it('SIGINT while the CLI modules load (bin/leafcert.js): exit 3, one line, interrupted reports — not a silent 130', async () => {
    const d = mkdtempSync(join(tmpdir(), 'leafcert-hostile-signals-'));
    const inv = join(d, 'inv.yaml');
    writeFileSync(inv, inventoryText(d));
    // A module hook holds the CLI's loading for 3 s and says when it started: the launcher has
    // run its first lines, nothing of the CLI has.
    const mark = join(d, 'loading');
    writeFileSync(
      join(d, 'hooks.mjs'),
      `import { writeFileSync } from 'node:fs';\n` +
        `export async function load(url, context, next) {\n` +
        `  if (url.endsWith('/dist/src/cli.js')) { writeFileSync(${JSON.stringify(mark)}, url); await new Promise((r) => setTimeout(r, 3000)); }\n` +
        `  return next(url, context);\n}\n`,
    );
    writeFileSync(join(d, 'register.mjs'), `import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n`);
    const r = start(d, ['--import', join(d, 'register.mjs'), BIN], inv);
    await vi.waitFor(() => expect(existsSync(mark)).toBe(true), { timeout: 30_000, interval: 20 });
    expect(r.out()).toBe('');
    r.child.kill('SIGINT');
    await expectInterrupted(r, 'SIGINT');
  });

  it('SIGTERM while the inventory is being read: exit 3, one line, every check reported as interrupted, no node contacted', async () => {
    const d = mkdtempSync(join(tmpdir(), 'leafcert-hostile-signals-'));
    const text = inventoryText(d);
    const fifo = fifoInventory(d);
    let accepted = 0;
    const onConn = () => accepted++;
    silent.on('connection', onConn);
    try {
      const r = start(d, [CLI], fifo);
      const fd = await readerOpened(fifo, r);
      r.child.kill('SIGTERM');
      await sleep(200);
      writeSync(fd, text);
      closeSync(fd);
      await expectInterrupted(r, 'SIGTERM');
      expect(r.out()).toContain('interrupted before the node was checked');
      expect(accepted).toBe(0);
    } finally {
      silent.off('connection', onConn);
    }
  });

  it('a second SIGINT exits 3 at once, without finishing: whatever report exists is valid and says incomplete', async () => {
    const d = mkdtempSync(join(tmpdir(), 'leafcert-hostile-signals-'));
    const text = inventoryText(d);
    const fifo = fifoInventory(d);
    const r = start(d, [CLI], fifo);
    const fd = await readerOpened(fifo, r);
    r.child.kill('SIGINT');
    await sleep(200);
    r.child.kill('SIGINT');
    await sleep(200);
    writeSync(fd, text);
    closeSync(fd);
    const { code, signal } = await r.exited;
    expect({ code, signal }, r.out() + r.err()).toEqual({ code: 3, signal: null });
    expect(r.err().trim().split('\n')).toEqual([
      'leafcert: SIGINT: stopping, the run is interrupted: unfinished checks are reported as errors, exit 3',
      'leafcert: SIGINT again: exiting now, reports stay partial (complete=false), exit 3',
    ]);
    const seen = reportsOnDisk(r);
    if (seen.junit) expect(seen.junit.complete).toBe(false);
    if (seen.json) expect(seen.json.complete).toBe(false);
    if (seen.tap) expect(seen.tap.ok).toBe(false);
    if (seen.html) expect(seen.html).toContain('INCOMPLETE');
  });
});

describe('check-config', () => {
  it('SIGINT while it reads its manifest: exit 3, one line, reports finished and saying interrupted', async () => {
    const d = mkdtempSync(join(tmpdir(), 'leafcert-hostile-signals-'));
    const fifo = join(d, 'manifest.json');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const reports = { junit: join(d, 'junit.xml'), tap: join(d, 'r.tap'), json: join(d, 'e.json'), html: join(d, 'absent.html') };
    const child = spawn(process.execPath, [BIN, 'check-config', fifo, '--junit', reports.junit, '--tap', reports.tap, '--json', reports.json], { env: { ...process.env, CI: 'true' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (err += b));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
    const r = { child, dir: d, reports, out: () => out, err: () => err, exited } as Run;
    const fd = await readerOpened(fifo, r);
    child.kill('SIGINT');
    await sleep(200);
    const manifest = readFileSync('fixtures/nix/example.manifest.json');
    writeSync(fd, manifest);
    closeSync(fd);
    // check-config reads the file a second time for its sha256: once the first read has closed it.
    const holds = () => {
      try {
        return readdirSync(`/proc/${child.pid}/fd`).some((f) => {
          try {
            return readlinkSync(`/proc/${child.pid}/fd/${f}`) === fifo;
          } catch {
            return false;
          }
        });
      } catch {
        return false;
      }
    };
    await vi.waitFor(() => expect(holds()).toBe(false), { timeout: 30_000, interval: 10 });
    const again = await readerOpened(fifo, r);
    writeSync(again, manifest);
    closeSync(again);
    expect(await exited, out + err).toEqual({ code: 3, signal: null });
    expect(err.trim().split('\n')).toEqual(['leafcert: SIGINT: stopping, the run is interrupted: unfinished checks are reported as errors, exit 3']);
    const seen = reportsOnDisk(r);
    expect(Object.keys(seen).sort()).toEqual(['json', 'junit', 'tap']);
    expect(seen.json.run).toMatchObject({ interrupted: true, exitCode: 3 });
    expect(seen.junit).toMatchObject({ complete: true, interrupted: true });
    expect(out).toMatch(/^INCOMPLETE: .*\(interrupted\)$/m);
  });
});

describe('commands that write no reports', () => {
  it('plan keeps Node default: SIGINT while it reads its manifest ends it at once', async () => {
    const d = mkdtempSync(join(tmpdir(), 'leafcert-hostile-signals-'));
    const fifo = join(d, 'manifest.json');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const child = spawn(process.execPath, [BIN, 'plan', '--from-nix', fifo, '--out', join(d, 'inv.yaml')], { env: { ...process.env, CI: 'true' } });
    let err = '';
    child.stderr.on('data', (b) => (err += b));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
    const r = { child, out: () => '', err: () => err } as unknown as Run;
    const fd = await readerOpened(fifo, r);
    child.kill('SIGINT');
    expect(await exited).toEqual({ code: null, signal: 'SIGINT' });
    closeSync(fd);
    expect(err).toBe('');
    expect(existsSync(join(d, 'inv.yaml'))).toBe(false);
  });
});

describe('signals mid-run', () => {
  it('SIGTERM during a hanging connection: exit 3, one line, the four reports finished and saying interrupted', async () => {
    const d = mkdtempSync(join(tmpdir(), 'leafcert-hostile-signals-'));
    const inv = join(d, 'inv.yaml');
    writeFileSync(inv, inventoryText(d));
    const r = start(d, [BIN], inv);
    await vi.waitFor(() => expect(r.out()).toContain('check ids) from'), { timeout: 30_000, interval: 20 });
    await sleep(300);
    r.child.kill('SIGTERM');
    await expectInterrupted(r, 'SIGTERM');
  });

  it('SIGKILL before the first node finishes: the reports on disk already say incomplete (JUnit complete=false, not an empty green report)', async () => {
    const d = mkdtempSync(join(tmpdir(), 'leafcert-hostile-signals-'));
    const inv = join(d, 'inv.yaml');
    writeFileSync(inv, inventoryText(d));
    const r = start(d, [BIN], inv);
    // The console reporter is last: when its first line is out, every file has had its first write.
    await vi.waitFor(() => expect(r.out()).toContain('check ids) from'), { timeout: 30_000, interval: 20 });
    r.child.kill('SIGKILL');
    expect((await r.exited).signal).toBe('SIGKILL');
    const seen = reportsOnDisk(r);
    expect(Object.keys(seen).sort()).toEqual(['html', 'json', 'junit', 'tap']);
    expect(seen.junit).toMatchObject({ complete: false, interrupted: false });
    expect(seen.junit!.errors).toBeGreaterThan(0);
    expect(readFileSync(r.reports.junit, 'utf8')).toContain('<property name="leafcert.complete" value="false"/>');
    expect(seen.json.complete).toBe(false);
    expect(seen.tap.ok).toBe(false);
    expect(seen.html).toContain('INCOMPLETE');
  });
});
