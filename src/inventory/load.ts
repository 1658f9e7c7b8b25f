// Loads an inventory: YAML (positions kept) → schema composed from the registered suites →
// cross-field checks → NodeSpecs with defaults applied and relative paths resolved.
import { createHash } from 'node:crypto';
import { dirname, isAbsolute, resolve } from 'node:path';
import { LineCounter, isMap, isNode, isPair, isScalar, isSeq, type Document, type Pair, type YAMLMap } from 'yaml';
import { suites as registeredSuites } from '../suites.js';
import { printable } from '../core/text.js';
import type { Inventory, NodeSpec, SshSettings, Suite, Waiver } from '../core/types.js';
import { parseDuration } from '../core/units.js';
import { InventoryError, formatPath, type InventoryProblem } from './errors.js';
import { maxInventoryBytes, readBounded } from './limits.js';
import { composeSchema } from './schema.js';
import { checkSshNodes, createKnownHosts } from './ssh-checks.js';
import { compile, condense } from './validate.js';
import { parseYaml } from './yaml.js';
import { utcDate } from '../core/dates.js';
import { matchesGlob } from '../core/globs.js';

import { DEFAULT_CONCURRENCY, DEFAULT_TIMEOUT_MS } from '../core/defaults.js';
export { DEFAULT_CONCURRENCY, DEFAULT_TIMEOUT_MS };
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

export interface LoadedInventory extends Inventory {
  /** sha256 of the file's bytes, for the evidence report. */
  sha256: string;
  /** Non-fatal findings (expired waivers), one line each. */
  warnings: string[];
}

// Each mapping's pairs by key, built on first use: locating every error of a 100 000-entry map
// must not search it 100 000 times.
const pairIndex = new WeakMap<YAMLMap, Map<string, Pair>>();

function pairOf(map: YAMLMap, key: string): Pair | undefined {
  let index = pairIndex.get(map);
  if (!index) {
    index = new Map();
    for (const p of map.items) if (isPair(p) && isScalar(p.key) && !index.has(String(p.key.value))) index.set(String(p.key.value), p);
    pairIndex.set(map, index);
  }
  return index.get(key);
}

/** Position of the value (or, for a missing/unknown key, of its parent or the key) at `segments`. */
function locate(doc: Document, lc: LineCounter, segments: (string | number)[], key?: string): { line: number; col: number } | undefined {
  let node: unknown = doc.contents;
  let last: unknown = node;
  for (const seg of segments) {
    if (isMap(node)) node = pairOf(node, String(seg))?.value;
    else if (isSeq(node)) node = node.items[Number(seg)];
    else break;
    if (node === undefined || node === null) break;
    last = node;
  }
  let target: unknown = last;
  if (key !== undefined && isMap(last)) {
    const pair = pairOf(last, key);
    if (pair && isNode(pair.key)) target = pair.key;
  }
  const range = isNode(target) ? target.range : undefined;
  if (!range) return undefined;
  return lc.linePos(range[0]);
}

function pointerToSegments(pointer: string): (string | number)[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function resolvePath(baseDir: string, p: string | undefined): string | undefined {
  if (p === undefined) return undefined;
  if (p.startsWith('~/') && process.env.HOME) return resolve(process.env.HOME, p.slice(2));
  return isAbsolute(p) ? p : resolve(baseDir, p);
}

/** Today's date (UTC) as YYYY-MM-DD: a waiver is valid through its `expires` day. */
export { utcDate };

export function waiverExpired(w: Waiver, now: Date): boolean {
  return w.expires < utcDate(now);
}

/** Problems in file order, so the console reads top to bottom like the file. */
function byPosition(problems: InventoryProblem[]): InventoryProblem[] {
  return [...problems].sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0));
}

/** Reads (within the size cap, LEAFCERT_MAX_INVENTORY_BYTES) and loads an inventory file. */
export function loadInventory(file: string, opts: { suites?: Suite<any, any>[]; now?: Date } = {}): LoadedInventory {
  const path = resolve(file);
  const bytes = readBounded(path, maxInventoryBytes(path));
  return parseInventory(bytes.toString('utf8'), path, { ...opts, sha256: createHash('sha256').update(bytes).digest('hex') });
}

// Long on purpose: the stages of loading (YAML with caps, schema, defaults, per-node ssh checks,
// waivers) each add problems with file:line to one list, and every problem must be reported
// together before anything runs.
export function parseInventory(
  text: string,
  path: string,
  opts: { suites?: Suite<any, any>[]; now?: Date; sha256?: string } = {},
): LoadedInventory {
  const suites = opts.suites ?? registeredSuites;
  const { doc, lc, data: parsed } = parseYaml(text, path);
  const data = parsed as any;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new InventoryError(path, [{ path: '', message: 'expected a YAML mapping with `nodes` and `expectations`' }]);
  }

  const validate = compile(composeSchema(suites));
  const problems: InventoryProblem[] = [];
  const valid = (v: unknown): boolean => validate(v);
  if (!valid(data)) {
    for (const { instancePath, error, message } of condense(validate.errors ?? [])) {
      const segments = pointerToSegments(instancePath);
      const p = error.params as Record<string, unknown>;
      const key = (p.additionalProperty ?? undefined) as string | undefined;
      const pathSegs = key !== undefined ? [...segments, key] : segments;
      const pos = locate(doc, lc, segments, key);
      const suiteKey = key !== undefined && segments.length === 2 && segments[0] === 'expectations';
      const text = suiteKey
        ? `unknown suite key "${key}" (known: ${suites.map((s) => s.key).join(', ') || 'no suites registered'})`
        : message;
      problems.push({ path: formatPath(pathSegs), message: text, line: pos?.line, col: pos?.col });
    }
    throw new InventoryError(path, byPosition(problems));
  }

  // Cross-field rules a JSON Schema cannot state.
  const seen = new Map<string, number>();
  (data.nodes as any[]).forEach((n, i) => {
    const at = (field: string) => locate(doc, lc, ['nodes', i, field]);
    if (seen.has(n.name)) {
      problems.push({ path: `nodes[${i}].name`, message: `duplicate node name "${printable(n.name)}" (also nodes[${seen.get(n.name)}])`, ...at('name') });
    } else seen.set(n.name, i);
    if (!Object.hasOwn(data.expectations, n.expect)) {
      const known = Object.keys(data.expectations);
      const list = known.length > 20 ? `${known.slice(0, 20).join(', ')} and ${known.length - 20} more` : known.join(', ');
      problems.push({
        path: `nodes[${i}].expect`,
        message: `names no expectation "${printable(n.expect)}" (defined: ${known.length ? printable(list) : 'none'})`,
        ...at('expect'),
      });
    }
  });

  const baseDir = dirname(path);
  const d = data.defaults ?? {};
  const ms = (v: string | number | undefined, dflt: number) => (v === undefined ? dflt : parseDuration(v));
  const nodes: NodeSpec[] = (data.nodes as any[]).map((n) => {
    const ssh = { ...(d.ssh ?? {}), ...(n.ssh ?? {}) };
    const settings: SshSettings = {
      user: ssh.user ?? 'root',
      port: n.port ?? ssh.port ?? 22,
      identityFile: resolvePath(baseDir, ssh.identityFile),
      knownHosts: resolvePath(baseDir, ssh.knownHosts),
      agent: ssh.agent ?? false,
      connectTimeoutMs: ms(ssh.connectTimeout, DEFAULT_CONNECT_TIMEOUT_MS),
      acceptNewHostKey: ssh.acceptNewHostKey ?? false,
    };
    const spec: NodeSpec = { name: n.name, host: n.host, transport: n.transport ?? 'ssh', ssh: settings, expect: n.expect };
    if (n.labels) spec.labels = n.labels;
    return spec;
  });

  // A bad host, key file or known_hosts is an inventory mistake (exit 2, nothing runs), not a node fault.
  const ssh = checkSshNodes(data.nodes as any[], nodes, (segs) => locate(doc, lc, segs));
  problems.push(...ssh.problems);
  if (problems.length) throw new InventoryError(path, byPosition(problems));

  const now = opts.now ?? new Date();
  const waivers: Waiver[] = data.waivers ?? [];
  const at = (segs: (string | number)[]) => {
    const pos = locate(doc, lc, segs);
    return pos ? `${path}:${pos.line}:${pos.col}` : path;
  };
  // A waiver that matches nothing waives nothing (safe), but it is almost certainly a typo.
  const allIds = suites.flatMap((s) => s.checkIds);
  const nodeNames = new Set(nodes.map((n) => n.name));
  const stray = waivers.flatMap((w, i) => {
    const out: string[] = [];
    if (w.node !== undefined && !nodeNames.has(w.node)) out.push(`${at(['waivers', i, 'node'])}: waivers[${i}].node: no node is named "${w.node}"`);
    if (!allIds.some((id) => matchesGlob(w.check, id))) out.push(`${at(['waivers', i, 'check'])}: waivers[${i}].check: "${w.check}" matches no check id`);
    return out.map(printable);
  });
  const warnings = waivers
    .map((w, i) => ({ w, i }))
    .filter(({ w }) => waiverExpired(w, now))
    .map(({ w, i }) => {
      const pos = locate(doc, lc, ['waivers', i, 'expires']);
      const where = pos ? `${path}:${pos.line}:${pos.col}` : path;
      return printable(`${where}: waivers[${i}]: waiver for ${w.check}${w.node ? ` on ${w.node}` : ''} expired on ${w.expires}; it is not applied`);
    })
    .concat(stray);

  // Only now, with nothing left to refuse: acceptNewHostKey starts a missing known_hosts.
  try {
    createKnownHosts(ssh.create);
  } catch (e) {
    throw new InventoryError(path, [{ path: '', message: `cannot create known_hosts: ${(e as Error).message}` }]);
  }

  return {
    file: path,
    baseDir,
    nodes,
    expectations: data.expectations,
    ...(data.optionPaths ? { optionPaths: data.optionPaths } : {}),
    waivers,
    defaults: { timeoutMs: ms(d.timeout, DEFAULT_TIMEOUT_MS), concurrency: d.concurrency ?? DEFAULT_CONCURRENCY },
    sha256: opts.sha256 ?? createHash('sha256').update(text).digest('hex'),
    warnings,
  };
}
