// leafcert's command line. Every failure ends as one plain line on stderr and an exit code:
// 0 certified, 1 a check failed, 2 invalid invocation/inventory (nothing ran), 3 incomplete
// (a node or check could not be checked). See docs/cli.md.
import { join, resolve } from 'node:path';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { formatProblem, InventoryError } from './inventory/errors.js';
import { loadInventory } from './inventory/load.js';
import { harnessVersion, PlanError, runInventory, type EngineDeps } from './engine/run.js';
import { installSignalHandlers, interruptedBy, releaseSignals, signalScope, signalsDelivered } from './engine/interrupt.js';
import { durationArg, listArg, reportersFor } from './engine/reports.js';
import { checkReportPath as checkPath, ReportPathError } from './reporters/report-path.js';
import type { Reporter } from './reporters/types.js';
import { registerLab } from './lab/cli.js';
import { registerNix } from './nix/cli.js';
import { bundleAfterRun, registerBundle, runBundleProblem } from './bundle/cli.js';
import { registerDiff } from './diff/cli.js';
import { registerMerge } from './merge/cli.js';
import { parseShard, type Shard } from './engine/shard.js';
import { printable } from './core/text.js';
import { CHECK_MEMORY_FILE, CheckMemoryFile, defaultStateDir } from './core/check-memory.js';

/** Thrown for a bad invocation: printed as one line, exit 2. */
export class UsageError extends Error {}

function positiveInt(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new InvalidArgumentError('expected a whole number ≥ 1');
  return Number(v);
}

/**
 * A report path must be writable before anything runs: failing after an hour of checks helps
 * nobody. Nothing is created here; a path that can never be written is an invocation error (2).
 */
export function checkReportPath(flag: string, p: string): string {
  try {
    return checkPath(p);
  } catch (e) {
    if (e instanceof ReportPathError) throw new UsageError(`${flag} ${e.message}`);
    throw e;
  }
}

interface RunFlags {
  inventory: string;
  junit?: string;
  tap?: string;
  json?: string;
  html?: string;
  concurrency?: number;
  only?: string[];
  timeout?: number;
  allowMutating?: boolean;
  strict?: boolean;
  bundle?: string;
  signKey?: string;
  shard?: Shard;
  stateDir?: string;
}

function shardArg(v: string): Shard {
  try {
    return parseShard(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

async function run(flags: RunFlags, deps: Partial<EngineDeps> | undefined, argv: string[], signal: AbortSignal): Promise<number> {
  const reportFlags: [string, string | undefined][] = [
    ['--junit', flags.junit],
    ['--tap', flags.tap],
    ['--json', flags.json],
    ['--html', flags.html],
  ];
  const paths = reportFlags.filter((f): f is [string, string] => f[1] !== undefined).map(([f, p]) => [f, checkReportPath(f, p)] as const);
  const bundleProblem = runBundleProblem(flags, paths.map(([, p]) => p));
  if (bundleProblem) throw new UsageError(bundleProblem);
  const taken = new Map<string, string>([[resolve(flags.inventory), '--inventory']]);
  for (const [flag, p] of paths) {
    const other = taken.get(p);
    if (other) throw new UsageError(`${flag} ${p}: same file as ${other}; each report needs its own path`);
    taken.set(p, flag);
  }

  const inv = loadInventory(flags.inventory, deps?.suites ? { suites: deps.suites } : {});
  // A signal that arrived while loading (synchronous work) is delivered here, before any node is
  // contacted: the run then reports every check as interrupted instead of starting.
  await signalsDelivered();
  const reporters: Reporter[] = reportersFor(paths);

  // Last resort: a bug that escapes the engine (an event emitter's stray 'error', a rejected
  // promise nobody awaited) must not end in a stack trace and exit 1, which CI reads as "a check
  // failed". Keep what the reports hold, marked partial, and say in one line that the run is
  // incomplete.
  const onFatal = (e: unknown) => {
    const msg = e instanceof Error ? e.message.split('\n')[0] || e.name : String(e);
    for (const r of reporters) {
      const f = (r as { flush?: () => void }).flush;
      if (typeof f === 'function') {
        try {
          f.call(r);
        } catch {
          /* the line below is all that can be said */
        }
      }
    }
    process.stderr.write(`leafcert: internal error, run stopped: ${printable(msg)}; reports are partial (complete=false), exit 3\n`);
    if (process.env.LEAFCERT_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    process.exit(3);
  };
  // `leafcert run ... | head` must not die of EPIPE before the reports are written.
  process.stdout.on('error', () => undefined);
  process.on('uncaughtException', onFatal);
  process.on('unhandledRejection', onFatal);
  // Read only when a backup expectation has checkEvery (before the run: a warning comes first);
  // written once, after the run, only if a check changed it.
  const checkMemory = new CheckMemoryFile(join(resolve(flags.stateDir ?? defaultStateDir()), CHECK_MEMORY_FILE));
  if (Object.values(inv.expectations).some((e) => (e as { backup?: { checkEvery?: string } } | undefined)?.backup?.checkEvery)) checkMemory.load();
  try {
    const { exitCode, load } = await runInventory(
      inv,
      {
        allowMutating: flags.allowMutating ?? false,
        timeoutMs: flags.timeout ?? inv.defaults.timeoutMs,
        baseDir: inv.baseDir,
        concurrency: flags.concurrency ?? inv.defaults.concurrency,
        only: flags.only,
        strict: flags.strict,
        shard: flags.shard,
        signal,
        argv,
        checkMemory,
      },
      reporters,
      deps,
    );
    try {
      checkMemory.flush();
    } catch (e) {
      // Not a verdict: the checks it would have spared simply run next time.
      process.stderr.write(`leafcert: state file ${printable(checkMemory.file)} could not be written (${printable((e as Error).message)}); the next run checks the repositories again\n`);
    }
    // How the concurrency adapted (scripts/bench-fleet.js reads it).
    if (process.env.LEAFCERT_DEBUG && load) process.stderr.write(`leafcert: load: ${JSON.stringify(load)}\n`);
    // Bundled after the reports are final, so the signed files are the ones CI keeps.
    return flags.bundle && flags.signKey ? bundleAfterRun({ bundle: flags.bundle, signKey: flags.signKey }, paths.map(([, p]) => p), flags.inventory, exitCode, harnessVersion()) : exitCode;
  } finally {
    process.off('uncaughtException', onFatal);
    process.off('unhandledRejection', onFatal);
  }
}

/** The commands that write reports and so own SIGINT/SIGTERM (src/engine/interrupt.ts). */
const REPORTING_COMMANDS = new Set(['run', 'check-config']);

/** `deps` lets tests run the real CLI with fake suites or hosts. */
export function buildProgram(deps?: Partial<EngineDeps>, outcome: { code?: number; argv?: string[] } = {}): Command {
  const program = new Command();
  // Set before any subcommand exists: commander copies these settings into each new subcommand.
  program.exitOverride();
  program
    .name('leafcert')
    .description('Certify NixOS leaf nodes against the production checklist, with evidence (JUnit, TAP 14, JSON).')
    .version(harnessVersion(), '-V, --version')
    .showSuggestionAfterError()
    .configureOutput({
      // commander's own messages ("error: unknown option") are already one line.
      outputError: (str, write) => write(str.replace(/^error: /, 'leafcert: ')),
    });

  program
    .command('run')
    .description('Check every node of an inventory and write the reports.')
    .requiredOption('-i, --inventory <file>', 'inventory YAML')
    .option('--junit <path>', 'write JUnit XML')
    .option('--tap <path>', 'write TAP 14')
    .option('--json <path>', 'write JSON evidence (schemas/evidence.schema.json)')
    .option('--html <path>', 'write a self-contained HTML report for people')
    .option('-c, --concurrency <n>', 'most nodes checked at once, a ceiling: fewer while the harness is saturated (default: inventory defaults.concurrency or 8)', positiveInt)
    .option('--only <ids>', 'only these check ids or suite names, comma-separated, `*` globs (repeatable)', listArg)
    .option('-t, --timeout <seconds>', 'per-suite timeout (default: inventory defaults.timeout or 60s)', durationArg)
    .option('--allow-mutating', 'allow checks that write to scratch paths on the node (backup round trips)')
    .option('--strict', 'a check the platform cannot make (skipped) fails the run: every item must be evidenced')
    .option('--bundle <dir>', 'after the run, put the reports and inventory in a signed bundle (needs --sign-key; docs/bundle.md)')
    .option('--sign-key <file>', 'SSH private key that signs the --bundle (ssh-keygen -Y sign)')
    .option('--state-dir <dir>', 'where the harness remembers clean repository checks for backup.checkEvery (default: $XDG_STATE_HOME/leafcert, else ~/.local/state/leafcert); never written to a node')
    .option('--shard <K/N>', 'check only shard K of N (stable split by node name and expected cost); `leafcert merge` joins the shards\' --json reports (docs/ci.md)', shardArg)
    .addHelpText(
      'after',
      '\nExit codes: 0 certified (all passed, waived, skipped or manual, at least one passed or\n' +
        'waived), 1 a check failed, 2 invalid invocation or inventory (nothing ran, or no checks\n' +
        'selected), 3 incomplete (a node or check could not be checked, a report could not be\n' +
        'written, nothing was evidenced, or the run was interrupted).',
    )
    .action(async (flags: RunFlags) => {
      const scope = signalScope();
      try {
        outcome.code = await run(flags, deps, outcome.argv ?? process.argv.slice(2), scope.signal);
      } finally {
        scope.release();
      }
    });

  registerLab(program);
  registerNix(program);
  registerBundle(program, harnessVersion());
  registerDiff(program);
  registerMerge(program, outcome);
  // Commands that write no reports (lab, plan) keep Node's default signal behaviour: Ctrl-C
  // stops them at once, as before.
  program.hook('preAction', (_program, action) => {
    let top = action;
    while (top.parent && top.parent !== program) top = top.parent;
    if (!REPORTING_COMMANDS.has(top.name())) releaseSignals();
  });
  return program;
}

export async function main(argv: string[], deps?: Partial<EngineDeps>): Promise<number> {
  const outcome: { code?: number; argv?: string[] } = { argv: argv.slice(2) };
  const program = buildProgram(deps, outcome);
  // A signal (already announced on stderr by its handler) makes any outcome 3, start-up included.
  const code = (c: number) => (interruptedBy() ? 3 : c);
  try {
    await program.parseAsync(argv);
    // `run` reports its code here; other commands (lab, nix) may set process.exitCode.
    return code(outcome.code ?? (typeof process.exitCode === 'number' ? process.exitCode : 0));
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help / --version exit 0; usage errors (already printed by commander) exit 2.
      return e.exitCode === 0 ? 0 : 2;
    }
    // Names and paths come from the inventory and the command line: each line stays one line.
    if (e instanceof InventoryError) {
      for (const p of e.problems) process.stderr.write(`leafcert: ${printable(formatProblem(e.file, p))}\n`);
      return code(2);
    }
    if (e instanceof UsageError || e instanceof PlanError) {
      process.stderr.write(`leafcert: ${printable(e.message)}\n`);
      return code(2);
    }
    const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
    process.stderr.write(`leafcert: ${printable(msg)}\n`);
    if (process.env.LEAFCERT_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    return 3;
  }
}

const isMain = process.argv[1] && /(?:^|[\\/])(?:cli\.js|leafcert(?:\.js)?)$/.test(process.argv[1]);
if (isMain) {
  // bin/leafcert.js has installed them already; this covers `node dist/src/cli.js`.
  installSignalHandlers();
  // Exit explicitly: a node that hung past its timeout may still hold a socket open, and the
  // verdict is already written. stdout/stderr are synchronous for files and pipes on Linux.
  main(process.argv).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`leafcert: ${printable(e instanceof Error ? e.message : String(e))}\n`);
      process.exit(3);
    },
  );
}
