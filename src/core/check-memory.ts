// The harness's memory of clean repository checks (backup.checkEvery): when each node's borg
// repository last passed `borg check`, as seen by this harness. It lives in a small JSON file in the
// harness's state directory and never on the node (a node must not be able to excuse itself from
// a check). Only the CLI opens the file; the backup suite reads and updates it through this
// interface, and its probe gets the remembered times as plain data.
//
// Missing file = no memory. An unreadable or corrupt file = a warning naming it, and no memory (the
// check runs; never a silent skip). Writes go to a temporary file renamed over the real one, after
// re-reading it and applying this run's changes on top, so shards or processes sharing the file do
// not corrupt it or drop each other's nodes.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

export const CHECK_MEMORY_FILE = 'repo-checks.json';

/** One clean check: node + repository (its location as borg reports it, and borg's repository id). */
export interface RememberedCheck {
  node: string;
  location: string;
  repositoryId: string;
  /** Harness wall-clock time the clean check started, ISO 8601 UTC. */
  at: string;
}

/** What the suites see of the memory. */
export interface CheckMemory {
  /** The state file (named in evidence and warnings). */
  readonly file: string;
  /** The node's remembered clean checks; `problem` when the file could not be read. */
  recall(node: string): { checks: RememberedCheck[]; problem?: string };
  /** A clean check: remembered (replacing the node's earlier one for that location). */
  remember(c: RememberedCheck): void;
  /** A failed or errored check at `at`: the node's memory for that location is dropped. */
  forget(c: Omit<RememberedCheck, 'repositoryId'>): void;
}

/** `--state-dir`'s default: $XDG_STATE_HOME/leafcert, else ~/.local/state/leafcert. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_STATE_HOME;
  // The XDG spec: a relative value is invalid and ignored.
  return xdg && xdg.startsWith('/') ? join(xdg, 'leafcert') : join(env.HOME || homedir(), '.local', 'state', 'leafcert');
}

const key = (c: { node: string; location: string }) => JSON.stringify([c.node, c.location]);
const isIso = (s: unknown) => typeof s === 'string' && /^\d{4}-\d\d-\d\dT/.test(s) && Number.isFinite(Date.parse(s));

/** The file's entries, or why they cannot be trusted. A missing file is an empty memory. */
export function readMemory(file: string): { checks: RememberedCheck[]; problem?: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { checks: [] };
    return { checks: [], problem: `is unreadable: ${(e as Error).message}` };
  }
  try {
    const j = JSON.parse(text) as { version?: unknown; repoChecks?: unknown };
    if (j?.version !== 1 || !Array.isArray(j.repoChecks)) throw new Error('not a leafcert state file (version 1 with a repoChecks array)');
    for (const c of j.repoChecks as RememberedCheck[]) {
      if (!c || typeof c.node !== 'string' || typeof c.location !== 'string' || typeof c.repositoryId !== 'string' || !isIso(c.at)) {
        throw new Error(`an entry is not {node, location, repositoryId, at}: ${JSON.stringify(c).slice(0, 120)}`);
      }
    }
    return { checks: j.repoChecks as RememberedCheck[] };
  } catch (e) {
    return { checks: [], problem: `is corrupt: ${(e as Error).message}` };
  }
}

type Change = { kind: 'remember'; c: RememberedCheck } | { kind: 'forget'; c: Omit<RememberedCheck, 'repositoryId'> };

/** Applies one change to entries keyed by node + location; a later time already there wins. */
function apply(entries: Map<string, RememberedCheck>, ch: Change): void {
  const k = key(ch.c);
  const had = entries.get(k);
  // Another process may have seen a later check of the same repository: keep the newer word.
  if (had && Date.parse(had.at) > Date.parse(ch.c.at)) return;
  if (ch.kind === 'remember') entries.set(k, ch.c);
  else entries.delete(k);
}

/** The memory in one state file: read once (by the CLI, else when first asked), written once by flush(). */
export class CheckMemoryFile implements CheckMemory {
  private entries?: Map<string, RememberedCheck>;
  private problem?: string;
  private readonly changes: Change[] = [];

  constructor(
    readonly file: string,
    private readonly warn: (message: string) => void = (m) => process.stderr.write(`leafcert: ${m}\n`),
  ) {}

  /** Reads the file (once; warns if it cannot be trusted). The CLI calls it before the run, so the warning comes first. */
  load(): Map<string, RememberedCheck> {
    if (!this.entries) {
      const r = readMemory(this.file);
      this.entries = new Map(r.checks.map((c) => [key(c), c]));
      this.problem = r.problem;
      if (r.problem) this.warn(`state file ${this.file} ${r.problem}; nothing is remembered from it, so every repository check (backup.checkEvery) runs`);
    }
    return this.entries;
  }

  recall(node: string): { checks: RememberedCheck[]; problem?: string } {
    const checks = [...this.load().values()].filter((c) => c.node === node);
    return this.problem ? { checks, problem: `state file ${this.file} ${this.problem}` } : { checks };
  }

  remember(c: RememberedCheck): void {
    this.change({ kind: 'remember', c });
  }

  forget(c: Omit<RememberedCheck, 'repositoryId'>): void {
    this.change({ kind: 'forget', c });
  }

  private change(ch: Change): void {
    apply(this.load(), ch);
    this.changes.push(ch);
  }

  /** Writes this run's changes, if any, over what the file holds now (tmp + rename). */
  flush(): void {
    if (!this.changes.length) return;
    const now = readMemory(this.file);
    const entries = new Map(now.checks.map((c) => [key(c), c]));
    for (const ch of this.changes) apply(entries, ch);
    const body = { version: 1, note: 'leafcert backup.checkEvery: the last clean borg check per node and repository, as seen by this harness', repoChecks: [...entries.values()].sort((a, b) => (a.node === b.node ? a.location.localeCompare(b.location) : a.node.localeCompare(b.node))) };
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.${Math.random().toString(36).slice(2, 8)}.tmp`;
    try {
      writeFileSync(tmp, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600 });
      renameSync(tmp, this.file);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw e;
    }
    this.changes.length = 0;
  }
}
