// The local transport: leafcert runs on the node itself (e.g. inside a NixOS VM test).
import { spawn } from 'node:child_process';
import { open } from 'node:fs/promises';
import { connect } from 'node:net';
import type { ChildProcess } from 'node:child_process';
import { TransportError, type ExecOptions, type ExecResult, type Host, type PortStream } from '../core/types.js';
import { CappedOutput, KILL_GRACE_S, outputCap, overCapError, shortCommand, withRemoteTimeout } from './output.js';

export class LocalHost implements Host {
  readonly describe = 'local';
  readonly address: string | undefined;
  private count = 0;
  /** Commands still running, stopped by close() (an interrupted run leaves nothing behind). */
  private running = new Map<ChildProcess, () => void>();

  constructor(readonly name: string, address?: string) {
    this.address = address;
  }

  get roundTrips(): number {
    return this.count;
  }

  exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    this.count++;
    const started = Date.now();
    return new Promise((res, rej) => {
      // detached: the command gets its own process group, so a timeout reaches its children too.
      // With a timeout it also runs under coreutils `timeout`, like on an ssh node: if the harness
      // itself dies, nothing outlives the deadline.
      const sent = opts.timeoutMs ? withRemoteTimeout(command, opts.timeoutMs) : command;
      const child = spawn('/bin/sh', ['-c', sent], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
      const output = new CappedOutput(outputCap(opts));
      let failure: TransportError | undefined;
      let killTimer: NodeJS.Timeout | undefined;
      const signalGroup = (sig: NodeJS.Signals) => {
        try {
          process.kill(-child.pid!, sig);
        } catch {
          try {
            child.kill(sig);
          } catch {
            /* already gone */
          }
        }
      };
      // TERM first so probe scripts run their traps (scratch removed), KILL if that is not enough.
      const stop = (e: TransportError) => {
        if (failure) return;
        failure = e;
        clearTimeout(timer);
        signalGroup('SIGTERM');
        killTimer = setTimeout(() => signalGroup('SIGKILL'), KILL_GRACE_S * 1000);
      };
      this.running.set(child, () => stop(new TransportError('unreachable', `${this.name}: host closed while "${shortCommand(command)}" ran`)));
      const timer = opts.timeoutMs
        ? setTimeout(() => stop(new TransportError('timeout', `${this.name}: command timed out after ${opts.timeoutMs} ms: ${command}`)), opts.timeoutMs)
        : undefined;
      const take = (which: 'out' | 'err') => (d: Buffer) => {
        if (failure) return;
        if (!output.add(which, d)) {
          stop(overCapError(this.name, command, output.cap, output.seen));
          // Stop reading: the group is being stopped, what it still writes is not wanted.
          child.stdout.destroy();
          child.stderr.destroy();
        }
      };
      child.stdout.on('data', take('out'));
      child.stderr.on('data', take('err'));
      child.on('error', (e) => {
        clearTimeout(timer);
        clearTimeout(killTimer);
        this.running.delete(child);
        rej(new TransportError('protocol', `${this.name}: cannot run /bin/sh: ${e.message}`));
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        clearTimeout(killTimer);
        this.running.delete(child);
        if (failure) return rej(failure);
        // The node-side deadline (timeout: 124 after TERM, 137 after KILL) fired just before ours.
        if (opts.timeoutMs && (code === 124 || code === 137 || signal) && Date.now() - started >= opts.timeoutMs) {
          return rej(new TransportError('timeout', `${this.name}: command timed out after ${opts.timeoutMs} ms: ${command}`));
        }
        res({ code, stdout: Buffer.concat(output.out).toString('utf8'), stderr: Buffer.concat(output.err).toString('utf8'), command, durationMs: Date.now() - started });
      });
      child.stdin.on('error', () => {});
      child.stdin.end(opts.stdin ?? '');
    });
  }

  async readFile(path: string, opts: ExecOptions = {}): Promise<Buffer> {
    this.count++;
    // Read at most cap + 1 bytes: /dev/zero or a huge log must not take the harness's memory.
    const cap = outputCap(opts);
    const fh = await open(path, 'r');
    try {
      const chunks: Buffer[] = [];
      let total = 0;
      for (;;) {
        const buf = Buffer.alloc(Math.min(1024 * 1024, cap + 1 - total));
        const { bytesRead } = await fh.read(buf, 0, buf.length, null);
        if (bytesRead === 0) break;
        chunks.push(buf.subarray(0, bytesRead));
        total += bytesRead;
        if (total > cap) throw overCapError(this.name, `cat -- ${path}`, cap, total);
      }
      return Buffer.concat(chunks);
    } finally {
      await fh.close();
    }
  }

  forward(port: number, host = '127.0.0.1'): Promise<PortStream> {
    this.count++;
    return new Promise((res, rej) => {
      const s = connect({ port, host });
      s.once('connect', () => {
        s.removeAllListeners('error');
        // Already connected: a client that calls connect() again (pg with `stream`) just gets 'connect'.
        (s as unknown as { connect: () => unknown }).connect = () => {
          process.nextTick(() => s.emit('connect'));
          return s;
        };
        res(s);
      });
      s.once('error', (e: NodeJS.ErrnoException) => rej(new TransportError('unreachable', `${this.name}: cannot connect to ${host}:${port}: ${e.code ?? e.message}`)));
    });
  }

  async close(): Promise<void> {
    for (const stop of this.running.values()) stop();
  }
}
