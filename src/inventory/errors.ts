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
  constructor(
    public readonly file: string,
    public readonly problems: InventoryProblem[],
  ) {
    super(problems.map((p) => formatProblem(file, p)).join('\n'));
    this.name = 'InventoryError';
  }
}

export function formatProblem(file: string, p: InventoryProblem): string {
  const where = p.line ? `${file}:${p.line}:${p.col ?? 1}` : file;
  return p.path ? `${where}: ${p.path}: ${p.message}` : `${where}: ${p.message}`;
}

/** `["nodes", 2, "host"]` → `nodes[2].host`. */
export function formatPath(segments: (string | number)[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(s)) out += out ? `.${s}` : s;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}
