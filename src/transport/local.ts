// The local transport: leafcert runs on the node itself (e.g. inside a NixOS VM test).
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { TransportError, type ExecOptions, type ExecResult, type Host, type PortStream } from '../types.js';

export class LocalHost implements Host {
  readonly describe = 'local';
  readonly address: string | undefined;
  private count = 0;

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
      // detached: the command gets its own process group, so a timeout kills its children too.
      const child = spawn('/bin/sh', ['-c', command], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let timedOut = false;
      const timer = opts.timeoutMs
        ? setTimeout(() => {
            timedOut = true;
            try {
              process.kill(-child.pid!, 'SIGKILL');
            } catch {
              child.kill('SIGKILL');
            }
          }, opts.timeoutMs)
        : undefined;
      child.stdout.on('data', (d: Buffer) => out.push(d));
      child.stderr.on('data', (d: Buffer) => err.push(d));
      child.on('error', (e) => {
        clearTimeout(timer);
        rej(new TransportError('protocol', `${this.name}: cannot run /bin/sh: ${e.message}`));
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        if (timedOut) return rej(new TransportError('timeout', `${this.name}: command timed out after ${opts.timeoutMs} ms: ${command}`));
        res({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), command, durationMs: Date.now() - started });
      });
      child.stdin.on('error', () => {});
      child.stdin.end(opts.stdin ?? '');
    });
  }

  async readFile(path: string): Promise<Buffer> {
    this.count++;
    return readFile(path);
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

  async close(): Promise<void> {}
}
