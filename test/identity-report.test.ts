// Node identity in every report (issue 13 part 3): the ssh host key's type and SHA256 fingerprint
// as presented, how it was trusted (known_hosts match vs accepted new), the machine-id, and
// "not NixOS" said where NixOS fields are absent. Against an in-process ssh2 server, through the
// engine, into JSON, JUnit, TAP and HTML.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Inventory, NodeIdentity, NodeSpec } from '../src/core/types.js';
import { runInventory } from '../src/engine/run.js';
import { makeAjv } from '../src/inventory/validate.js';
import { HtmlReporter } from '../src/reporters/html.js';
import { JsonReporter } from '../src/reporters/json.js';
import { JunitReporter } from '../src/reporters/junit.js';
import { TapReporter } from '../src/reporters/tap.js';
import { SshHost } from '../src/transport/ssh.js';
import { fakeSuite } from './helpers/fakes.js';

const validateEvidence = makeAjv().compile(JSON.parse(readFileSync('schemas/evidence.schema.json', 'utf8')));

let server: InstanceType<typeof ssh2.Server>;
let port = 0;
let kdir: string;
/** What `ssh-keygen -lf` says of the server's key: the reference the reports must match. */
let expectedFp: string;

beforeAll(async () => {
  kdir = mkdtempSync(join(tmpdir(), 'leafcert-idrep-'));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(kdir, 'host')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(kdir, 'client')]);
  expectedFp = execFileSync('ssh-keygen', ['-lf', join(kdir, 'host.pub')], { encoding: 'utf8' }).split(' ')[1];
  server = new ssh2.Server({ hostKeys: [readFileSync(join(kdir, 'host'))] }, (conn: any) => {
    conn.on('error', () => undefined);
    conn.on('authentication', (c: any) => c.accept());
    conn.on('ready', () => conn.on('session', (accept: any) => accept().on('exec', (acc: any) => {
      const s = acc();
      s.exit(0);
      s.end();
    })));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(kdir, { recursive: true, force: true });
});

function spec(knownHosts: string, acceptNewHostKey = false): NodeSpec {
  return { name: 'leaf-1', host: '127.0.0.1', transport: 'ssh', expect: 'base', ssh: { user: 'root', port, identityFile: join(kdir, 'client'), knownHosts, connectTimeoutMs: 5000, acceptNewHostKey } };
}

describe('ssh transport: the host key as presented and how it was trusted', () => {
  it('a known_hosts match names the file and line; an accepted new key says so, then matches next time', async () => {
    const pub = readFileSync(join(kdir, 'host.pub'), 'utf8').split(' ');
    const pinned = join(kdir, 'pinned_hosts');
    writeFileSync(pinned, `# leafcert test\n[127.0.0.1]:${port} ${pub[0]} ${pub[1]}\n`);
    const a = await SshHost.connect(spec(pinned));
    await a.close();
    expect(a.hostKey).toEqual({ type: 'ssh-ed25519', fingerprint: expectedFp, trust: 'known_hosts', knownHosts: `${pinned}:2` });

    const fresh = join(kdir, 'fresh_hosts');
    const b = await SshHost.connect(spec(fresh, true));
    await b.close();
    expect(b.hostKey).toEqual({ type: 'ssh-ed25519', fingerprint: expectedFp, trust: 'accepted-new', knownHosts: fresh });
    const c = await SshHost.connect(spec(fresh, true));
    await c.close();
    expect(c.hostKey).toMatchObject({ trust: 'known_hosts', knownHosts: `${fresh}:1` });
  });
});

/** One engine run over the real ssh transport, every file report written. */
async function run(node: NodeSpec, identity: NodeIdentity) {
  const d = mkdtempSync(join(tmpdir(), 'leafcert-idrep-run-'));
  const p = { json: join(d, 'e.json'), junit: join(d, 'j.xml'), tap: join(d, 'r.tap'), html: join(d, 'r.html') };
  const inv: Inventory = { file: join(d, 'inv.yaml'), baseDir: d, nodes: [node], expectations: { base: { alpha: {} } }, waivers: [], defaults: { timeoutMs: 5000, concurrency: 1 } };
  await runInventory(inv, { allowMutating: false, timeoutMs: 5000, baseDir: d, concurrency: 1 }, [new JsonReporter(p.json), new JunitReporter(p.junit), new TapReporter(p.tap), new HtmlReporter(p.html)], {
    suites: [fakeSuite('alpha')],
    openHost: (n) => SshHost.connect(n, { baseDir: d }),
    gatherIdentity: async () => identity,
    now: () => new Date(),
  });
  const r = (f: string) => readFileSync(f, 'utf8');
  return { json: JSON.parse(r(p.json)), junit: r(p.junit), tap: r(p.tap), html: r(p.html) };
}

const debian: NodeIdentity = { hostname: 'leaf-1', os: 'Debian GNU/Linux 12 (bookworm)', kernel: '6.1.0', machineId: '0a1b2c3d4e5f60718293a4b5c6d7e8f9' };

describe('every report carries the host key, the trust, the machine-id and NixOS or not', () => {
  it('trust on first use (acceptNewHostKey) is named as not verified in every format', async () => {
    const { json, junit, tap, html } = await run(spec(join(kdir, 'tofu_hosts'), true), debian);
    expect(validateEvidence(json), JSON.stringify(validateEvidence.errors)).toBe(true);
    const n = json.nodes[0];
    expect(n.stats.hostKey).toMatchObject({ type: 'ssh-ed25519', fingerprint: expectedFp, trust: 'accepted-new' });
    expect(n.nixos).toBe(false);
    expect(n.identity.machineId).toBe(debian.machineId);

    expect(junit).toContain(`<property name="transport.hostKey.fingerprint" value="${expectedFp}"/>`);
    expect(junit).toContain('<property name="transport.hostKey.trust" value="accepted-new"/>');
    expect(junit).toContain('<property name="node.nixos" value="false"/>');

    expect(tap).toContain(`# node leaf-1: host key ssh-ed25519 ${expectedFp} (NOT verified: unknown key accepted`);
    expect(tap).toMatch(/# node leaf-1: .*not NixOS/);

    expect(html).toContain(expectedFp);
    expect(html).toContain('NOT verified: unknown key accepted and recorded');
    expect(html).toContain(debian.machineId);
    expect(html).toContain('not NixOS');
  });

  it('a pinned key reads as verified; a NixOS node has no "not NixOS"', async () => {
    const pub = readFileSync(join(kdir, 'host.pub'), 'utf8').split(' ');
    const pinned = join(kdir, 'pinned2_hosts');
    writeFileSync(pinned, `[127.0.0.1]:${port} ${pub[0]} ${pub[1]}\n`);
    const nixos: NodeIdentity = { hostname: 'leaf-1', os: 'NixOS 25.05 (Warbler)', nixosVersion: '25.05.1', currentSystem: '/nix/store/x-nixos-system', machineId: 'f'.repeat(32) };
    const { json, junit, tap, html } = await run(spec(pinned), nixos);
    expect(json.nodes[0].stats.hostKey).toEqual({ type: 'ssh-ed25519', fingerprint: expectedFp, trust: 'known_hosts', knownHosts: `${pinned}:1` });
    expect(json.nodes[0].nixos).toBe(true);
    expect(junit).toContain('<property name="transport.hostKey.trust" value="known_hosts"/>');
    expect(junit).toContain('<property name="node.nixos" value="true"/>');
    expect(tap).toContain(`host key ssh-ed25519 ${expectedFp} (verified: matches ${pinned}:1)`);
    expect(html).toContain(`verified: matches ${pinned}:1`);
    expect(html).toContain('f'.repeat(32));
    for (const text of [tap, html]) expect(text).not.toContain('not NixOS');
  });
});
