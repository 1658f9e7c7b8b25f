// config: static policy checks on the node's declared NixOS configuration (a manifest from
// nix/lib/manifest.nix): secrets in the store, placeholders, pg trust, wildcard binds, DNAT past
// nginx, container privileges, unused slices and bridges, misplaced backup paths, ports nothing
// serves. No command runs on the node: gather() reads the manifest file on the harness side.
// The checks themselves live in src/nix/policy.ts (shared with `leafcert check-config`).
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { Suite, SuiteContext } from '../src/core/types.js';
import { ParseError } from '../src/core/types.js';
import { describeJsonFailure, ManifestError, parseManifest, type Manifest } from '../src/nix/manifest.js';
import { CONFIG_CHECK_IDS, evaluateManifest } from '../src/nix/policy.js';

export interface ConfigExpect {
  /** Manifest JSON (`nix eval --json … --apply`, docs/nix.md); relative to the inventory file. */
  manifest: string;
}

export interface ConfigFacts {
  file: string;
  manifest: Manifest;
}

export const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['manifest'],
  properties: {
    manifest: { type: 'string', minLength: 1, description: 'Manifest JSON produced by nix/lib/manifest.nix; relative to the inventory.' },
  },
};

/** Reads and validates the manifest; a bad one is a ParseError (→ `error` results), never a pass. */
export function readManifestFacts(baseDir: string, expect: ConfigExpect): ConfigFacts {
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

export const configSuite: Suite<ConfigExpect, ConfigFacts> = {
  name: 'config',
  key: 'config',
  schema,
  async gather(ctx: SuiteContext, expect: ConfigExpect): Promise<ConfigFacts> {
    return readManifestFacts(ctx.options.baseDir, expect);
  },
  evaluate(facts: ConfigFacts): ReturnType<Suite['evaluate']> {
    return evaluateManifest(facts.manifest, `manifest ${facts.file}`);
  },
  checkIds: [...CONFIG_CHECK_IDS],
};
