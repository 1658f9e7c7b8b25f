// Who is this node: one exec for hostname, OS (NixOS version), the running system's store path,
// kernel, clock and machine-id. The clock matters: TLS expiry is judged by the node's clock too.
// Being the first round trip a node gets, it also sweeps scratch an earlier, killed run left
// (src/probes/scratch.ts): silently, before the first section.
import { randomBytes } from 'node:crypto';
import { ParseError, type ExecOptions, type ExecResult, type Host, type NodeIdentity } from '../core/types.js';
import { isScriptCommand } from '../transport/output.js';
import { scriptCommand } from '../core/script.js';
import { MARK, splitSections } from './sections.js';
import { SWEEP_IF_ANY_SH } from './scratch.js';

const PARTS = ['hostname', 'os-release', 'current-system', 'kernel', 'clock', 'machine-id'];

// Bash builtins where a file is all there is to read (`read`, printf's clock): this runs on every
// node of every run, so it forks no process for what the shell can do itself (a fleet of lab nodes
// on one box spent most of its CPU on such forks).
const readFile = (f: string) => `while IFS= read -r __l || [ -n "$__l" ]; do printf '%s\\n' "$__l"; done <${f}`;

/**
 * A section run in the script's own shell (no `$( )` fork, as sections.sh's bsection): every part
 * is builtins, but for a fallback that only a node without /proc would reach. stderr is dropped
 * (the parser reads none of it).
 */
const part = (name: string, body: string) =>
  `echo '${MARK} ${name}'; { ${body} ; } 2>/dev/null; printf '\\n${MARK}-rc ${name} %s\\n' "$?"`;

const PARTS_SH = [
  part('hostname', `${readFile('/proc/sys/kernel/hostname')} || hostname`),
  part('os-release', readFile('/etc/os-release')),
  part('current-system', '[ -e /run/current-system ] && readlink /run/current-system'),
  part('kernel', `${readFile('/proc/sys/kernel/osrelease')} || uname -r`),
  part('clock', `printf '%(%s)T\\n' -1`),
  part('machine-id', readFile('/etc/machine-id')),
];

export const IDENTITY_SCRIPT = [`{\n${SWEEP_IF_ANY_SH}\n} >/dev/null 2>&1`, ...PARTS_SH].join('\n');

/** The identity round trip as the node runs it: bash, for its builtins (NixOS's sh is bash too). */
export const IDENTITY_COMMAND = scriptCommand(IDENTITY_SCRIPT);

/** KEY=value lines of os-release, quotes removed. */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    let v = m[2];
    if (/^".*"$|^'.*'$/.test(v)) v = v.slice(1, -1).replace(/\\(["\\$`])/g, '$1');
    out[m[1]] = v;
  }
  return out;
}

export function parseIdentity(output: string): NodeIdentity {
  const s = splitSections(output, 'identity probe', PARTS);
  const ok = (k: string) => (s.get(k)!.rc === 0 ? s.get(k)!.text.trim() : undefined);
  const id: NodeIdentity = {};
  id.hostname = ok('hostname') || undefined;
  const osText = ok('os-release');
  if (osText) {
    const os = parseOsRelease(osText);
    id.os = os.PRETTY_NAME ?? os.NAME;
    if (os.ID === 'nixos') {
      // VERSION is e.g. "25.05 (Warbler)"; BUILD_ID carries the exact revision (25.05.20250612.abcdef)
      id.nixosVersion = os.BUILD_ID ?? os.VERSION_ID ?? os.VERSION;
    }
  }
  id.currentSystem = ok('current-system') || undefined;
  id.kernel = ok('kernel') || undefined;
  const clock = ok('clock');
  if (clock && /^\d+$/.test(clock)) id.clock = new Date(Number(clock) * 1000).toISOString();
  const mid = ok('machine-id');
  if (mid && /^[0-9a-f]{32}$/.test(mid)) id.machineId = mid;
  return id;
}

export async function gatherIdentity(host: Host): Promise<NodeIdentity> {
  const r = await host.exec(IDENTITY_COMMAND, { timeoutMs: 15_000 });
  return parseIdentity(r.stdout);
}

/**
 * Carries the identity script in a node's first probe script instead of a round trip of its own
 * (one exec less per node: a session, a shell and a `timeout` on the node; on a light node that was
 * a third of the node's CPU for the whole certification). The first `exec` of a probe script
 * (scriptCommand) through `host` gets the identity sections prepended, ending in a marker with a
 * nonce of this exec (node content cannot fake it); what precedes the marker is parsed as the
 * identity, what follows goes back to the caller as its own stdout. Commands that are not probe
 * scripts (e.g. through a container transport) are never carried: identity is the node's own.
 */
export class IdentityCarrier {
  readonly host: Host;
  private state: 'open' | 'claimed' | 'closed' = 'open';
  private settle!: (r: NodeIdentity | Error) => void;
  /** Settles when a carrying exec ended: the identity, or why it could not be read. */
  readonly carried = new Promise<NodeIdentity | Error>((r) => (this.settle = r));

  constructor(private readonly inner: Host) {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const carrier = this;
    this.host = {
      get name() { return inner.name; },
      get address() { return inner.address; },
      get describe() { return inner.describe; },
      get roundTrips() { return inner.roundTrips; },
      get hostKey() { return inner.hostKey; },
      get session() { return inner.session; },
      exec: (command, opts) => carrier.exec(command, opts),
      readFile: (path, opts) => inner.readFile(path, opts),
      forward: (port, h) => inner.forward(port, h),
      close: () => inner.close(),
    };
  }

  /** Whether an exec has taken the identity along (its result is then in `carried`). */
  get claimed(): boolean {
    return this.state === 'claimed';
  }

  /** No exec may carry it any more (the engine gathers identity on its own instead). */
  close(): void {
    if (this.state === 'open') this.state = 'closed';
  }

  private async exec(command: string, opts?: ExecOptions): Promise<ExecResult> {
    if (this.state !== 'open' || !command.startsWith(SCRIPT_HEAD) || !isScriptCommand(command)) return this.inner.exec(command, opts);
    this.state = 'claimed';
    const end = `${MARK}-identity-end-${randomBytes(8).toString('hex')}`;
    const prelude = `${IDENTITY_SCRIPT}\nunset __l __d __any __ns __r __p\nprintf '%s\\n' '${end}'\n`;
    // Inside the script's single-quoted word: quotes closed and reopened around each ' of ours.
    const carrying = SCRIPT_HEAD + prelude.replace(/'/g, `'\\''`) + command.slice(SCRIPT_HEAD.length);
    let r: ExecResult;
    try {
      r = await this.inner.exec(carrying, opts);
    } catch (e) {
      this.settle(e instanceof Error ? e : new Error(String(e)));
      throw e;
    }
    const at = r.stdout.indexOf(`${end}\n`);
    if (at < 0) {
      this.settle(new ParseError('identity probe', 'the identity carried by the first probe script did not end (no end marker)', r.stdout.slice(0, 400)));
      return { ...r, command };
    }
    try {
      this.settle(parseIdentity(r.stdout.slice(0, at)));
    } catch (e) {
      this.settle(e instanceof Error ? e : new Error(String(e)));
    }
    return { ...r, stdout: r.stdout.slice(at + end.length + 1), command };
  }
}

const SCRIPT_HEAD = "bash -c '";
