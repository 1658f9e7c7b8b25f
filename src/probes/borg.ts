// borg through the NixOS job wrapper `borg-job-NAME` (it carries BORG_REPO and the passphrase
// command). Parsers are pure; the scripts below are what runs on the node, one exec each.
// Every borg call gets stdin from /dev/null (a missing passphrase fails at once instead of
// prompting) and a `timeout` (a hung borg or a held lock ends as an error, not a hung run).
import { ParseError } from '../core/types.js';
import { shq } from '../core/quote.js';

/** @deprecated import shq from src/core/quote.ts (kept for modules that still import it from here). */
export { shq };

export interface BorgArchive {
  name: string;
  id: string;
  /** As borg prints it: node-local time, no offset (borg 1.x). */
  start: string;
  time: string;
}

export interface BorgList {
  archives: BorgArchive[];
  encryption: string;
  repository: { id: string; location: string; lastModified: string };
}

export interface BorgArchiveInfo {
  name: string;
  start: string;
  end: string;
  commandLine: string[];
  hostname: string;
  nfiles: number;
  originalSize: number;
}

const TS_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?$/;

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ParseError(source, 'output is not JSON', text.slice(0, 300));
  }
}

function str(v: unknown, what: string, source: string, raw: string): string {
  if (typeof v !== 'string') throw new ParseError(source, `${what} missing or not a string`, raw.slice(0, 300));
  return v;
}

function timestamp(v: unknown, what: string, source: string, raw: string): string {
  const s = str(v, what, source, raw);
  if (!TS_RE.test(s)) throw new ParseError(source, `${what} "${s}" is not a borg timestamp`, raw.slice(0, 300));
  return s;
}

/** `borg list --json` (repository listing). */
export function parseBorgList(text: string, source = 'borg list --json'): BorgList {
  const j = parseJson(text, source) as Record<string, any>;
  if (!j || typeof j !== 'object' || !Array.isArray(j.archives)) {
    throw new ParseError(source, 'no "archives" array (is this a repository listing?)', text.slice(0, 300));
  }
  const archives = j.archives.map((a: Record<string, unknown>) => ({
    name: str(a?.name ?? a?.archive, 'archive name', source, text),
    id: str(a?.id, 'archive id', source, text),
    start: timestamp(a?.start ?? a?.time, 'archive start', source, text),
    time: timestamp(a?.time, 'archive time', source, text),
  }));
  return {
    archives,
    encryption: str(j.encryption?.mode, 'encryption.mode', source, text),
    repository: {
      id: str(j.repository?.id, 'repository.id', source, text),
      location: str(j.repository?.location, 'repository.location', source, text),
      lastModified: str(j.repository?.last_modified, 'repository.last_modified', source, text),
    },
  };
}

/** `borg info --json ::ARCHIVE` (one archive). */
export function parseBorgInfo(text: string, source = 'borg info --json'): BorgArchiveInfo {
  const j = parseJson(text, source) as Record<string, any>;
  const a = Array.isArray(j?.archives) ? j.archives[0] : undefined;
  if (!a || typeof a !== 'object') throw new ParseError(source, 'no archive in "archives"', text.slice(0, 300));
  if (!Array.isArray(a.command_line)) throw new ParseError(source, 'archive lacks command_line', text.slice(0, 300));
  return {
    name: str(a.name, 'archive name', source, text),
    start: timestamp(a.start, 'archive start', source, text),
    end: timestamp(a.end, 'archive end', source, text),
    commandLine: a.command_line.map(String),
    hostname: String(a.hostname ?? ''),
    nfiles: Number(a.stats?.nfiles ?? NaN),
    originalSize: Number(a.stats?.original_size ?? NaN),
  };
}

/**
 * The paths a `borg create` command line backed up: the arguments after `::ARCHIVE` (or
 * `REPO::ARCHIVE`) that are not options. NixOS's job puts the paths last.
 */
export function pathsFromCommandLine(cmd: string[]): string[] {
  const i = cmd.findIndex((a) => a.includes('::'));
  if (i < 0 || !cmd.includes('create')) return [];
  return cmd.slice(i + 1).filter((a) => !a.startsWith('-'));
}

/** Epoch seconds of a borg timestamp, read as node-local time with the node's `date +%z` offset. */
export function borgTimeToEpoch(ts: string, tzOffset: string): number {
  const m = /^([+-])(\d\d)(\d\d)$/.exec(tzOffset.trim());
  if (!m) throw new ParseError('date +%z', `"${tzOffset}" is not a UTC offset`);
  if (!TS_RE.test(ts)) throw new ParseError('borg', `"${ts}" is not a borg timestamp`);
  const offsetSec = (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 3600 + Number(m[3]) * 60);
  return Date.parse(ts.slice(0, 19) + 'Z') / 1000 - offsetSec;
}

/**
 * What kind of failure a borg call's exit code and stderr show. `passphrase` and `no-repository` are
 * facts about the node (the job cannot read or write its repository: nobody else can make them go
 * away), recognised only by borg's own sentences (borg 1.2, fixtures/borg/list-*.stderr); a timeout,
 * a held lock (which may be a running backup) and anything else are what leafcert could not tell.
 */
export type BorgFailureKind = 'timeout' | 'not-found' | 'passphrase' | 'lock' | 'no-repository' | 'other';

export interface BorgFailure {
  kind: BorgFailureKind;
  /** One plain sentence. */
  reason: string;
  /** A fact about the node (the job cannot use its repository), not something leafcert could not tell. */
  onNode: boolean;
}

/** Why a borg call failed, classified (see BorgFailureKind). */
export function classifyBorgFailure(rc: number, stderr: string, timeoutSec: number): BorgFailure {
  const text = stderr.trim();
  const f = (kind: BorgFailureKind, reason: string): BorgFailure => ({ kind, reason, onNode: kind === 'passphrase' || kind === 'no-repository' });
  if (rc === 124 || rc === 137) {
    return f('timeout', `borg did not finish within ${timeoutSec}s (killed by timeout${/passphrase/i.test(text) ? '; it was asking for a passphrase' : ''})`);
  }
  if (rc === 127 && /not found/.test(text)) return f('not-found', `command not found: ${lastLine(text)}`);
  // borg's own errors end with rc 2 (1.2; "legacy" exit codes of 1.4); 1.4's modern codes are >= 10.
  const error = rc === 2 || rc >= 10;
  const line = (re: RegExp) => text.split('\n').map((l) => l.trim()).find((l) => re.test(l)) ?? lastLine(text);
  if (error && /passphrase supplied in .* is incorrect/.test(text)) {
    return f('passphrase', `the passphrase the job wrapper supplies is not the repository's (${line(/is incorrect/)})`);
  }
  if (error && /passcommand supplied in BORG_PASSCOMMAND failed/.test(text)) {
    // The command's own complaint (cat: FILE: No such file or directory) comes first, borg's sentence last.
    const own = text.split('\n').map((l) => l.trim()).filter((l) => l && !/passcommand supplied|GetPassWarning|Password input may be echoed/.test(l))[0];
    return f('passphrase', `the job wrapper's passphrase command fails${own ? `: ${own.slice(0, 200)}` : ''} (${line(/passcommand supplied/)})`);
  }
  if (error && /can not acquire a passphrase/.test(text)) {
    return f('passphrase', `the repository asks for a passphrase that the job wrapper does not supply (${lastLine(text)})`);
  }
  if (/passphrase|passcommand/i.test(text)) return f('other', `borg exited with ${rc} about the passphrase: ${lastLine(text)}`);
  // LockTimeout (another holder for longer than --lock-wait); LockFailed names its own reason (permissions…): other.
  if (/Failed to create\/acquire the lock .*\(timeout\)/.test(text)) {
    return f('lock', `the repository's lock is held (${line(/acquire the lock/)}): a backup or another borg process may be running, or a killed one left it stale (\`borg break-lock\` through the job wrapper once no borg runs)`);
  }
  if (error && (/^Repository .* does not exist\.$/m.test(text) || /is not a valid repository/.test(text))) {
    return f('no-repository', `the job's repository is missing or not a borg repository (${line(/does not exist|not a valid repository/)})`);
  }
  return f('other', `borg exited with ${rc}${text ? `: ${lastLine(text)}` : ''}`);
}

/** Why a borg call failed, in one plain sentence, from its exit code and stderr. */
export function borgFailure(rc: number, stderr: string, timeoutSec: number): string {
  return classifyBorgFailure(rc, stderr, timeoutSec).reason;
}

function lastLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l && !/GetPassWarning|Warning: Password input may be echoed/.test(l));
  return (lines[lines.length - 1] ?? '').slice(0, 240);
}

/**
 * Environment for every borg call: never prompt, never accept an unencrypted repo silently. Without
 * borg's start-up self-test (BORG_SELFTEST=disabled, borg's documented switch): it re-runs borg's
 * own unit tests on every invocation, ~0.3 s of the node's CPU each (measured on a lab node: `borg
 * list --json` 0.69 s -> 0.40 s), and checks the borg build, not the backups; the job's scheduled
 * runs keep it, so a broken borg still shows as a failed job (backup.units).
 */
export const BORG_ENV =
  'BORG_RELOCATED_REPO_ACCESS_IS_OK=yes BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=no ' +
  'BORG_CHECK_I_KNOW_WHAT_I_AM_DOING=NO BORG_DELETE_I_KNOW_WHAT_I_AM_DOING=NO BORG_SELFTEST=disabled';

/** `timeout` around a wrapper call; `-k` kills a borg that ignores TERM. */
export function borgCmd(wrapper: string, timeoutSec: number, args: string): string {
  return `env ${BORG_ENV} timeout -k 5 ${timeoutSec} ${shq(wrapper)} ${args} </dev/null`;
}

export interface SampleCandidate {
  path: string;
  size: number;
  /** The archived item's mtime as borg prints it (node-local, `{isomtime}`). */
  mtime: string;
}

export interface ArchiveContents {
  /** Expected root (archive form, no leading /) → number of entries under it. */
  roots: Record<string, number>;
  candidates: SampleCandidate[];
  entries: number;
}

/**
 * Output of the listing filter (see listingFilter): `ROOT<TAB>count<TAB>root`,
 * `CAND<TAB>size<TAB>isomtime<TAB>path`, `TOTAL<TAB>n`. A listing without TOTAL was cut short → ParseError.
 */
export function parseArchiveContents(text: string, source: string): ArchiveContents {
  const out: ArchiveContents = { roots: {}, candidates: [], entries: -1 };
  for (const line of text.split('\n')) {
    if (!line) continue;
    const f = line.split('\t');
    if (f[0] === 'ROOT' && f.length >= 3) out.roots[f.slice(2).join('\t')] = Number(f[1]);
    else if (f[0] === 'CAND' && f.length >= 4) out.candidates.push({ size: Number(f[1]), mtime: f[2], path: f.slice(3).join('\t') });
    else if (f[0] === 'TOTAL') out.entries = Number(f[1]);
    else throw new ParseError(source, `unexpected line "${line.slice(0, 80)}"`, text.slice(0, 300));
  }
  if (out.entries < 0) throw new ParseError(source, 'listing ended without its TOTAL line (cut short?)', text.slice(-300));
  return out;
}

/**
 * awk over `borg list --format '{type}{TAB}{size}{TAB}{isomtime}{TAB}{path}{NL}'` (LISTING_FORMAT): counts entries under each expected
 * root and keeps a deterministic reservoir sample of small regular files, so a million-file archive
 * costs one pass on the node and a few lines on the wire.
 */
export function listingFilter(roots: string[], maxBytes: number, keep: number): string {
  // -v turns the two characters \\n back into a newline.
  return `awk -v R=${shq(listingRoots(roots))} ${shq(listingAwk(maxBytes, keep))}`;
}

/** The expected roots in archive form (no leading or trailing /), for awk's -v R: joined by the two characters \\n. */
export function listingRoots(roots: string[]): string {
  return roots.map((r) => r.replace(/^\/+/, '').replace(/\/+$/, '')).join('\\n');
}

/** The listing filter's awk program (reads R: the expected roots, see listingRoots). */
export function listingAwk(maxBytes: number, keep: number): string {
  return [
    'BEGIN { FS="\\t"; srand(42); n=split(R, roots, "\\n"); for (i=1;i<=n;i++) if (roots[i]!="") cnt[roots[i]]=0 }',
    '{ total++; p=$4; for (i=5;i<=NF;i++) p=p "\\t" $i;',
    '  for (r in cnt) if (p==r || index(p, r "/")==1) cnt[r]++;',
    `  if ($1=="-" && $2+0 <= ${maxBytes}) { seen++; if (seen<=${keep}) { cs[seen]=$2; cm[seen]=$3; cp[seen]=p } else { j=int(rand()*seen)+1; if (j<=${keep}) { cs[j]=$2; cm[j]=$3; cp[j]=p } } } }`,
    `END { for (r in cnt) printf "ROOT\\t%d\\t%s\\n", cnt[r], r; m=(seen<${keep})?seen:${keep}; for (i=1;i<=m;i++) printf "CAND\\t%d\\t%s\\t%s\\n", cs[i], cm[i], cp[i]; printf "TOTAL\\t%d\\n", total }`,
  ].join('\n');
}

/** borg list's --format for the listing filter, as one argument. */
export const LISTING_FIELDS = '{type}{TAB}{size}{TAB}{isomtime}{TAB}{path}{NL}';
/** LISTING_FIELDS quoted for a command line. */
export const LISTING_FORMAT = `'${LISTING_FIELDS}'`;

/** Choose `n` sample files spread over the candidates, in path order (stable for evidence). */
export function chooseSample(cands: SampleCandidate[], n: number): SampleCandidate[] {
  const sorted = [...cands].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  if (sorted.length <= n) return sorted;
  const out: SampleCandidate[] = [];
  for (let i = 0; i < n; i++) out.push(sorted[Math.floor((i * sorted.length) / n)]);
  return out;
}

export interface RestoredFile {
  path: string;
  /** Archived item's mtime (epoch s, whole seconds), null when unknown. */
  archivedMtime?: number | null;
  /** Live file's mtime (epoch s), null when it no longer exists. */
  liveMtime: number | null;
  liveSha256: string | null;
  restoredSha256: string | null;
}

/** `FILE<TAB>index<TAB>liveMtime|-<TAB>liveSha|-<TAB>restoredSha|-` lines of the restore script. */
export function parseRestoreLines(text: string, paths: string[], source: string): RestoredFile[] {
  const out: RestoredFile[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('FILE\t')) continue;
    const f = line.split('\t');
    const idx = Number(f[1]);
    if (f.length !== 5 || !Number.isInteger(idx) || idx < 0 || idx >= paths.length) {
      throw new ParseError(source, `malformed line "${line.slice(0, 120)}"`, text.slice(0, 300));
    }
    const hash = (v: string) => {
      if (v === '-') return null;
      if (!/^[0-9a-f]{64}$/.test(v)) throw new ParseError(source, `"${v}" is not a sha256`, line);
      return v;
    };
    out.push({ path: paths[idx], liveMtime: f[2] === '-' ? null : Number(f[2]), liveSha256: hash(f[3]), restoredSha256: hash(f[4]) });
  }
  if (out.length !== paths.length) {
    throw new ParseError(source, `expected ${paths.length} FILE lines, got ${out.length}`, text.slice(0, 300));
  }
  return out;
}
