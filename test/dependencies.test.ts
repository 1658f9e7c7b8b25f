// Runtime `dependencies` are exactly what runtime code imports: a user installing leafcert gets no
// package it never loads, and nothing it loads is missing (devDependencies are not installed for them).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect, it } from 'vitest';

const root = resolve(__dirname, '..');
const files = (dir: string): string[] => readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : f.endsWith('.ts') ? [join(dir, f)] : []));

it('runtime dependencies are exactly the packages src/ and suites/ import', () => {
  const imported = new Set<string>();
  for (const f of [...files(join(root, 'src')), ...files(join(root, 'suites')), join(root, 'bin', 'leafcert.js')].filter((f) => f.endsWith('.ts') || f.endsWith('.js'))) {
    for (const m of readFileSync(f, 'utf8').matchAll(/^\s*(?:import|export)\b[^;'"]*?from\s+['"]([^'".][^'"]*)['"]|\bimport\(\s*['"]([^'".][^'"]*)['"]\s*\)/gm)) {
      const spec = m[1] ?? m[2];
      if (spec.startsWith('node:')) continue;
      const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
      // Type-only packages are compile-time.
      if (!name.startsWith('@types/')) imported.add(name);
    }
  }
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  expect(Object.keys(pkg.dependencies).sort()).toEqual([...imported].sort());
});
