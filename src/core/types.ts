// The contracts every layer shares: transports give a Host, probes turn command output into
// facts, suites (checks) turn facts + expectation into Outcomes, the engine turns Outcomes into
// Results and feeds reporters. A check never touches the network; a reporter never runs a command.
import type { CheckDef } from './checks.js';
import type { Cite, Manifest } from './manifest.js';
import type { CheckMemory } from './check-memory.js';

export type Status = 'pass' | 'fail' | 'error' | 'skipped' | 'waived' | 'manual';
export type Severity = 'critical' | 'high' | 'medium' | 'low' | 'info';

/** Output of one command run on a node. `code` is null when the command was killed (timeout). */
export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The command as sent, for evidence. */
  command: string;
  durationMs: number;
}

export interface ExecOptions {
  /** Kill the command and reject with TransportError('timeout') after this long. */
  timeoutMs?: number;
  stdin?: string;
  /**
   * Stop the command and reject with TransportError('protocol') once stdout + stderr exceed this
   * many bytes (default DEFAULT_MAX_OUTPUT_BYTES): one runaway command must not exhaust the harness.
   */
  maxOutputBytes?: number;
}

/** Per-command output cap of every transport unless ExecOptions.maxOutputBytes says otherwise. */
export const DEFAULT_MAX_OUTPUT_BYTES = 16 * 1024 * 1024;

/** A bidirectional byte stream to a TCP port as seen from the node (ssh2 forwardOut, or a local socket). */
export type PortStream = import('node:stream').Duplex;

/**
 * testinfra's `host`: the one object probes talk to. Transports (ssh, local, container) implement it.
 * Every method may reject with a TransportError; probes let it propagate so the engine records `error`.
 */
export interface Host {
  /** Inventory node name. */
  readonly name: string;
  /** Address the harness uses for outside-in probes (TCP, TLS, HTTP); undefined for `local`. */
  readonly address?: string;
  /** Transport kind, for evidence ("ssh root@10.250.0.2:22", "local"). */
  readonly describe: string;
  exec(command: string, opts?: ExecOptions): Promise<ExecResult>;
  readFile(path: string, opts?: ExecOptions): Promise<Buffer>;
  /** A TCP stream to `port` on `host` (default 127.0.0.1) as the node sees it. */
  forward(port: number, host?: string): Promise<PortStream>;
  /** Count of commands/channels opened so far: reported as round trips in evidence and bench. */
  readonly roundTrips: number;
  /** The host key the node presented and how it was trusted (ssh only), for every report. */
  readonly hostKey?: HostKeyInfo;
  /** The transport's own TCP connection to the node (ssh), an outside-in connect already made. */
  readonly session?: TransportSession;
  close(): Promise<void>;
}

export interface TransportSession {
  address: string;
  port: number;
  /** The TCP connect alone (before the ssh handshake), ms; undefined when not seen. */
  tcpConnectMs?: number;
  /** When it connected (ISO). */
  at: string;
}

/** A node's ssh host key as presented, so an auditor can tell a pinned key from trust-on-first-use. */
export interface HostKeyInfo {
  /** Key type, e.g. `ssh-ed25519`. */
  type: string;
  /** OpenSSH's `SHA256:...` fingerprint. */
  fingerprint: string;
  /** `known_hosts`: matched a pinned entry; `accepted-new`: unknown, accepted and recorded (acceptNewHostKey). */
  trust: 'known_hosts' | 'accepted-new';
  /** The known_hosts file and line that matched or now holds the key. */
  knownHosts: string;
}

export type TransportErrorKind =
  | 'unreachable'
  | 'auth'
  | 'hostkey'
  | 'timeout'
  | 'protocol'
  | 'config';

/** An error reaching or talking to a node. Always carries a plain sentence for the console. */
export class TransportError extends Error {
  constructor(
    public readonly kind: TransportErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'TransportError';
  }
}

/** A probe's output did not have the shape its parser expects. Becomes an `error` result, never a pass. */
export class ParseError extends Error {
  constructor(
    public readonly source: string,
    message: string,
    public readonly excerpt?: string,
  ) {
    super(`${source}: ${message}`);
    this.name = 'ParseError';
  }
}

/** What a check saw, for auditors: always filled, on passes too. */
export interface Evidence {
  expected?: unknown;
  observed?: unknown;
  /** The command, file or probe the observation came from. */
  source: string;
  /** A short excerpt of raw output (reporters cap and sanitise it). */
  excerpt?: string;
  /** NixOS option path the expectation came from, when derived from a manifest. */
  optionPath?: string;
}

/** What a suite's evaluate() returns for one check on one subject. */
export interface Outcome {
  /** Stable id, `<suite>.<check>`, e.g. `firewall.port-closed`. */
  id: string;
  title: string;
  /** What the check was about: a port, an endpoint, a container, a setting. */
  subject: string;
  status: Exclude<Status, 'waived'>;
  severity: Severity;
  /** One line: why it passed, failed, errored or was skipped. */
  message: string;
  evidence: Evidence;
  /** Production-checklist items this check evidences (see docs/checklist.md), e.g. ["network-policies"]. */
  checklist: string[];
}

export interface Waiver {
  check: string;
  node?: string;
  subject?: string;
  reason: string;
  approvedBy: string;
  expires: string;
}

/** An Outcome placed on a node and a time by the engine. */
export interface Result extends Omit<Outcome, 'status'> {
  /** An Outcome's status, or `waived` when an unexpired waiver accepted a fail/error. */
  status: Status;
  node: string;
  suite: string;
  /** ISO 8601 UTC. */
  startedAt: string;
  durationMs: number;
  waiver?: Waiver;
  /** Status before a waiver applied (only when waived). */
  originalStatus?: Status;
  /** A waiver matched but had expired: it was not applied (the status is unchanged). */
  expiredWaiver?: Waiver;
}

/** Identity of a node, gathered once per run: goes into every report. */
export interface NodeIdentity {
  hostname?: string;
  os?: string;
  nixosVersion?: string;
  currentSystem?: string;
  kernel?: string;
  /** Node clock at gathering time, ISO 8601 UTC. */
  clock?: string;
  machineId?: string;
}

export interface RunOptions {
  /** Allow checks that write to the node (backup round trips, canaries). Off by default. */
  allowMutating: boolean;
  /** Per-check (per-suite gather) timeout. */
  timeoutMs: number;
  /** Base directory for resolving relative paths in the inventory. */
  baseDir: string;
  /** The harness's memory of clean repository checks (--state-dir; backup.checkEvery). Absent: nothing remembered. */
  checkMemory?: CheckMemory;
}

/** Context a suite gets: the node, its Host, and the run options. */
export interface SuiteContext {
  node: NodeSpec;
  host: Host;
  /** Empty while the identity rides in the node's first probe script: gather must not rely on it. */
  identity: NodeIdentity;
  options: RunOptions;
  /** Emit a progress line for long work (shown on a TTY, plain in CI). */
  progress(message: string): void;
  /** What the suite's `early` started before the node's connection, when it has one. */
  early?: Promise<unknown>;
}

/** What a suite's `early` gets: it runs before the node's connection is made. */
export interface EarlyContext {
  options: RunOptions;
  /** The node's session once connected (undefined when the connection failed or has none). */
  session: Promise<TransportSession | undefined>;
  /** Aborted when the node will not be checked, or is done: stop waiting. */
  signal: AbortSignal;
}

/**
 * A checklist area (goss's resource + system split): gather() runs probes (few round trips),
 * evaluate() is pure. `key` is the expectation key it reads (`firewall`, `tls`, ...).
 */
export interface Suite<E = unknown, F = unknown> {
  name: string;
  /** Key under `expectations.<name>` in the inventory. */
  key: string;
  /** JSON Schema of that key's value (composed into the inventory schema; additionalProperties: false). */
  schema: object;
  gather(ctx: SuiteContext, expect: E): Promise<F>;
  /**
   * Harness-side work that needs no connection to the node (outside-in probes), started with the
   * connection so the two overlap; gather() finds its promise in ctx.early. Bounded by itself.
   */
  early?(node: NodeSpec, expect: E, ctx: EarlyContext): Promise<unknown>;
  evaluate(facts: F, expect: E, ctx: { node: NodeSpec; identity: NodeIdentity; options: RunOptions; now: Date }): Outcome[];
  /** Check ids this suite can emit, for --only and docs (= checks' ids, in order). */
  checkIds: string[];
  /** The suite's checks as defined in the registry (src/core/checks.ts). */
  checks?: CheckDef[];
  /**
   * The expectation `plan --from-nix` writes for this suite from a NixOS manifest, citing each
   * value's option path; undefined when the configuration declares nothing this suite checks.
   */
  fromManifest?(manifest: Manifest, cite: Cite, opts?: Record<string, unknown>): E | undefined;
}

export interface SshSettings {
  user: string;
  port: number;
  identityFile?: string;
  knownHosts?: string;
  /** Use $SSH_AUTH_SOCK instead of a key file. */
  agent?: boolean;
  connectTimeoutMs: number;
  /** Accept an unknown host key and record it in knownHosts (explicit opt-in). Never a changed key. */
  acceptNewHostKey?: boolean;
}

export interface NodeSpec {
  name: string;
  /** Address or DNS name; for `local` optional. */
  host?: string;
  transport: 'ssh' | 'local';
  ssh: SshSettings;
  expect: string;
  labels?: Record<string, string>;
}

export interface Inventory {
  /** Absolute path of the file it was loaded from. */
  file: string;
  baseDir: string;
  nodes: NodeSpec[];
  /** Expectation name → suite key → suite-specific expectation (validated by the suite's schema). */
  expectations: Record<string, Record<string, unknown>>;
  waivers: Waiver[];
  /** Inventory location (`expectations.NAME.KEY...`) → NixOS option path, from `plan --from-nix`. */
  optionPaths?: Record<string, string>;
  defaults: { timeoutMs: number; concurrency: number };
}
