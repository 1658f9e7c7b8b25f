// Hostile and mistaken inventories (issue 12, items 3 and 4): refused in bounded time and memory
// with one line naming the file (and line), exit 2, before anything connects. The CLI runs from a
// private build in its own process, with a small heap, so a regression shows as exit 134 or a
// timeout here instead of taking the test worker down.
import { spawnSync } from 'node:child_process';
import {
  closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, symlinkSync, copyFileSync, writeFileSync, ftruncateSync, writeSync,
} from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InventoryError } from '../src/inventory/errors.js';
import { DEFAULT_MAX_BYTES, MAX_VALUES } from '../src/inventory/limits.js';
import { loadInventory, parseInventory } from '../src/inventory/load.js';
import { isHostOrAddress } from '../src/inventory/ssh-checks.js';
import { printable } from '../src/core/text.js';
import { fakeSuite } from './helpers/fakes.js';

const PRIVATE = mkdtempSync(join(tmpdir(), 'leafcert-hostile-inv-build-'));
const BIN = join(PRIVATE, 'dist/src/cli.js');
const suites = [fakeSuite('alpha')];

beforeAll(() => {
  const built = spawnSync(resolve('node_modules/.bin/tsc'), ['-p', 'tsconfig.json', '--outDir', join(PRIVATE, 'dist')], { encoding: 'utf8' });
  if (!existsSync(BIN)) throw new Error(`build failed: ${built.stdout}${built.stderr}`);
  copyFileSync('package.json', join(PRIVATE, 'package.json'));
  symlinkSync(resolve('node_modules'), join(PRIVATE, 'node_modules'));
  // Probe scripts and lab helpers are read from the source tree at run time.
  symlinkSync(resolve('src'), join(PRIVATE, 'src'));
}, 120_000);
afterAll(() => rmSync(PRIVATE, { recursive: true, force: true }));

/** The CLI in its own process with a 512 MB heap: an unbounded load dies (134) instead of passing. */
function cli(args: string[], env: NodeJS.ProcessEnv = {}, timeout = 90_000) {
  const r = spawnSync(process.execPath, ['--max-old-space-size=512', BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, CI: 'true', LEAFCERT_MAX_INVENTORY_BYTES: '', ...env },
    timeout,
  });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

// Every dir is removed after the file: some hold 50 MB inventories, and a shared /tmp that
// fills up slows the tests that scan it (hostile-node's "no value in any file").
const made: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'leafcert-hostile-inv-'));
  made.push(d);
  return d;
};
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

function write(dir: string, name: string, text: string | Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

/** stderr is exactly these lines, each starting `leafcert: `, none of them a stack frame. */
function lines(stderr: string): string[] {
  const out = stderr.replace(/\n$/, '').split('\n');
  for (const l of out) expect(l).toMatch(/^leafcert: /);
  expect(stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  return out;
}

const EXPECT = 'expectations:\n  e: { firewall: { open: [22], closed: [5432] } }\n';

/** A labels map of `count` entries, shaped like the (about 27 bytes a line). */
function labelsInventory(count: number): string {
  const parts = ['nodes:\n  - name: a\n    transport: local\n    expect: e\n    labels:\n'];
  for (let i = 0; i < count; i++) parts.push(`      label-${i}: value-${i}\n`);
  parts.push('expectations:\n  e: { alpha: {} }\n');
  return parts.join('');
}

describe('large inventories load in linear time', () => {
  it('a 5 MB inventory with a large labels map loads in seconds (was 322 s: a quadratic duplicate-key check)', () => {
    const d = tmp();
    const text = labelsInventory(190_000);
    expect(text.length).toBeGreaterThan(5_000_000);
    const f = write(d, 'labels.yaml', text);
    const t0 = Date.now();
    const inv = loadInventory(f, { suites });
    const ms = Date.now() - t0;
    expect(Object.keys(inv.nodes[0].labels!)).toHaveLength(190_000);
    expect(inv.nodes[0].labels!['label-189999']).toBe('value-189999');
    // ~2-5 s on a quiet 2-vCPU machine; the bound leaves room for a loaded one.
    expect(ms).toBeLessThan(30_000);
  }, 120_000);

  it('a duplicate key in a large map is still refused, at its line, with the first one named', () => {
    const text = labelsInventory(20_000).replace('      label-19999: value-19999\n', '      label-7: again\n');
    expect(() => parseInventory(text, '/x.yaml', { suites })).toThrow(/^\/x\.yaml:20005:7: nodes\[0\]\.labels\.label-7: duplicate key "label-7" \(first at line 13\)$/);
  });
});

describe('size cap: checked with stat before a byte is read', () => {
  it(`a file over the default ${DEFAULT_MAX_BYTES / 1048576} MiB is refused at once, exit 2, one line (a sparse 1 TB file proves nothing is read)`, () => {
    const d = tmp();
    const f = join(d, 'huge.yaml');
    const fd = openSync(f, 'w');
    ftruncateSync(fd, 1e12);
    closeSync(fd);
    const t0 = Date.now();
    const r = cli(['run', '-i', f]);
    expect(r.code, r.stderr).toBe(2);
    expect(lines(r.stderr)).toEqual([
      `leafcert: ${f}: inventory is 1000000000000 bytes, over the 10 MiB limit (raise it with LEAFCERT_MAX_INVENTORY_BYTES, e.g. LEAFCERT_MAX_INVENTORY_BYTES=64M)`,
    ]);
    expect(Date.now() - t0).toBeLessThan(20_000);
  });

  it('LEAFCERT_MAX_INVENTORY_BYTES lowers or raises the cap; a bad value is one line, exit 2', () => {
    const d = tmp();
    const f = write(d, 'inv.yaml', `nodes:\n  - { name: a, transport: local, expect: e }\n${EXPECT}`);
    const low = cli(['run', '-i', f], { LEAFCERT_MAX_INVENTORY_BYTES: '20' });
    expect(low.code).toBe(2);
    expect(lines(low.stderr)).toEqual([`leafcert: ${f}: inventory is ${statSync(f).size} bytes, over the 20 bytes limit (raise it with LEAFCERT_MAX_INVENTORY_BYTES, e.g. LEAFCERT_MAX_INVENTORY_BYTES=64M)`]);
    const bad = cli(['run', '-i', f], { LEAFCERT_MAX_INVENTORY_BYTES: 'lots' });
    expect(bad.code).toBe(2);
    expect(lines(bad.stderr)).toEqual([`leafcert: ${f}: LEAFCERT_MAX_INVENTORY_BYTES="lots" is not a size (expected bytes, or e.g. 20M, 1G, infinity)`]);
    expect(() => loadInventory(f)).not.toThrow();
  });

  it('a stream (a device, a pipe) is read up to the cap and refused past it', () => {
    const r = cli(['run', '-i', '/dev/zero'], { LEAFCERT_MAX_INVENTORY_BYTES: '1M' });
    expect(r.code).toBe(2);
    expect(lines(r.stderr)).toEqual(['leafcert: /dev/zero: inventory is larger than the 1 MiB limit (raise it with LEAFCERT_MAX_INVENTORY_BYTES, e.g. LEAFCERT_MAX_INVENTORY_BYTES=64M)']);
  });
});

describe('structure caps: exit 2 with file:line, never a heap abort or a stack overflow', () => {
  it('a 26M-item list: refused by size; with the size cap lifted, refused by the value cap (no OOM, exit 2 not 134)', () => {
    const d = tmp();
    const f = join(d, 'list.yaml');
    const fd = openSync(f, 'w');
    writeSync(fd, 'nodes: [');
    const chunk = '0,'.repeat(1_000_000);
    for (let i = 0; i < 26; i++) writeSync(fd, chunk);
    writeSync(fd, `0]\n${EXPECT}`);
    closeSync(fd);
    const capped = cli(['run', '-i', f]);
    expect(capped.code).toBe(2);
    expect(lines(capped.stderr)[0]).toMatch(/inventory is 520000\d\d bytes, over the 10 MiB limit/);
    const lifted = cli(['run', '-i', f], { LEAFCERT_MAX_INVENTORY_BYTES: '100M' });
    expect(lifted.signal).toBeNull();
    expect(lifted.code, lifted.stderr.slice(0, 2000)).toBe(2);
    expect(lines(lifted.stderr)).toEqual([`leafcert: ${f}:1:${9 + 2 * (MAX_VALUES - 2)}: more than ${MAX_VALUES} YAML values (lists, mappings and scalars): refusing to load it`]);
  }, 180_000);

  it('a 10 MB block list under the size cap: refused by the value cap at the line that crosses it', () => {
    const d = tmp();
    const f = write(d, 'list.yaml', `nodes:\n${'- 0\n'.repeat(2_400_000)}${EXPECT}`);
    const r = cli(['run', '-i', f]);
    expect(r.code, r.stderr.slice(0, 2000)).toBe(2);
    expect(lines(r.stderr)).toEqual([`leafcert: ${f}:${MAX_VALUES + 1}:3: more than ${MAX_VALUES} YAML values (lists, mappings and scalars): refusing to load it`]);
    // Empty items (`-` alone: null) count too.
    const nulls = write(d, 'nulls.yaml', `nodes:\n${'-\n'.repeat(4_000_000)}${EXPECT}`);
    const n = cli(['run', '-i', nulls]);
    expect(n.code, n.stderr.slice(0, 2000)).toBe(2);
    expect(lines(n.stderr)).toEqual([`leafcert: ${nulls}:${MAX_VALUES + 2}:1: more than ${MAX_VALUES} YAML values (lists, mappings and scalars): refusing to load it`]);
  }, 120_000);

  it.each([
    ['flow lists', `nodes: ${'['.repeat(4_000_000)}${']'.repeat(4_000_000)}\n${EXPECT}`, /:1:\d+: lists and mappings nested more than 64 levels deep$/],
    ['flow maps', `nodes: ${'{a: '.repeat(1_000_000)}1${'}'.repeat(1_000_000)}\n${EXPECT}`, /:1:\d+: lists and mappings nested more than 64 levels deep$/],
    ['indented mappings', `nodes:\n${Array.from({ length: 3000 }, (_, i) => `${' '.repeat(i + 1)}a:\n`).join('')}${EXPECT}`, /:65:65: lists and mappings nested more than 64 levels deep$/],
    ['a `- - - -` line', `nodes:\n${'- '.repeat(200_000)}x\n${EXPECT}`, /:2:\d+: lists and mappings nested more than 64 levels deep$/],
  ])('deep nesting (%s) → exit 2 naming the line', (_name, text, message) => {
    const d = tmp();
    const f = write(d, 'deep.yaml', text);
    const r = cli(['run', '-i', f]);
    expect(r.code, r.stderr.slice(0, 2000)).toBe(2);
    const out = lines(r.stderr);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(message);
  }, 60_000);

  it('a YAML alias bomb → exit 2 naming the file, line and alias (was exit 3 with the library\'s message)', () => {
    const d = tmp();
    const f = write(
      d,
      'bomb.yaml',
      'x1: &a [x, x, x, x, x, x, x, x, x, x]\nx2: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nx3: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n' +
        `x4: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\nnodes: [*d, *d, *d, *d]\n${EXPECT}`,
    );
    const r = cli(['run', '-i', f]);
    expect(r.code).toBe(2);
    expect(lines(r.stderr)).toEqual([`leafcert: ${f}:3:41: x3[8]: alias *b: 10 copies of &b, each holding aliases worth 11, over the limit of 100 (a YAML alias bomb?)`]);
  });

  it('an alias inside its own anchor, and an alias naming no anchor, are located errors', () => {
    expect(() => parseInventory('x: &x [ *x ]\nnodes: []\nexpectations: {}\n', '/x.yaml', { suites })).toThrow('/x.yaml:1:9: x[0]: alias *x is inside the node &x it names');
    expect(() => parseInventory('x: *nope\nnodes: []\nexpectations: {}\n', '/x.yaml', { suites })).toThrow('/x.yaml:1:4: x: alias *nope names no anchor defined before it');
  });

  it('anchors used the ordinary way (a shared block, up to 100 copies) still load, as one shared value', () => {
    const text =
      'defaults:\n  ssh: &ssh { user: root }\nnodes:\n' +
      Array.from({ length: 99 }, (_, i) => `  - { name: n${i}, transport: local, expect: e, labels: &l${i} { site: paris } }\n`).join('') +
      'expectations:\n  e: &e { alpha: {} }\n  f: *e\n';
    const inv = parseInventory(text, '/x.yaml', { suites });
    expect(inv.nodes).toHaveLength(99);
    expect(inv.expectations.f).toEqual({ alpha: {} });
  });

  it('valid inputs convert as yaml\'s toJS() did: %YAML 1.1 merge keys, `__proto__` as a plain key', () => {
    const merged = parseInventory(
      '%YAML 1.1\n---\nnodes:\n  - { name: a, transport: local, expect: e, labels: &b { site: paris, rack: r1 } }\n' +
        '  - name: b\n    transport: local\n    expect: e\n    labels:\n      <<: *b\n      rack: r2\nexpectations:\n  e: { alpha: {} }\n',
      '/x.yaml',
      { suites },
    );
    expect(merged.nodes[1].labels).toEqual({ site: 'paris', rack: 'r2' });
    const proto = parseInventory('nodes:\n  - { name: a, transport: local, expect: e, labels: { __proto__: x } }\nexpectations:\n  e: { alpha: {} }\n', '/x.yaml', { suites });
    expect(Object.hasOwn(proto.nodes[0].labels!, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(proto.nodes[0].labels)).toBe(Object.prototype);
  });

  it('a list of 100 000 wrong items is reported as 50 lines and a count, quickly', () => {
    const text = `nodes:\n  - { name: a, transport: local, expect: e }\nexpectations:\n  e: { alpha: {} }\nwaivers: [${'1,'.repeat(99_999)}1]\n`;
    const t0 = Date.now();
    let e: unknown;
    try {
      parseInventory(text, '/x.yaml', { suites });
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(InventoryError);
    const msg = (e as InventoryError).message.split('\n');
    expect(msg).toHaveLength(51);
    expect(msg[0]).toBe('/x.yaml:5:11: waivers[0]: expected object, got number 1');
    expect(msg[50]).toBe('/x.yaml: and 99950 more problems not shown');
    expect(Date.now() - t0).toBeLessThan(30_000);
  }, 60_000);
});

describe('ssh settings checked before anything connects', () => {
  let server: Server;
  let port = 0;
  let connections = 0;
  beforeAll(async () => {
    // Any connection attempt would land here: the tests expect none.
    server = createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as any).port;
  });
  afterAll(() => server?.close());

  function setup(ssh: string, node = `{ name: leaf-1, host: 127.0.0.1, port: PORT, expect: e }`) {
    const d = tmp();
    spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(d, 'id_ed25519')]);
    write(d, 'known_hosts', '');
    const f = write(d, 'inv.yaml', `defaults:\n  ssh: ${ssh}\nnodes:\n  - ${node.replace('PORT', String(port))}\n${EXPECT}`);
    return { d, f };
  }

  it('an identityFile that is a directory → exit 2 naming file:line and the node, no connection', () => {
    const { d, f } = setup('{ identityFile: ./keys, knownHosts: ./known_hosts, connectTimeout: 2s }');
    mkdirSync(join(d, 'keys'));
    const before = connections;
    const r = cli(['run', '-i', f]);
    expect(r.code).toBe(2);
    expect(lines(r.stderr)).toEqual([`leafcert: ${f}:2:24: defaults.ssh.identityFile: identity file ${join(d, 'keys')} is a directory (node leaf-1)`]);
    expect(connections).toBe(before);
  });

  it('an identityFile that is not a regular file (a device) is refused the same way', () => {
    const { f } = setup('{ identityFile: /dev/null, knownHosts: ./known_hosts }');
    expect(() => loadInventory(f)).toThrow(`${f}:2:24: defaults.ssh.identityFile: identity file /dev/null is not a regular file (node leaf-1)`);
  });

  it('a missing knownHosts → exit 2 before connecting (it was read as empty, and the key exchange done)', () => {
    const { d, f } = setup('{ identityFile: ./id_ed25519, knownHosts: ./missing/known_hosts, connectTimeout: 2s }');
    const before = connections;
    const r = cli(['run', '-i', f]);
    expect(r.code).toBe(2);
    expect(lines(r.stderr)).toEqual([
      `leafcert: ${f}:2:50: defaults.ssh.knownHosts: known_hosts file ${join(d, 'missing/known_hosts')} does not exist (node leaf-1); host keys are always verified: create it with the nodes' keys, or set acceptNewHostKey: true to record them on first contact`,
    ]);
    expect(connections).toBe(before);
    expect(existsSync(join(d, 'missing'))).toBe(false);
  });

  it('a knownHosts that is a directory is refused even with acceptNewHostKey', () => {
    const { d, f } = setup('{ identityFile: ./id_ed25519, knownHosts: ./kh, acceptNewHostKey: true }');
    mkdirSync(join(d, 'kh'));
    expect(() => loadInventory(f)).toThrow(`${f}:2:50: defaults.ssh.knownHosts: known_hosts file ${join(d, 'kh')} is a directory (node leaf-1)`);
  });

  it('with acceptNewHostKey a missing knownHosts is created (empty, 0600, its directory too) once the inventory is accepted', () => {
    const { d, f } = setup('{ identityFile: ./id_ed25519, knownHosts: ./state/known_hosts, acceptNewHostKey: true }');
    const kh = join(d, 'state/known_hosts');
    const inv = loadInventory(f);
    expect(inv.nodes[0].ssh.knownHosts).toBe(kh);
    expect(readFileSync(kh, 'utf8')).toBe('');
    expect(statSync(kh).mode & 0o777).toBe(0o600);
    // Loading again keeps what was recorded meanwhile.
    writeFileSync(kh, '127.0.0.1 ssh-ed25519 AAAA\n');
    loadInventory(f);
    expect(readFileSync(kh, 'utf8')).toBe('127.0.0.1 ssh-ed25519 AAAA\n');
  });

  it('acceptNewHostKey on one node, not the other: only the other is refused; nothing is created while anything is refused', () => {
    const { d, f } = setup('{ identityFile: ./id_ed25519, knownHosts: ./new/known_hosts }');
    writeFileSync(f, readFileSync(f, 'utf8').replace('nodes:\n', 'nodes:\n  - { name: leaf-0, host: 127.0.0.1, expect: e, ssh: { acceptNewHostKey: true } }\n'));
    expect(() => loadInventory(f)).toThrow(`${f}:2:50: defaults.ssh.knownHosts: known_hosts file ${join(d, 'new/known_hosts')} does not exist (node leaf-1); `);
    expect(existsSync(join(d, 'new'))).toBe(false);
  });

  it('a known_hosts that cannot be created (its directory is a file) → exit 2', () => {
    const { d, f } = setup('{ identityFile: ./id_ed25519, knownHosts: ./id_ed25519.pub/known_hosts, acceptNewHostKey: true }');
    expect(() => loadInventory(f)).toThrow(
      `${f}:2:50: defaults.ssh.knownHosts: known_hosts file ${join(d, 'id_ed25519.pub/known_hosts')} does not exist and cannot be created: ${join(d, 'id_ed25519.pub')} is not a directory (node leaf-1)`,
    );
  });

  it('a host that is not a hostname or an address → exit 2 naming file:line and the node; nothing is resolved or run', () => {
    const { d, f } = setup('{ identityFile: ./id_ed25519, knownHosts: ./known_hosts }', '{ name: leaf-1, host: "1.2.3.4;touch x", expect: e }');
    const r = spawnSync(process.execPath, [BIN, 'run', '-i', f], { cwd: d, encoding: 'utf8', env: { ...process.env, CI: 'true' } });
    expect(r.status).toBe(2);
    expect(lines(r.stderr)).toEqual([
      `leafcert: ${f}:4:27: nodes[0].host: node leaf-1: "1.2.3.4;touch x" is not a hostname (RFC 1123: letters, digits and inner hyphens, dot-separated) or an IPv4/IPv6 address`,
    ]);
    expect(existsSync(join(d, 'x'))).toBe(false);
  });

  it.each([
    ['203.0.113.10', true], ['::1', true], ['fe80::1%eth0', true], ['leaf-paris-1', true], ['api.alchemist.local', true], ['example.com.', true],
    ['1.2.3.4;touch x', false], ['999.1.1.1', false], ['10.0.1', false], ['-leaf', false], ['leaf-', false], ['a..b', false], ['under_score', false],
    ['[::1]', false], ['host name', false], ['a\nb', false], ['', false], [`${'a'.repeat(64)}.com`, false],
  ])('isHostOrAddress(%j) = %s', (host, ok) => {
    expect(isHostOrAddress(host)).toBe(ok);
  });
});

describe('names are echoed escaped: every error stays one line', () => {
  it('a node name with a newline: one line with \\n shown, exit 2', () => {
    const d = tmp();
    const f = write(d, 'inv.yaml', `nodes:\n  - { name: "leaf\\nrm -rf /", transport: local, expect: e }\n${EXPECT}`);
    const r = cli(['run', '-i', f]);
    expect(r.code).toBe(2);
    expect(lines(r.stderr)).toEqual([`leafcert: ${f}:2:13: nodes[0].name: expected a string matching ^[A-Za-z0-9][A-Za-z0-9._-]*$, got "leaf\\nrm -rf /"`]);
  });

  it('an expect, a waiver node, an unknown key and a file name with control characters stay on one line', () => {
    const text =
      'nodes:\n  - { name: a, transport: local, expect: "e\\u001b[31m\\r" }\nexpectations:\n  e: { alpha: {} }\n';
    expect(() => parseInventory(text, '/x\ny.yaml', { suites })).toThrow('/x\\ny.yaml:2:42: nodes[0].expect: names no expectation "e\\u001b[31m\\r" (defined: e)');
    expect(() => parseInventory('nodes: []\nexpectations: {}\n"bad\\nkey": 1\n', '/x.yaml', { suites })).toThrow(/unknown key "bad\\nkey"/);
    const w = parseInventory(
      'nodes:\n  - { name: a, transport: local, expect: e }\nexpectations:\n  e: { alpha: {} }\nwaivers:\n  - { check: alpha.one, node: "b\\nc", reason: r, approvedBy: x, expires: 2099-01-01 }\n',
      '/x.yaml',
      { suites },
    );
    expect(w.warnings).toEqual(['/x.yaml:6:31: waivers[0].node: no node is named "b\\nc"']);
  });

  it('printable() escapes control characters JSON-style and keeps the rest', () => {
    expect(printable('a\nb\tc\u001b[0m\u0085\u2028\u202eé\\')).toBe('a\\nb\\tc\\u001b[0m\\u0085\\u2028\\u202eé\\');
  });
});
