// Issue 15 item 3 without a lab: `run --shard K/N` splits an inventory stably and by cost, and
// `leafcert merge` makes of the shards' JSON reports the reports one run writes (same results,
// counts, verdict, exit code, in every format), refusing what cannot be one run.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli.js';
import { assignShards, parseShard } from '../src/engine/shard.js';
import { TransportError } from '../src/core/types.js';
import { makeAjv } from '../src/inventory/validate.js';
import { FakeHost, fakeSuite, identity } from './helpers/fakes.js';

const NODES = ['web-1', 'web-2', 'db-1', 'db-2', 'cache', 'edge-a', 'edge-b', 'down'];
const suites = [
  fakeSuite('alpha'),
  fakeSuite('beta', { status: (n, id) => (n === 'db-2' && id.endsWith('one') ? 'fail' : 'pass') }),
  fakeSuite('gamma', { status: (n) => (n.startsWith('edge') ? 'skipped' : 'pass') }),
];
const deps = {
  suites,
  openHost: async (n: any) => {
    if (n.name === 'down') throw new TransportError('unreachable', 'down: ECONNREFUSED');
    return new FakeHost(n.name);
  },
  gatherIdentity: async () => identity,
};

let d: string;
const inv = () => join(d, 'inv.yaml');
function inventory(nodes = NODES, extra = ''): string {
  // db nodes plan more suites: they cost more and are spread first.
  return `nodes:\n${nodes.map((n) => `  - { name: ${n}, host: 10.250.0.2, expect: ${n.startsWith('db') ? 'db' : 'e'} }`).join('\n')}\nexpectations:\n  e: { alpha: {}, gamma: {} }\n  db: { alpha: {}, beta: {}, gamma: {} }\n${extra}`;
}

async function quiet(argv: string[]): Promise<{ code: number; err: string }> {
  const w = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  let err = '';
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  try {
    return { code: await main(['node', 'leafcert', ...argv], deps), err };
  } finally {
    w.mockRestore();
    e.mockRestore();
  }
}

const evidenceSchema = makeAjv().compile(JSON.parse(readFileSync('schemas/evidence.schema.json', 'utf8')));
const key = (r: any) => `${r.node}|${r.suite}|${r.id}|${r.subject}|${r.status}|${r.message}`;
const json = (p: string) => JSON.parse(readFileSync(p, 'utf8'));

beforeAll(() => {
  d = mkdtempSync(join(tmpdir(), 'lc-merge-'));
  writeFileSync(inv(), inventory());
});
afterAll(() => rmSync(d, { recursive: true, force: true }));

describe('shard assignment', () => {
  it('K/N parsed strictly', () => {
    expect(parseShard('2/4')).toEqual({ index: 2, total: 4 });
    for (const bad of ['0/4', '5/4', '2', 'a/b', '1/0', '-1/2']) expect(() => parseShard(bad)).toThrow(/K\/N/);
  });
  it('stable whatever the node order, balanced by cost, every node in exactly one shard', () => {
    const costs = new Map<string, number>(Array.from({ length: 50 }, (_, i) => [`n${i}`, i % 7 === 0 ? 20 : 5]));
    const a = assignShards(costs, 4);
    const b = assignShards(new Map([...costs].reverse()), 4);
    expect([...a].sort()).toEqual([...b].sort());
    const load = [0, 0, 0, 0];
    for (const [n, k] of a) load[k - 1] += costs.get(n)!;
    expect(Math.max(...load) - Math.min(...load)).toBeLessThanOrEqual(20);
    expect(a.size).toBe(50);
  });
  it('--shard with a bad value is a usage error (2)', async () => {
    const r = await quiet(['run', '-i', inv(), '--shard', '3/2']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--shard.*1 ≤ K ≤ N/);
  });
});

describe('run --shard K/N, then merge', () => {
  const single = () => join(d, 'single');
  beforeAll(async () => {
    const s = single();
    expect((await quiet(['run', '-i', inv(), '--json', join(s, 'report.json'), '--junit', join(s, 'junit.xml'), '--tap', join(s, 'report.tap'), '--html', join(s, 'report.html')])).code).toBe(1);
    for (let k = 1; k <= 3; k++) await quiet(['run', '-i', inv(), '--shard', `${k}/3`, '--json', join(d, 'shards', String(k), 'report.json')]);
  });

  it('each shard holds its share, names its place and the whole check set', () => {
    const docs = [1, 2, 3].map((k) => json(join(d, 'shards', String(k), 'report.json')));
    const names = docs.flatMap((x) => x.nodes.map((n: any) => n.name));
    expect(names.sort()).toEqual([...NODES].sort());
    const whole = json(join(single(), 'report.json'));
    for (const [i, x] of docs.entries()) {
      expect(x.run.shard).toEqual({ index: i + 1, total: 3, inventoryNodes: NODES });
      expect(evidenceSchema(x), JSON.stringify(evidenceSchema.errors)).toBe(true);
      expect(x.checks.sha256).toBe(whole.checks.sha256);
      expect(x.run.inventory.sha256).toBe(whole.run.inventory.sha256);
    }
  });

  it('merged reports equal the single run: results, counts, verdict, exit code, every format', async () => {
    const r = await quiet(['merge', '--out', join(d, 'merged'), join(d, 'shards')]);
    const one = json(join(single(), 'report.json'));
    const m = json(join(d, 'merged', 'report.json'));
    expect(r.code).toBe(1);
    expect(m.run.exitCode).toBe(one.run.exitCode);
    expect(m.complete).toBe(true);
    expect(m.counts).toEqual(one.counts);
    expect(m.results.map(key).sort()).toEqual(one.results.map(key).sort());
    expect(m.nodes.map((n: any) => n.name)).toEqual(NODES);
    expect(m.nodes.map((n: any) => [n.name, n.counts])).toEqual(NODES.map((n) => [n, one.nodes.find((x: any) => x.name === n).counts]));
    expect(m.checks).toEqual(one.checks);
    expect(m.run.shard).toBeUndefined();
    expect(evidenceSchema(m), JSON.stringify(evidenceSchema.errors)).toBe(true);
    // JUnit: the same testcases and failure/error/skipped totals.
    const attrs = (x: string) => /<testsuites[^>]*>/.exec(x)![0].replace(/ (time|timestamp)="[^"]*"/g, '');
    const j1 = readFileSync(join(single(), 'junit.xml'), 'utf8');
    const j2 = readFileSync(join(d, 'merged', 'junit.xml'), 'utf8');
    expect(attrs(j2)).toBe(attrs(j1));
    expect((j2.match(/<testcase /g) ?? []).length).toBe((j1.match(/<testcase /g) ?? []).length);
    // TAP: the same plan and the same not-ok lines.
    const t1 = readFileSync(join(single(), 'report.tap'), 'utf8');
    const t2 = readFileSync(join(d, 'merged', 'report.tap'), 'utf8');
    const plan = (t: string) => /^1\.\.\d+$/m.exec(t)![0];
    expect(plan(t2)).toBe(plan(t1));
    const notOk = (t: string) => t.split('\n').filter((l) => /^\s*not ok /.test(l)).map((l) => l.replace(/^(\s*not ok) \d+/, '$1')).sort();
    expect(notOk(t2)).toEqual(notOk(t1));
    // HTML: the same verdict banner.
    const banner = (h: string) => /<title>[^<]*<\/title>/.exec(h)![0];
    expect(banner(readFileSync(join(d, 'merged', 'report.html'), 'utf8'))).toBe(banner(readFileSync(join(single(), 'report.html'), 'utf8')));
  });

  it('a missing shard is named (exit 3, nothing written)', async () => {
    const r = await quiet(['merge', '--json', join(d, 'm2.json'), join(d, 'shards', '1'), join(d, 'shards', '3')]);
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/shard 2\/3 missing/);
    expect(() => readFileSync(join(d, 'm2.json'))).toThrow();
  });
  it('the same shard twice, a report that is no shard, an unfinished shard: refused by name', async () => {
    const s1 = join(d, 'shards', '1', 'report.json');
    let r = await quiet(['merge', '--json', join(d, 'm3.json'), s1, s1, join(d, 'shards', '2'), join(d, 'shards', '3')]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/shard 1\/3 given twice/);
    r = await quiet(['merge', '--json', join(d, 'm3.json'), join(single(), 'report.json'), join(d, 'shards')]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/not a shard's report/);
    const partial = { ...json(s1), complete: false };
    writeFileSync(join(d, 'partial.json'), JSON.stringify(partial));
    r = await quiet(['merge', '--json', join(d, 'm3.json'), join(d, 'partial.json'), join(d, 'shards', '2'), join(d, 'shards', '3')]);
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/shard 1\/3 .* is partial \(complete=false\)/);
  });
  it('shards of another inventory or another check set are refused (exit 2)', async () => {
    writeFileSync(join(d, 'other.yaml'), inventory(NODES, '# edited\n'));
    await quiet(['run', '-i', join(d, 'other.yaml'), '--shard', '2/3', '--json', join(d, 'other', 'report.json')]);
    let r = await quiet(['merge', '--json', join(d, 'm4.json'), join(d, 'shards', '1'), join(d, 'other'), join(d, 'shards', '3')]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/not shards of one run: inventories \(sha256\) differ/);
    await quiet(['run', '-i', inv(), '--only', 'alpha', '--shard', '2/3', '--json', join(d, 'only', 'report.json')]);
    r = await quiet(['merge', '--json', join(d, 'm4.json'), join(d, 'shards', '1'), join(d, 'only'), join(d, 'shards', '3')]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/check sets \(sha256\) differ/);
  });
  it('more shards than nodes: the empty shard exits 0 and merges', async () => {
    writeFileSync(join(d, 'two.yaml'), inventory(['web-1', 'db-1']));
    const codes: number[] = [];
    for (let k = 1; k <= 3; k++) codes.push((await quiet(['run', '-i', join(d, 'two.yaml'), '--shard', `${k}/3`, '--json', join(d, 'two', String(k), 'r.json')])).code);
    expect(codes.sort()).toEqual([0, 0, 0]);
    const r = await quiet(['merge', '--json', join(d, 'two.json'), join(d, 'two')]);
    expect(r.code).toBe(0);
    expect(json(join(d, 'two.json')).nodes.map((n: any) => n.name)).toEqual(['web-1', 'db-1']);
  });
  it('merge with nothing to write, or no report in a directory: usage error (2)', async () => {
    expect((await quiet(['merge', join(d, 'shards')])).code).toBe(2);
    const r = await quiet(['merge', '--json', join(d, 'm5.json'), tmpdir() + '/lc-merge-does-not-exist']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/no such file or directory/);
  });
});
