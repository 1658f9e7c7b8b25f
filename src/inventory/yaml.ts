// YAML text → document (positions kept for messages) → plain data, in time and memory linear in
// the file, refusing what would not be: more than MAX_VALUES values, nesting deeper than
// MAX_DEPTH, alias bombs, duplicate keys. The yaml library's own duplicate-key check compares
// each key with every earlier one (a 5 MB `labels` map took minutes), and its toJS() rescans the
// document for every alias; both are done here instead, in one pass.
import {
  Composer, CST, Lexer, LineCounter, Parser, isAlias, isCollection, isMap, isPair, isScalar, isSeq,
  type Alias, type Document, type Node as YamlNode,
} from 'yaml';
import { InventoryError, formatPath, type InventoryProblem } from './errors.js';
import { MAX_ALIAS_USES, MAX_DEPTH, MAX_VALUES } from './limits.js';

export interface ParsedYaml {
  doc: Document;
  lc: LineCounter;
  data: unknown;
}

/** A structure limit crossed while the text is still being tokenised. */
class TokenLimit extends Error {
  constructor(message: string, readonly offset: number) {
    super(message);
  }
}

/**
 * Counts values and nesting from the token stream, before the parser builds anything for them.
 * Block nesting is estimated from the column where each line's content (or `- `/`? ` indicator)
 * starts: deeper means more indented, or further right on a `- - -` line. The estimate can be
 * low by half (a list at its parent key's column), never high, so the exact check after parsing
 * still decides; this one only keeps the parser's recursion and memory bounded.
 */
class TokenGuard {
  private values = 0;
  private flow = 0;
  private columns: number[] = [];
  private lineStart = 0;
  private lineHasContent = false;
  private scalarNext = false;
  private afterBlockHeader = false;
  private emptyItem = false;

  see(token: string, offset: number): void {
    if (this.scalarNext) {
      // The text of a scalar announced by the marker: only where it leaves the line matters.
      this.scalarNext = false;
      this.afterLines(token, offset);
      return;
    }
    const type = CST.tokenType(token);
    switch (type) {
      case 'newline':
        this.lineStart = offset + token.length;
        this.lineHasContent = false;
        return;
      case 'doc-start':
      case 'doc-end':
        this.columns = [];
        this.flow = 0;
        return;
      case 'flow-seq-start':
      case 'flow-map-start':
        this.value(offset);
        this.content(offset);
        this.flow++;
        this.checkDepth(offset);
        return;
      case 'flow-seq-end':
      case 'flow-map-end':
        if (this.flow > 0) this.flow--;
        return;
      case 'seq-item-ind':
        // An item counts through its content; one left empty (`-` then the next `-`) counts here.
        if (this.emptyItem) this.value(offset);
        this.emptyItem = true;
        if (this.flow === 0) this.open(offset);
        return;
      case 'explicit-key-ind':
        if (this.flow === 0) this.open(offset);
        return;
      case 'map-value-ind':
        if (this.flow === 0 && !this.lineHasContent) this.open(offset);
        return;
      case 'scalar':
        this.scalarNext = true;
        if (this.afterBlockHeader) {
          this.afterBlockHeader = false;
          return;
        }
        this.value(offset);
        this.content(offset);
        return;
      case 'block-scalar-header':
        this.afterBlockHeader = true;
        this.value(offset);
        this.content(offset);
        return;
      case 'single-quoted-scalar':
      case 'double-quoted-scalar':
      case 'alias':
        this.value(offset);
        this.content(offset);
        this.afterLines(token, offset);
        return;
      case 'anchor':
      case 'tag':
        this.content(offset);
        return;
      default:
        // space, comment, comma, directives, markers: nothing opens here.
        if (token.includes('\n')) this.afterLines(token, offset);
    }
  }

  private value(offset: number): void {
    this.emptyItem = false;
    if (++this.values > MAX_VALUES) throw new TokenLimit(`more than ${MAX_VALUES} YAML values (lists, mappings and scalars): refusing to load it`, offset);
  }

  private content(offset: number): void {
    if (this.flow === 0 && !this.lineHasContent) this.open(offset);
    this.lineHasContent = true;
  }

  /** A token spanning lines: the next token's column counts from its last line. */
  private afterLines(token: string, offset: number): void {
    const nl = token.lastIndexOf('\n');
    if (nl < 0) return;
    this.lineStart = offset + nl + 1;
    this.lineHasContent = nl < token.length - 1;
  }

  private open(offset: number): void {
    const col = offset - this.lineStart;
    const c = this.columns;
    while (c.length && c[c.length - 1] > col) c.pop();
    if (!c.length || c[c.length - 1] < col) c.push(col);
    this.checkDepth(offset);
  }

  private checkDepth(offset: number): void {
    if (this.columns.length + this.flow > MAX_DEPTH) throw new TokenLimit(`lists and mappings nested more than ${MAX_DEPTH} levels deep`, offset);
  }
}

const MERGE_TAG = 'tag:yaml.org,2002:merge';

/** Parses and converts; every refusal is an InventoryError with the file and, where known, line. */
export function parseYaml(text: string, file: string): ParsedYaml {
  const lc = new LineCounter();
  const parser = new Parser(lc.addNewLine);
  const guard = new TokenGuard();
  lc.addNewLine(0);
  function* tokens() {
    for (const lexeme of new Lexer().lex(text)) {
      guard.see(lexeme, parser.offset);
      yield* parser.next(lexeme);
    }
    yield* parser.end();
  }
  const at = (offset: number) => {
    const { line, col } = lc.linePos(offset);
    return { line, col };
  };
  const refuse = (message: string, offset?: number): never => {
    throw new InventoryError(file, [{ path: '', message, ...(offset !== undefined && offset >= 0 ? at(offset) : {}) }]);
  };

  let doc: Document | undefined;
  let secondDoc: number | undefined;
  try {
    for (const d of new Composer({ uniqueKeys: false }).compose(tokens(), true, text.length)) {
      if (!doc) doc = d;
      else {
        secondDoc = d.range[0];
        break;
      }
    }
  } catch (e) {
    if (e instanceof TokenLimit) refuse(e.message, e.offset);
    // Last line of defence: recursion the token guard did not foresee.
    if (e instanceof RangeError) refuse('YAML too deeply nested to load');
    throw e;
  }
  if (!doc) return refuse('no YAML document');
  if (doc.errors.length || secondDoc !== undefined) {
    const problems: InventoryProblem[] = doc.errors.map((e) => ({
      path: '',
      message: `YAML syntax: ${e.message.split('\n')[0]}`,
      ...(e.pos[0] >= 0 ? at(e.pos[0]) : {}),
    }));
    if (secondDoc !== undefined) problems.push({ path: '', message: 'YAML syntax: more than one document (a second `---`); an inventory is one document', ...at(secondDoc) });
    throw new InventoryError(file, problems);
  }
  const data = new Converter(doc, file, at).run();
  return { doc, lc, data };
}

type At = (offset: number) => { line: number; col: number };

/** Where a value sits, built only as far as the walk goes and flattened only for a message. */
type Path = { up: Path; seg: string | number } | undefined;

function segments(path: Path): (string | number)[] {
  const out: (string | number)[] = [];
  for (let p = path; p; p = p.up) out.push(p.seg);
  return out.reverse();
}

// Keys a plain object inherits: assigned with defineProperty so they stay own data (`__proto__`!).
const INHERITED = new Set(Object.getOwnPropertyNames(Object.prototype));

/**
 * Document → plain data, as yaml's toJS() would make it (aliases share one value, `<<` merge keys
 * where the document's schema has them), with the checks above. Depth is bounded by MAX_DEPTH, so
 * plain recursion is safe here.
 */
class Converter {
  private anchors = new Map<string, YamlNode>();
  /** Converted values of anchored nodes, shared by their aliases. */
  private values = new Map<YamlNode, unknown>();
  /** Values a node stands for once its aliases are expanded. */
  private sizes = new Map<YamlNode, number>();
  private inProgress = new Set<YamlNode>();
  private targets = new Map<Alias, YamlNode>();
  private uses = new Map<YamlNode, number>();
  private weights = new Map<YamlNode, number>();
  private expanded = 0;
  private readonly merge: boolean;

  constructor(
    private doc: Document,
    private file: string,
    private at: At,
  ) {
    this.merge = doc.schema.tags.some((t) => t.tag === MERGE_TAG && Boolean(t.default));
  }

  run(): unknown {
    const root = this.doc.contents as YamlNode | null;
    if (root === null || root === undefined) return null;
    return this.convert(root, undefined, 0);
  }

  private refuse(node: YamlNode | null | undefined, path: Path, message: string): never {
    const start = node?.range?.[0];
    throw new InventoryError(this.file, [{ path: formatPath(segments(path)), message, ...(start !== undefined ? this.at(start) : {}) }]);
  }

  private convert(node: YamlNode, path: Path, depth: number): unknown {
    if (isAlias(node)) return this.alias(node, path);
    if (++this.expanded > MAX_VALUES) this.refuse(node, path, `more than ${MAX_VALUES} YAML values: refusing to load it`);
    const anchored = node.anchor ? node : undefined;
    if (anchored) {
      this.anchors.set(node.anchor!, node);
      this.inProgress.add(node);
    }
    let value: unknown;
    let size = 1;
    if (isScalar(node)) {
      value = plain(node.value);
    } else if (isCollection(node)) {
      if (depth >= MAX_DEPTH) this.refuse(node, path, `lists and mappings nested more than ${MAX_DEPTH} levels deep`);
      const before = this.expanded;
      value = isSeq(node) ? this.seq(node.items as YamlNode[], path, depth + 1) : this.map(node.items as unknown[], path, depth + 1);
      size += this.expanded - before;
    } else {
      value = null;
    }
    if (anchored) {
      this.inProgress.delete(node);
      this.values.set(node, value);
      this.sizes.set(node, size);
    }
    return value;
  }

  private seq(items: YamlNode[], path: Path, depth: number): unknown[] {
    const out = new Array<unknown>(items.length);
    for (let i = 0; i < items.length; i++) {
      const it = items[i];
      const at: Path = { up: path, seg: i };
      out[i] = isPair(it) ? this.map([it], at, depth) : this.convert(it, at, depth);
    }
    return out;
  }

  private map(items: unknown[], path: Path, depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    // Keys that came from a `<<` merge: a key written in the mapping itself overrides them.
    let merged: Set<string> | undefined;
    for (const pair of items) {
      if (!isPair(pair)) continue;
      const keyNode = pair.key as YamlNode | null;
      const valueNode = pair.value as YamlNode | null;
      if (this.merge && isMergeKey(keyNode)) {
        merged ??= new Set();
        this.mergeInto(out, merged, valueNode, path, depth);
        continue;
      }
      const jsKey = keyNode === null ? null : this.convert(keyNode, path, depth);
      if (jsKey !== null && typeof jsKey === 'object') this.refuse(keyNode, path, 'a mapping key must be a plain value, not a list or mapping');
      const key = jsKey === null ? '' : String(jsKey);
      const at: Path = { up: path, seg: key };
      if (Object.hasOwn(out, key)) {
        if (merged?.has(key)) merged.delete(key);
        else this.duplicate(items, pair, key, at);
      }
      const v = valueNode === null ? null : this.convert(valueNode, at, depth);
      if (INHERITED.has(key)) Object.defineProperty(out, key, { value: v, writable: true, enumerable: true, configurable: true });
      else out[key] = v;
    }
    return out;
  }

  /** Refuses the second `key` of a mapping, naming the line of the first (found only now: rare). */
  private duplicate(items: unknown[], second: unknown, key: string, at: Path): never {
    const first = items.find((p) => p !== second && isPair(p) && isScalar(p.key) && p.key.value !== null && String(p.key.value) === key);
    const line = isPair(first) ? (first.key as YamlNode).range?.[0] : undefined;
    const also = line !== undefined ? ` (first at line ${this.at(line).line})` : '';
    this.refuse(isPair(second) ? (second.key as YamlNode) : undefined, at, `duplicate key ${JSON.stringify(key)}${also}`);
  }

  private mergeInto(out: Record<string, unknown>, merged: Set<string>, valueNode: YamlNode | null, path: Path, depth: number): void {
    const sources = valueNode !== null && isSeq(valueNode) ? (valueNode.items as YamlNode[]) : [valueNode];
    for (const s of sources) {
      const src = s === null ? null : this.convert(s, path, depth);
      if (src === null || typeof src !== 'object' || Array.isArray(src)) this.refuse(s, path, 'a `<<` merge takes a mapping or a list of mappings');
      for (const [k, v] of Object.entries(src as Record<string, unknown>)) {
        if (Object.hasOwn(out, k)) continue;
        Object.defineProperty(out, k, { value: v, writable: true, enumerable: true, configurable: true });
        merged.add(k);
      }
    }
  }

  private alias(node: Alias, path: Path): unknown {
    const target = this.anchors.get(node.source);
    if (!target) this.refuse(node, path, `alias *${node.source} names no anchor defined before it`);
    if (this.inProgress.has(target)) this.refuse(node, path, `alias *${node.source} is inside the node &${node.source} it names`);
    this.targets.set(node, target);
    // Counted as yaml counts for maxAliasCount: the anchored node itself is the first copy.
    const copies = (this.uses.get(target) ?? 1) + 1;
    this.uses.set(target, copies);
    if (!this.weights.has(target)) this.weights.set(target, this.weight(target));
    const weight = this.weights.get(target)!;
    if (copies * weight > MAX_ALIAS_USES) {
      const inside = weight > 1 ? `, each holding aliases worth ${weight}` : '';
      this.refuse(node, path, `alias *${node.source}: ${copies} copies of &${node.source}${inside}, over the limit of ${MAX_ALIAS_USES} (a YAML alias bomb?)`);
    }
    this.expanded += this.sizes.get(target)!;
    if (this.expanded > MAX_VALUES) this.refuse(node, path, `aliases expand the document to more than ${MAX_VALUES} YAML values: refusing to load it`);
    return this.values.get(target);
  }

  /** yaml's alias count of a node: 1 per plain value, an alias weighs its anchor's uses × weight, a collection its heaviest item. */
  private weight(node: YamlNode | null): number {
    if (node === null) return 1;
    if (isAlias(node)) {
      const t = this.targets.get(node);
      return t ? (this.uses.get(t) ?? 1) * (this.weights.get(t) ?? 1) : 1;
    }
    if (isCollection(node)) {
      let w = 0;
      for (const it of node.items as unknown[]) {
        const iw = isPair(it) ? Math.max(this.weight(it.key as YamlNode | null), this.weight(it.value as YamlNode | null)) : this.weight(it as YamlNode);
        if (iw > w) w = iw;
      }
      return w;
    }
    return 1;
  }
}

function isMergeKey(key: YamlNode | null): boolean {
  if (!key || !isScalar(key) || (key.type && key.type !== 'PLAIN')) return false;
  const v = key.value;
  return v === '<<' || (typeof v === 'symbol' && v.description === '<<');
}

/** A scalar's value as yaml's toJS() gives it: dates as ISO strings, big integers as numbers. */
function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function') return (v as { toJSON(): unknown }).toJSON();
  return v;
}
