// Issue 15 item 3 on real nodes: N `run --shard K/N` processes at once (as a CI matrix would start
// them) against light lab nodes, merged by `leafcert merge`, equal one run over the same nodes:
// the same results (node, suite, check, subject, status), counts, verdict and exit code.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, runCli, startLab, type CmdResult, type TestLab } from './helpers/lab.js';

const isRoot = process.getuid?.() === 0;
const NODES = 6;
const SHARDS = 3;

function cliAt(args: string[]): Promise<CmdResult> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [join(repoRoot, 'bin', 'leafcert.js'), ...args], { cwd: repoRoot, env: { ...process.env, LEAFCERT_DEBUG: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', rej);
    child.on('close', (code) => res({ code, stdout, stderr }));
  });
}

const key = (r: any) => `${r.node}|${r.suite}|${r.id}|${r.subject}|${r.status}`;
const json = (p: string) => JSON.parse(readFileSync(p, 'utf8'));

describe.skipIf(!isRoot)('shards at once on lab nodes, merged, equal one run', () => {
  let lab: TestLab;
  let d: string;
  beforeAll(async () => {
    lab = await startLab({ name: 'fleet', nodes: NODES, flavour: 'light' });
    d = mkdtempSync(join(tmpdir(), 'lc-fleet-lab-'));
  }, 300_000);
  afterAll(async () => {
    await lab?.down();
    if (d) rmSync(d, { recursive: true, force: true });
  }, 120_000);

  it(`${SHARDS} shard processes at once + merge = a single run (results, counts, exit code)`, async () => {
    const single = await runCli(['run', '-i', lab.inventory, '-c', '8', '--json', join(d, 'single.json'), '--junit', join(d, 'single.xml')]);
    const shards = await Promise.all(
      Array.from({ length: SHARDS }, (_, k) => cliAt(['run', '-i', lab.inventory, '-c', '8', '--shard', `${k + 1}/${SHARDS}`, '--json', join(d, 'shards', `${k + 1}`, 'report.json')])),
    );
    for (const s of shards) expect(s.stderr).not.toMatch(/MaxListenersExceededWarning|internal error/);
    const merged = await runCli(['merge', '--out', join(d, 'merged'), join(d, 'shards')]);
    const one = json(join(d, 'single.json'));
    const m = json(join(d, 'merged', 'report.json'));
    // The healthy lab: nothing fails or errors (skipped: checks the lab's platform cannot make).
    expect(one.results.filter((r: any) => r.status === 'fail' || r.status === 'error').map((r: any) => `${key(r)} ${r.message}`)).toEqual([]);
    expect(merged.code).toBe(single.code);
    expect(m.run.exitCode).toBe(one.run.exitCode);
    expect(m.counts).toEqual(one.counts);
    expect(m.results.map(key).sort()).toEqual(one.results.map(key).sort());
    // Merged nodes in inventory order; the single run lists them as they started.
    expect(m.nodes.map((n: any) => n.name)).toEqual(json(join(d, 'shards', '1', 'report.json')).run.shard.inventoryNodes);
    expect(m.nodes.map((n: any) => n.name).sort()).toEqual(one.nodes.map((n: any) => n.name).sort());
    expect(m.checks.sha256).toBe(one.checks.sha256);
    expect(m.run.inventory.sha256).toBe(one.run.inventory.sha256);
    const sizes = [1, 2, 3].map((k) => json(join(d, 'shards', `${k}`, 'report.json')).nodes.length);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(NODES);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    const junit = readFileSync(join(d, 'merged', 'junit.xml'), 'utf8');
    expect((junit.match(/<testcase /g) ?? []).length).toBe((readFileSync(join(d, 'single.xml'), 'utf8').match(/<testcase /g) ?? []).length);
  }, 600_000);
});
