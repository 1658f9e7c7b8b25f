// Outside-in TCP connect from the harness: what a client on the network sees. A DROPped SYN
// times out ("filtered"); an allowed port with nothing listening, or a REJECT, answers at once
// ("refused", nixos-facts §1 "What an outside probe sees").
import { connect } from 'node:net';

export type TcpState = 'open' | 'refused' | 'filtered' | 'unreachable' | 'error';

export interface TcpProbe {
  host: string;
  port: number;
  state: TcpState;
  ms: number;
  /** errno or a short note. */
  detail: string;
  /** The answer's time, unrounded (adaptive waits). */
  rtt?: number;
  /** Observed without a connect of its own: what showed the state (the harness's ssh session). */
  via?: string;
}

export function probeTcp(host: string, port: number, timeoutMs = 1500): Promise<TcpProbe> {
  const started = performance.now();
  return new Promise((res) => {
    const s = connect({ host, port });
    let done = false;
    const finish = (state: TcpState, detail: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      const ms = performance.now() - started;
      res({ host, port, state, ms: Math.round(ms), rtt: ms, detail });
    };
    // setImmediate: when the event loop was blocked (many nodes at once), the timer and a finished
    // connect are due together and timers run first; let pending I/O land before calling it filtered.
    const timer = setTimeout(() => setImmediate(() => finish('filtered', `no answer within ${timeoutMs} ms`)), timeoutMs);
    s.once('connect', () => finish('open', 'connected'));
    s.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNREFUSED') finish('refused', 'ECONNREFUSED');
      else if (e.code === 'EHOSTUNREACH' || e.code === 'ENETUNREACH' || e.code === 'EHOSTDOWN') finish('unreachable', e.code);
      else if (e.code === 'ETIMEDOUT') finish('filtered', 'ETIMEDOUT');
      else finish('error', e.code ?? e.message);
    });
  });
}

/** Probe several ports at once, at most `parallel` in flight. */
export async function probeTcpMany(host: string, ports: number[], timeoutMs = 1500, parallel = 32): Promise<TcpProbe[]> {
  const out: TcpProbe[] = new Array(ports.length);
  let next = 0;
  const worker = async () => {
    while (next < ports.length) {
      const k = next++;
      out[k] = await probeTcp(host, ports[k], timeoutMs);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, ports.length) }, worker));
  return out;
}

/** Bounds of an adaptive wait: `multiple` × the slowest round trip seen, never under `floorMs` nor over `ceilingMs`. */
export interface AdaptiveBounds {
  floorMs: number;
  ceilingMs: number;
  multiple: number;
}

/**
 * Outside-in, as nmap's default timing: a SYN-ACK or RST comes back within a round trip, so a port
 * still silent after many round trips was dropped. The floor covers a busy harness event loop; the
 * ceiling is the old fixed wait.
 */
export const TCP_BOUNDS: AdaptiveBounds = { floorMs: 200, ceilingMs: 1500, multiple: 10 };

export function boundedWait(rttMs: number, b: AdaptiveBounds): number {
  return Math.min(b.ceilingMs, Math.max(b.floorMs, Math.ceil(rttMs * b.multiple)));
}

export interface AdaptiveProbes {
  probes: TcpProbe[];
  /** The wait a silent port was given (the last deadline in force). */
  timeoutMs: number;
  /** Why that wait: which round trip it is a multiple of, and the bounds. */
  why: string;
}

/**
 * A port whose state the harness already saw (the ssh port its own session connected to): not
 * connected to again, and `sampleMs` (a multiple of the round trip, e.g. the ssh handshake: a longer
 * wait, never a shorter one) seeds the adaptive wait.
 */
export interface KnownPort {
  probe: TcpProbe;
  sampleMs?: number;
  what: string;
}

function seedOnly(k: KnownPort, o: { fixedMs?: number; bounds?: AdaptiveBounds }): { timeoutMs: number; why: string } {
  if (o.fixedMs !== undefined) return { timeoutMs: o.fixedMs, why: 'fixed by the expectation (probeTimeout)' };
  const b = o.bounds ?? TCP_BOUNDS;
  if (k.sampleMs === undefined) return { timeoutMs: b.ceilingMs, why: `no port answered: the ceiling, bounded to ${b.floorMs}-${b.ceilingMs} ms` };
  return { timeoutMs: boundedWait(k.sampleMs, b), why: `${b.multiple} x ${k.what} ${k.sampleMs.toFixed(1)} ms, bounded to ${b.floorMs}-${b.ceilingMs} ms` };
}

/**
 * Probe `ports` on `host` all at once; a port counts as filtered once it stays silent for the
 * adaptive wait (TCP_BOUNDS) over the slowest answer seen: first the connect to `rttPort` (an
 * open port, e.g. ssh's, timed before the others), then every open or refusing port as it answers.
 * Without any answer the wait is the ceiling (nothing says the path is fast). `fixedMs` (the
 * expectation's probeTimeout) turns adaptation off.
 */
export async function probeTcpAdaptive(
  host: string,
  ports: number[],
  o: { rttPort?: number; fixedMs?: number; bounds?: AdaptiveBounds; known?: KnownPort; seed?: KnownPort; lateSeed?: Promise<KnownPort | undefined>; signal?: AbortSignal } = {},
): Promise<AdaptiveProbes> {
  const known = o.known;
  if (known && ports.includes(known.probe.port)) {
    // That port's answer is already in hand: probe the others, put it back in its place.
    const rest = ports.filter((p) => p !== known.probe.port);
    const r = rest.length ? await probeTcpAdaptive(host, rest, { ...o, known: undefined, rttPort: o.rttPort === known.probe.port ? undefined : o.rttPort, seed: known }) : { probes: [], ...seedOnly(known, o) };
    const probes = ports.map((p) => (p === known.probe.port ? known.probe : r.probes[rest.indexOf(p)]));
    return { ...r, probes };
  }
  if (o.fixedMs !== undefined) {
    return { probes: await probeTcpMany(host, ports, o.fixedMs), timeoutMs: o.fixedMs, why: 'fixed by the expectation (probeTimeout)' };
  }
  const b = o.bounds ?? TCP_BOUNDS;
  let slowest: number | undefined;
  let why = 'no port answered: the ceiling';
  const sample = (ms: number, what: string) => {
    if (slowest === undefined || ms > slowest) [slowest, why] = [ms, `${b.multiple} x ${what} ${ms.toFixed(1)} ms`];
  };
  // Probes started before the node's ssh session exists (engine: Suite.early) get its round trip
  // when it comes: a fallback seed like `seed`, read at the next deadline check.
  let seedK = o.seed;
  void o.lateSeed?.then(
    (k) => {
      if (!seedK && k?.sampleMs !== undefined) seedK = k;
    },
    () => undefined,
  );
  // The round-trip connect runs beside the others: its answer lands long before any deadline. When
  // the port is probed anyway (ssh's port expected open) its own answer is the sample: a second
  // connect would cost the node one more sshd start for nothing.
  const rtt = o.rttPort === undefined || ports.includes(o.rttPort) ? undefined : probeTcp(host, o.rttPort, b.ceilingMs).then((r) => {
    if (r.state === 'open' || r.state === 'refused') sample(r.rtt ?? r.ms, `the round trip of a connect to port ${o.rttPort}`);
  });
  // Until something answers, the deadline is the ceiling (or the seed's multiple: a connect made
  // earlier, e.g. at a busier moment, so only a fallback), looked at again every floor.
  const seed = () => seedK?.sampleMs;
  const wait = () => (slowest !== undefined ? boundedWait(slowest, b) : seed() !== undefined ? boundedWait(seed()!, b) : b.ceilingMs);
  const tick = () => (slowest === undefined ? b.floorMs : Infinity);
  const label = (port: number) => (port === o.rttPort ? `the round trip of a connect to port ${port}` : `the slowest answer (port ${port})`);
  const probes = await Promise.all(ports.map((port) => probeUntil(host, port, wait, tick, (ms) => sample(ms, label(port)), o.signal)));
  await rtt;
  if (slowest === undefined && seed() !== undefined) why = `${b.multiple} x ${seedK!.what} ${seed()!.toFixed(1)} ms`;
  return { probes, timeoutMs: wait(), why: `${why}, bounded to ${b.floorMs}-${b.ceilingMs} ms` };
}

/** One connect whose deadline is re-read when its timer fires (answers elsewhere move it); `tick` caps each sleep. */
function probeUntil(host: string, port: number, wait: () => number, tick: () => number, answered: (ms: number) => void, signal?: AbortSignal): Promise<TcpProbe> {
  const t0 = performance.now();
  return new Promise((res) => {
    const s = connect({ host, port });
    let done = false;
    let timer: NodeJS.Timeout;
    const onAbort = () => finish('error', 'not waited for: the node was not checked');
    const finish = (state: TcpState, detail: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      s.destroy();
      const ms = performance.now() - t0;
      if (state === 'open' || state === 'refused') answered(ms);
      res({ host, port, state, ms: Math.round(ms), rtt: ms, detail });
    };
    // setImmediate: let I/O that landed while the loop was busy be seen before calling it silence.
    const check = () => {
      if (done) return;
      const w = wait();
      const el = performance.now() - t0;
      if (el >= w) return finish('filtered', `no answer within ${w} ms`);
      timer = setTimeout(() => setImmediate(check), Math.max(1, Math.min(w - el, tick())));
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    check();
    s.once('connect', () => finish('open', 'connected'));
    s.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNREFUSED') finish('refused', 'ECONNREFUSED');
      else if (e.code === 'EHOSTUNREACH' || e.code === 'ENETUNREACH' || e.code === 'EHOSTDOWN') finish('unreachable', e.code);
      else if (e.code === 'ETIMEDOUT') finish('filtered', 'ETIMEDOUT');
      else finish('error', e.code ?? e.message);
    });
  });
}
