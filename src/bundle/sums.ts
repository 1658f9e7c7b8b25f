// The bundle's manifest: `sha256sum` format (`HEX  PATH`), so `sha256sum -c SHA256SUMS` checks
// it too. Paths are relative, plain and sorted, one file each.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const SUMS = 'SHA256SUMS';
export const SIG = 'SHA256SUMS.sig';

export interface SumEntry {
  path: string;
  sha256: string;
}

export function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** A path a manifest may name: relative, no `.`/`..` parts, no backslash or control characters. */
export function safeRelPath(p: string): boolean {
  return p.length > 0 && !p.startsWith('/') && !/[\\\u0000-\u001f\u007f]/.test(p) && p.split('/').every((s) => s !== '' && s !== '.' && s !== '..');
}

/** Every regular file under `dir` as a relative path, sorted; anything else is named in `odd`. */
export function listFiles(dir: string, sub = ''): { files: string[]; odd: string[] } {
  const files: string[] = [];
  const odd: string[] = [];
  for (const name of readdirSync(join(dir, sub)).sort()) {
    const rel = sub ? `${sub}/${name}` : name;
    const st = statSync(join(dir, rel), { throwIfNoEntry: false });
    if (st?.isDirectory()) {
      const inner = listFiles(dir, rel);
      files.push(...inner.files);
      odd.push(...inner.odd);
    } else if (st?.isFile()) files.push(rel);
    else odd.push(rel);
  }
  return { files: files.sort(), odd };
}

export function formatSums(entries: SumEntry[]): string {
  return [...entries]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((e) => `${e.sha256}  ${e.path}\n`)
    .join('');
}

/** Entries and the lines that are not `HEX  PATH` with a safe, unique path. */
export function parseSums(text: string): { entries: SumEntry[]; problems: string[] } {
  const entries: SumEntry[] = [];
  const problems: string[] = [];
  const seen = new Set<string>();
  text.split('\n').forEach((line, i) => {
    if (line === '' && i === text.split('\n').length - 1) return;
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (!m || !safeRelPath(m[2])) problems.push(`${SUMS} line ${i + 1} is not "SHA256  PATH" with a plain relative path`);
    else if (seen.has(m[2])) problems.push(`${SUMS} names ${m[2]} twice`);
    else {
      seen.add(m[2]);
      entries.push({ sha256: m[1], path: m[2] });
    }
  });
  return { entries, problems };
}
