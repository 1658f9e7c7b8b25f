// How big an inventory may be. A hostile or broken file (50 MB, millions of list items, deep
// nesting, an alias bomb) must be refused in bounded time and memory, with one line saying which
// limit and where, never a heap abort or a stack overflow. The byte cap is checked before the file
// is read; the structure caps while it is parsed (src/inventory/yaml.ts).
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { parseSize, UnitError } from '../core/units.js';
import { InventoryError } from './errors.js';

/** Default byte cap; `LEAFCERT_MAX_INVENTORY_BYTES` overrides it (bytes, or a size like 20M). */
export const DEFAULT_MAX_BYTES = 10 * 1024 * 1024;
export const MAX_BYTES_ENV = 'LEAFCERT_MAX_INVENTORY_BYTES';

/**
 * YAML values (scalars, lists, mappings) in one inventory, counted while parsing and again after
 * alias expansion. An inventory of 2000 nodes is ~50 000; parsing costs ~10 µs per value, so the
 * cap bounds a refused file to a few seconds.
 */
export const MAX_VALUES = 500_000;

/** Nesting of lists and mappings. A real inventory nests 6 or 7 deep; the parser and the schema
 * validator recurse per level, so thousands of levels would overflow the stack. */
export const MAX_DEPTH = 64;

/**
 * Uses of one anchor, weighted by the aliases its node holds (the rule of yaml's `maxAliasCount`:
 * `*b` where `&b` holds ten `*a` counts ten). Stops exponential alias bombs; ordinary sharing of a
 * block between up to 100 places passes.
 */
export const MAX_ALIAS_USES = 100;

/** The byte cap in force: the environment's, else the default. */
export function maxInventoryBytes(file: string, env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[MAX_BYTES_ENV];
  if (raw === undefined || raw === '') return DEFAULT_MAX_BYTES;
  let n: number;
  try {
    n = parseSize(raw);
  } catch (e) {
    if (!(e instanceof UnitError)) throw e;
    n = NaN;
  }
  if (!(n >= 1)) {
    throw new InventoryError(file, [{ path: '', message: `${MAX_BYTES_ENV}=${JSON.stringify(raw)} is not a size (expected bytes, or e.g. 20M, 1G, infinity)` }]);
  }
  return n;
}

export function sizeText(bytes: number): string {
  if (bytes === Infinity) return 'unlimited';
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  return `${bytes} bytes`;
}

/** `size` undefined: a stream that went past the cap. */
function tooBig(file: string, size: number | undefined, max: number): InventoryError {
  const what = size === undefined ? 'larger than' : `${size} bytes, over`;
  return new InventoryError(file, [
    { path: '', message: `inventory is ${what} the ${sizeText(max)} limit (raise it with ${MAX_BYTES_ENV}, e.g. ${MAX_BYTES_ENV}=64M)` },
  ]);
}

/**
 * The file's bytes, at most `max` of them. A regular file is judged by its size before a byte is
 * read; anything else (a pipe from `<(...)`, a device such as /dev/zero) is read up to the cap
 * and refused past it, so nothing is ever read without bound.
 */
export function readBounded(file: string, max: number): Buffer {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    throw cannotRead(file, e);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new InventoryError(file, [{ path: '', message: 'cannot read inventory: is a directory' }]);
    if (st.isFile() && st.size > max) throw tooBig(file, st.size, max);
    const chunks: Buffer[] = [];
    let total = 0;
    const chunk = Buffer.allocUnsafe(1024 * 1024);
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, chunk, 0, chunk.length, null);
      } catch (e) {
        throw cannotRead(file, e);
      }
      if (n === 0) break;
      total += n;
      if (total > max) throw tooBig(file, undefined, max);
      chunks.push(Buffer.from(chunk.subarray(0, n)));
    }
    return Buffer.concat(chunks, total);
  } finally {
    closeSync(fd);
  }
}

function cannotRead(file: string, e: unknown): InventoryError {
  const code = (e as NodeJS.ErrnoException).code;
  const why =
    code === 'ENOENT' ? 'no such file'
    : code === 'EISDIR' ? 'is a directory'
    : code === 'EACCES' ? 'permission denied'
    : code === 'ENOTDIR' ? 'a parent is not a directory'
    : (e as Error).message;
  return new InventoryError(file, [{ path: '', message: `cannot read inventory: ${why}` }]);
}
