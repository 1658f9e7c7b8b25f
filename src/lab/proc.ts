// Child-process helpers for the lab: every external tool (ip, nsenter, openssl, ssh-keygen) goes
// through run(), which never throws on a non-zero exit unless asked to (check: true).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOpts {
  input?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** Throw LabError with stderr when the exit code is not 0. */
  check?: boolean;
  cwd?: string;
}

/** An error meant for the console: plain sentence, no stack. exitCode 2 = bad invocation. */
export class LabError extends Error {
  constructor(message: string, public readonly exitCode = 1) {
    super(message);
    this.name = 'LabError';
  }
}

export function run(cmd: string, args: string[], opts: RunOpts = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs) timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(new LabError(`cannot run ${cmd}: ${e.message}`));
    });
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      if (opts.check && code !== 0) {
        const what = [cmd, ...args].join(' ');
        reject(new LabError(`\`${what.length > 200 ? what.slice(0, 200) + '…' : what}\` failed (exit ${code}): ${stderr.trim() || stdout.trim()}`));
      } else resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

/** Runs a bash script text on the host. */
export function sh(script: string, opts: RunOpts = {}): Promise<RunResult> {
  return run('bash', ['-c', script], opts);
}

/** Runs a bash script inside a node (all of its namespaces), as root. */
export function nodeSh(initPid: number, script: string, opts: RunOpts = {}): Promise<RunResult> {
  return run('nsenter', ['-t', String(initPid), '-m', '-u', '-i', '-n', '-p', '--', 'bash', '-c', script], opts);
}

/** The package root (holds package.json): works from src/ (vitest) and dist/src/ (built CLI). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new LabError('cannot find the leafcert package root');
    dir = up;
  }
  return dir;
}

/** Directory of the lab's shell/perl helpers (not compiled by tsc: read from the source tree). */
export function shDir(): string {
  return join(packageRoot(), 'src', 'lab', 'sh');
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs fn over items with at most `limit` in flight; rejects with the first error after all settle. */
export async function pool<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  let firstError: unknown;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i]!, i);
      } catch (e) {
        firstError ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (firstError) throw firstError;
  return out;
}
