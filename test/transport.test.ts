// Transports without a lab: local exec/readFile/forward/timeouts, ssh configuration errors and an
// unreachable (refused) loopback port.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openHost } from '../src/transport/index.js';
import { LocalHost } from '../src/transport/local.js';
import { shellQuote, withRemoteTimeout } from '../src/transport/ssh.js';
import { isScriptCommand } from '../src/transport/output.js';
import { scriptCommand } from '../src/core/script.js';
import { TransportError, type NodeSpec } from '../src/core/types.js';

let dir: string;
let echo: Server;
let echoPort: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'leafcert-transport-'));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'id')]);
  writeFileSync(join(dir, 'known_hosts'), '');
  echo = createServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  echoPort = (echo.address() as AddressInfo).port;
});
afterAll(() => {
  echo.close();
  rmSync(dir, { recursive: true, force: true });
});

const node = (ssh: Partial<NodeSpec['ssh']> = {}, host = '127.0.0.1'): NodeSpec => ({
  name: 'n1', host, transport: 'ssh', expect: 'x',
  ssh: { user: 'root', port: 22, identityFile: join(dir, 'id'), knownHosts: join(dir, 'known_hosts'), connectTimeoutMs: 2000, ...ssh },
});
async function transportError(p: Promise<unknown>): Promise<TransportError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(TransportError);
    return e as TransportError;
  }
  throw new Error('expected a TransportError');
}

describe('local transport', () => {
  const h = new LocalHost('me');
  it('exec keeps stdout, stderr, exit code; counts round trips', async () => {
    const r = await h.exec('echo out; echo err >&2; exit 3');
    expect([r.code, r.stdout, r.stderr]).toEqual([3, 'out\n', 'err\n']);
    expect(h.roundTrips).toBe(1);
  });
  it('exec timeout kills the whole process group and names the command', async () => {
    // Odd durations as markers: pgrep sees the whole machine, lab nodes' sleeps included.
    const e = await transportError(h.exec('sleep 30.4242 & sleep 31.4242; echo never', { timeoutMs: 300 }));
    expect(e.kind).toBe('timeout');
    expect(e.message).toContain('sleep 30.4242 & sleep 31.4242');
    const left = await h.exec('pgrep -f "^sleep 3[01]\\.4242$" || true');
    expect(left.stdout.trim()).toBe('');
  });
  it('readFile and forward', async () => {
    writeFileSync(join(dir, 'f'), Buffer.from([0, 1, 2, 255]));
    expect([...(await h.readFile(join(dir, 'f')))]).toEqual([0, 1, 2, 255]);
    const s = await h.forward(echoPort);
    const got = new Promise<string>((r) => s.once('data', (d: Buffer) => r(d.toString())));
    s.write('ping');
    expect(await got).toBe('ping');
    s.destroy();
    await expect(h.forward(1)).rejects.toMatchObject({ kind: 'unreachable' });
  });
});

describe('ssh transport (no server needed)', () => {
  it('a missing key file is a config error naming the path', async () => {
    const e = await transportError(openHost(node({ identityFile: join(dir, 'nope') })));
    expect(e.kind).toBe('config');
    expect(e.message).toContain(join(dir, 'nope'));
  });
  it('no known_hosts configured is a config error (host keys are always verified)', async () => {
    const e = await transportError(openHost(node({ knownHosts: undefined })));
    expect(e.kind).toBe('config');
  });
  it('relative key paths resolve against the inventory dir', async () => {
    const e = await transportError(openHost(node({ identityFile: 'keys/id' }), { baseDir: '/srv/inv' }));
    expect(e.message).toContain('/srv/inv/keys/id');
  });
  it('a refused port is unreachable, naming the node and address', async () => {
    const e = await transportError(openHost(node({ port: 1 })));
    expect(e.kind).toBe('unreachable');
    expect(e.message).toMatch(/n1 \(root@127\.0\.0\.1:1\).*ECONNREFUSED/);
  });
  it('a peer that never speaks ssh times out as unreachable, and nothing is thrown afterwards', async () => {
    // ssh2 emits a second 'error' ("Connection lost before handshake") once we end the
    // connection; without a listener that is an uncaught exception that kills the run.
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown) => uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    const silent = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const e = await transportError(openHost(node({ port: (silent.address() as AddressInfo).port, connectTimeoutMs: 500 })));
      expect(e.kind).toBe('unreachable');
      expect(e.message).toMatch(/no ssh handshake within 500 ms/);
      await new Promise((r) => setTimeout(r, 300));
      expect(uncaught.map(String)).toEqual([]);
    } finally {
      silent.close();
      process.off('uncaughtException', onUncaught);
    }
  });
  it('remote timeout wrapper quotes the command for sh -c', async () => {
    const cmd = `echo 'it''s' "$HOME" | tr a-z A-Z`;
    const local = new LocalHost('q');
    const direct = await local.exec(cmd);
    const wrapped = await local.exec(withRemoteTimeout(cmd, 2000));
    expect(wrapped.stdout).toBe(direct.stdout);
    expect(shellQuote("a'b")).toBe(`'a'\\''b'`);
  });
  it('a probe script runs under timeout directly, one shell fewer per round trip, same output', async () => {
    const script = `printf '%s|' "$1" "$2"; echo "it's"`;
    const cmd = scriptCommand(script, ["a'b", '']);
    expect(isScriptCommand(cmd)).toBe(true);
    expect(withRemoteTimeout(cmd, 2000)).toContain(`5 ${cmd}; else exec ${cmd}; fi`);
    expect(withRemoteTimeout(`exec ${cmd}`, 2000)).not.toContain(' sh -c');
    const local = new LocalHost('q');
    expect((await local.exec(withRemoteTimeout(cmd, 2000))).stdout).toBe("a'b||it's\n");
    // anything else still goes through sh -c, quoted
    for (const other of ['bash -c x', "bash -c 'x'; rm -rf /tmp/nope", "bash -c 'x' $(id)", "bash -c 'x' 'y", "echo 'a'"]) {
      expect(isScriptCommand(other)).toBe(false);
      expect(withRemoteTimeout(other, 2000)).toContain(`sh -c ${shellQuote(other)}`);
    }
  });
});
