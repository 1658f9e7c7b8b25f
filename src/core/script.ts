// Shell that runs on nodes lives in .sh files next to its probe (shellcheck-clean, readable as
// shell): read once from the source tree, shipped with the package like src/lab/sh.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { shq } from './quote.js';

let root: string | undefined;
function packageRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the leafcert package root');
    dir = up;
  }
  return (root = dir);
}

const cache = new Map<string, string>();

/**
 * The text of src/probes/<name> (e.g. "audit.sh"), with the shared pieces it names in a
 * `# uses: other.sh` line prepended (one copy of e.g. the section framing, not one per script).
 */
export function probeScript(name: string): string {
  let text = cache.get(name);
  if (text === undefined) {
    text = readFileSync(join(packageRoot(), 'src', 'probes', name), 'utf8');
    const uses = [...text.matchAll(/^# uses: (\S+\.sh)\b/gm)].map((m) => m[1]);
    text = [...uses.map((u) => probeScript(u)), text].join('\n');
    cache.set(name, text);
  }
  return text;
}

/**
 * A command that runs a script with positional arguments ($1 …), each quoted: values never need
 * to be spliced into the script's text. `bash -c SCRIPT leafcert ARG…`.
 */
export function scriptCommand(script: string, args: readonly (string | number)[] = []): string {
  return ['bash', '-c', shq(script), 'leafcert', ...args.map((a) => shq(String(a)))].join(' ');
}
