#!/usr/bin/env node
// A fleet on one box (issue 15): light lab nodes checked by the CLI as a user runs it, one process
// or S shard processes at once merged with `leafcert merge`. Reports wall time, CPU (user+sys of
// every leafcert process), peak memory (largest process), per-node cost, how the concurrency
// adapted, and the verdict counts of the (merged) JSON report. Asserts nothing.
//
// Usage: node scripts/bench-fleet.js --nodes N [--concurrency C[,C…]] [--shards S[,S…]]
//          [--state DIR] [--keep] [--suites firewall,tls,health]
// --suites keeps only those expectation keys of the lab's inventory (to compare with a baseline
// measured before a suite existed).
// The lab is brought up in --state (default /tmp/lc-fleet-bench) unless it already holds N light
// nodes or more (the first N are checked), and brought down at the end unless --keep (a lab
// found up is left up). Run it with `nice`: it loads the box.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin', 'leafcert.js');

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const list = (v) => String(v).split(',').map(Number).filter((n) => n >= 1);
// `npm run bench -- --fleet N` passes --fleet: the same.
const N = Number(arg('nodes', arg('fleet', 20)));
const Cs = list(arg('concurrency', '8'));
const Ss = list(arg('shards', '1'));
const state = resolve(arg('state', '/tmp/lc-fleet-bench'));
const keep = process.argv.includes('--keep');
const onlySuites = arg('suites', '') ? arg('suites', '').split(',') : undefined;
if (!(N >= 1) || !Cs.length || !Ss.length) {
  console.error('usage: node scripts/bench-fleet.js --nodes N [--concurrency C[,C…]] [--shards S[,S…]] [--state DIR] [--keep]');
  process.exit(2);
}

// Each leafcert process writes its own CPU time and peak RSS when it exits (preloaded, so the
// CLI itself is what is measured, unchanged).
const work = join(tmpdir(), `lc-bench-fleet-${process.pid}`);
mkdirSync(work, { recursive: true });
const preload = join(work, 'stats.mjs');
writeFileSync(
  preload,
  "import { writeFileSync } from 'node:fs';\n" +
    "process.on('exit', () => { const u = process.resourceUsage(); if (process.env.LC_BENCH_STATS) writeFileSync(process.env.LC_BENCH_STATS, JSON.stringify({ cpuMs: (u.userCPUTime + u.systemCPUTime) / 1000, maxRssKiB: u.maxRSS })); });\n",
);

function leafcert(args, statsFile) {
  return new Promise((res) => {
    const child = spawn(process.execPath, ['--import', preload, bin, ...args], { env: { ...process.env, LEAFCERT_DEBUG: '1', LC_BENCH_STATS: statsFile, CI: 'true' } });
    let stderr = '';
    child.stdout.resume();
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    child.on('close', (code) => {
      let stats = { cpuMs: NaN, maxRssKiB: NaN };
      try {
        stats = JSON.parse(readFileSync(statsFile, 'utf8'));
      } catch {
        /* the process died before writing */
      }
      const m = /leafcert: load: (\{.*\})/.exec(stderr);
      res({ code, stats, load: m ? JSON.parse(m[1]) : undefined, stderr });
    });
  });
}

async function labUp() {
  const info = join(state, 'lab.json');
  const inv = join(state, 'inventory.yaml');
  if (existsSync(inv) && existsSync(info)) {
    try {
      const nodes = JSON.parse(readFileSync(info, 'utf8')).info?.nodes ?? [];
      // A bigger lab serves too: the inventory is cut to the first N nodes.
      if (nodes.length >= N) return { inv, reused: true };
    } catch {
      /* not ours: bring it up anew */
    }
  }
  const { up, down } = await import(join(root, 'dist', 'src', 'lab', 'lab.js'));
  if (existsSync(state)) await down(state).catch(() => undefined);
  const t0 = performance.now();
  const lab = await up({ state, nodes: N, flavour: 'light', firewall: 'iptables' });
  console.log(`lab up: ${N} light nodes in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return { inv: lab.inventory, reused: false };
}

async function labDown() {
  const { down } = await import(join(root, 'dist', 'src', 'lab', 'lab.js'));
  await down(state);
}

async function once(inv, c, s) {
  const out = join(work, `c${c}-s${s}`);
  rmSync(out, { recursive: true, force: true });
  const t0 = performance.now();
  const runs = await Promise.all(
    Array.from({ length: s }, (_, k) =>
      leafcert(['run', '-i', inv, '-c', String(c), ...(s > 1 ? ['--shard', `${k + 1}/${s}`] : []), '--json', join(out, `shard-${k + 1}`, 'report.json')], join(out, `stats-${k + 1}.json`)),
    ),
  );
  let report = join(out, 'shard-1', 'report.json');
  let merged;
  if (s > 1) {
    report = join(out, 'merged.json');
    merged = await leafcert(['merge', '--json', report, out], join(out, 'stats-merge.json'));
  }
  const wallMs = performance.now() - t0;
  const doc = JSON.parse(readFileSync(report, 'utf8'));
  const all = [...runs, ...(merged ? [merged] : [])];
  const cpuMs = all.reduce((n, r) => n + r.stats.cpuMs, 0);
  const nonPass = doc.results.filter((r) => r.status === 'fail' || r.status === 'error');
  return {
    nodes: doc.nodes.length,
    c,
    s,
    wallS: wallMs / 1000,
    cpuS: cpuMs / 1000,
    peakMiB: Math.max(...all.map((r) => r.stats.maxRssKiB)) / 1024,
    perNodeMs: wallMs / doc.nodes.length,
    cpuPerNodeMs: cpuMs / doc.nodes.length,
    exit: merged ? merged.code : runs[0].code,
    counts: doc.counts,
    limits: runs.map((r) => (r.load ? `${r.load.minLimit}–${r.load.maxLimit}` : '?')).join(' '),
    peakActive: Math.max(...runs.map((r) => r.load?.peakActive ?? 0)),
    nonPass: nonPass.slice(0, 5).map((r) => `${r.node} ${r.id} ${r.status}: ${String(r.message).slice(0, 140)}`),
  };
}

const rows = [];
const lab = await labUp();
const reused = lab.reused;
let inv = lab.inv;
try {
  {
    const { parse, stringify } = await import('yaml');
    // The lab's inventory shares its expectation blocks by YAML alias, one per node.
    const doc = parse(readFileSync(inv, 'utf8'), { maxAliasCount: -1 });
    doc.nodes = doc.nodes.slice(0, N);
    if (onlySuites) for (const e of Object.values(doc.expectations ?? {})) for (const k of Object.keys(e)) if (!onlySuites.includes(k)) delete e[k];
    inv = join(dirname(inv), 'inventory.bench-fleet.yaml');
    writeFileSync(inv, stringify(doc));
  }
  for (const s of Ss) {
    for (const c of Cs) {
      const r = await once(inv, c, s);
      rows.push(r);
      const k = r.counts;
      console.log(
        `${r.nodes} nodes c=${c} shards=${s}: wall ${r.wallS.toFixed(1)} s, cpu ${r.cpuS.toFixed(1)} s, peak ${r.peakMiB.toFixed(0)} MiB, ${r.perNodeMs.toFixed(0)} ms/node (cpu ${r.cpuPerNodeMs.toFixed(0)} ms/node), ` +
          `limit ${r.limits} (peak ${r.peakActive} at once), exit ${r.exit}, pass ${k.pass} fail ${k.fail} error ${k.error} skipped ${k.skipped}`,
      );
      for (const l of r.nonPass) console.log(`    ${l}`);
    }
  }
} finally {
  if (!keep && !reused) await labDown();
  rmSync(work, { recursive: true, force: true });
}

console.log('\n| nodes | concurrency | shards | wall s | CPU s | peak MiB | ms/node | CPU ms/node | limit (adapted) | exit | pass | fail | error |');
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|');
for (const r of rows) {
  console.log(`| ${r.nodes} | ${r.c} | ${r.s} | ${r.wallS.toFixed(1)} | ${r.cpuS.toFixed(1)} | ${r.peakMiB.toFixed(0)} | ${r.perNodeMs.toFixed(0)} | ${r.cpuPerNodeMs.toFixed(0)} | ${r.limits} | ${r.exit} | ${r.counts.pass} | ${r.counts.fail} | ${r.counts.error} |`);
}
