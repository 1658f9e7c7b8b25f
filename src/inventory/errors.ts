import { printable } from '../core/text.js';

/** Problems listed before the rest are summed up in one line: a broken 500 000-item list is one
 * mistake, not 500 000 lines of console. */
export const MAX_PROBLEMS_SHOWN = 50;

/** One problem in an inventory, located as precisely as the YAML allows. */
export interface InventoryProblem {
  /** `nodes[2].host`; empty for the document itself. */
  path: string;
  message: string;
  line?: number;
  col?: number;
}

/** The inventory cannot be used: nothing runs (exit 2). Each problem is one console line. */
export class InventoryError extends Error {
  public readonly problems: InventoryProblem[];

  constructor(
    public readonly file: string,
    problems: InventoryProblem[],
  ) {
    const shown =
      problems.length > MAX_PROBLEMS_SHOWN
        ? [...problems.slice(0, MAX_PROBLEMS_SHOWN), { path: '', message: `and ${problems.length - MAX_PROBLEMS_SHOWN} more problems not shown` }]
        : problems;
    super(shown.map((p) => formatProblem(file, p)).join('\n'));
    this.problems = shown;
    this.name = 'InventoryError';
  }
}

/** One line, whatever the file name, path or message hold (they quote the inventory). */
export function formatProblem(file: string, p: InventoryProblem): string {
  const where = p.line ? `${file}:${p.line}:${p.col ?? 1}` : file;
  return printable(p.path ? `${where}: ${p.path}: ${p.message}` : `${where}: ${p.message}`);
}

/** `["nodes", 2, "host"]` → `nodes[2].host` (src/core/validate.ts, shared with the manifest probe). */
export { formatPath } from '../core/validate.js';
