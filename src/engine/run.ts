// The engine: plans suites per node, runs nodes concurrently (bounded), gathers with a timeout,
// evaluates, applies waivers and streams every Result to the reporters as it comes. Anything that
// stops a suite from being checked becomes `error` Results for its checks: never a silent gap,
// never a pass.
import { readFileSync } from 'node:fs';
import type { Host, Inventory, NodeIdentity, NodeSpec, Outcome, Result, RunOptions, Suite } from '../core/types.js';
import { ParseError, TransportError } from '../core/types.js';
import type { Counts, Reporter, RunMeta, RunSummary } from '../reporters/types.js';
import { emptyCounts, NOTHING_EVIDENCED } from '../reporters/types.js';
import { checkSet } from '../reporters/metadata.js';
export { NOTHING_EVIDENCED };
import { itemsForCheck } from '../checklist.js';
import { checkDef } from '../core/checks.js';
import { criticalPath, longestFirst, type Span } from './schedule.js';
import { limiter } from './limit.js';
import { AdaptiveLimiter, type AdaptiveOptions, type LoadReport } from './adaptive.js';
import { abortHub, type AbortHub } from './abort.js';
import { assignShards, nodeCost, type Shard } from './shard.js';
import { selected } from '../core/globs.js';
import { applyWaivers } from './waivers.js';
import { strictly } from './strict.js';
import { optionPathFor } from './option-paths.js';
import { printable } from '../core/text.js';

export interface EngineOptions extends RunOptions {
  concurrency: number;
  /** Check ids or suite names, `*` globs. */
  only?: string[];
  /** Abort = SIGINT/SIGTERM: unfinished suites become `error` ("interrupted"). */
  signal?: AbortSignal;
  /** For the evidence report. */
  argv?: string[];
  /** Suites gathered at once on one node (default 4). */
  suiteConcurrency?: number;
  /** --strict: a `skipped` result (the platform cannot check it) is a `fail` (src/engine/strict.ts). */
  strict?: boolean;
  /** How `concurrency` (a ceiling) adapts to the load (src/engine/adaptive.ts); false: a fixed bound. */
  adaptive?: Omit<AdaptiveOptions, 'ceiling'> | false;
  /** --shard K/N: check only this share of the nodes (src/engine/shard.ts); `leafcert merge` joins the shards. */
  shard?: Shard;
}

export const DEFAULT_SUITE_CONCURRENCY = 4;
/** Pause before the one retry of an SSH handshake that got no answer. */
export const CONNECT_RETRY_PAUSE_MS = 1000;

/** What the engine needs from the outside world; tests pass fakes. */
export interface EngineDeps {
  openHost(node: NodeSpec, opts: { baseDir: string }): Promise<Host>;
  gatherIdentity(host: Host): Promise<NodeIdentity>;
  /**
   * When given, identity rides in the node's first probe script (src/probes/identity.ts
   * IdentityCarrier) instead of a round trip before the suites; without it (tests' fakes) identity
   * is gathered first, on its own.
   */
  carryIdentity?(host: Host): IdentityCarry;
  suites: Suite<any, any>[];
  now(): Date;
}

/** What the engine needs of src/probes/identity.ts's IdentityCarrier. */
export interface IdentityCarry {
  /** The host the suites use: its first probe-script exec carries the identity. */
  host: Host;
  /** An exec has taken the identity along; `carried` settles when it ends. */
  readonly claimed: boolean;
  readonly carried: Promise<NodeIdentity | Error>;
  /** No later exec may carry it (identity is then gathered on its own). */
  close(): void;
}

/** `--only` names nothing that exists, or similar: nothing ran (exit 2). */
export class PlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlanError';
  }
}

export class Interrupted extends Error {
  constructor() {
    super('interrupted');
    this.name = 'Interrupted';
  }
}

export interface PlannedSuite {
  suite: Suite<any, any>;
  expect: unknown;
  /** Check ids of this suite that --only selects. */
  checkIds: string[];
}

export function harnessVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'));
    return String(pkg.version);
  } catch {
    try {
      // Running from src/ under vitest.
      return String(JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version);
    } catch {
      return 'unknown';
    }
  }
}

async function defaultDeps(): Promise<EngineDeps> {
  // Loaded lazily so the engine's unit tests (fake hosts and suites) do not pull in ssh2 or every suite.
  const [t, i, s] = await Promise.all([import('../transport/index.js'), import('../probes/identity.js'), import('../suites.js')]);
  return { openHost: t.openHost, gatherIdentity: i.gatherIdentity, carryIdentity: (h) => new i.IdentityCarrier(h), suites: s.suites, now: () => new Date() };
}

/** Suites planned per node: those whose key is in the node's expectation and that --only selects. */
export function plan(inv: Inventory, suites: Suite<any, any>[], only?: string[]): Map<string, PlannedSuite[]> {
  if (only?.length) {
    const unknown = only.filter((p) => !suites.some((s) => s.checkIds.some((id) => selected([p], s.name, id))));
    if (unknown.length) {
      const known = suites.map((s) => s.name).join(', ') || 'none registered';
      throw new PlanError(`--only ${unknown.join(',')} matches no check id or suite name (suites: ${known})`);
    }
  }
  const out = new Map<string, PlannedSuite[]>();
  for (const node of inv.nodes) {
    const exp = inv.expectations[node.expect] ?? {};
    const planned: PlannedSuite[] = [];
    for (const suite of suites) {
      if (!Object.hasOwn(exp, suite.key)) continue;
      const checkIds = suite.checkIds.filter((id) => selected(only, suite.name, id));
      if (checkIds.length) planned.push({ suite, expect: exp[suite.key], checkIds });
    }
    out.set(node.name, planned);
  }
  return out;
}

/** True when results exist but none is a pass or a waived finding: the run proved nothing. */
export function nothingEvidenced(results: Pick<Result, 'status'>[]): boolean {
  return results.length > 0 && results.every((r) => r.status === 'skipped' || r.status === 'manual');
}

/**
 * 1 if any check failed, else 3 if any errored (or the run was interrupted), else 2 if nothing
 * ran, else 3 if every result is skipped or manual (nothing was evidenced), else 0.
 */
export function exitCodeFor(results: Result[], interrupted = false): number {
  if (interrupted) return 3;
  if (results.some((r) => r.status === 'fail')) return 1;
  if (results.some((r) => r.status === 'error')) return 3;
  if (results.length === 0) return 2;
  if (nothingEvidenced(results)) return 3;
  return 0;
}

function fmtSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string, signal?: AbortHub): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal?.aborted) return reject(new Interrupted());
    const onAbort = () => finish(() => reject(new Interrupted()));
    const timer = setTimeout(
      () => finish(() => reject(new TransportError('timeout', `${what} did not finish within ${fmtSeconds(ms)}`))),
      ms,
    );
    let done = false;
    function finish(f: () => void) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.off(onAbort);
      f();
    }
    signal?.on(onAbort);
    p.then(
      (v) => finish(() => resolve(v)),
      (e) => finish(() => reject(e)),
    );
  });
}

/** File reporters expose flush(); rewriting them is harmless, re-running the console is not. */
function isFileReporter(r: Reporter): r is Reporter & { flush(): void } {
  return typeof (r as { flush?: unknown }).flush === 'function';
}

function reason(e: unknown): string {
  if (e instanceof Interrupted) return 'interrupted';
  if (e instanceof Error) return e.message.split('\n')[0] || e.name;
  return String(e);
}

// Long on purpose: one run's state (results, reporters, the abort signal, per-node stats and the
// exit rule) lives in this closure, and its steps (record, errorResults, runNode) share it; split
// into modules they would pass the same dozen values back and forth.
export async function runInventory(
  inv: Inventory & { sha256?: string; warnings?: string[] },
  opts: EngineOptions,
  reporters: Reporter[],
  depsIn?: Partial<EngineDeps>,
): Promise<{ exitCode: number; results: Result[]; interrupted: boolean; load?: LoadReport }> {
  const deps: EngineDeps = { ...(depsIn?.openHost && depsIn?.gatherIdentity && depsIn?.suites ? {} : await defaultDeps()), ...depsIn } as EngineDeps;
  const now = deps.now ?? (() => new Date());
  const plannedAll = plan(inv, deps.suites, opts.only);
  // A shard checks its share of the nodes; the check set (and its digest) stays the whole
  // inventory's, so every shard's reports name the same one and merge can tell them apart from others'.
  const shardOf = opts.shard ? assignShards(new Map([...plannedAll].map(([n, ps]) => [n, nodeCost(ps)])), opts.shard.total) : undefined;
  const nodes = shardOf ? inv.nodes.filter((n) => shardOf.get(n.name) === opts.shard!.index) : inv.nodes;
  const planned = shardOf ? new Map([...plannedAll].filter(([n]) => shardOf.get(n) === opts.shard!.index)) : plannedAll;
  // Checks are defined where their suite is (the registry): a planned check no loaded module
  // defined yet (a caller passed its own suite objects) is looked up with every suite loaded, so an
  // error result still says which title, severity and checklist items went unevidenced.
  if ([...planned.values()].some((ps) => ps.some((p) => p.checkIds.some((id) => !checkDef(id))))) await import('../suites.js');
  const results: Result[] = [];
  const warnings: string[] = [...(inv.warnings ?? [])];
  // One listener on the caller's signal for the whole run: a listener per pending step passed
  // Node's limit of 10 from 20 nodes up (MaxListenersExceededWarning).
  const hub = abortHub(opts.signal);
  const started = now();

  // A broken reporter must not stop the certification: note it once and carry on.
  const broken = new Set<Reporter>();
  const emit = (f: (r: Reporter) => void) => {
    for (const r of reporters) {
      if (broken.has(r)) continue;
      try {
        f(r);
      } catch (e) {
        broken.add(r);
        warnings.push(`a reporter failed and was stopped: ${reason(e)}`);
      }
    }
  };

  const meta: RunMeta = {
    harness: { name: 'leafcert', version: harnessVersion() },
    startedAt: started.toISOString(),
    inventory: { path: inv.file, sha256: inv.sha256 ?? '' },
    argv: opts.argv ?? [],
    nodes,
    planned: [...planned.values()].reduce((n, ps) => n + ps.reduce((m, p) => m + p.checkIds.length, 0), 0),
    plannedSuites: [...planned.values()].reduce((n, ps) => n + ps.length, 0),
    // The definitions judged by, as a digest every report carries.
    checks: checkSet([...plannedAll.values()].flatMap((ps) => ps.flatMap((p) => p.checkIds))),
    suites: Object.fromEntries([...planned].map(([n, ps]) => [n, ps.map((p) => p.suite.name)])),
    ...(opts.shard ? { shard: { ...opts.shard, inventoryNodes: inv.nodes.map((n) => n.name) } } : {}),
  };
  emit((r) => r.onRunStart(meta));
  for (const w of inv.warnings ?? []) emit((r) => r.onWarning?.(w));
  const warn = (msg: string) => {
    warnings.push(msg);
    emit((r) => r.onWarning?.(msg));
  };

  const record = (r: Result) => {
    const final = applyWaivers(opts.strict ? strictly(r) : r, inv.waivers, now());
    results.push(final);
    emit((rep) => rep.onResult(final));
  };

  const errorResults = (node: NodeSpec, ps: PlannedSuite, message: string, source: string, startedAt: Date, excerpt?: string) => {
    // 0, not the time spent failing: every check of the suite shares that time, and JUnit
    // consumers sum testcase times (the node's wall time is on its <testsuite>).
    const durationMs = 0;
    for (const id of ps.checkIds) {
      // Title and severity from the check's definition: an unreachable node still says what went unchecked.
      const def = checkDef(id);
      record({
        id,
        title: def?.title ?? id,
        subject: node.name,
        status: 'error',
        severity: def?.severity ?? 'high',
        message,
        evidence: { source, observed: message, ...(excerpt ? { excerpt } : {}) },
        // An auditor must see which checklist items went unevidenced.
        checklist: def?.checklist ?? itemsForCheck(id),
        node: node.name,
        suite: ps.suite.name,
        startedAt: startedAt.toISOString(),
        durationMs,
      });
    }
  };

  // One node from connect to close, in order: identity, planned suites (bounded), stats. Kept whole
  // so its try/finally visibly closes the host on every path (abort, timeout, transport error).
  // What each node waited on, for the critical path (relative to the run's start).
  const spans = new Map<string, { connect?: Span; identity?: Span; suites: Span[] }>();
  const spansOf = (n: string) => spans.get(n) ?? spans.set(n, { suites: [] }).get(n)!;
  const rel = (d: Date) => d.getTime() - started.getTime();

  const runNode = async (node: NodeSpec) => {
    const suites = planned.get(node.name) ?? [];
    let host: Host | undefined;
    let identity: NodeIdentity = {};
    const t0 = now();
    if (suites.length === 0) {
      // Nothing selected on this node (--only): do not even connect.
      emit((r) => r.onNodeStart(node, identity));
      emit((r) => r.onNodeEnd(node, { roundTrips: 0, durationMs: 0 }));
      return;
    }
    // Suites' harness-side work that needs no session (outside-in probes) starts with the
    // connection and overlaps it; told the session when there is one, stopped when the node ends.
    const early = new AbortController();
    let sessionIs: (s: Host['session']) => void = () => undefined;
    const session = new Promise<Host['session']>((r) => (sessionIs = r));
    const options: RunOptions = { allowMutating: opts.allowMutating, timeoutMs: opts.timeoutMs, baseDir: opts.baseDir, checkMemory: opts.checkMemory };
    const earlies = new Map(
      suites.filter((ps) => ps.suite.early && !opts.signal?.aborted).map((ps) => {
        const p = Promise.resolve().then(() => ps.suite.early!(node, ps.expect, { options, session, signal: early.signal }));
        p.catch(() => undefined); // gather() sees a failure; unawaited, it must not be "unhandled"
        return [ps, p] as const;
      }),
    );
    const endEarly = () => {
      sessionIs(undefined);
      early.abort();
    };
    let connectMs: number | undefined;
    try {
      if (opts.signal?.aborted) throw new Interrupted();
      const connect = () =>
        withTimeout(deps.openHost(node, { baseDir: opts.baseDir }), Math.max(opts.timeoutMs, node.ssh.connectTimeoutMs + 1000), `connecting to ${node.name}`, hub);
      try {
        host = await connect();
      } catch (e) {
        // A handshake that got no answer says nothing about the node while the harness or the box is
        // overloaded: once more, after a pause, before it becomes the node's error.
        if (!(e as { noAnswer?: boolean }).noAnswer || hub.aborted) throw e;
        await new Promise((r) => setTimeout(r, CONNECT_RETRY_PAUSE_MS));
        if (hub.aborted) throw new Interrupted();
        host = await connect();
      }
      connectMs = now().getTime() - t0.getTime();
      spansOf(node.name).connect = { what: 'connect', startMs: rel(t0), endMs: rel(t0) + connectMs };
      sessionIs(host.session);
    } catch (e) {
      endEarly();
      emit((r) => r.onNodeStart(node, identity));
      const msg = e instanceof Interrupted ? 'interrupted before the node was checked' : reason(e);
      const source = e instanceof TransportError ? `transport ${node.transport} (${e.kind})` : `transport ${node.transport}`;
      for (const ps of suites) errorResults(node, ps, msg, source, t0);
      const durationMs = now().getTime() - t0.getTime();
      emit((r) => r.onNodeEnd(node, { roundTrips: 0, durationMs }));
      return;
    }
    try {
      // Identity: carried by the node's first probe script when the transport allows (no round trip
      // of its own), else gathered first. Suites' gather never reads it; evaluation and reporters do.
      const carrier = deps.carryIdentity?.(host);
      const gatherAlone = async (): Promise<NodeIdentity> => {
        const i0 = now();
        try {
          return await withTimeout(deps.gatherIdentity(host!), opts.timeoutMs, `gathering identity of ${node.name}`, hub);
        } catch (e) {
          if (!(e instanceof Interrupted)) warn(`${node.name}: node identity not gathered: ${reason(e)}`);
          return {};
        } finally {
          // After the suites when it was not carried: a step of its own on the node's way.
          const span = { what: 'identity', startMs: rel(i0), endMs: rel(now()) };
          if (carrier) spansOf(node.name).suites.push(span);
          else spansOf(node.name).identity = span;
        }
      };
      if (!carrier) {
        identity = await gatherAlone();
        emit((r) => r.onNodeStart(node, identity));
      }
      // Suites of a node gather concurrently over the node's one connection (bounded, so sshd's
      // MaxSessions is not exhausted); results are still reported in suite order.
      const limitSuites = limiter(Math.max(1, opts.suiteConcurrency ?? DEFAULT_SUITE_CONCURRENCY));
      const h = carrier?.host ?? host;
      // Longest suites take the slots first (src/engine/schedule.ts); results stay in plan order.
      const gathered = new Map(longestFirst(suites, (p) => p.suite.name).map((ps) => [ps, limitSuites(async (): Promise<{ s0: Date; facts?: unknown; error?: unknown }> => {
          const s0 = now();
          if (opts.signal?.aborted) return { s0, error: new Interrupted() };
          const ctx = {
            node,
            host: h,
            identity,
            options,
            early: earlies.get(ps),
            progress: (m: string) => emit((r) => r.onProgress?.(node.name, `${ps.suite.name}: ${m}`)),
          };
          try {
            const facts = await withTimeout(
              Promise.resolve().then(() => ps.suite.gather(ctx, ps.expect)),
              opts.timeoutMs,
              `gathering ${ps.suite.name} facts on ${node.name}`,
              hub,
            );
            return { s0, facts };
          } catch (error) {
            return { s0, error };
          }
        }).then((g) => (spansOf(node.name).suites.push({ what: ps.suite.name, startMs: rel(g.s0), endMs: rel(now()) }), g))] as const));
      if (carrier) {
        // The carrying exec's end, or every suite done without one (no suite ran a probe script on
        // the node, e.g. tls and health alone): then, or when carrying failed, a round trip of its own.
        const all = Promise.all(gathered.values()).then(() => undefined);
        let got = await Promise.race([carrier.carried, all]);
        // A suite that timed out may have left its carrying exec behind: no waiting on it then.
        if (got === undefined && carrier.claimed) got = await Promise.race([carrier.carried, new Promise<Error>((r) => setTimeout(() => r(new Error('the carrying exec did not end')), 0))]);
        carrier.close();
        if (got !== undefined && !(got instanceof Error)) identity = got;
        else if (opts.signal?.aborted) identity = {};
        else {
          if (got instanceof Error && process.env.LEAFCERT_DEBUG) warn(`${node.name}: identity carried by the first probe script not read (${reason(got)}); gathering it on its own`);
          identity = await gatherAlone();
        }
        emit((r) => r.onNodeStart(node, identity));
      }
      for (const [i, ps] of suites.entries()) {
        const { s0, facts, error } = await gathered.get(ps)!;
        if (error !== undefined) {
          const source = error instanceof ParseError ? error.source : h.describe;
          errorResults(node, ps, reason(error), source, s0, error instanceof ParseError ? error.excerpt : undefined);
          continue;
        }
        let outcomes: Outcome[];
        const e0 = performance.now();
        try {
          outcomes = ps.suite.evaluate(facts, ps.expect, { node, identity, options, now: now() });
        } catch (e) {
          errorResults(node, ps, `evaluating ${ps.suite.name}: ${reason(e)}`, e instanceof ParseError ? e.source : `suites/${ps.suite.name}`, s0);
          continue;
        }
        if (outcomes.length === 0) {
          // e.g. `tls: []`: the suite was planned and checked nothing; that must show.
          errorResults(node, ps, `${ps.suite.name} produced no results for this expectation: nothing was checked`, `suites/${ps.suite.name}`, s0);
          continue;
        }
        // Each result's own share of the suite's evaluation, never the gather time its suite
        // shares: summed testcase times then stay within the node's wall time (<testsuite time>).
        const durationMs = Math.round(((performance.now() - e0) / outcomes.length) * 1000) / 1000;
        for (const o of outcomes) {
          if (!selected(opts.only, ps.suite.name, o.id)) continue;
          const optionPath = o.evidence.optionPath ?? optionPathFor(inv.optionPaths, node.expect, ps.suite.key, o.subject);
          const evidence = optionPath ? { ...o.evidence, optionPath } : o.evidence;
          record({ ...o, evidence, node: node.name, suite: ps.suite.name, startedAt: s0.toISOString(), durationMs });
        }
      }
    } finally {
      endEarly();
      const stats = { transport: host.describe, roundTrips: host.roundTrips, connectMs, durationMs: now().getTime() - t0.getTime(), ...(host.hostKey ? { hostKey: host.hostKey } : {}) };
      emit((r) => r.onNodeEnd(node, stats));
      // A wedged connection must not hold up the end of the run.
      await withTimeout(host.close(), 5000, `closing ${node.name}`).catch(() => undefined);
    }
  };

  // --concurrency is a ceiling: how many nodes run at once follows what the harness can serve.
  const adaptive = opts.adaptive === false ? undefined : new AdaptiveLimiter({ ...opts.adaptive, ceiling: Math.max(1, opts.concurrency) });
  const limit = adaptive ? <T>(t: () => Promise<T>) => adaptive.run(t) : limiter(Math.max(1, opts.concurrency));
  let load: LoadReport | undefined;
  try {
    await Promise.all(
      nodes.map((n) =>
        limit(() =>
          runNode(n).catch((e) => {
            warn(`${n.name}: internal error: ${reason(e)}`);
          }),
        ),
      ),
    );
  } finally {
    load = adaptive?.stop();
    hub.dispose();
  }

  const interrupted = opts.signal?.aborted ?? false;
  // A shard may hold no node (more jobs than nodes): it checked nothing and failed nothing.
  let exitCode = shardOf && nodes.length === 0 && !interrupted ? 0 : exitCodeFor(results, interrupted);
  // A report that misses results (its reporter broke mid-run) is not the evidence CI gates on.
  if (broken.size) exitCode = 3;
  const finished = now();
  const counts = emptyCounts();
  const perNode: Record<string, Counts> = {};
  for (const n of nodes) perNode[n.name] = emptyCounts();
  for (const r of results) {
    counts[r.status]++;
    (perNode[r.node] ??= emptyCounts())[r.status]++;
  }
  const summary: RunSummary = {
    finishedAt: finished.toISOString(),
    durationMs: finished.getTime() - started.getTime(),
    counts,
    perNode,
    exitCode,
    interrupted,
    warnings,
    criticalPath: criticalPath(spans),
  };
  // A file report's own sentence names its flag and path (`--junit report PATH could not be
  // written: …`): said as is, as when it fails at the end; anything else with what happened.
  const STOPPED = 'a reporter failed and was stopped: ';
  for (const w of warnings) {
    if (!w.startsWith(STOPPED)) continue;
    const why = w.slice(STOPPED.length);
    process.stderr.write(`leafcert: ${printable(/^(--\w+ )?report /.test(why) ? why : w)}\n`);
  }
  // A requested report that cannot be written makes the run incomplete (3): CI gates on the exit
  // code and the JUnit file together. Reports already finished are rewritten with the new code so
  // no file claims a verdict the process did not return.
  const finished_: Reporter[] = [];
  for (const r of reporters) {
    // A reporter stopped mid-run misses results: finishing it would mark a partial file complete.
    if (broken.has(r)) continue;
    try {
      await r.onRunEnd(summary);
      finished_.push(r);
    } catch (e) {
      // The file reporters' own message names the flag and path (`--junit report PATH could not be written`).
      const line = /^(--\w+ )?report /.test(reason(e)) ? reason(e) : `a report could not be written: ${reason(e)}`;
      warnings.push(line);
      process.stderr.write(`leafcert: ${printable(line)}\n`);
      if (summary.exitCode !== 3) {
        summary.exitCode = exitCode = 3;
        for (const f of finished_) if (isFileReporter(f)) await f.onRunEnd(summary).catch(() => undefined);
      }
    }
  }
  return { exitCode, results, interrupted, load };
}
