// `leafcert merge [--out DIR] [--junit P] [--tap P] [--json P] [--html P] FROM…`: the reports of
// `run --shard K/N` jobs as one run's (docs/ci.md). Exit codes as `run`: 0 certified, 1 a check
// failed, 3 incomplete (a shard missing or unfinished, or a report not written); 2 when the inputs
// cannot be one run (different inventories, check sets, versions) or a path is unusable.
import { join } from 'node:path';
import type { Command } from 'commander';
import { printable } from '../core/text.js';
import { REPORT_FLAGS, reportersFor } from '../engine/reports.js';
import { checkReportPath, ReportPathError } from '../reporters/report-path.js';
import { checkShards, MergeError, mergeShards, readShards } from './merge.js';

export interface MergeFlags {
  out?: string;
  junit?: string;
  tap?: string;
  json?: string;
  html?: string;
}

/** Report file names under --out DIR, one per format. */
export const OUT_FILES = { '--junit': 'junit.xml', '--tap': 'report.tap', '--json': 'report.json', '--html': 'report.html' } as const;

export async function mergeCommand(from: string[], flags: MergeFlags, argv: string[]): Promise<number> {
  try {
    const asked = REPORT_FLAGS.map((f) => [f, flags[f.slice(2) as keyof MergeFlags] ?? (flags.out ? join(flags.out, OUT_FILES[f]) : undefined)] as const);
    const paths: [string, string][] = [];
    for (const [flag, p] of asked) {
      if (p === undefined) continue;
      try {
        paths.push([flag, checkReportPath(p)]);
      } catch (e) {
        if (e instanceof ReportPathError) throw new MergeError(`${flag} ${e.message}`, 2);
        throw e;
      }
    }
    if (!paths.length) throw new MergeError('merge: nothing to write: give --out DIR or at least one of --junit, --tap, --json, --html', 2);
    const docs = readShards(from);
    const inputs = new Set(docs.map((d) => d.file));
    const clash = paths.find(([, p]) => inputs.has(p));
    if (clash) throw new MergeError(`${clash[0]} ${clash[1]}: is one of the shard reports being merged; write the merged reports elsewhere`, 2);
    const shards = checkShards(docs);
    const { exitCode } = await mergeShards(shards, reportersFor(paths), argv);
    return exitCode;
  } catch (e) {
    if (e instanceof MergeError) {
      process.stderr.write(`leafcert: ${printable(e.message)}\n`);
      return e.exitCode;
    }
    throw e;
  }
}

export function registerMerge(program: Command, outcome: { code?: number; argv?: string[] }): void {
  program
    .command('merge')
    .description('Merge the JSON reports of `run --shard K/N` jobs into one run\'s reports (JUnit, TAP, JSON, HTML); docs/ci.md.')
    .argument('<from...>', 'shard JSON reports, or directories holding them (searched a few levels deep)')
    .option('--out <dir>', `write every format into DIR (${Object.values(OUT_FILES).join(', ')})`)
    .option('--junit <path>', 'write JUnit XML')
    .option('--tap <path>', 'write TAP 14')
    .option('--json <path>', 'write JSON evidence')
    .option('--html <path>', 'write the HTML report')
    .addHelpText(
      'after',
      '\nExit codes, as `run`: 0 certified, 1 a check failed, 3 incomplete (a shard missing or\n' +
        'unfinished, a check errored, or a report could not be written); 2 the inputs are not\n' +
        'shards of one run (different inventories, check sets or leafcert versions) or a path is unusable.',
    )
    .action(async (from: string[], flags: MergeFlags) => {
      outcome.code = await mergeCommand(from, flags, outcome.argv ?? process.argv.slice(2));
    });
}
