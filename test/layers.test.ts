// The layer rules (CONTRIBUTING.md), checked on the import graph rather than by review:
// src/core imports nothing outside itself; folders form no import cycle; suites never run commands.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(__dirname, '..');

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** A file's folder; a file directly under src/ is a room of its own (src/cli.ts is the entry point). */
function room(file: string): string {
  const r = relative(root, file);
  const parts = r.split('/');
  if (parts[0] === 'src' && parts.length === 2) return r;
  return parts.slice(0, Math.min(parts.length - 1, 2)).join('/');
}

const files = [...tsFiles(join(root, 'src')), ...tsFiles(join(root, 'suites'))];
const imports = new Map<string, string[]>();
for (const f of files) {
  const text = readFileSync(f, 'utf8');
  const targets = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'";]*?from\s+['"](\.{1,2}\/[^'"]+)['"]/g), ...text.matchAll(/import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g)]
    .map((m) => resolve(dirname(f), m[1]).replace(/\.js$/, '.ts'));
  imports.set(f, targets);
}

function roomGraph(): Map<string, Map<string, string>> {
  const g = new Map<string, Map<string, string>>();
  for (const [f, ts] of imports) {
    for (const t of ts) {
      const a = room(f);
      const b = room(t);
      if (a === b) continue;
      if (!g.has(a)) g.set(a, new Map());
      if (!g.get(a)!.has(b)) g.get(a)!.set(b, `${relative(root, f)} → ${relative(root, t)}`);
    }
  }
  return g;
}

/** Strongly connected rooms (Tarjan): each cycle as the rooms in it and one import per edge. */
function cycles(g: Map<string, Map<string, string>>): string[] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of g.get(v)?.keys() ?? []) {
      if (!idx.has(w)) (visit(w), low.set(v, Math.min(low.get(v)!, low.get(w)!)));
      else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do (w = stack.pop()!, on.delete(w), scc.push(w));
      while (w !== v);
      if (scc.length > 1) {
        const edges = scc.flatMap((a) => scc.filter((b) => g.get(a)?.has(b)).map((b) => g.get(a)!.get(b)!));
        out.push(`${scc.join(' ⇄ ')}\n    ${edges.join('\n    ')}`);
      }
    }
  };
  for (const v of g.keys()) if (!idx.has(v)) visit(v);
  return out;
}

describe('layers', () => {
  it('src/core imports nothing outside src/core', () => {
    const bad = [...imports].filter(([f]) => room(f) === 'src/core').flatMap(([f, ts]) => ts.filter((t) => room(t) !== 'src/core').map((t) => `${relative(root, f)} → ${relative(root, t)}`));
    expect(bad, 'the ground floor must not import the floors above it').toEqual([]);
  });

  it('no import cycle between folders', () => {
    expect(cycles(roomGraph()), 'break each cycle by moving the shared piece down (usually into src/core)').toEqual([]);
  });

  it('suites never run commands or read files themselves: probes gather', () => {
    const bad = tsFiles(join(root, 'suites')).flatMap((f) =>
      readFileSync(f, 'utf8').split('\n').flatMap((l, i) => (/\b(host|h)\.(exec|run|readFile)\(|\breadFile(Sync)?\(|from 'node:(fs|child_process)'/.test(l) ? [`${relative(root, f)}:${i + 1}: ${l.trim().slice(0, 100)}`] : [])),
    );
    expect(bad).toEqual([]);
  });

  it('suites stay small: no file in suites/ over 300 lines', () => {
    const big = tsFiles(join(root, 'suites')).map((f) => [relative(root, f), readFileSync(f, 'utf8').split('\n').length] as const).filter(([, n]) => n > 300);
    expect(big).toEqual([]);
  });

  it('no production module knows the lab exists', () => {
    const bad = files.filter((f) => !relative(root, f).startsWith('src/lab/') && relative(root, f) !== 'src/cli.ts' && /leafcert-lab|\/lab\/|\blab state\b/i.test(readFileSync(f, 'utf8').replace(/^\s*\/\/.*$/gm, '')));
    expect(bad.map((f) => relative(root, f))).toEqual([]);
  });
});
