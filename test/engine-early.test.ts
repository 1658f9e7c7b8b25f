// Suite.early (issue 14, wall time): harness-side work that needs no session starts with the node's
// connection and overlaps it; gather() gets its promise; it learns the session when there is one and
// is stopped (its signal aborted) when the node cannot be checked. The firewall's outside-in probes
// use it: probed on loopback here, a real listener and a closed port, before and after a "connection".
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runInventory } from '../src/engine/run.js';
import type { EarlyContext, Inventory, NodeSpec, Suite, TransportSession } from '../src/core/types.js';
import { TransportError } from '../src/core/types.js';
import { earlyProbes, gatherFirewall } from '../src/probes/firewall.js';
import { MARK } from '../src/probes/sections.js';
import { FakeHost, fakeSuite, identity, node } from './helpers/fakes.js';

/** A host whose firewall script prints empty sections (no firewall): only the probes matter here. */
class NoFirewallHost extends FakeHost {
  override async exec(command: string) {
    const r = await super.exec(command);
    return { ...r, stdout: ['iptables-save', 'ip6tables-save', 'nft', 'listen'].map((p) => `${MARK} ${p}\n\n${MARK}-rc ${p} 0\n`).join('') };
  }
}

const quiet = { onRunStart() {}, onNodeStart() {}, onNodeEnd() {}, onResult() {}, async onRunEnd() {} };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function withEarly(log: string[], seen: { ctx?: EarlyContext; early?: Promise<unknown>; session?: TransportSession; aborted?: boolean }): Suite {
  const base = fakeSuite('alpha') as Suite;
  return {
    ...base,
    early: async (n: NodeSpec, _e: unknown, ctx: EarlyContext) => {
      log.push(`early ${n.name}`);
      seen.ctx = ctx;
      ctx.signal.addEventListener('abort', () => (seen.aborted = true));
      seen.session = await ctx.session;
      return 'early facts';
    },
    gather: async (ctx, e) => {
      log.push('gather');
      seen.early = ctx.early;
      expect(await ctx.early).toBe('early facts');
      return base.gather(ctx, e);
    },
  };
}

async function run(suite: Suite, openHost: (n: NodeSpec) => Promise<FakeHost>) {
  const inv: Inventory = { file: '/tmp/inv.yaml', baseDir: '/tmp', nodes: [node('n1')], expectations: { base: { alpha: {} } }, waivers: [], defaults: { timeoutMs: 5000, concurrency: 1 } };
  return runInventory(inv, { allowMutating: false, timeoutMs: 5000, baseDir: '/tmp', concurrency: 1, adaptive: false }, [quiet], { suites: [suite], openHost, gatherIdentity: async () => identity, now: () => new Date() });
}

describe('Suite.early: overlaps the connection', () => {
  it('starts before the connection is made, hands gather its promise and the session', async () => {
    const log: string[] = [];
    const seen: Parameters<typeof withEarly>[1] = {};
    const out = await run(withEarly(log, seen), async (n) => {
      log.push('connecting');
      await sleep(50);
      log.push('connected');
      const h = new FakeHost(n.name, n.host);
      Object.assign(h, { session: { address: '10.0.0.1', port: 22, tcpConnectMs: 1.5, at: 'now' } });
      return h;
    });
    expect(out.exitCode).toBe(0);
    expect(log.indexOf('early n1')).toBeLessThan(log.indexOf('connected'));
    expect(log.indexOf('connected')).toBeLessThan(log.indexOf('gather'));
    expect(seen.early).toBeInstanceOf(Promise);
    expect(seen.session).toMatchObject({ address: '10.0.0.1', tcpConnectMs: 1.5 });
    expect(seen.aborted).toBe(true); // the node is done: nothing of it keeps running
  });

  it('a node that cannot be reached: its early work is told so and stopped', async () => {
    const log: string[] = [];
    const seen: Parameters<typeof withEarly>[1] = {};
    const out = await run(withEarly(log, seen), async () => {
      await sleep(20);
      throw new TransportError('unreachable', 'n1: ECONNREFUSED');
    });
    expect(out.exitCode).toBe(3);
    expect(log).toEqual(['early n1']);
    expect(seen.session).toBeUndefined();
    expect(seen.aborted).toBe(true);
  });
});

describe('firewall: outside-in probes started before the session', () => {
  let server: Server;
  let open = 0;
  let closed = 0;
  beforeAll(async () => {
    server = createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    open = (server.address() as { port: number }).port;
    const tmp = createServer();
    await new Promise<void>((r) => tmp.listen(0, '127.0.0.1', r));
    closed = (tmp.address() as { port: number }).port;
    await new Promise((r) => tmp.close(r));
  });
  afterAll(() => new Promise((r) => server.close(r)));

  it('the same facts as probing after the connection; the ssh port is the session, not a second connect', async () => {
    let sessionIs: (s: TransportSession) => void = () => undefined;
    const session = new Promise<TransportSession | undefined>((r) => (sessionIs = r));
    const ssh = 2222; // nothing listens there: were it probed, it would read refused, not the session
    const early = earlyProbes('127.0.0.1', { open: [ssh, open], closed: [closed], sshPort: ssh, session });
    await sleep(30);
    const host = Object.assign(new NoFirewallHost('n1', '127.0.0.1'), { session: { address: '127.0.0.1', port: ssh, tcpConnectMs: 0.4, at: 'now' } });
    sessionIs(host.session);
    const f = await gatherFirewall(host, { target: '127.0.0.1', open: [ssh, open], closed: [closed], timeoutMs: 5000 }, early);
    expect(f.probes.open.map((p) => [p.port, p.state])).toEqual([[ssh, 'open'], [open, 'open']]);
    expect(f.probes.open[0].detail).toMatch(/ssh session/);
    expect(f.probes.closed.map((p) => [p.port, p.state])).toEqual([[closed, 'refused']]);
    expect((await early).ports).toEqual([open, closed]);
  });

  it('another address than the session\'s: the early probes are not used for it, the ports are probed then', async () => {
    const early = earlyProbes('127.0.0.1', { open: [open], closed: [closed], session: Promise.resolve(undefined) });
    const host = new NoFirewallHost('n1', '127.0.0.2');
    const f = await gatherFirewall(host, { target: '127.0.0.2', open: [open], closed: [], timeoutMs: 5000 }, early);
    expect(f.target).toBe('127.0.0.2');
    expect(f.probes.open.map((p) => p.host)).toEqual(['127.0.0.2']);
  });
});
