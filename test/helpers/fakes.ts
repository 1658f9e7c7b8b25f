// Fake Hosts and Suites for engine, reporter and CLI tests: no network, fully controlled timing.
import { PassThrough } from 'node:stream';
import type { ExecResult, Host, NodeIdentity, NodeSpec, Outcome, Result, Suite } from '../../src/core/types.js';
import { TransportError } from '../../src/core/types.js';

export function node(name: string, over: Partial<NodeSpec> = {}): NodeSpec {
  return {
    name,
    host: `10.250.0.${name.length}`,
    transport: 'ssh',
    expect: 'base',
    ssh: { user: 'root', port: 22, connectTimeoutMs: 1000 },
    ...over,
  };
}

export class FakeHost implements Host {
  closed = false;
  roundTrips = 0;
  readonly describe: string;
  constructor(readonly name: string, readonly address?: string) {
    this.describe = `fake ${name}`;
  }
  async exec(command: string): Promise<ExecResult> {
    this.roundTrips++;
    return { code: 0, stdout: '', stderr: '', command, durationMs: 0 };
  }
  async readFile(): Promise<Buffer> {
    return Buffer.alloc(0);
  }
  async forward(): Promise<PassThrough> {
    return new PassThrough();
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface FakeFacts {
  ok: boolean;
}

/**
 * A suite whose gather() behaviour per node is scripted: `delay` ms, `throws` an error, `hang`
 * forever; evaluate() returns one outcome per check id with the scripted status.
 */
export function fakeSuite(
  name: string,
  opts: {
    checkIds?: string[];
    delay?: (node: string) => number;
    throws?: (node: string) => Error | undefined;
    hang?: (node: string) => boolean;
    status?: (node: string, id: string) => Outcome['status'];
    onGather?: (node: string) => void;
    evaluateThrows?: boolean;
  } = {},
): Suite<{ n?: number }, FakeFacts> {
  const checkIds = opts.checkIds ?? [`${name}.one`, `${name}.two`];
  return {
    name,
    key: name,
    schema: { type: 'object', additionalProperties: false, properties: { n: { type: 'integer' } } },
    checkIds,
    async gather(ctx) {
      opts.onGather?.(ctx.node.name);
      if (opts.hang?.(ctx.node.name)) await new Promise(() => undefined);
      await sleep(opts.delay?.(ctx.node.name) ?? 0);
      const e = opts.throws?.(ctx.node.name);
      if (e) throw e;
      return { ok: true };
    },
    evaluate(_facts, _expect, ctx) {
      if (opts.evaluateThrows) throw new Error('evaluate blew up');
      return checkIds.map((id) => ({
        id,
        title: `title of ${id}`,
        subject: 'subject-1',
        status: opts.status?.(ctx.node.name, id) ?? 'pass',
        severity: 'high' as const,
        message: `${id} on ${ctx.node.name}`,
        evidence: { expected: 'x', observed: 'x', source: 'fake probe', excerpt: 'raw' },
        checklist: ['hardening'],
      }));
    },
  };
}

export function unreachable(msg = 'connect ECONNREFUSED 10.250.0.9:22') {
  return async (): Promise<Host> => {
    throw new TransportError('unreachable', msg);
  };
}

export const identity: NodeIdentity = {
  hostname: 'leaf-1',
  os: 'NixOS 24.05 (Uakari)',
  nixosVersion: '24.05.20240101.abcdef',
  currentSystem: '/nix/store/abc-nixos-system-leaf-1-24.05',
  kernel: '6.6.1',
  clock: '2026-11-27T04:00:00Z',
};

export function result(over: Partial<Result> = {}): Result {
  return {
    id: 'firewall.port-closed',
    title: 'Port closed',
    subject: '5432',
    status: 'pass',
    severity: 'high',
    message: 'port 5432 is closed',
    evidence: { expected: 'closed', observed: 'closed', source: 'iptables-save', excerpt: '-A nixos-fw -p tcp --dport 22 -j nixos-fw-accept' },
    checklist: ['network-policies'],
    node: 'leaf-1',
    suite: 'firewall',
    startedAt: '2026-11-27T04:00:00.000Z',
    durationMs: 12,
    ...over,
  };
}
