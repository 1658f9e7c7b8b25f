// `leafcert plan --from-nix` and `leafcert check-config` (docs/nix.md). Both read a manifest made
// by nix/lib/manifest.nix; a bad manifest is one line per problem and exit 2.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { InventoryError } from '../inventory/errors.js';
import type { Host, Inventory, NodeSpec, Suite } from '../core/types.js';
import { TransportError } from '../core/types.js';
import { DEFAULT_TIMEOUT_MS } from '../core/defaults.js';
import { signalScope, signalsDelivered } from '../engine/interrupt.js';
import { PlanError, runInventory } from '../engine/run.js';
import { durationArg, listArg, REPORT_FLAGS, reportersFor } from '../engine/reports.js';
import { checkReportPath, ReportPathError } from '../reporters/report-path.js';
import { printable } from '../core/text.js';
import { configSuite, type ConfigExpect, type ConfigFacts } from '../../suites/config.js';
import { loadManifest, ManifestError } from './manifest.js';
import type { PlanNode } from './plan.js';

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
  acmeCa?: string;
  sshUser?: string;
  identityFile?: string;
  knownHosts?: string;
  optionPaths?: string;
}

export async function planCommand(flags: PlanFlags): Promise<number> {
  // Loaded here, not at start-up: check-config must not depend on every suite module loading.
  const { suites } = await import('../suites.js');
  const { planInventory } = await import('./plan.js');
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
    acmeCa: flags.acmeCa,
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
  html?: string;
  only?: string[];
  timeout?: number;
  strict?: boolean;
}

/** The manifest stands in for the node: check-config never connects anywhere, so nothing here can be asked. */
function noConnection(name: string): Host {
  const refuse = async (): Promise<never> => {
    throw new TransportError('config', 'check-config has no node to ask: it judges the manifest alone');
  };
  return { name, describe: 'manifest (no connection)', roundTrips: 0, exec: refuse, readFile: refuse, forward: refuse, close: async () => undefined };
}

/**
 * `leafcert check-config`: the config suite through the engine `run` uses (same reporters, --only,
 * --timeout, summary, digests and exit codes), on an inventory of one node made from the manifest.
 */
export async function checkConfigCommand(file: string, flags: CheckFlags, signal?: AbortSignal): Promise<number> {
  // Report paths first, as `run` does: one that can never be written is an invocation error (2),
  // found before anything is created (a recursive mkdir under /proc would spin forever).
  const paths: [string, string][] = [];
  for (const flag of REPORT_FLAGS) {
    const p = flags[flag.slice(2) as 'junit' | 'tap' | 'json' | 'html'];
    if (p === undefined) continue;
    try {
      paths.push([flag, checkReportPath(p)]);
    } catch (e) {
      if (e instanceof ReportPathError) return fail([printable(`${flag} ${e.message}`)]);
      throw e;
    }
  }
  // A bad manifest is an invocation error (2, one line per problem), not an `error` result.
  let manifest;
  try {
    manifest = loadManifest(file);
  } catch (e) {
    if (e instanceof ManifestError) return fail(e.message.split('\n'));
    throw e;
  }
  const abs = resolve(file);
  const sha256 = createHash('sha256').update(readFileSync(abs)).digest('hex');
  const node: NodeSpec = {
    name: manifest.host.networking.hostName ?? 'manifest',
    transport: 'local',
    ssh: { user: 'root', port: 22, connectTimeoutMs: 0 },
    expect: 'manifest',
  };
  const inv: Inventory & { sha256: string } = {
    file: abs,
    sha256,
    baseDir: dirname(abs),
    nodes: [node],
    expectations: { manifest: { config: { manifest: abs } } },
    waivers: [],
    defaults: { timeoutMs: DEFAULT_TIMEOUT_MS, concurrency: 1 },
  };
  // The manifest was read and validated above: the suite judges that one (no second, racing read).
  const facts: ConfigFacts = { file: abs, manifest };
  const suite: Suite<ConfigExpect, ConfigFacts> = { ...configSuite, gather: async () => facts };
  // Synchronous work above: let a signal that came meanwhile be delivered first (→ interrupted, 3).
  await signalsDelivered();
  const reporters = reportersFor(paths);
  try {
    const { exitCode } = await runInventory(
      inv,
      { allowMutating: false, timeoutMs: flags.timeout ?? DEFAULT_TIMEOUT_MS, baseDir: inv.baseDir, concurrency: 1, only: flags.only, strict: flags.strict, signal, argv: process.argv.slice(2) },
      reporters,
      { openHost: async (n) => noConnection(n.name), gatherIdentity: async () => ({}), suites: [suite] },
    );
    return exitCode;
  } catch (e) {
    if (e instanceof PlanError) return fail([printable(e.message)]);
    throw e;
  }
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
    .option('--acme-ca <pem>', 'what ACME virtual hosts are trusted against (default: the system bundle /etc/ssl/certs/ca-certificates.crt)')
    .option('--ssh-user <user>', 'defaults.ssh.user')
    .option('--identity-file <key>', 'defaults.ssh.identityFile (relative to the inventory)')
    .option('--known-hosts <file>', 'defaults.ssh.knownHosts (relative to the inventory)')
    .option('--option-paths <file>', 'also write the map inventory location → NixOS option path as JSON')
    .action(async (flags: PlanFlags) => {
      process.exitCode = await planCommand(flags);
    });

  program
    .command('check-config')
    .description('Static policy checks on a NixOS manifest (the config suite, through the same engine and reports as `run`): no node needed.')
    .argument('<manifest>', 'manifest JSON from nix/lib/manifest.nix')
    .option('--junit <path>', 'write JUnit XML')
    .option('--tap <path>', 'write TAP 14')
    .option('--json <path>', 'write JSON evidence (schemas/evidence.schema.json)')
    .option('--html <path>', 'write a self-contained HTML report for people')
    .option('--only <ids>', 'only these check ids, comma-separated, `*` globs (repeatable)', listArg)
    .option('-t, --timeout <seconds>', 'timeout for judging the manifest (default 60s)', durationArg)
    .option('--strict', 'a check with nothing declared to judge (skipped) fails the run, as with run --strict')
    .addHelpText(
      'after',
      '\nExit codes (as for `run`): 0 certified (all passed or skipped, at least one passed), 1 a\n' +
        'check failed, 2 invalid invocation or manifest (nothing ran: bad manifest, unwritable report\n' +
        'path, --only matching no check), 3 incomplete (a check errored or timed out, a report could\n' +
        'not be written, nothing was evidenced, or the run was interrupted).',
    )
    .action(async (file: string, flags: CheckFlags) => {
      const scope = signalScope();
      try {
        process.exitCode = await checkConfigCommand(file, flags, scope.signal);
      } finally {
        scope.release();
      }
    });
}
