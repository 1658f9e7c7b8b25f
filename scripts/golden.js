#!/usr/bin/env node
// A golden run: the proof that a refactor changed no behaviour. Brings up a full lab node, certifies
// it with every suite and --allow-mutating into every report format (plus the console), runs
// check-config on every fixture manifest, and writes the outputs with what legitimately varies
// between two runs masked (times, dates, durations, digests, fingerprints, serials, scratch names).
// Run it before and after a change, then `diff -r BEFORE AFTER`: only real changes remain.
// Usage: node scripts/golden.js --out DIR [--state DIR] [--keep-lab] [--from-raw]
//        node scripts/golden.js --compare BEFORE AFTER   (results only: ids, statuses, messages,
//        evidence; keys the new run adds are new metadata and allowed; exit 1 on any other difference)
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin/leafcert.js');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const compareAt = process.argv.indexOf('--compare');
const out = compareAt > 0 ? join(process.argv[compareAt + 1], '..', '.compare-unused') : arg('out');
if (!out) {
  process.stderr.write('usage: node scripts/golden.js --out DIR [--state DIR] [--keep-lab]\n');
  process.exit(2);
}
const outDir = resolve(out);
// One fixed state dir by default: the lab's subnet and names derive from it, so before/after match.
const state = resolve(arg('state', '/tmp/leafcert-golden-lab'));
const keepLab = process.argv.includes('--keep-lab');
const raw = join(outDir, 'raw');
// --from-raw: only re-normalise the raw outputs of an earlier golden run (after changing mask()).
const fromRaw = process.argv.includes('--from-raw') || compareAt > 0;
if (!fromRaw) {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(raw, { recursive: true });
}

const codes = fromRaw && existsSync(join(raw, 'codes.json')) ? JSON.parse(readFileSync(join(raw, 'codes.json'), 'utf8')) : {};
function leafcert(args) {
  const id = args.join(' ');
  if (fromRaw) return { code: codes[id] ?? null, stdout: readFileSync(join(raw, `${Object.keys(codes).indexOf(id)}.out`), 'utf8'), stderr: '' };
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', CI: 'true' }, maxBuffer: 256 << 20 });
  codes[id] = r.status;
  writeFileSync(join(raw, `${Object.keys(codes).indexOf(id)}.out`), (r.stdout ?? '') + (r.stderr ?? ''));
  writeFileSync(join(raw, 'codes.json'), JSON.stringify(codes, null, 1));
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** What varies between two runs of the same code on the same lab. */
export function mask(text) {
  return text
    .split(outDir).join('<out>')
    .split(state).join('<lab>')
    .replace(/[^\s"'()]*\/(\.lab-golden|leafcert-golden-lab)\b/g, '<lab>')
    .split(root).join('<repo>')
    .replace(/[^\s"'(]*\/fixtures\/nix\//g, '<repo>/fixtures/nix/')
    // The lab's subnet is a hash of its state dir.
    .replace(/\b10\.250\.\d+\./g, '10.250.<lab>.')
    .replace(/(leafcert-|lab CA |lc-)[0-9a-f]{6}\b/g, '$1<labid>')
    .replace(/-----BEGIN ([A-Z ]+)-----(\\n|\n)?[A-Za-z0-9+/=\\\n]*(-----END [A-Z ]+-----)?/g, '<pem $1>')
    .replace(/^[A-Za-z0-9+/]{40,}={0,2}$/gm, '<pem line>')
    .replace(/^[A-Za-z0-9+/]{12,}={1,2}$/gm, '<pem line>')
    .replace(/(name="[^"]*(Ms|ms|At)" value=")[^"]*"/g, '$1<n>"')
    .replace(/([0-9A-F]{2}:){15,}[0-9A-F]{2}/g, '<fp>')
    .replace(/[0-9a-f]{32,}/g, '<hex>')
    .replace(/leafcert_rt_[0-9a-f]+/g, 'leafcert_rt_<id>')
    .replace(/\/proc\/\d+\//g, '/proc/<pid>/')
    .replace(/\b(PID|pid|leader|uptime)(\\?"?[:= ]\s*)\d+/g, '$1$2<n>')
    .replace(/(?<![0-9])1[6-9]\d{8}(?![0-9])/g, '<epoch>')
    .replace(/(uptime|leader|totalMs|ttfbMs)(&quot;|\\?")?:\d+/g, '$1$2:<n>')
    .replace(/samples(&quot;|\\?")?:\[[\d,]*\]/g, 'samples$1:[<n>]')
    .replace(/(\\?"|&quot;)activeTargets.*?(?=(",?$|\]\]>|<\/pre>|$))/gm, '<prometheus targets>')
    // Reachability from inside containers races the 1 s connect timeout on a loaded machine.
    .replace(/reachable only as declared \([^)]*\)/g, 'reachable only as declared (<list>)')
    .replace(/(:\d+ \([0-9.]+\)) (open|timeout)/g, '$1 <open|timeout>')
    .replace(/\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?/g, '<datetime>')
    .replace(/\b\d{4}-\d{2}-\d{2}\b/g, '<date>')
    .replace(/\b[A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2} \d{4}( GMT)?/g, '<certdate>')
    .replace(/\b(sha256:)?[0-9a-f]{8,}\b/gi, '<hex>')
    .replace(/SHA256:[A-Za-z0-9+/=]{20,}/g, '<fp>')
    .replace(/(leafcert[-.][a-z]*[-.]?)[A-Za-z0-9.]*\.[A-Za-z0-9]{6}\b/g, '$1<tmp>')
    .replace(/tmp\.[A-Za-z0-9]{6,}/g, 'tmp.<tmp>')
    .replace(/\b\d+(\.\d+)?\s?(ms|s|µs)\b/g, '<dur>')
    .replace(/(time|duration|durationMs|duration_ms|elapsed|connectMs|ms)(["=:\s]+"?)\d+(\.\d+)?/gi, '$1$2<n>')
    .replace(/\b\d+(\.\d+)? ?(B|KiB|MiB|GiB|kB|MB|GB)\b/g, '<size>')
    .replace(/\b\d+ (days?|hours?|minutes?|seconds?)\b/g, '<n> $1')
    .replace(/\b\d+h ?\d*m?\b|\b\d+m ?\d+s\b/g, '<age>')
    .replace(/\bpid \d+/g, 'pid <n>')
    .replace(/\b(roundTrips|round trips)(["=:\s]*)\d+/gi, '$1$2<n>');
}

/** JSON evidence: results in a stable order, then masked. */
const VARYING_NUMBER = /ms$|Ms$|samples|uptime|leader|pid|connect|roundTrips|bytes$|seconds$/i;
function walk(v, k = '') {
  if (Array.isArray(v)) {
    const items = v.map((x) => walk(x, k));
    return items.every((x) => typeof x !== 'object' || x === null) || k === 'observed' || k === 'expected' ? items.sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)) : items;
  }
  // Key order carries no meaning in JSON: sorted, so building an object differently is no change.
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([kk, x]) => [kk, walk(x, kk)]));
  if (typeof v === 'number' && VARYING_NUMBER.test(k)) return '<n>';
  return v;
}

function normaliseJson(text) {
  const doc = walk(JSON.parse(text));
  const key = (r) => [r.node, r.suite, r.id, r.subject].join('\u0000');
  if (Array.isArray(doc.results)) doc.results.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  return mask(JSON.stringify(doc, null, 2));
}

/** Line-based formats: masked, and lines sorted where order follows concurrency (console, TAP). */
function normaliseLines(text, sortLines) {
  const lines = text.split('\n').map((l) => {
    const m = /^(\s*)(observed|expected): (.*)$/.exec(l);
    if (!m) return l;
    try {
      return `${m[1]}${m[2]}: ${JSON.stringify(walk(JSON.parse(m[3]), m[2]))}`;
    } catch {
      return l;
    }
  }).map((l) => l.replace(/<dd>(.*?)<\/dd>/g, (all, inner) => {
    try {
      const un = inner.replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
      return `<dd>${JSON.stringify(walk(JSON.parse(un), 'observed'))}</dd>`;
    } catch {
      return all;
    }
  })).map(mask).join('\n').split('\n');
  return (sortLines ? lines.sort() : lines).join('\n');
}

const summary = [];
function record(name, code, files) {
  summary.push(`${name}: exit ${code}`);
  for (const [file, kind] of files) {
    if (!existsSync(file)) {
      summary.push(`  ${basename(file)}: (not written)`);
      continue;
    }
    const text = readFileSync(file, 'utf8');
    const norm = kind === 'json' ? normaliseJson(text) : normaliseLines(text, kind === 'sorted');
    writeFileSync(join(outDir, `${name}.${basename(file)}`), norm);
  }
}

if (compareAt > 0) process.exit(compare(process.argv[compareAt + 1], process.argv[compareAt + 2]));

let code = 0;
try {
  process.stderr.write(`golden: lab up (${state})\n`);
  const up = fromRaw ? { code: 0 } : leafcert(['lab', 'up', '--state', state, '--flavour', 'full']);
  if (up.code !== 0) throw new Error(`lab up failed (exit ${up.code}): ${up.stderr || up.stdout}`);
  const inv = join(state, 'inventory.yaml');

  process.stderr.write('golden: run (every suite, --allow-mutating, every format)\n');
  const files = { junit: join(raw, 'junit.xml'), tap: join(raw, 'results.tap'), json: join(raw, 'evidence.json'), html: join(raw, 'report.html') };
  const r = leafcert(['run', '--inventory', inv, '--allow-mutating', '--junit', files.junit, '--tap', files.tap, '--json', files.json, '--html', files.html]);
  writeFileSync(join(raw, 'console.txt'), r.stdout + r.stderr);
  record('run', r.code, [
    [files.json, 'json'],
    [files.junit, 'sorted'],
    [files.tap, 'sorted'],
    [files.html, 'sorted'],
    [join(raw, 'console.txt'), 'sorted'],
  ]);

  const manifests = readdirSync(join(root, 'fixtures/nix')).filter((f) => f.endsWith('.manifest.json'));
  const bad = readdirSync(join(root, 'fixtures/nix/bad')).map((f) => `bad/${f}`);
  for (const m of [...manifests, ...bad]) {
    const name = `check-config.${m.replace(/[/]/g, '_').replace(/\.json$/, '')}`;
    const f = { junit: join(raw, `${name}.junit.xml`), tap: join(raw, `${name}.results.tap`), json: join(raw, `${name}.evidence.json`) };
    const c = leafcert(['check-config', join(root, 'fixtures/nix', m), '--junit', f.junit, '--tap', f.tap, '--json', f.json]);
    writeFileSync(join(raw, `${name}.console.txt`), c.stdout + c.stderr);
    record(name, c.code, [
      [f.json, 'json'],
      [f.junit, 'sorted'],
      [f.tap, 'sorted'],
      [join(raw, `${name}.console.txt`), 'sorted'],
    ]);
  }
  writeFileSync(join(outDir, 'summary.txt'), summary.join('\n') + '\n');
  process.stdout.write(summary.join('\n') + '\n');
} catch (e) {
  process.stderr.write(`golden: ${e instanceof Error ? e.message : String(e)}\n`);
  code = 3;
} finally {
  if (!keepLab && !fromRaw) leafcert(['lab', 'down', '--state', state]);
}
process.exit(code);

/**
 * Results of two golden runs compared one by one (matched on node, suite, id, subject), each masked
 * as above; a key only the new result has is new metadata. Prints each difference; returns 1 if any.
 */
function compare(before, after) {
  const only = (oldV, newV) => {
    if (Array.isArray(oldV) && Array.isArray(newV)) return newV.map((v, i) => only(oldV[i], v));
    if (oldV && newV && typeof oldV === 'object' && typeof newV === 'object') {
      return Object.fromEntries(Object.keys(oldV).map((k) => [k, k in newV ? only(oldV[k], newV[k]) : '<missing>']));
    }
    return newV;
  };
  const norm = (r) => mask(JSON.stringify(walk(r)));
  let diffs = 0;
  const files = readdirSync(join(before, 'raw')).filter((f) => f.endsWith('evidence.json'));
  for (const f of files) {
    const read = (dir) => (existsSync(join(dir, 'raw', f)) ? JSON.parse(readFileSync(join(dir, 'raw', f), 'utf8')).results : null);
    const A = read(before);
    const B = read(after);
    if (!B) {
      console.log(`${f}: missing in ${after}`);
      diffs++;
      continue;
    }
    const key = (r) => mask([r.node, r.suite, r.id, r.subject].join(' | '));
    const byKey = new Map(B.map((r) => [key(r), r]));
    for (const r of A) {
      const n = byKey.get(key(r));
      if (!n) (console.log(`${f}: gone: ${key(r)}`), diffs++);
      else if (norm(r) !== norm(only(r, n))) (console.log(`${f}: ${key(r)}\n  before ${norm(r)}\n  after  ${norm(only(r, n))}`), diffs++);
      byKey.delete(key(r));
    }
    for (const k of byKey.keys()) (console.log(`${f}: new: ${k}`), diffs++);
    console.log(`${f}: ${A.length} results before, ${B.length} after`);
  }
  console.log(`${diffs} result(s) differ`);
  return diffs ? 1 : 0;
}
