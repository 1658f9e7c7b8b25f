// `leafcert bundle`: the reports of a run, its inventory (and NixOS manifest), a SHA-256 manifest
// of every file and an SSH signature of that manifest, in one directory an auditor can check
// with `ssh-keygen -Y verify` and `sha256sum -c` (docs/bundle.md).
import { copyFileSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { printable } from '../core/text.js';
import { checkReportPath, ensureReportDir, ReportPathError } from '../reporters/report-path.js';
import { NAMESPACE, signFile, SshSigError } from './sshsig.js';
import { formatSums, listFiles, safeRelPath, sha256File, SIG, SUMS } from './sums.js';

/** A bundle that cannot be made from what was given: one line, exit 2 (nothing written). */
export class BundleError extends Error {}

export interface BundleInput {
  out: string;
  /** Private key (or an agent-held public key) for `ssh-keygen -Y sign`. */
  key: string;
  reports: string[];
  inventory?: string;
  manifest?: string;
  harnessVersion: string;
  now?: Date;
}

function regularFile(what: string, p: string): string {
  const abs = resolve(p);
  const st = statSync(abs, { throwIfNoEntry: false });
  if (!st) throw new BundleError(`${what} ${printable(p)}: no such file`);
  if (!st.isFile()) throw new BundleError(`${what} ${printable(p)}: not a regular file`);
  return abs;
}

/** The inventory a leafcert JSON evidence report names, with the sha256 it had during the run. */
function runInventory(report: string): { path: string; sha256: string } | undefined {
  if (!report.endsWith('.json')) return undefined;
  try {
    const doc = JSON.parse(readFileSync(report, 'utf8'));
    const inv = doc?.harness?.name === 'leafcert' ? doc?.run?.inventory : undefined;
    return typeof inv?.path === 'string' && inv.path ? { path: inv.path, sha256: String(inv.sha256 ?? '') } : undefined;
  } catch {
    return undefined;
  }
}

/** Check everything before writing anything; returns the bundle's files (relative path → source). */
export function planBundle(input: BundleInput): Map<string, string> {
  const files = new Map<string, string>();
  const add = (rel: string, src: string, flag: string) => {
    if (!safeRelPath(rel)) throw new BundleError(`${flag} ${printable(src)}: its name cannot go in ${SUMS} (control characters or a backslash)`);
    const other = files.get(rel);
    if (other) throw new BundleError(`${printable(src)} and ${printable(other)} would both be ${rel} in the bundle; rename one`);
    files.set(rel, src);
  };
  if (input.reports.length === 0) throw new BundleError('bundle: name the report files to bundle (e.g. reports/*)');
  for (const r of input.reports) add(`reports/${basename(r)}`, regularFile('report', r), 'report');
  regularFile('--key', input.key);

  // The inventory the run read: from --inventory, or from the JSON evidence report; either way it
  // must still be the file the run certified against.
  const recorded = input.reports.map((r) => runInventory(resolve(r))).find(Boolean);
  const inventory = input.inventory ?? recorded?.path;
  if (!inventory) throw new BundleError('bundle: pass --inventory FILE (no leafcert JSON report among the files names it)');
  const invAbs = regularFile(input.inventory ? '--inventory' : 'the inventory the JSON report names (pass --inventory FILE),', inventory);
  if (recorded?.sha256 && sha256File(invAbs) !== recorded.sha256) {
    throw new BundleError(`inventory ${printable(invAbs)} is not the one the run read (sha256 differs from the JSON report's ${recorded.sha256})`);
  }
  add(`inputs/${basename(invAbs)}`, invAbs, '--inventory');
  if (input.manifest) add(`inputs/${basename(input.manifest)}`, regularFile('--manifest', input.manifest), '--manifest');
  return files;
}

/** `--out` must be a new or empty directory: an old file in it would be signed as this run's. */
export function checkOut(out: string): string {
  const abs = resolve(out);
  const st = statSync(abs, { throwIfNoEntry: false });
  if (st && !st.isDirectory()) throw new BundleError(`--out ${printable(out)}: exists and is not a directory`);
  if (st && listFiles(abs).files.length + listFiles(abs).odd.length > 0) throw new BundleError(`--out ${printable(out)}: not empty; a bundle needs a new directory`);
  try {
    checkReportPath(join(abs, SUMS));
  } catch (e) {
    if (e instanceof ReportPathError) throw new BundleError(`--out ${e.message}`);
    throw e;
  }
  return abs;
}

/** `run --bundle`: the target and key checked before anything runs (a BundleError is exit 2). */
export function checkBundleTarget(out: string, key: string): void {
  checkOut(out);
  regularFile('--sign-key', key);
}

export function createBundle(input: BundleInput): { dir: string; files: string[] } {
  const dir = checkOut(input.out);
  const plan = planBundle(input);
  const existed = statSync(dir, { throwIfNoEntry: false }) !== undefined;
  try {
    for (const rel of plan.keys()) ensureReportDir(join(dir, rel));
    for (const [rel, src] of plan) copyFileSync(src, join(dir, rel));
    const about = {
      leafcert: input.harnessVersion,
      createdAt: (input.now ?? new Date()).toISOString(),
      namespace: NAMESPACE,
      sources: Object.fromEntries(plan),
    };
    writeFileSync(join(dir, 'bundle.json'), JSON.stringify(about, null, 2) + '\n');
    const { files } = listFiles(dir);
    writeFileSync(join(dir, SUMS), formatSums(files.map((path) => ({ path, sha256: sha256File(join(dir, path)) }))));
    signFile(resolve(input.key), join(dir, SUMS));
    return { dir, files: [...files, SUMS, SIG] };
  } catch (e) {
    // Half a bundle must not look like one: remove what was made here (the directory was new or empty).
    if (!existed) rmSync(dir, { recursive: true, force: true });
    else for (const name of readdirSync(dir)) rmSync(join(dir, name), { recursive: true, force: true });
    if (e instanceof SshSigError) throw new BundleError(e.message);
    throw e;
  }
}
