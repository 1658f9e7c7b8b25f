// `leafcert diff OLD.json NEW.json`: exit 1 when something newly fails or errors (a CI gate on
// regressions), 0 otherwise, 2 when an input is not a readable leafcert JSON report or an output
// path can never be written.
import { readFileSync, writeFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { printable } from '../core/text.js';
import { checkReportPath, ensureReportDir, ReportPathError } from '../reporters/report-path.js';
import { diffExitCode, diffRuns, notEvidence, type EvidenceDoc } from './diff.js';
import { diffHtml, diffText } from './render.js';

class DiffInputError extends Error {}

function load(file: string): EvidenceDoc {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    const why = e instanceof SyntaxError ? `not JSON (${e.message})` : ((e as NodeJS.ErrnoException).code ?? (e as Error).message);
    throw new DiffInputError(`${file}: cannot read a leafcert JSON report: ${why}`);
  }
  const why = notEvidence(doc);
  if (why) throw new DiffInputError(`${file}: not a leafcert JSON evidence report: ${why}`);
  return doc as EvidenceDoc;
}

export interface DiffFlags {
  json?: string;
  html?: string;
  expiringDays: number;
}

export function diffCommand(oldFile: string, newFile: string, flags: DiffFlags, now = new Date()): number {
  try {
    const outs: [string, string][] = [];
    for (const [flag, p] of [
      ['--json', flags.json],
      ['--html', flags.html],
    ] as const) {
      if (p === undefined) continue;
      try {
        outs.push([flag, checkReportPath(p)]);
      } catch (e) {
        if (e instanceof ReportPathError) throw new DiffInputError(`${flag} ${e.message}`);
        throw e;
      }
    }
    const d = diffRuns(load(oldFile), load(newFile), { expiringDays: flags.expiringDays, now });
    for (const [flag, p] of outs) {
      ensureReportDir(p);
      writeFileSync(p, flag === '--json' ? JSON.stringify({ schemaVersion: 1, oldReport: oldFile, newReport: newFile, ...d }, null, 2) + '\n' : diffHtml(d, oldFile, newFile));
    }
    process.stdout.write(diffText(d, oldFile, newFile));
    return diffExitCode(d);
  } catch (e) {
    if (e instanceof DiffInputError || e instanceof ReportPathError) {
      process.stderr.write(`leafcert: ${printable(e.message)}\n`);
      return 2;
    }
    throw e;
  }
}

function days(v: string): number {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError('expected a whole number of days ≥ 0');
  return Number(v);
}

export function registerDiff(program: Command): void {
  program
    .command('diff')
    .description('Compare two JSON evidence reports: new failures, fixed, changed evidence, nodes added/removed, waivers expiring soon.')
    .argument('<old>', 'the earlier run (--json report)')
    .argument('<new>', 'the later run (--json report)')
    .option('--json <path>', 'write the diff as JSON')
    .option('--html <path>', 'write the diff as a self-contained HTML page')
    .option('--expiring-days <n>', 'list waivers expiring within this many days', days, 14)
    .addHelpText('after', '\nExit codes: 0 nothing newly fails or errors, 1 something does (a regression),\n2 an input is not a readable leafcert JSON report, or an output path cannot be written.')
    .action((oldFile: string, newFile: string, flags: DiffFlags) => {
      process.exitCode = diffCommand(oldFile, newFile, flags);
    });
}
