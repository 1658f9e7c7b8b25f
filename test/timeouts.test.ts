// Adaptive timeouts (issue 14 part 2), without a lab: the bounded wait, the harness-side probe on
// loopback (answers set the wait; a fixed probeTimeout turns adaptation off), and the reach
// script's parsing (the first answer per attempt wins over a late "timeout" for it).
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { boundedWait, probeTcpAdaptive, TCP_BOUNDS } from '../src/probes/tcp.js';
import { NOT_ATTEMPTED, parseReach, reachCommand, REACH_TIMEOUT } from '../src/probes/isolation.js';
import { sessionProbe } from '../src/probes/firewall.js';
import type { Host } from '../src/core/types.js';

describe('boundedWait', () => {
  it('is the multiple of the round trip, never under the floor nor over the ceiling', () => {
    expect(boundedWait(0.2, TCP_BOUNDS)).toBe(TCP_BOUNDS.floorMs);
    expect(boundedWait(50, TCP_BOUNDS)).toBe(500);
    expect(boundedWait(400, TCP_BOUNDS)).toBe(TCP_BOUNDS.ceilingMs);
  });
});

describe('probeTcpAdaptive on loopback', () => {
  it('open and refused answer at once; the wait and its reason come from the measured round trip', async () => {
    const srv = createServer((s) => s.destroy()).listen(0, '127.0.0.1');
    await new Promise((r) => srv.once('listening', r));
    const port = (srv.address() as { port: number }).port;
    try {
      const r = await probeTcpAdaptive('127.0.0.1', [port, 1], { rttPort: port });
      expect(r.probes.map((p) => p.state)).toEqual(['open', 'refused']);
      expect(r.why).toMatch(/^10 x the (round trip of a connect to port \d+|slowest answer \(port \d+\)) [\d.]+ ms, bounded to 200-1500 ms$/);
      expect(r.timeoutMs).toBeGreaterThanOrEqual(TCP_BOUNDS.floorMs);
      expect(r.timeoutMs).toBeLessThanOrEqual(TCP_BOUNDS.ceilingMs);
      const fixed = await probeTcpAdaptive('127.0.0.1', [port], { fixedMs: 900 });
      expect(fixed).toMatchObject({ timeoutMs: 900, why: 'fixed by the expectation (probeTimeout)' });
    } finally {
      srv.close();
    }
  });
});

/** A loopback server that counts the connections it accepts (each would start an sshd on a node). */
async function countingServer() {
  const accepted = { n: 0 };
  const srv = createServer((s) => {
    accepted.n++;
    s.destroy();
  }).listen(0, '127.0.0.1');
  await new Promise((r) => srv.once('listening', r));
  return { srv, port: (srv.address() as { port: number }).port, accepted };
}

describe('probeTcpAdaptive: the round-trip port', () => {
  it('is connected to once when it is among the probed ports (each connect to ssh starts an sshd on the node)', async () => {
    const { srv, port, accepted } = await countingServer();
    try {
      const r = await probeTcpAdaptive('127.0.0.1', [port, 1], { rttPort: port });
      await new Promise((res) => setTimeout(res, 50));
      expect(accepted.n).toBe(1);
      expect(r.why).toMatch(/^10 x the (round trip of a connect to port \d+|slowest answer \(port 1\)) [\d.]+ ms/);
      // not probed: a connect of its own, for the round trip only
      accepted.n = 0;
      await probeTcpAdaptive('127.0.0.1', [1], { rttPort: port });
      await new Promise((res) => setTimeout(res, 50));
      expect(accepted.n).toBe(1);
    } finally {
      srv.close();
    }
  });
});

describe('the ssh session as the ssh port\'s outside-in evidence', () => {
  it('no connect to the port the session already reached; its TCP connect seeds the wait only until another port answers', async () => {
    const { srv, port, accepted } = await countingServer();
    const host = { session: { address: '127.0.0.1', port, tcpConnectMs: 0.4, at: '2026-12-03T00:00:00.000Z' } } as unknown as Host;
    try {
      expect(sessionProbe(host, '127.0.0.2', [port])).toBeUndefined();
      expect(sessionProbe(host, '127.0.0.1', [443])).toBeUndefined();
      const known = sessionProbe(host, '127.0.0.1', [port]);
      expect(known?.probe).toMatchObject({ port, state: 'open' });
      expect(known?.probe.via).toMatch(/^the harness's own ssh session to 127\.0\.0\.1:\d+ \(TCP connect 0\.4 ms/);
      const r = await probeTcpAdaptive('127.0.0.1', [port, 1], { rttPort: port, known });
      await new Promise((res) => setTimeout(res, 50));
      expect(accepted.n).toBe(0);
      expect(r.probes.map((p) => [p.port, p.state])).toEqual([[port, 'open'], [1, 'refused']]);
      expect(r.probes[0].via).toBe(known!.probe.via);
      expect(r.why).toMatch(/^10 x the slowest answer \(port 1\)/);
      // only the known port: no connect at all, the wait from the session's connect
      const only = await probeTcpAdaptive('127.0.0.1', [port], { rttPort: port, known });
      expect(accepted.n).toBe(0);
      expect(only).toMatchObject({ timeoutMs: TCP_BOUNDS.floorMs });
      expect(only.why).toMatch(/^10 x the round trip of the ssh session's TCP connect 0\.4 ms/);
    } finally {
      srv.close();
    }
  });
});

describe('isolation reach script output', () => {
  it('keeps the first answer per attempt and each container\'s deadline', () => {
    const { results, deadlines } = parseReach('R 0 0\nR 1 124\nR 0 124\nT 42 250 10 x the slowest answer, 3 ms (floor 250 ms, ceiling 1000 ms)\n');
    expect([...results]).toEqual([[0, 0], [1, 124]]);
    expect(deadlines.get(42)).toBe('250 ms (10 x the slowest answer, 3 ms (floor 250 ms, ceiling 1000 ms))');
  });
  it('sends one group per container: leader, count, then address port id lane quadruples (s: declared, in turn; p: its own process)', () => {
    const cmd = reachCommand([{ id: 0, leader: 7, address: '10.0.0.1', port: 22, lane: true }, { id: 1, leader: 8, address: '10.0.0.2', port: 80 }, { id: 2, leader: 7, address: '10.0.0.1', port: 443 }], 12.4);
    expect(cmd.endsWith(`'12' '${REACH_TIMEOUT.floorMs}' '${REACH_TIMEOUT.ceilingMs}' '${REACH_TIMEOUT.multiple}' '7' '2' '10.0.0.1' '22' '0' 's' '10.0.0.1' '443' '2' 'p' '8' '1' '10.0.0.2' '80' '1' 'p'`)).toBe(true);
  });
});

/** isolation-reach.sh with every connect a busy wait of PORT µs (no process to leave behind). */
function simulated(text: string): string {
  const script = text.replaceAll('exec 3<>"/dev/tcp/$1/$2"', 'e=$(( ${EPOCHREALTIME/./} + $2 )); while (( ${EPOCHREALTIME/./} < e )); do :; done');
  expect(script.split('while (( ${EPOCHREALTIME/./} < e ))').length).toBe(3); // the parallel attempts' and the lane's
  return script;
}

describe('isolation-reach.sh deadline (connects simulated by waits)', () => {
  it('a lane (declared attempts in turn): a silent one times out and ends it, the ones after it are 125 (not attempted), the others unaffected', async () => {
    const { readFileSync } = await import('node:fs');
    const { spawnSync } = await import('node:child_process');
    const script = simulated(readFileSync('src/probes/isolation-reach.sh', 'utf8'));
    const t0 = performance.now();
    const r = spawnSync('bash', ['-c', `ctr_net() { shift; "$@"; }\n${script}`, 'reach', '100', '250', '1000', '10', '1', '4', 'a', '60000', '0', 's', 'a', '9000000', '1', 's', 'a', '1000', '2', 's', 'a', '1000', '3', 'p'], { encoding: 'utf8', timeout: 20_000 });
    const ms = performance.now() - t0;
    const { results } = parseReach(r.stdout);
    expect([0, 1, 2, 3].map((i) => results.get(i)), r.stdout).toEqual([0, 124, NOT_ATTEMPTED, 0]);
    expect(ms).toBeLessThan(8000);
  });

  it('the wait is the bounded multiple of the round trip (a 100 ms hint: the 1 s ceiling): a slow-but-open answer counts as open, a silent attempt times out and is ended', async () => {
    const { readFileSync } = await import('node:fs');
    const { spawnSync } = await import('node:child_process');
    // The connect becomes a busy wait of PORT µs (no process to leave behind); the container entry a no-op.
    const script = simulated(readFileSync('src/probes/isolation-reach.sh', 'utf8'));
    const t0 = performance.now();
    const r = spawnSync('bash', ['-c', `ctr_net() { shift; "$@"; }\n${script}`, 'reach', '100', '250', '1000', '10', '1', '3', 'a', '60000', '0', 'p', 'a', '300000', '1', 'p', 'a', '9000000', '2', 'p'], { encoding: 'utf8', timeout: 20_000 });
    const ms = performance.now() - t0;
    const { results, deadlines } = parseReach(r.stdout);
    expect(results.get(0)).toBe(0);
    expect(results.get(1), r.stdout).toBe(0);
    expect(results.get(2), r.stdout).toBe(124);
    expect(deadlines.get(1)).toMatch(/^1000 ms \(10 x the slowest answer, \d+ ms \(floor 250 ms, ceiling 1000 ms\)\)$/);
    expect(ms).toBeLessThan(8000);
  });
});
