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
}

export function probeTcp(host: string, port: number, timeoutMs = 1500): Promise<TcpProbe> {
  const started = Date.now();
  return new Promise((res) => {
    const s = connect({ host, port });
    let done = false;
    const finish = (state: TcpState, detail: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      res({ host, port, state, ms: Date.now() - started, detail });
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
