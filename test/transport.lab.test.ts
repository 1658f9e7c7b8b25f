// The ssh transport against a real lab node (OpenSSH 9 in a network namespace).
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type TestLab } from './helpers/lab.js';
import { openHost } from '../src/transport/index.js';
import { SshHost } from '../src/transport/ssh.js';
import { gatherIdentity } from '../src/probes/identity.js';
import { fingerprint } from '../src/transport/knownhosts.js';
import { TransportError, type Host, type NodeSpec } from '../src/core/types.js';

let lab: TestLab;
let dir: string;
let spec: NodeSpec;
let host: Host;

beforeAll(async () => {
  lab = await startLab({ name: 'transport' });
  dir = mkdtempSync(join(tmpdir(), 'leafcert-tlab-'));
  const n = lab.info.nodes[0];
  spec = {
    name: n.name, host: n.address, transport: 'ssh', expect: n.name,
    ssh: { user: 'root', port: 22, identityFile: lab.info.identityFile, knownHosts: lab.info.knownHosts, connectTimeoutMs: 5000 },
  };
  host = await openHost(spec);
});
afterAll(async () => {
  await host?.close();
  await lab?.down();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function transportError(p: Promise<unknown>): Promise<TransportError> {
  try {
    const h = await p;
    await (h as Host | undefined)?.close?.();
  } catch (e) {
    expect(e).toBeInstanceOf(TransportError);
    return e as TransportError;
  }
  throw new Error('expected a TransportError');
}
const withSsh = (ssh: Partial<NodeSpec['ssh']>): NodeSpec => ({ ...spec, ssh: { ...spec.ssh, ...ssh } });
const nodeKey = () => Buffer.from(readFileSync(lab.info.knownHosts, 'utf8').trim().split(/\s+/)[2], 'base64');

describe('ssh transport on a lab node', () => {
  it('exec, readFile and identity share one connection; round trips are counted', async () => {
    const before = host.roundTrips;
    const r = await host.exec('echo hi; id -u; echo err >&2; exit 4');
    expect([r.code, r.stdout, r.stderr]).toEqual([4, 'hi\n0\n', 'err\n']);
    expect((await host.readFile('/etc/hostname')).toString().trim()).toBe(lab.info.nodes[0].hostname ?? lab.info.nodes[0].name);
    await expect(host.readFile('/nonexistent')).rejects.toMatchObject({ code: 'ENOENT' });
    const id = await gatherIdentity(host);
    expect(id.hostname).toBe(lab.info.nodes[0].hostname ?? lab.info.nodes[0].name);
    expect(id.kernel).toBeTruthy();
    expect(Math.abs(Date.parse(id.clock!) - Date.now())).toBeLessThan(120_000);
    expect(host.roundTrips - before).toBe(4);
    // the session the firewall suite cites for the ssh port: where it went, its TCP connect alone
    expect(host.session).toMatchObject({ address: spec.host, port: spec.ssh.port });
    expect(host.session!.tcpConnectMs).toBeGreaterThan(0);
    expect(host.session!.tcpConnectMs).toBeLessThan((host as unknown as { connectMs: number }).connectMs + 1);
  });

  it('more concurrent execs than MaxSessions all succeed on the one connection', async () => {
    const rs = await Promise.all(Array.from({ length: 30 }, (_, i) => host.exec(`echo ${i}`)));
    expect(rs.map((r) => Number(r.stdout))).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  it('forward gives a socket-like stream to a port as the node sees it (pg-compatible)', async () => {
    const s = await host.forward(80);
    expect(typeof (s as unknown as { setNoDelay: unknown }).setNoDelay).toBe('function');
    const connected = new Promise((r) => s.once('connect', r));
    (s as unknown as { connect: () => void }).connect();
    await connected;
    const reply = new Promise<string>((r) => s.once('data', (d: Buffer) => r(d.toString())));
    s.write('GET / HTTP/1.0\r\nHost: api.alchemist.local\r\n\r\n');
    expect(await reply).toMatch(/^HTTP\/1\.1 301/);
    s.destroy();
  });

  it('a hanging command times out, is killed on the node, and the connection stays usable', async () => {
    const e = await transportError(host.exec('sleep 30', { timeoutMs: 1000 }));
    expect(e.kind).toBe('timeout');
    expect(e.message).toContain('sleep 30');
    expect((await host.exec('echo still here')).stdout).toBe('still here\n');
    const left = await host.exec('for i in $(seq 1 50); do pgrep -x sleep -a | grep -q "sleep 30$" || exit 0; sleep 0.1; done; exit 1');
    expect(left.code).toBe(0);
  });

  it('unknown host key: hostkey error with the presented fingerprint', async () => {
    writeFileSync(join(dir, 'empty'), '');
    const e = await transportError(openHost(withSsh({ knownHosts: join(dir, 'empty') })));
    expect(e.kind).toBe('hostkey');
    expect(e.message).toContain(spec.name);
    expect(e.message).toContain(fingerprint(nodeKey()));
    expect(e.message).toMatch(/unknown/);
  });

  it('changed host key: hostkey error naming both fingerprints, even with acceptNewHostKey', async () => {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'other')]);
    const other = readFileSync(join(dir, 'other.pub'), 'utf8').split(' ');
    writeFileSync(join(dir, 'changed'), `${spec.host} ${other[0]} ${other[1]}\n`);
    for (const accept of [false, true]) {
      const e = await transportError(openHost(withSsh({ knownHosts: join(dir, 'changed'), acceptNewHostKey: accept })));
      expect(e.kind).toBe('hostkey');
      expect(e.message).toContain('CHANGED');
      expect(e.message).toContain(fingerprint(nodeKey()));
      expect(e.message).toContain(fingerprint(Buffer.from(other[1], 'base64')));
    }
    expect(readFileSync(join(dir, 'changed'), 'utf8').trim().split('\n')).toHaveLength(1);
  });

  it('acceptNewHostKey records an unknown key (hashed), which then verifies', async () => {
    writeFileSync(join(dir, 'new'), '');
    const h = await openHost(withSsh({ knownHosts: join(dir, 'new'), acceptNewHostKey: true }));
    await h.close();
    expect(readFileSync(join(dir, 'new'), 'utf8')).toMatch(/^\|1\|/);
    const again = await openHost(withSsh({ knownHosts: join(dir, 'new') }));
    await again.close();
  });

  it('hashed known_hosts (ssh-keygen -H) verifies', async () => {
    copyFileSync(lab.info.knownHosts, join(dir, 'hashed'));
    execFileSync('ssh-keygen', ['-H', '-f', join(dir, 'hashed')], { stdio: 'ignore' });
    const h = await openHost(withSsh({ knownHosts: join(dir, 'hashed') }));
    await h.close();
  });

  it('wrong client key: auth error', async () => {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'stranger')]);
    const e = await transportError(openHost(withSsh({ identityFile: join(dir, 'stranger') })));
    expect(e.kind).toBe('auth');
    expect(e.message).toContain(spec.name);
  });

  it('agent auth: the key served by ssh-agent (SSH_AUTH_SOCK), no key file', async () => {
    const sock = join(dir, 'agent.sock');
    const out = execFileSync('ssh-agent', ['-a', sock, '-s'], { encoding: 'utf8' });
    const pid = Number(/SSH_AGENT_PID=(\d+)/.exec(out)![1]);
    const saved = process.env.SSH_AUTH_SOCK;
    try {
      execFileSync('ssh-add', [lab.info.identityFile], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: 'ignore' });
      process.env.SSH_AUTH_SOCK = sock;
      const h = await openHost(withSsh({ identityFile: undefined, agent: true }));
      expect((await h.exec('echo agent')).stdout).toBe('agent\n');
      await h.close();
    } finally {
      if (saved === undefined) delete process.env.SSH_AUTH_SOCK;
      else process.env.SSH_AUTH_SOCK = saved;
      process.kill(pid);
    }
  });

  it('a port the firewall drops: unreachable after the connect timeout', async () => {
    const e = await transportError(openHost(withSsh({ port: 5432, connectTimeoutMs: 1500 })));
    expect(e.kind).toBe('unreachable');
  });

  it('connect time is recorded', () => {
    expect((host as SshHost).connectMs).toBeGreaterThan(0);
  });
});
