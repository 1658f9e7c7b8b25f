// Issue 12 (items 2, 7, 4): report paths that can never be written are refused before anything
// is created, and never hang (Node 20's recursive mkdirSync spins forever under /proc); every
// report says incomplete from its first write; names echoed on the console stay one line.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Parser } from 'tap-parser';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { makeAjv } from '../src/inventory/validate.js';
import { checkConfigCommand } from '../src/nix/cli.js';
import { AtomicFile } from '../src/reporters/atomic.js';
import { ConsoleReporter } from '../src/reporters/console.js';
import { HtmlReporter } from '../src/reporters/html.js';
import { JsonReporter } from '../src/reporters/json.js';
import { JunitReporter } from '../src/reporters/junit.js';
import { checkReportPath, ensureReportDir, ReportPathError } from '../src/reporters/report-path.js';
import { TapReporter } from '../src/reporters/tap.js';
import type { RunMeta } from '../src/reporters/types.js';
import { emptyCounts } from '../src/reporters/types.js';
import { printable } from '../src/core/text.js';
import { node, result } from './helpers/fakes.js';

const XSD = resolve('schemas/junit-10.xsd');
const haveXmllint = spawnSync('xmllint', ['--version']).status === 0;
const evidenceSchema = makeAjv().compile(JSON.parse(readFileSync('schemas/evidence.schema.json', 'utf8')));
// A private build: others rebuilding dist/ at the same time must not swap files under a test.
const PRIVATE = mkdtempSync(join(tmpdir(), 'leafcert-hostile-reports-build-'));
const BIN = join(PRIVATE, 'dist/src/cli.js');

const tmp = () => mkdtempSync(join(tmpdir(), 'leafcert-hostile-reports-'));

function cli(args: string[]) {
  // The timeout is the point for /proc: before the fix the child spun until killed here.
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, CI: 'true' }, timeout: 30_000 });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

function xmlValid(path: string): boolean {
  return spawnSync('xmllint', ['--noout', '--schema', XSD, path], { encoding: 'utf8' }).status === 0;
}

function xpath(path: string, expr: string): string {
  return spawnSync('xmllint', ['--xpath', expr, path], { encoding: 'utf8' }).stdout.replace(/\n$/, '');
}

function tapSummary(text: string): any {
  let summary: any;
  const p = new Parser({ strict: true }, (s) => (summary = s));
  p.end(text);
  return summary;
}

const meta: RunMeta = {
  harness: { name: 'leafcert', version: '0.1.0' },
  startedAt: '2026-11-27T04:00:00.000Z',
  inventory: { path: '/srv/inventory.yaml', sha256: 'a'.repeat(64) },
  argv: ['run'],
  nodes: [node('leaf-1')],
  planned: 2,
};

beforeAll(() => {
  // tsc emits even with type errors elsewhere in the tree; the CLI is what matters here.
  const built = spawnSync(resolve('node_modules/.bin/tsc'), ['-p', 'tsconfig.json', '--outDir', join(PRIVATE, 'dist')], { encoding: 'utf8' });
  if (!existsSync(BIN)) throw new Error(`build failed: ${built.stdout}${built.stderr}`);
  copyFileSync('package.json', join(PRIVATE, 'package.json'));
  symlinkSync(resolve('node_modules'), join(PRIVATE, 'node_modules'));
  // Files the CLI reads at run time next to its sources (schemas, probe scripts).
  for (const dir of ['schemas', 'src', 'suites']) symlinkSync(resolve(dir), join(PRIVATE, dir));
}, 180_000);
afterAll(() => rmSync(PRIVATE, { recursive: true, force: true }));

describe('report paths: judged before anything is created', () => {
  it.each([
    ['/proc/nope/j.xml', /^\/proc\/nope\/j\.xml: \/proc is a kernel pseudo-filesystem/],
    ['/proc/self/j.xml', /pseudo-filesystem/],
    ['/sys/nope/deeper/j.xml', /^\/sys\/nope\/deeper\/j\.xml: \/sys is a kernel pseudo-filesystem/],
    ['/dev/j.xml', /\/dev is a kernel pseudo-filesystem/],
  ])('%s is refused at once', (p, why) => {
    expect(() => checkReportPath(p)).toThrow(ReportPathError);
    expect(() => checkReportPath(p)).toThrow(why);
    expect(() => ensureReportDir(p)).toThrow(ReportPathError);
  });

  it('a symlink into /proc is judged by where it leads', () => {
    const d = tmp();
    symlinkSync('/proc/self', join(d, 'link'));
    expect(() => checkReportPath(join(d, 'link/nope/j.xml'))).toThrow(/pseudo-filesystem/);
  });

  it('a regular file where a directory is needed, or a directory as the report: refused, nothing created', () => {
    const d = tmp();
    writeFileSync(join(d, 'file'), '');
    expect(() => checkReportPath(join(d, 'file/sub/j.xml'))).toThrow(`${join(d, 'file')} is not a directory`);
    mkdirSync(join(d, 'dir.xml'));
    expect(() => checkReportPath(join(d, 'dir.xml'))).toThrow(/: is a directory$/);
  });

  it('an ancestor that cannot be written in is refused (immutable directory, root or not)', (ctx) => {
    const d = tmp();
    mkdirSync(join(d, 'locked'));
    if (spawnSync('chattr', ['+i', join(d, 'locked')]).status !== 0) return ctx.skip();
    try {
      expect(() => checkReportPath(join(d, 'locked/a/j.xml'))).toThrow(`cannot write in ${join(d, 'locked')}`);
    } finally {
      spawnSync('chattr', ['-i', join(d, 'locked')]);
    }
  });

  it('missing parents: the check creates nothing; the write creates them one level at a time', () => {
    const d = tmp();
    const p = join(d, 'a/b/c/j.xml');
    expect(checkReportPath(p)).toBe(p);
    expect(existsSync(join(d, 'a'))).toBe(false);
    const f = new AtomicFile(p, () => 'x\n');
    f.write(true);
    expect(readFileSync(p, 'utf8')).toBe('x\n');
  });

  it('a write-time failure names the flag and the path on one line', () => {
    const d = tmp();
    mkdirSync(join(d, 'sub'));
    const f = new AtomicFile(join(d, 'sub/j\nx.xml'), () => 'x\n');
    f.flag = '--junit';
    f.write(false);
    rmSync(join(d, 'sub'), { recursive: true });
    writeFileSync(join(d, 'sub'), '');
    let msg = '';
    try {
      f.write(true);
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toBe(`--junit report ${join(d, 'sub/j\\nx.xml')} could not be written: ENOTDIR ${join(d, 'sub')} is not a directory`);
  });

  it('a report file under /proc at write time: an error at once, never a hang (child process, 30 s limit)', () => {
    const script = `import { AtomicFile } from ${JSON.stringify(join(PRIVATE, 'dist/src/reporters/atomic.js'))};
      const f = new AtomicFile('/proc/nope/deeper/j.xml', () => 'x');
      f.flag = '--junit';
      try { f.write(true); } catch (e) { console.log(e.message); process.exit(3); }`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(r.signal, 'the write hung and was killed').toBeNull();
    expect(r.status).toBe(3);
    expect(r.stdout.trim()).toBe('--junit report /proc/nope/deeper/j.xml could not be written: /proc is a kernel pseudo-filesystem, not a place for reports');
  });
});

describe('report paths: the CLI (run and check-config) exits 2 with one line, never hangs', () => {
  const inventory = (d: string) => {
    writeFileSync(join(d, 'inv.yaml'), 'nodes:\n  - { name: a, host: 127.0.0.1, expect: e }\nexpectations:\n  e: { firewall: { open: [22] } }\n');
    return join(d, 'inv.yaml');
  };

  it.each([
    ['--junit', '/proc/nope/j.xml'],
    ['--tap', '/proc/nope/r.tap'],
    ['--json', '/sys/nope/e.json'],
    ['--html', '/proc/self/nope/r.html'],
  ])('run %s %s', (flag, p) => {
    const d = tmp();
    const r = cli(['run', '-i', inventory(d), flag, p]);
    expect(r.signal, 'leafcert hung and was killed').toBeNull();
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`^leafcert: ${flag} ${p.replace(/\./g, '\\.')}: .*pseudo-filesystem`));
    expect(r.stdout).toBe('');
  });

  it('run: a file where a directory is needed is refused up front too (exit 2), nothing written', () => {
    const d = tmp();
    writeFileSync(join(d, 'file'), '');
    const r = cli(['run', '-i', inventory(d), '--json', join(d, 'e.json'), '--junit', join(d, 'file/j.xml')]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`leafcert: --junit ${join(d, 'file/j.xml')}: ${join(d, 'file')} is not a directory`);
    expect(existsSync(join(d, 'e.json'))).toBe(false);
  });

  it.each([
    ['--junit', '/proc/nope/j.xml'],
    ['--tap', '/sys/nope/r.tap'],
    ['--json', '/proc/nope/e.json'],
  ])('check-config %s %s', (flag, p) => {
    const r = cli(['check-config', resolve('fixtures/nix/example.manifest.json'), flag, p]);
    expect(r.signal, 'leafcert hung and was killed').toBeNull();
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`^leafcert: ${flag} ${p.replace(/\./g, '\\.')}: .*pseudo-filesystem`));
  });

  it('check-config: a report that fails while writing → exit 3, one line naming flag and path; the other report says 3', async () => {
    const d = tmp();
    // A directory where the temp file goes: the path passes the up-front check, the write fails.
    mkdirSync(join(d, `j.xml.tmp-${process.pid}`));
    let err = '';
    const o = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const e = vi.spyOn(process.stderr, 'write').mockImplementation((s: any) => ((err += String(s)), true));
    let code: number;
    try {
      code = await checkConfigCommand(resolve('fixtures/nix/example.manifest.json'), { junit: join(d, 'j.xml'), json: join(d, 'e.json') });
    } finally {
      o.mockRestore();
      e.mockRestore();
    }
    expect(code).toBe(3);
    expect(err.trim().split('\n')).toHaveLength(1);
    expect(err).toMatch(new RegExp(`^leafcert: --junit report ${join(d, 'j.xml')} could not be written: EISDIR`));
    const doc = JSON.parse(readFileSync(join(d, 'e.json'), 'utf8'));
    expect(doc.complete).toBe(true);
    expect(doc.run.exitCode).toBe(3);
  });
});

describe('every report says incomplete from its first write', () => {
  // What a run killed (SIGKILL, OOM) before its first node finished leaves on disk.
  function firstWrite() {
    const d = tmp();
    const p = { junit: join(d, 'j.xml'), tap: join(d, 'r.tap'), json: join(d, 'e.json'), html: join(d, 'r.html') };
    for (const r of [new JunitReporter(p.junit), new TapReporter(p.tap), new JsonReporter(p.json), new HtmlReporter(p.html)]) r.onRunStart(meta);
    return p;
  }

  it('JUnit: XSD-valid, leafcert.complete=false and an error, not an empty green report', (ctx) => {
    const p = firstWrite();
    expect(existsSync(p.junit)).toBe(true);
    if (!haveXmllint) return ctx.skip();
    expect(xmlValid(p.junit)).toBe(true);
    expect(xpath(p.junit, 'string(//property[@name="leafcert.complete"]/@value)')).toBe('false');
    expect(Number(xpath(p.junit, 'string(/testsuites/@errors)'))).toBeGreaterThan(0);
    expect(xpath(p.junit, 'string(//testsuite[@name="leafcert"]//property[@name="inventory.sha256"]/@value)')).toBe('a'.repeat(64));
  });

  it('JSON complete=false (schema-valid), TAP not ok, HTML written at run start and says INCOMPLETE', () => {
    const p = firstWrite();
    const doc = JSON.parse(readFileSync(p.json, 'utf8'));
    expect(evidenceSchema(doc), JSON.stringify(evidenceSchema.errors)).toBe(true);
    expect(doc.complete).toBe(false);
    expect(tapSummary(readFileSync(p.tap, 'utf8')).ok).toBe(false);
    expect(existsSync(p.html)).toBe(true);
    expect(readFileSync(p.html, 'utf8')).toContain('INCOMPLETE');
  });

  it('the finished JUnit has no run suite; an interrupted one says leafcert.interrupted=true', async (ctx) => {
    if (!haveXmllint) return ctx.skip();
    for (const interrupted of [false, true]) {
      const path = join(tmp(), 'j.xml');
      const rep = new JunitReporter(path);
      rep.onRunStart(meta);
      rep.onNodeStart(meta.nodes[0], {});
      rep.onResult(result({ node: 'leaf-1' }));
      rep.onNodeEnd(meta.nodes[0]);
      const counts = { ...emptyCounts(), pass: 1 };
      await rep.onRunEnd({ finishedAt: '2026-11-27T04:00:01.000Z', durationMs: 1000, counts, perNode: {}, exitCode: interrupted ? 3 : 0, interrupted, warnings: [] });
      expect(xmlValid(path)).toBe(true);
      expect(xpath(path, 'count(//testsuite[@name="leafcert"])')).toBe('0');
      expect(xpath(path, 'string(//property[@name="leafcert.complete"]/@value)')).toBe('true');
      expect(xpath(path, 'string(//property[@name="leafcert.interrupted"]/@value)')).toBe(interrupted ? 'true' : '');
    }
  });
});

describe('names echoed on the console stay one line', () => {
  it('printable escapes control characters JSON-style and leaves the rest', () => {
    expect(printable('a\nb\tc\rd\x1b[31m\x00\x7fé')).toBe('a\\nb\\tc\\rd\\u001b[31m\\u0000\\u007fé');
  });

  it('a node named with a newline and an escape: each console line is one line', async () => {
    let text = '';
    const sink = { write: (s: string) => ((text += s), true), isTTY: false };
    const rep = new ConsoleReporter({ stream: sink, plain: true });
    const n = node('leaf\nevil\x1b[2J');
    rep.onRunStart({ ...meta, nodes: [n] });
    rep.onNodeStart(n, {});
    rep.onResult(result({ node: n.name, status: 'fail', subject: 'port\n22', message: 'open', evidence: { expected: 'closed', observed: 'open', source: 'tcp' } }));
    rep.onResult(result({ node: n.name, status: 'error', subject: n.name, message: `${n.name}: no ssh handshake`, evidence: { source: 'transport ssh' } }));
    rep.onNodeEnd(n);
    const counts = { ...emptyCounts(), fail: 1, error: 1 };
    await rep.onRunEnd({ finishedAt: '', durationMs: 1, counts, perNode: { [n.name]: counts, other: emptyCounts() }, exitCode: 1, interrupted: false, warnings: [] });
    expect(text).not.toMatch(/\x1b/);
    const lines = text.split('\n');
    expect(lines).toContain('leaf\\nevil\\u001b[2J: checking');
    expect(lines.find((l) => l.startsWith('FAIL'))).toBe('FAIL leaf\\nevil\\u001b[2J firewall.port-closed port\\n22: open');
    expect(lines.find((l) => l.startsWith('ERROR'))).toMatch(/^ERROR leaf\\nevil\\u001b\[2J firewall\.port-closed: leaf evil/);
    expect(lines).toContain('✗ leaf\\nevil\\u001b[2J: 1 failed, 1 error');
    // No line starts with the tail of a broken name.
    expect(lines.some((l) => l.startsWith('evil'))).toBe(false);
  });

  it('check-config with a hostName holding a newline and an escape (the CLI): every line one line', () => {
    const d = tmp();
    const m = JSON.parse(readFileSync('fixtures/nix/example.manifest.json', 'utf8'));
    m.host.networking.hostName = 'leaf\nevil\x1b[31m';
    writeFileSync(join(d, 'm.json'), JSON.stringify(m));
    const r = cli(['check-config', join(d, 'm.json'), '--json', join(d, 'e.json')]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/\x1b/);
    expect(r.stdout.split('\n')).toContain('leaf\\nevil\\u001b[31m: checking');
    expect(r.stdout.split('\n').some((l) => l.startsWith('evil'))).toBe(false);
    // The evidence keeps the raw name: escaping is for the console.
    expect(JSON.parse(readFileSync(join(d, 'e.json'), 'utf8')).nodes[0].name).toBe('leaf\nevil\x1b[31m');
  });

  it('a report path with a newline: the invocation error is one line', () => {
    const d = tmp();
    writeFileSync(join(d, 'file'), '');
    writeFileSync(join(d, 'inv.yaml'), 'nodes:\n  - { name: a, host: 127.0.0.1, expect: e }\nexpectations:\n  e: { firewall: { open: [22] } }\n');
    const r = cli(['run', '-i', join(d, 'inv.yaml'), '--junit', join(d, 'file/x\ny.xml')]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([`leafcert: --junit ${join(d, 'file/x\\ny.xml')}: ${join(d, 'file')} is not a directory`]);
  });
});
