// Gathering the manifest nix/lib/manifest.nix writes, on the harness side (it describes the node's
// declared configuration; nothing runs on the node): reading the file, parsing it, validating it
// against schemas/manifest.schema.json. A bad manifest is a ManifestError naming the file and field
// (`check-config`, `plan`: exit 2), or a ParseError for the config suite (→ `error`, never a pass).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile, condense, formatPath } from '../core/validate.js';
import { MANIFEST_VERSION, ManifestError, optionPath, type Manifest } from '../core/manifest.js';
import { ParseError } from '../core/types.js';

const schemaFile = fileURLToPath(new URL('../../../schemas/manifest.schema.json', import.meta.url));
const schemaFileSrc = fileURLToPath(new URL('../../schemas/manifest.schema.json', import.meta.url));
let validator: ReturnType<typeof compile> | undefined;

export function loadSchema(): object {
  // dist/src/probes → ../../../schemas; src/probes (vitest) → ../../schemas.
  for (const f of [schemaFile, schemaFileSrc]) {
    try {
      return JSON.parse(readFileSync(f, 'utf8'));
    } catch {
      /* try the next layout */
    }
  }
  throw new Error(`schemas/manifest.schema.json not found next to ${schemaFile}`);
}

function pointerSegments(pointer: string): (string | number)[] {
  if (!pointer) return [];
  return pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~')).map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** Validates parsed JSON as a manifest; `file` is only for messages. */
export function parseManifest(data: unknown, file: string): Manifest {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new ManifestError(file, [{ field: '', message: 'expected a JSON object produced by nix/lib/manifest.nix' }]);
  }
  const version = (data as any).version;
  if (version === undefined) {
    throw new ManifestError(file, [{ field: 'version', message: `missing; this is not a leafcert manifest (regenerate it with nix/lib/manifest.nix, see docs/nix.md)` }]);
  }
  if (version !== MANIFEST_VERSION) {
    const why = typeof version === 'number' && version < MANIFEST_VERSION ? 'written by an older leafcert' : 'not a version this leafcert reads';
    throw new ManifestError(file, [{ field: 'version', message: `is ${JSON.stringify(version)}, ${why}; this leafcert reads version ${MANIFEST_VERSION}: regenerate the manifest with this checkout's nix/lib/manifest.nix` }]);
  }
  validator ??= compile(loadSchema());
  if (!validator(data)) {
    const problems = condense(validator.errors ?? []).map(({ instancePath, error, message }) => {
      const segs = pointerSegments(instancePath);
      // Name the option path too when the enclosing object carries one: that is what the user edits.
      let node: any = data;
      let base: string | undefined;
      const rest: string[] = [];
      for (const s of segs) {
        node = node?.[s as any];
        if (node && typeof node === 'object' && typeof node.path === 'string') {
          base = node.path;
          rest.length = 0;
        } else if (typeof s === 'string') rest.push(s);
      }
      const extra = error.keyword === 'additionalProperties' ? [(error.params as any).additionalProperty as string] : [];
      const opt = base ? ` (option ${optionPath(base, ...rest, ...extra)})` : '';
      const what = error.keyword === 'required' ? 'missing field' : 'unknown or malformed option shape';
      return { field: formatPath(segs), message: `${what}: ${message}${opt}` };
    });
    throw new ManifestError(file, problems);
  }
  return data as Manifest;
}

/** Reads and validates a manifest file; every failure is a ManifestError naming the file and field. */
export function loadManifest(file: string): Manifest {
  const path = resolve(file);
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    throw new ManifestError(path, [{ field: '', message: `cannot read manifest: ${why}` }]);
  }
  const text = raw.toString('utf8');
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new ManifestError(path, [{ field: '', message: `not JSON (${describeJsonFailure(text, e, raw)}); produce it with \`nix eval --json\` (docs/nix.md)` }]);
  }
  return parseManifest(data, path);
}


// V8 quotes the start of the input in its JSON.parse messages (`Unexpected token 'p', "password=h"...`),
// and a file that is not the manifest may be a secrets file: say where parsing stopped and which
// file it was (size, sha256), never any of its content.
const JSON_POSITION = / in JSON at position (\d+)/;

/** A prefix that is valid JSON, or valid JSON cut short: the error, if any, is at its very end. */
function viablePrefix(text: string, k: number): boolean {
  try {
    JSON.parse(text.slice(0, k));
    return true;
  } catch (e) {
    const msg = (e as Error).message;
    if (/^Unexpected end of JSON input/.test(msg)) return true;
    const m = JSON_POSITION.exec(msg);
    return m ? Number(m[1]) >= k : false;
  }
}

/** Where JSON.parse failed on `text`, as `what at line L, column C (offset N); B bytes, sha256 H`. */
export function describeJsonFailure(text: string, err: unknown, raw: Buffer = Buffer.from(text, 'utf8')): string {
  const msg = err instanceof Error ? err.message : String(err);
  const what = /^Unexpected token/.test(msg)
    ? 'unexpected character'
    : /^Unexpected end of JSON input/.test(msg)
      ? 'unexpected end of input'
      : msg.replace(/ in JSON at position \d+[\s\S]*$/, '').replace(/, ".*$/s, '').slice(0, 80);
  // Largest prefix that is still viable JSON: the next character is where parsing broke.
  let lo = 0;
  let hi = text.length;
  if (!viablePrefix(text, hi)) {
    while (lo < hi - 1) {
      const mid = (lo + hi) >>> 1;
      if (viablePrefix(text, mid)) lo = mid;
      else hi = mid;
    }
  } else lo = hi;
  const before = text.slice(0, lo);
  const line = before.split('\n').length;
  const column = lo - before.lastIndexOf('\n');
  const sha = createHash('sha256').update(raw).digest('hex');
  return `${what} at line ${line}, column ${column} (offset ${lo}); file of ${raw.length} bytes, sha256 ${sha}`;
}

/** The config suite's facts: the manifest and the file it came from (absolute). */
export interface ManifestFacts {
  file: string;
  manifest: Manifest;
}

/**
 * Reads and validates the manifest an expectation names (relative to the inventory's directory);
 * a bad one is a ParseError (→ `error` results), never a pass.
 */
export function readManifestFacts(baseDir: string, expect: { manifest: string }): ManifestFacts {
  const file = isAbsolute(expect.manifest) ? expect.manifest : resolve(baseDir, expect.manifest);
  let raw: Buffer;
  try {
    raw = readFileSync(file);
  } catch (e) {
    throw new ParseError(file, `cannot read manifest: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const text = raw.toString('utf8');
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    // No excerpt: a file that is not the manifest may hold secrets. Where it broke, and which file.
    throw new ParseError(file, `manifest is not JSON: ${describeJsonFailure(text, e, raw)}`);
  }
  try {
    return { file, manifest: parseManifest(data, file) };
  } catch (e) {
    if (e instanceof ManifestError) throw new ParseError(file, e.problems.map((p) => `${p.field ? `${p.field}: ` : ''}${p.message}`).join('; '));
    throw e;
  }
}

/** The config suite's gathering step (async like every probe's `gather…`). */
export async function gatherManifest(baseDir: string, expect: { manifest: string }): Promise<ManifestFacts> {
  return readManifestFacts(baseDir, expect);
}
