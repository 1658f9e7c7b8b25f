// Issue 15 item 1 at the transport: an SSH handshake that got no answer (a starved sshd or harness)
// is tried once more before it becomes the node's error; a refusal is an answer and is not retried.
import { describe, expect, it } from 'vitest';
import { runInventory } from '../src/engine/run.js';
import type { Inventory, NodeSpec, Result } from '../src/core/types.js';
import { TransportError } from '../src/core/types.js';
import type { Reporter } from '../src/reporters/types.js';
import { FakeHost, fakeSuite, identity, node } from './helpers/fakes.js';

class Keep implements Reporter {
  results: Result[] = [];
  onRunStart() {}
  onNodeStart() {}
  onResult(r: Result) {
    this.results.push(r);
  }
  onNodeEnd() {}
  async onRunEnd() {}
}

const silence = () => Object.assign(new TransportError('unreachable', 'n1 (root@10.0.0.1:22): no ssh handshake within 1000 ms'), { noAnswer: true });

async function run(fail: (attempt: number) => Error | undefined) {
  let attempts = 0;
  const inv: Inventory = { file: '/tmp/inv.yaml', baseDir: '/tmp', nodes: [node('n1')], expectations: { base: { alpha: {} } }, waivers: [], defaults: { timeoutMs: 5000, concurrency: 1 } };
  const rep = new Keep();
  const out = await runInventory(inv, { allowMutating: false, timeoutMs: 5000, baseDir: '/tmp', concurrency: 1, adaptive: false }, [rep], {
    suites: [fakeSuite('alpha')],
    openHost: async (n: NodeSpec) => {
      const e = fail(++attempts);
      if (e) throw e;
      return new FakeHost(n.name, n.host);
    },
    gatherIdentity: async () => identity,
    now: () => new Date(),
  });
  return { out, attempts, rep };
}

describe('connecting: silence is retried once, an answer is not', () => {
  it('silent once, then answers: the node is checked', async () => {
    const { out, attempts, rep } = await run((k) => (k === 1 ? silence() : undefined));
    expect(attempts).toBe(2);
    expect(out.exitCode).toBe(0);
    expect(rep.results.every((r) => r.status === 'pass')).toBe(true);
  });
  it('silent twice: error results with the handshake message (exit 3)', async () => {
    const { out, attempts, rep } = await run(() => silence());
    expect(attempts).toBe(2);
    expect(out.exitCode).toBe(3);
    expect(rep.results.map((r) => r.message)).toContain('n1 (root@10.0.0.1:22): no ssh handshake within 1000 ms');
  });
  it('refused: one attempt, error at once', async () => {
    const { attempts, out } = await run(() => new TransportError('unreachable', 'n1: ECONNREFUSED'));
    expect(attempts).toBe(1);
    expect(out.exitCode).toBe(3);
  });
});
