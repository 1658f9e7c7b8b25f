// ajv set up once with ajv-formats plus the unit formats backed by src/core/units.ts, and its
// errors turned into sentences an operator can act on. On the ground floor because both the
// inventory loader and the manifest probe (src/probes/manifest.ts) validate with it.
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { Ajv, type ErrorObject, type Options, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { printable } from './text.js';
import { parseDuration, parseMemoryLimit, parsePercent, parseSize } from './units.js';
import { FORMATS } from './formats.js';

// ajv-formats is CommonJS; under NodeNext its default export arrives wrapped.
const addFormats = ((addFormatsModule as any).default ?? addFormatsModule) as (ajv: Ajv) => Ajv;

function accepts(fn: (v: string) => unknown): (v: string) => boolean {
  return (v) => {
    try {
      fn(v);
      return true;
    } catch {
      return false;
    }
  };
}

export function makeAjv(extra: Partial<Options> = {}): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: false, verbose: true, ...extra });
  addFormats(ajv);
  ajv.addFormat(FORMATS.duration, { type: 'string', validate: accepts(parseDuration) });
  ajv.addFormat(FORMATS.size, { type: 'string', validate: accepts(parseSize) });
  ajv.addFormat(FORMATS.percent, { type: 'string', validate: accepts(parsePercent) });
  ajv.addFormat(FORMATS.memory, { type: 'string', validate: accepts(parseMemoryLimit) });
  return ajv;
}

/** What a precompiled validator is found by: the schema's exact text. */
export function schemaDigest(schema: object): string {
  return createHash('sha256').update(JSON.stringify(schema)).digest('hex');
}

/** digest → factory given the formats; written next to this file by scripts/gen-validators.js. */
export const PRECOMPILED_FILE = './validators.generated.cjs';
type Factory = (formats: Record<string, unknown>) => ValidateFunction;
let precompiled: Record<string, Factory> | null | undefined;

function precompiledFor(schema: object): Factory | undefined {
  if (precompiled === undefined) {
    try {
      precompiled = createRequire(import.meta.url)(PRECOMPILED_FILE) as Record<string, Factory>;
    } catch {
      precompiled = null; // running from src (tests) or a build without the step: compile
    }
  }
  return precompiled?.[schemaDigest(schema)];
}

/**
 * A validator for `schema`. The schemas leafcert ships (the inventory composed from the registered
 * suites, the manifest) are compiled at build time (ajv standalone code): compiling them here took
 * ~0.4 s of CPU before every run could connect anywhere. Any other schema, or one whose text
 * differs from the build's, is compiled now.
 */
export function compile(schema: object): ValidateFunction {
  const factory = precompiledFor(schema);
  if (factory) return factory(makeAjv().formats as Record<string, unknown>);
  return makeAjv().compile(schema);
}

/** Whether `schema` has a build-time validator (tests, bench). */
export function isPrecompiled(schema: object): boolean {
  return precompiledFor(schema) !== undefined;
}

const FORMAT_HINT: Record<string, string> = {
  [FORMATS.duration]: 'a duration such as 30s, 500ms, 26h, 7d',
  [FORMATS.size]: 'a size such as 512M, 8G, 2GB',
  [FORMATS.percent]: 'a percentage such as 400%',
  [FORMATS.memory]: 'a size such as 512M, 8G, or a percentage of the node\'s memory such as 75%',
  date: 'a date YYYY-MM-DD',
};

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `"${printable(v.length > 60 ? v.slice(0, 60) + '…' : v)}"`;
  return `${typeof v} ${String(v)}`;
}

/** One sentence for an ajv error (the path is added by the caller). */
export function explain(e: ErrorObject): string {
  const p = e.params as Record<string, any>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const allowed = Object.keys((e.parentSchema as any)?.properties ?? {});
      const hint = allowed.length ? ` (expected one of: ${allowed.join(', ')})` : ' (no keys are allowed here)';
      return `unknown key "${printable(String(p.additionalProperty))}"${hint}`;
    }
    case 'required':
      return `missing required key "${p.missingProperty}"`;
    case 'type':
      return `expected ${String(p.type).replace(',', ' or ')}, got ${describe(e.data)}`;
    case 'enum':
      return `expected one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}, got ${describe(e.data)}`;
    case 'const':
      return `expected ${JSON.stringify(p.allowedValue)}, got ${describe(e.data)}`;
    case 'format':
      return `expected ${FORMAT_HINT[p.format] ?? `format "${p.format}"`}, got ${describe(e.data)}`;
    case 'pattern':
      return `expected a string matching ${p.pattern}, got ${describe(e.data)}`;
    default:
      return `${e.message ?? 'is invalid'}${e.data !== undefined && typeof e.data !== 'object' ? `, got ${describe(e.data)}` : ''}`;
  }
}

/**
 * Drop ajv's bookkeeping errors: `if` (its `then` says what is wrong) and the branch errors of an
 * anyOf/oneOf at the same path, folded into one "expected X or Y" sentence.
 */
export function condense(errors: ErrorObject[]): { instancePath: string; error: ErrorObject; message: string }[] {
  const out: { instancePath: string; error: ErrorObject; message: string }[] = [];
  const alternatives = errors.filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf');
  const consumed = new Set<ErrorObject>();
  // Grouped by place, so a list of 100 000 bad items is not compared with itself.
  const atPath = new Map<string, ErrorObject[]>();
  if (alternatives.length)
    for (const e of errors) {
      const list = atPath.get(e.instancePath);
      if (list) list.push(e);
      else atPath.set(e.instancePath, [e]);
    }
  for (const alt of alternatives) {
    const prefix = alt.schemaPath + '/';
    const branches = (atPath.get(alt.instancePath) ?? []).filter((e) => e !== alt && e.schemaPath.startsWith(prefix));
    branches.forEach((b) => consumed.add(b));
    const msgs = [...new Set(branches.map(explain).map((m) => m.replace(/, got .*$/, '').replace(/^expected /, '')))];
    const got = alt.data !== undefined ? `, got ${describe(alt.data)}` : '';
    const desc = (alt.parentSchema as any)?.description;
    const message = desc ? `${desc}${got}` : msgs.length ? `expected ${msgs.join(' or ')}${got}` : `matches none of the allowed forms${got}`;
    out.push({ instancePath: alt.instancePath, error: alt, message });
  }
  for (const e of errors) {
    if (e.keyword === 'if' || e.keyword === 'anyOf' || e.keyword === 'oneOf' || consumed.has(e)) continue;
    out.push({ instancePath: e.instancePath, error: e, message: explain(e) });
  }
  const seen = new Set<string>();
  return out.filter((o) => {
    const k = o.instancePath + '\0' + o.message;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
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
