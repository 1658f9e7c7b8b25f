// What the two reporting commands (`run`, `check-config`) share around the engine: the report flags,
// their parsers, and the reporters they build, so both write the same reports the same way.
import { InvalidArgumentError } from 'commander';
import { parseDuration, UnitError } from '../core/units.js';
import { ConsoleReporter } from '../reporters/console.js';
import { HtmlReporter } from '../reporters/html.js';
import { JsonReporter } from '../reporters/json.js';
import { JunitReporter } from '../reporters/junit.js';
import { TapReporter } from '../reporters/tap.js';
import type { Reporter } from '../reporters/types.js';
import type { ConsoleOptions } from '../reporters/console.js';

/** The report flags, in the order their files are finished. */
export const REPORT_FLAGS = ['--junit', '--tap', '--json', '--html'] as const;
export type ReportFlag = (typeof REPORT_FLAGS)[number];

/** `--timeout`: seconds (60) or a duration (90s, 2m). */
export function durationArg(v: string): number {
  try {
    const ms = parseDuration(/^\d+(\.\d+)?$/.test(v) ? `${v}s` : v);
    if (!(ms > 0) || ms === Infinity) throw new UnitError('not positive');
    return ms;
  } catch {
    throw new InvalidArgumentError('expected seconds (e.g. 60) or a duration (e.g. 90s, 2m)');
  }
}

/** `--only`: comma-separated, repeatable. */
export function listArg(v: string, prev: string[] = []): string[] {
  return [...prev, ...v.split(',').map((s) => s.trim()).filter(Boolean)];
}

/**
 * One reporter per requested file, then the console last: its summary names the digests of the
 * finished report files, so it must come after them.
 */
export function reportersFor(paths: readonly (readonly [ReportFlag | string, string])[], stream: ConsoleOptions['stream'] = process.stdout): Reporter[] {
  const reporters: Reporter[] = [];
  for (const [flag, p] of paths) {
    if (flag === '--junit') reporters.push(new JunitReporter(p).forFlag(flag));
    if (flag === '--tap') reporters.push(new TapReporter(p).forFlag(flag));
    if (flag === '--json') reporters.push(new JsonReporter(p).forFlag(flag));
    if (flag === '--html') reporters.push(new HtmlReporter(p).forFlag(flag));
  }
  reporters.push(new ConsoleReporter({ reportPaths: paths.map(([, p]) => p), stream, digests: true }));
  return reporters;
}
