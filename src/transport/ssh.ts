// The ssh transport: ONE ssh2 connection per node, every exec and forward a channel on it.
// Host keys are pinned by known_hosts (unknown or changed = TransportError('hostkey'), never a
// warning). readFile uses `cat` over exec rather than sftp: same single channel per call, no
// subsystem handshake, and it works unchanged through the container transport's nsenter prefix.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Duplex } from 'node:stream';
import { Client, type ClientChannel, type ConnectConfig } from 'ssh2';
import {
  TransportError,
  type ExecOptions,
  type ExecResult,
  type Host,
  type HostKeyInfo,
  type TransportSession,
  type NodeSpec,
  type PortStream,
} from '../core/types.js';
import {
  appendKnownHost,
  fingerprint,
  hostKeyName,
  keyBlobType,
  knownKeyTypes,
  readKnownHosts,
  verifyHostKey,
} from './knownhosts.js';
import { CappedOutput, outputCap, overCapError, shellQuote, shortCommand, withRemoteTimeout } from './output.js';

/** OpenSSH's default MaxSessions: more concurrent session channels than this are refused. */
export const MAX_SESSIONS = 10;

const HOST_KEY_ALGOS = [
  'ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521',
  'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa',
];
const ALGOS_FOR_KEY_TYPE: Record<string, string[]> = {
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};

const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTDOWN']);

/** A counting semaphore: keeps concurrent session channels within MaxSessions. */
class Slots {
  private free: number;
  private waiters: (() => void)[] = [];
  constructor(n: number) {
    this.free = n;
  }
  async take(): Promise<() => void> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((r) => this.waiters.push(r));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next) next();
      else this.free++;
    };
  }
}

export { shellQuote, withRemoteTimeout };

/** Make an ssh2 channel look like a net.Socket to clients such as pg (lab-notes: Node.js notes). */
function socketLike(ch: ClientChannel): PortStream {
  const s = ch as unknown as Duplex & Record<string, unknown>;
  s.setNoDelay = () => s;
  s.setKeepAlive = () => s;
  s.setTimeout = () => s;
  s.ref = () => s;
  s.unref = () => s;
  s.connect = () => {
    process.nextTick(() => s.emit('connect'));
    return s;
  };
  return s;
}

export class SshHost implements Host {
  readonly name: string;
  readonly address: string;
  readonly describe: string;
  private execs = 0;
  private slots = new Slots(MAX_SESSIONS);
  private closed = false;
  /** Set when the connection dropped after it was established. */
  private lost?: TransportError;

  private constructor(
    private readonly client: Client,
    node: NodeSpec,
    public readonly connectMs: number,
    /** The key the node presented and how it was trusted (reports show it). */
    public readonly hostKey?: HostKeyInfo,
    public readonly session?: TransportSession,
  ) {
    this.name = node.name;
    this.address = node.host!;
    this.describe = `ssh ${node.ssh.user}@${node.host}:${node.ssh.port}`;
    client.on('error', (err) => {
      this.lost = new TransportError('unreachable', `${this.name}: ssh connection lost: ${err.message}`);
    });
    client.on('close', () => {
      if (!this.closed) this.lost ??= new TransportError('unreachable', `${this.name}: ssh connection closed by ${this.address}`);
    });
  }

  get roundTrips(): number {
    return this.execs;
  }

  static async connect(node: NodeSpec, opts: { baseDir?: string } = {}): Promise<SshHost> {
    if (!node.host) throw new TransportError('config', `${node.name}: ssh transport needs a host`);
    const base = opts.baseDir ?? process.cwd();
    const ssh = node.ssh;
    const where = `${node.name} (${ssh.user}@${node.host}:${ssh.port})`;
    const cfg: ConnectConfig = {
      host: node.host,
      port: ssh.port,
      username: ssh.user,
      readyTimeout: ssh.connectTimeoutMs,
      keepaliveInterval: 15_000,
      // No user interaction is ever possible in CI.
      tryKeyboard: false,
    };
    if (ssh.identityFile) {
      const p = resolve(base, ssh.identityFile);
      try {
        cfg.privateKey = readFileSync(p);
      } catch (e) {
        throw new TransportError('config', `${node.name}: cannot read ssh identity file ${p}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    }
    if (ssh.agent) {
      if (!process.env.SSH_AUTH_SOCK) throw new TransportError('config', `${node.name}: ssh agent requested but SSH_AUTH_SOCK is not set`);
      cfg.agent = process.env.SSH_AUTH_SOCK;
    }
    if (!cfg.privateKey && !cfg.agent) throw new TransportError('config', `${node.name}: no ssh identityFile and agent not enabled`);

    if (!ssh.knownHosts) throw new TransportError('config', `${node.name}: no knownHosts file configured: host keys are always verified`);
    const khPath = resolve(base, ssh.knownHosts);
    let entries;
    try {
      entries = readKnownHosts(khPath);
    } catch (e) {
      throw new TransportError('config', `${node.name}: ${(e as Error).message}`);
    }
    const lookup = hostKeyName(node.host, ssh.port);
    const known = knownKeyTypes(entries, lookup).flatMap((t) => ALGOS_FOR_KEY_TYPE[t] ?? [t]).filter((a) => HOST_KEY_ALGOS.includes(a));
    cfg.algorithms = { serverHostKey: [...known, ...HOST_KEY_ALGOS.filter((a) => !known.includes(a))] as never };

    let hostKeyProblem: TransportError | undefined;
    let hostKey: HostKeyInfo | undefined;
    cfg.hostVerifier = (key: Buffer) => {
      const v = verifyHostKey(entries, lookup, key);
      const fp = fingerprint(key);
      const type = keyBlobType(key);
      if (v.ok) {
        hostKey = { type: type ?? v.entry.keyType, fingerprint: fp, trust: 'known_hosts', knownHosts: `${khPath}:${v.entry.line}` };
        return true;
      }
      if (v.reason === 'unknown') {
        if (ssh.acceptNewHostKey) {
          try {
            appendKnownHost(khPath, lookup, key);
            // Trust on first use: the report must not read like a pinned key.
            hostKey = { type: type ?? 'unknown', fingerprint: fp, trust: 'accepted-new', knownHosts: khPath };
            return true;
          } catch (e) {
            hostKeyProblem = new TransportError('config', `${where}: cannot record new host key in ${khPath}: ${(e as Error).message}`);
            return false;
          }
        }
        hostKeyProblem = new TransportError('hostkey', `${where}: host key unknown: ${type} ${fp} is not in ${khPath} (acceptNewHostKey not set)`);
      } else if (v.reason === 'revoked') {
        hostKeyProblem = new TransportError('hostkey', `${where}: host key ${type} ${fp} is marked @revoked in ${khPath}:${v.entry.line}`);
      } else {
        const was = v.known.map((e) => `${e.keyType} ${fingerprint(e.key)} (${khPath}:${e.line})`).join(', ');
        hostKeyProblem = new TransportError('hostkey', `${where}: HOST KEY CHANGED: presented ${type} ${fp}, known_hosts has ${was}`);
      }
      return false;
    };

    const client = new Client();
    const started = Date.now();
    const t0 = performance.now();
    let tcpConnectMs: number | undefined;
    client.once('connect', () => (tcpConnectMs = performance.now() - t0));
    await new Promise<void>((res, rej) => {
      let settled = false;
      const fail = (err: Error & { level?: string; code?: string }) => {
        if (settled) return;
        settled = true;
        client.removeAllListeners('ready');
        client.end();
        if (hostKeyProblem) return rej(hostKeyProblem);
        if (err.level === 'client-authentication') return rej(new TransportError('auth', `${where}: authentication failed (${ssh.agent ? 'agent' : ssh.identityFile}): server accepted none of the offered keys`));
        // Silence, not an answer: the engine tries once more before it reports the node (src/engine/run.ts).
        if (err.level === 'client-timeout') return rej(Object.assign(new TransportError('unreachable', `${where}: no ssh handshake within ${ssh.connectTimeoutMs} ms`), { noAnswer: true }));
        if (err.code && UNREACHABLE_CODES.has(err.code)) return rej(new TransportError('unreachable', `${where}: ${err.code} ${err.message.replace(/^connect \w+ /, '')}`.trim()));
        if (err.level === 'client-socket' || err.level === 'client-dns') return rej(new TransportError('unreachable', `${where}: ${err.message}`));
        if (/private ?key|passphrase|Cannot parse/i.test(err.message)) return rej(new TransportError('config', `${where}: identity file ${ssh.identityFile}: ${err.message}`));
        rej(new TransportError('protocol', `${where}: ${err.message}`));
      };
      // `on`, not `once`, and never removed before `ready`: ending a half-open connection makes ssh2
      // emit a second 'error' ("Connection lost before handshake"), and an 'error' with no listener
      // is an uncaught exception that kills the whole run.
      client.on('error', fail);
      client.once('close', () => fail(Object.assign(new Error('connection closed during handshake'), { level: 'client-socket' })));
      client.once('ready', () => {
        if (settled) return;
        settled = true;
        client.removeListener('error', fail);
        client.removeAllListeners('close');
        res();
      });
      try {
        client.connect(cfg);
      } catch (e) {
        fail(e as Error);
      }
    });
    return new SshHost(client, node, Date.now() - started, hostKey, { address: node.host!, port: ssh.port, tcpConnectMs, at: new Date(started).toISOString() });
  }

  private check(): void {
    if (this.closed) throw new TransportError('config', `${this.name}: host already closed`);
    if (this.lost) throw this.lost;
  }

  /** Run a command on one session channel; stdout kept as bytes for readFile. */
  private async run(command: string, opts: ExecOptions = {}): Promise<{ code: number | null; stdout: Buffer; stderr: string; durationMs: number }> {
    this.check();
    const release = await this.slots.take();
    this.execs++;
    const started = Date.now();
    // OpenSSH ignores channel signal requests outside privilege-separated children ("session
    // signalling requires privilege separation"), and closing the channel does not kill a command
    // that is not writing: so the node enforces the timeout itself with coreutils' timeout (TERM,
    // then KILL), which signals the command's whole process group.
    const sent = opts.timeoutMs ? withRemoteTimeout(command, opts.timeoutMs) : command;
    const output = new CappedOutput(outputCap(opts));
    try {
      return await new Promise((res, rej) => {
        this.client.exec(sent, (err, ch) => {
          if (err) return rej(this.lost ?? new TransportError('protocol', `${this.name}: cannot open channel for "${shortCommand(command)}": ${err.message}`));
          let code: number | null = null;
          let exited = false;
          let timer: NodeJS.Timeout | undefined;
          let settled = false;
          // Stop what runs (OpenSSH may honour the signal request) and drop the channel either way.
          const stop = (e: TransportError) => {
            settled = true;
            clearTimeout(timer);
            try {
              ch.signal('KILL');
            } catch {
              /* channel already gone */
            }
            ch.close();
            rej(e);
          };
          if (opts.timeoutMs) {
            timer = setTimeout(() => stop(new TransportError('timeout', `${this.name}: command timed out after ${opts.timeoutMs} ms: ${command}`)), opts.timeoutMs);
          }
          const take = (which: 'out' | 'err') => (d: Buffer) => {
            if (settled) return;
            if (!output.add(which, d)) stop(overCapError(this.name, command, output.cap, output.seen));
          };
          ch.on('data', take('out'));
          ch.stderr.on('data', take('err'));
          let signal: string | undefined;
          ch.on('exit', (c: number | null, sig?: string) => {
            exited = true;
            code = typeof c === 'number' ? c : null;
            signal = sig;
          });
          ch.on('close', () => {
            clearTimeout(timer);
            if (settled) return;
            settled = true;
            // No exit status: the channel or the connection went away while the command ran (sshd
            // killed, network gone). What was read is a fragment, never a result. ssh2 emits the
            // client's 'close' (which sets `lost`) before it closes the channels.
            if (!exited) {
              return rej(this.lost ?? new TransportError('unreachable', `${this.name}: ssh channel closed before "${shortCommand(command)}" finished (no exit status)`));
            }
            // Killed by the node-side deadline just before ours fired (coreutils timeout exits 124
            // after TERM, 137 after KILL; ssh2 names signals SIGxxx): still a timeout.
            const killed = signal === 'SIGKILL' || signal === 'SIGTERM' || code === 137 || code === 124;
            if (opts.timeoutMs && killed && Date.now() - started >= opts.timeoutMs) {
              return rej(new TransportError('timeout', `${this.name}: command timed out after ${opts.timeoutMs} ms: ${command}`));
            }
            res({ code, stdout: Buffer.concat(output.out), stderr: Buffer.concat(output.err).toString('utf8'), durationMs: Date.now() - started });
          });
          if (opts.stdin !== undefined) ch.end(opts.stdin);
          else ch.end();
        });
      });
    } finally {
      release();
    }
  }

  async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const r = await this.run(command, opts);
    return { code: r.code, stdout: r.stdout.toString('utf8'), stderr: r.stderr, command, durationMs: r.durationMs };
  }

  async readFile(path: string, opts: ExecOptions = {}): Promise<Buffer> {
    const r = await this.run(`cat -- ${shellQuote(path)}`, opts);
    if (r.code !== 0) {
      const e = new Error(`${this.name}: cannot read ${path}: ${r.stderr.trim() || `cat exited ${r.code}`}`) as NodeJS.ErrnoException;
      e.code = /No such file/.test(r.stderr) ? 'ENOENT' : /Permission denied/.test(r.stderr) ? 'EACCES' : 'EIO';
      throw e;
    }
    return r.stdout;
  }

  async forward(port: number, host = '127.0.0.1'): Promise<PortStream> {
    this.check();
    this.execs++;
    return new Promise((res, rej) => {
      this.client.forwardOut('127.0.0.1', 0, host, port, (err, ch) => {
        if (err) return rej(new TransportError('unreachable', `${this.name}: cannot forward to ${host}:${port}: ${err.message}`));
        res(socketLike(ch));
      });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await new Promise<void>((res) => {
      const t = setTimeout(res, 2000);
      this.client.once('close', () => {
        clearTimeout(t);
        res();
      });
      this.client.end();
    });
  }
}
