// What every transport does with a command's output and its deadline: one cap on how much output
// a command may send back (a runaway or hostile command must not take the harness's memory: 200 MB
// of output once cost 928 MB RSS, 600 MB ended in V8's "Cannot create a string longer than …"), and
// the node-side deadline wrapper, so a command outlives neither --timeout nor a harness that died.
import { DEFAULT_MAX_OUTPUT_BYTES, TransportError, type ExecOptions } from '../core/types.js';

/** After the deadline the node sends TERM (scripts' traps clean up), and KILL this much later. */
export const KILL_GRACE_S = 2;
/** The node's deadline is this much later than the client's, so the client reports it first. */
export const REMOTE_GRACE_MS = 500;

export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * `timeout` around a command when the node has it (NixOS and Debian both do): TERM at the deadline
 * (probe scripts trap it and remove their scratch), KILL KILL_GRACE_S later. coreutils timeout
 * signals the command's whole process group.
 */
/**
 * Whether a command is what scriptCommand() makes: `bash -c` followed by words that are only
 * single-quoted strings (with `\'` between them) or `leafcert`, so it can be run as it stands.
 * A scan, not a regex: scripts are tens of KiB and a backtracking pattern over them is slow.
 */
export function isScriptCommand(command: string): boolean {
  if (!command.startsWith("bash -c '")) return false;
  let i = 8;
  while (i < command.length) {
    if (command.startsWith('leafcert', i)) i += 8;
    else {
      // One word: 'xxx' segments joined by \'
      let any = false;
      for (;;) {
        if (command[i] === "'") {
          const close = command.indexOf("'", i + 1);
          if (close < 0) return false;
          i = close + 1;
          any = true;
        } else if (command[i] === '\\' && command[i + 1] === "'") {
          i += 2;
          any = true;
        } else break;
      }
      if (!any) return false;
    }
    if (i === command.length) return true;
    if (command[i] !== ' ') return false;
    i++;
  }
  return false;
}

export function withRemoteTimeout(command: string, timeoutMs: number): string {
  const secs = (Math.ceil((timeoutMs + REMOTE_GRACE_MS) / 100) / 10).toFixed(1);
  // A probe script (scriptCommand: `bash -c '…' leafcert ARGS…`) is already one quoted command, so
  // timeout runs it directly; a `sh -c` around it would start one more shell per round trip.
  const bare = command.startsWith('exec ') ? command.slice(5) : command;
  const inner = isScriptCommand(bare) ? bare : `sh -c ${shellQuote(command)}`;
  return `if command -v timeout >/dev/null 2>&1; then exec timeout -s TERM -k ${KILL_GRACE_S} ${secs} ${inner}; else exec ${inner}; fi`;
}

/** The first line of a command, cut to 80 characters: probe scripts are long, an error is one line. */
export function shortCommand(command: string): string {
  const first = command.trim().split('\n')[0].replace(/\s+/g, ' ');
  return first.length > 80 ? `${first.slice(0, 79)}…` : first;
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

export function outputCap(opts: ExecOptions): number {
  const cap = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  return cap > 0 ? cap : DEFAULT_MAX_OUTPUT_BYTES;
}

export function overCapError(node: string, command: string, cap: number, seen: number): TransportError {
  return new TransportError(
    'protocol',
    `${node}: output of "${shortCommand(command)}" exceeded the ${formatBytes(cap)} cap (${seen} bytes read); the command was stopped`,
  );
}

/** Collects stdout/stderr chunks up to the cap; `add` returns false once the cap is passed. */
export class CappedOutput {
  readonly out: Buffer[] = [];
  readonly err: Buffer[] = [];
  seen = 0;
  constructor(readonly cap: number) {}
  add(which: 'out' | 'err', d: Buffer): boolean {
    this.seen += d.length;
    if (this.seen > this.cap) return false;
    (which === 'out' ? this.out : this.err).push(d);
    return true;
  }
}
