// Where a report may be written, judged without creating anything, and its parent directories
// made one level at a time. Node 20's recursive mkdirSync spins forever under /proc (procfs
// answers ENOENT to the parent it has just "found") and SIGTERM cannot stop a synchronous loop,
// so a CI job would hang until its own timeout: leafcert never calls it.
import { accessSync, constants, mkdirSync, realpathSync, statfsSync, statSync } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';
import { printable } from '../core/text.js';

/** A report path that can never be written; the message is `PATH: reason` (the caller adds the flag). */
export class ReportPathError extends Error {
  constructor(
    message: string,
    /** errno-style, for the write-time line (`ENOTDIR`); absent for a pseudo-filesystem. */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'ReportPathError';
  }
}

// Kernel pseudo-filesystems (statfs f_type, linux/magic.h): files there are not files.
const PSEUDO_FS: Record<number, string> = {
  0x9fa0: 'proc',
  0x62656572: 'sysfs',
  0x27e0eb: 'cgroup',
  0x63677270: 'cgroup2',
  0x64626720: 'debugfs',
  0x74726163: 'tracefs',
  0x73636673: 'securityfs',
  0x1cd1: 'devpts',
  0x6165676c: 'pstore',
  0xde5e81e4: 'efivarfs',
  0xcafe4a11: 'bpf',
  0x62656570: 'configfs',
  0x65735543: 'fusectl',
  0x6e736673: 'nsfs',
};

// /dev is devtmpfs, which statfs cannot tell from tmpfs; /dev/shm is an ordinary tmpfs.
const PSEUDO_DIRS = ['/proc', '/sys', '/dev'];

function under(p: string, dir: string): boolean {
  return p === dir || p.startsWith(dir + sep);
}

/** Why an existing directory is no place for a report, or undefined. */
function pseudo(dir: string): string | undefined {
  let real = dir;
  try {
    real = realpathSync(dir);
  } catch {
    /* judged by its name alone */
  }
  for (const p of [dir, real]) {
    const top = PSEUDO_DIRS.find((d) => under(p, d) && !under(p, '/dev/shm'));
    if (top) return `${top} is a kernel pseudo-filesystem, not a place for reports`;
  }
  try {
    const kind = PSEUDO_FS[statfsSync(real).type];
    if (kind) return `${real} is on a kernel pseudo-filesystem (${kind}), not a place for reports`;
  } catch {
    /* statfs unsupported: the names above are all we can judge by */
  }
  return undefined;
}

/** The nearest ancestor of `abs` that exists, and the missing directories below it (top first). */
function existingAncestor(abs: string): { dir: string; missing: string[] } {
  const missing: string[] = [];
  let d = dirname(abs);
  for (;;) {
    try {
      statSync(d);
      return { dir: d, missing };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // ENOTDIR: a file on the way; the ancestor check below names it.
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new ReportPathError(`cannot use ${printable(d)}: ${code ?? (e as Error).message}`, code);
    }
    missing.unshift(d);
    const up = dirname(d);
    if (up === d) return { dir: d, missing };
    d = up;
  }
}

/** Why `abs` cannot be a report, or undefined. Creates nothing. */
function problem(abs: string): { why?: string; code?: string; missing: string[] } {
  try {
    if (statSync(abs).isDirectory()) return { why: 'is a directory', code: 'EISDIR', missing: [] };
  } catch {
    /* absent (or unreachable): the parent decides */
  }
  const { dir, missing } = existingAncestor(abs);
  let st;
  try {
    st = statSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { why: `cannot use ${printable(dir)}: ${code ?? (e as Error).message}`, code, missing };
  }
  if (!st.isDirectory()) return { why: `${printable(dir)} is not a directory`, code: 'ENOTDIR', missing };
  const p = pseudo(dir);
  if (p) return { why: p, missing };
  try {
    accessSync(dir, constants.W_OK);
  } catch (e) {
    return { why: `cannot write in ${printable(dir)}`, code: (e as NodeJS.ErrnoException).code, missing };
  }
  return { missing };
}

/**
 * Check a report path before anything runs: the file is not a directory, its nearest existing
 * ancestor is a writable directory on a real filesystem. Returns the absolute path.
 */
export function checkReportPath(p: string): string {
  const abs = resolve(p);
  const { why, code } = problem(abs);
  if (why) throw new ReportPathError(`${printable(p)}: ${why}`, code);
  return abs;
}

/** Create the missing parents of a report path, one level at a time, after the same checks. */
export function ensureReportDir(abs: string): void {
  const { why, code, missing } = problem(abs);
  if (why) throw new ReportPathError(why, code);
  for (const d of missing) {
    try {
      mkdirSync(d);
    } catch (e) {
      // Made meanwhile by someone else: fine if it is a directory now.
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || !statSync(d).isDirectory()) throw e;
    }
  }
}
