// `leafcert plan --from-nix` and `leafcert check-config` (docs/nix.md). Both read a manifest made
// by nix/lib/manifest.nix; a bad manifest is one line per problem and exit 2.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { InventoryError } from '../inventory/errors.js';
import type { NodeSpec, Result, Status } from '../core/types.js';
import { signalScope, signalsDelivered } from '../engine/interrupt.js';
import { checkReportPath, ReportPathError } from '../reporters/report-path.js';
import type { Reporter, RunSummary } from '../reporters/types.js';
import { printable } from '../core/text.js';
import { loadManifest, ManifestError } from './manifest.js';
import { planInventory, type PlanNode } from './plan.js';
import { evaluateManifest } from './policy.js';

function fail(lines: string[]): number {
  for (const l of lines) process.stderr.write(`leafcert: ${l}\n`);
  return 2;
}

function nodeArg(v: string, prev: PlanNode[] = []): PlanNode[] {
  const m = /^([A-Za-z0-9][A-Za-z0-9._-]*)=(\S+)$/.exec(v);
  if (!m) throw new InvalidArgumentError('expected NAME=HOST (e.g. leaf-1=203.0.113.10)');
  return [...prev, { name: m[1], host: m[2] }];
}

interface PlanFlags {
  fromNix: string;
  node?: PlanNode[];
  out?: string;
  expect?: string;
  ca?: string;
  sshUser?: string;
  identityFile?: string;
  knownHosts?: string;
  optionPaths?: string;
}

export async function planCommand(flags: PlanFlags): Promise<number> {
  // Loaded here, not at start-up: check-config must not depend on every suite module loading.
  const { suites } = await import('../suites.js');
  const { parseInventory } = await import('../inventory/load.js');
  const { composeSchema } = await import('../inventory/schema.js');
  const { compile, condense } = await import('../inventory/validate.js');
  let manifest;
  try {
    manifest = loadManifest(flags.fromNix);
  } catch (e) {
    if (e instanceof ManifestError) return fail(e.message.split('\n'));
    throw e;
  }
  const plan = planInventory(manifest, {
    manifestFile: flags.fromNix,
    outFile: flags.out,
    nodes: flags.node,
    expect: flags.expect,
    ca: flags.ca,
    ssh: { user: flags.sshUser, identityFile: flags.identityFile, knownHosts: flags.knownHosts },
    suiteKeys: suites.map((s) => s.key),
  });
  // The shape must satisfy the composed inventory schema: if it does not, the plan is our bug.
  const target = resolve(flags.out ?? 'inventory.yaml');
  const validate = compile(composeSchema(suites));
  if (!validate(plan.inventory)) {
    return fail(['internal error: the planned inventory does not match the inventory schema:', ...condense(validate.errors ?? []).map((p) => `${p.instancePath || '/'}: ${p.message}`)]);
  }
  // Loading it as `run` will can still fail on things outside the manifest (a key file not
  // created yet): say so, but write it.
  const later: string[] = [];
  try {
    parseInventory(plan.yaml, target);
  } catch (e) {
    if (!(e instanceof InventoryError)) throw e;
    later.push(...e.message.split('\n'));
  }
  if (flags.out) {
    writeFileSync(target, plan.yaml);
    process.stderr.write(`leafcert: wrote ${target}\n`);
  } else process.stdout.write(plan.yaml);
  if (flags.optionPaths) writeFileSync(resolve(flags.optionPaths), JSON.stringify(plan.optionPaths, null, 2) + '\n');
  for (const n of plan.notes) process.stderr.write(`leafcert: note: ${n}\n`);
  for (const l of later) process.stderr.write(`leafcert: warning: \`run\` will refuse this inventory until this is fixed: ${l}\n`);
  return 0;
}

interface CheckFlags {
  junit?: string;
  tap?: string;
  json?: string;
}

export async function checkConfigCommand(file: string, flags: CheckFlags, signal?: AbortSignal): Promise<number> {
  // Report paths first, as `run` does: one that can never be written is an invocation error (2),
  // found before anything is created (a recursive mkdir under /proc would spin forever).
  const reportFlags: [string, string | undefined][] = [
    ['--junit', flags.junit],
    ['--tap', flags.tap],
    ['--json', flags.json],
  ];
  const paths: [string, string][] = [];
  for (const [flag, p] of reportFlags) {
    if (p === undefined) continue;
    try {
      paths.push([flag, checkReportPath(p)]);
    } catch (e) {
      if (e instanceof ReportPathError) return fail([printable(`${flag} ${e.message}`)]);
      throw e;
    }
  }
  let manifest;
  try {
    manifest = loadManifest(file);
  } catch (e) {
    if (e instanceof ManifestError) return fail(e.message.split('\n'));
    throw e;
  }
  const abs = resolve(file);
  const outcomes = evaluateManifest(manifest, `manifest ${abs}`);
  const { ConsoleReporter } = await import('../reporters/console.js');
  const { JunitReporter } = await import('../reporters/junit.js');
  const { TapReporter } = await import('../reporters/tap.js');
  const { JsonReporter } = await import('../reporters/json.js');
  const { emptyCounts } = await import('../reporters/types.js');
  const { harnessVersion } = await import('../engine/run.js');
  const reportPaths = paths.map(([, p]) => p);
  const reporters: Reporter[] = [new ConsoleReporter({ reportPaths, stream: process.stdout })];
  for (const [flag, p] of paths) {
    if (flag === '--junit') reporters.push(new JunitReporter(p).forFlag(flag));
    if (flag === '--tap') reporters.push(new TapReporter(p).forFlag(flag));
    if (flag === '--json') reporters.push(new JsonReporter(p).forFlag(flag));
  }
  // A report that cannot be written is one line naming it and exit 3; the others carry on.
  const broken = new Map<Reporter, string>();
  const each = (f: (r: Reporter) => void) => {
    for (const r of reporters) {
      if (broken.has(r)) continue;
      try {
        f(r);
      } catch (e) {
        broken.set(r, e instanceof Error ? e.message : String(e));
      }
    }
  };
  // The manifest stands in for a node: check-config never connects anywhere.
  const node: NodeSpec = {
    name: manifest.host.networking.hostName ?? 'manifest',
    transport: 'local',
    ssh: { user: 'root', port: 22, connectTimeoutMs: 0 },
    expect: 'manifest',
  };
  const started = new Date();
  const sha256 = createHash('sha256').update(readFileSync(abs)).digest('hex');
  each((r) => {
    r.onRunStart({ harness: { name: 'leafcert', version: harnessVersion() }, startedAt: started.toISOString(), inventory: { path: abs, sha256 }, argv: process.argv.slice(2), nodes: [node], planned: outcomes.length });
    r.onNodeStart(node, {});
  });
  const counts = emptyCounts();
  for (const o of outcomes) {
    const result: Result = { ...o, node: node.name, suite: 'config', startedAt: started.toISOString(), durationMs: 0 };
    counts[o.status as Status]++;
    each((r) => r.onResult(result));
  }
  // Interrupted (SIGINT/SIGTERM) is 3 whatever was found, as for `run`. Everything above is
  // synchronous: let a signal that came meanwhile be delivered first.
  await signalsDelivered();
  const interrupted = signal?.aborted ?? false;
  let exitCode = interrupted ? 3 : counts.fail > 0 ? 1 : counts.error > 0 ? 3 : 0;
  if (broken.size) exitCode = 3;
  each((r) => r.onNodeEnd(node));
  const finished = new Date();
  const summary: RunSummary = { finishedAt: finished.toISOString(), durationMs: finished.getTime() - started.getTime(), counts, perNode: { [node.name]: { ...counts } }, exitCode, interrupted, warnings: [] };
  // The console last, so its summary shows the final exit code.
  const done: Reporter[] = [];
  for (const r of [...reporters.slice(1), reporters[0]]) {
    if (broken.has(r)) continue;
    try {
      await r.onRunEnd(summary);
      done.push(r);
    } catch (e) {
      broken.set(r, e instanceof Error ? e.message : String(e));
      if (summary.exitCode !== 3) {
        summary.exitCode = exitCode = 3;
        // No finished file may claim a verdict the process did not return.
        for (const f of done) await f.onRunEnd(summary).catch(() => undefined);
      }
    }
  }
  for (const why of broken.values()) process.stderr.write(`leafcert: ${printable(why)}\n`);
  return exitCode;
}

export function registerNix(program: Command): void {
  program
    .command('plan')
    .description('Turn a NixOS manifest (nix/lib/manifest.nix) into an inventory whose expectations cite their option paths.')
    .requiredOption('--from-nix <manifest>', 'manifest JSON from `nix eval --json … --apply` (docs/nix.md)')
    .option('--node <NAME=HOST>', 'a node checked against these expectations (repeatable; default: the manifest hostName)', nodeArg)
    .option('-o, --out <file>', 'write the inventory here (default: stdout)')
    .option('--expect <name>', 'name of the expectation set (default: the manifest hostName)')
    .option('--ca <pem>', 'CA certificate the tls expectations trust (relative to the inventory)')
    .option('--ssh-user <user>', 'defaults.ssh.user')
    .option('--identity-file <key>', 'defaults.ssh.identityFile (relative to the inventory)')
    .option('--known-hosts <file>', 'defaults.ssh.knownHosts (relative to the inventory)')
    .option('--option-paths <file>', 'also write the map inventory location → NixOS option path as JSON')
    .action(async (flags: PlanFlags) => {
      process.exitCode = await planCommand(flags);
    });

  program
    .command('check-config')
    .description('Static policy checks on a NixOS manifest: no node needed. Exit 0 pass, 1 a check failed, 2 bad manifest or report path, 3 a report not written or interrupted.')
    .argument('<manifest>', 'manifest JSON from nix/lib/manifest.nix')
    .option('--junit <path>', 'write JUnit XML')
    .option('--tap <path>', 'write TAP 14')
    .option('--json <path>', 'write JSON evidence')
    .action(async (file: string, flags: CheckFlags) => {
      const scope = signalScope();
      try {
        process.exitCode = await checkConfigCommand(file, flags, scope.signal);
      } finally {
        scope.release();
      }
    });
}
