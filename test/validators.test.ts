// The build-time validators (scripts/gen-validators.js, ajv standalone code) must judge exactly as
// ajv compiling the same schema at run time: same verdict, same errors, for good and bad inputs.
// They live in dist/ (npm test builds first); the CLI uses them, so this imports the built modules.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const dist = join(process.cwd(), 'dist', 'src');
const built = existsSync(join(dist, 'core', 'validators.generated.cjs'));

describe('precompiled validators', () => {
  it('exist after the build (npm run build runs scripts/gen-validators.js)', () => {
    expect(built, 'dist/src/core/validators.generated.cjs is missing: run npm run build').toBe(true);
  });

  it('inventory and manifest: the same verdicts and errors as a run-time compile', async () => {
    const v = await import(join(dist, 'core', 'validate.js'));
    const { composeSchema } = await import(join(dist, 'inventory', 'schema.js'));
    const { suites } = await import(join(dist, 'suites.js'));
    const { loadSchema } = await import(join(dist, 'probes', 'manifest.js'));
    const cases: [object, unknown[]][] = [
      [composeSchema(suites), ['valid', 'wrong-types', 'unknown-keys', 'cross-field'].map((n) => parse(readFileSync(`fixtures/inventory/${n}.yaml`, 'utf8')))],
      [loadSchema(), [
        ...readdirSync('fixtures/nix').filter((f) => f.endsWith('.manifest.json')).map((f) => JSON.parse(readFileSync(join('fixtures/nix', f), 'utf8'))),
        ...readdirSync('fixtures/nix/bad').filter((f) => f.endsWith('.json') && f !== 'not-json.json').map((f) => JSON.parse(readFileSync(join('fixtures/nix/bad', f), 'utf8'))),
      ]],
    ];
    let invalid = 0;
    for (const [schema, docs] of cases) {
      expect(v.isPrecompiled(schema)).toBe(true);
      const pre = v.compile(schema);
      const fresh = v.makeAjv().compile(schema);
      for (const doc of docs) {
        const a = pre(doc);
        expect(a).toBe(fresh(doc));
        expect(pre.errors ?? null).toEqual(fresh.errors ?? null);
        if (!a) invalid++;
      }
    }
    expect(invalid).toBeGreaterThanOrEqual(3);
  });

  it('a schema that differs from the build\'s is compiled at run time, not matched', async () => {
    const v = await import(join(dist, 'core', 'validate.js'));
    const { FORMATS } = await import(join(dist, 'core', 'formats.js'));
    const schema = { type: 'object', properties: { t: { type: 'string', format: FORMATS.duration } } };
    expect(v.isPrecompiled(schema)).toBe(false);
    const f = v.compile(schema);
    expect([f({ t: '30s' }), f({ t: 'soon' })]).toEqual([true, false]);
  });
});
