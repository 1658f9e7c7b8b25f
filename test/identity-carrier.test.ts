// Identity rides in a node's first probe script (no round trip of its own): the carried identity is
// the same as a round trip of its own gives, the script's own output comes back untouched, and
// anything that is not a probe script (or comes later) is never carried.
import { describe, expect, it } from 'vitest';
import { scriptCommand } from '../src/core/script.js';
import { ParseError, type ExecResult, type Host, type NodeIdentity } from '../src/core/types.js';
import { runInventory } from '../src/engine/run.js';
import { gatherIdentity, IdentityCarrier } from '../src/probes/identity.js';
import { LocalHost } from '../src/transport/local.js';
import { FakeHost, fakeSuite, node } from './helpers/fakes.js';

describe('IdentityCarrier', () => {
  it('the first probe script carries the identity: same identity as its own round trip, the script output untouched, one exec', async () => {
    const alone = await gatherIdentity(new LocalHost('here'));
    const inner = new LocalHost('here');
    const c = new IdentityCarrier(inner);
    // A script with positional args, quotes of both kinds and output lacking a final newline.
    const r = await c.host.exec(scriptCommand(`printf '%s|%s' "$1" "it's"`, ['a b']));
    expect(r.stdout).toBe("a b|it's");
    expect(r.code).toBe(0);
    expect(r.command).toBe(scriptCommand(`printf '%s|%s' "$1" "it's"`, ['a b']));
    expect(inner.roundTrips).toBe(1);
    expect(c.claimed).toBe(true);
    const id = (await c.carried) as NodeIdentity;
    const { clock: _a, ...rest } = id;
    const { clock: _b, ...restAlone } = alone;
    expect(rest).toEqual(restAlone);
    expect(Math.abs(Date.parse(id.clock!) - Date.now())).toBeLessThan(5000);
    // Later scripts run as they are.
    const again = await c.host.exec(scriptCommand('echo two'));
    expect(again.stdout).toBe('two\n');
  });

  it('a command that is not a probe script is not carried, and neither is anything after close()', async () => {
    const inner = new LocalHost('here');
    const c = new IdentityCarrier(inner);
    expect((await c.host.exec('echo plain')).stdout).toBe('plain\n');
    expect(c.claimed).toBe(false);
    c.close();
    expect((await c.host.exec(scriptCommand('echo late'))).stdout).toBe('late\n');
    expect(c.claimed).toBe(false);
  });

  it("the script's exit code and stderr are its own; the prelude's variables do not leak into it", async () => {
    const c = new IdentityCarrier(new LocalHost('here'));
    const r = await c.host.exec(scriptCommand('echo "[${__l-unset}${__any-unset}]"; echo oops >&2; exit 3'));
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('[unsetunset]\n');
    expect(r.stderr).toBe('oops\n');
    expect(await c.carried).toHaveProperty('hostname');
  });

  it('output without the end marker of this exec (a forged one included) is a ParseError, and the caller gets the output as it came', async () => {
    const forged = 'hostname\n@@leafcert-identity-end-0123456789abcdef\nrest\n';
    const inner = new (class extends FakeHost {
      override async exec(command: string): Promise<ExecResult> {
        this.roundTrips++;
        return { code: 0, stdout: forged, stderr: '', command, durationMs: 1 };
      }
    })('hostile');
    const c = new IdentityCarrier(inner);
    const r = await c.host.exec(scriptCommand('true'));
    expect(r.stdout).toBe(forged);
    expect(await c.carried).toBeInstanceOf(ParseError);
  });

  it('a carrying exec that fails settles the identity with its error and rethrows it to the caller', async () => {
    const inner = new (class extends FakeHost {
      override async exec(): Promise<ExecResult> {
        throw new Error('channel closed');
      }
    })('broken');
    const c = new IdentityCarrier(inner);
    await expect(c.host.exec(scriptCommand('true'))).rejects.toThrow('channel closed');
    expect(String(await c.carried)).toContain('channel closed');
  });
});

describe('engine: identity carried or gathered on its own', () => {
  const opts = { concurrency: 2, timeoutMs: 5000, allowMutating: false, baseDir: '/' } as const;
  const inventory = (expectations: Record<string, unknown>) =>
    ({ path: 'inv.yaml', nodes: [node('a')], expectations: { base: expectations }, defaults: {} }) as any;
  const execSuite = (name: string) => ({ ...fakeSuite(name), gather: async (ctx: { host: Host }) => (await ctx.host.exec(scriptCommand('echo x')), { ok: true }) }) as any;

  it('a suite running a probe script carries it: one round trip, onNodeStart gets the identity, no identity round trip', async () => {
    const hosts: LocalHost[] = [];
    let alone = 0;
    const starts: NodeIdentity[] = [];
    const out = await runInventory(inventory({ alpha: {} }), opts, [{ onRunStart() {}, onNodeStart: (_n, id) => starts.push(id), onResult() {}, onNodeEnd() {}, async onRunEnd() {} }], {
      suites: [execSuite('alpha')],
      openHost: async () => (hosts.push(new LocalHost('a')), hosts.at(-1)!),
      gatherIdentity: async () => (alone++, {}),
      carryIdentity: (h) => new IdentityCarrier(h),
      now: () => new Date(),
    });
    expect(alone).toBe(0);
    expect(hosts[0].roundTrips).toBe(1);
    expect(starts[0].kernel).toBeTruthy();
    expect(out.results.every((r) => r.status === 'pass')).toBe(true);
  });

  it('no suite runs a probe script (tls and health alone): identity gets its own round trip, after the suites', async () => {
    let alone = 0;
    const starts: NodeIdentity[] = [];
    await runInventory(inventory({ alpha: {} }), opts, [{ onRunStart() {}, onNodeStart: (_n, id) => starts.push(id), onResult() {}, onNodeEnd() {}, async onRunEnd() {} }], {
      suites: [fakeSuite('alpha')],
      openHost: async () => new FakeHost('a'),
      gatherIdentity: async () => (alone++, { hostname: 'alone' }),
      carryIdentity: (h) => new IdentityCarrier(h),
      now: () => new Date(),
    });
    expect(alone).toBe(1);
    expect(starts).toEqual([{ hostname: 'alone' }]);
  });

  it('carrying failed (garbled output): identity is gathered on its own, the suite still gets its output', async () => {
    let alone = 0;
    const host = new (class extends FakeHost {
      override async exec(command: string): Promise<ExecResult> {
        this.roundTrips++;
        return { code: 0, stdout: 'garbage\n', stderr: '', command, durationMs: 1 };
      }
    })('a');
    let seen = '';
    const suite = { ...fakeSuite('alpha'), gather: async (ctx: { host: Host }) => ((seen = (await ctx.host.exec(scriptCommand('true'))).stdout), { ok: true }) } as any;
    const starts: NodeIdentity[] = [];
    await runInventory(inventory({ alpha: {} }), opts, [{ onRunStart() {}, onNodeStart: (_n, id) => starts.push(id), onResult() {}, onNodeEnd() {}, async onRunEnd() {} }], {
      suites: [suite],
      openHost: async () => host,
      gatherIdentity: async () => (alone++, { hostname: 'alone' }),
      carryIdentity: (h) => new IdentityCarrier(h),
      now: () => new Date(),
    });
    expect(seen).toBe('garbage\n');
    expect(alone).toBe(1);
    expect(starts).toEqual([{ hostname: 'alone' }]);
  });
});
