#!/usr/bin/env node
// `npm run bench` (builds dist/ only when a source is newer): how long a certification of one full
// lab node takes, as ratios to the ssh floor (one `ssh node true`), how chatty it is and what it costs
// the harness and the node. Brings up its own lab (--state .lab-bench) unless --reuse DIR names a
// running one, then prints in one run:
//   - the ssh floor, the whole profile and the firewall+TLS+health subset (the CLI end to end),
//     each run paired with a floor run (A B A B …) and the ratio taken pair by pair, medians;
//   - the whole profile again with backup.checkEvery 24h and a --state-dir that remembers one
//     clean repository check (made before the rounds): a node certified again within the day;
//   - round trips as the CLI counts them (its JSON report), and its critical path;
//   - per suite (the engine in-process, one suite at a time): round trips, harness CPU
//     (process.cpuUsage) and node CPU, read from the node: the cumulative children CPU
//     (/proc/PID/stat cutime+cstime) of the node's sshd, which reaps every session and what it ran;
//   - with --peers, the same subset written for testinfra (bench/peers/test_subset.py, Debian's
//     python3-testinfra, ssh + ControlMaster) and serverspec (bench/peers/subset_spec.rb,
//     ruby-serverspec), paired with leafcert's subset run the same way.
// Asserts nothing. Usage: npm run bench -- [--runs N] [--peers] [--reuse STATE] [--keep];
// npm run bench -- --fleet N [...] runs scripts/bench-fleet.js --nodes N [...] instead.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => join(root, 'dist', p);

/** Newest mtime under a dir (files ending in one of `exts`). */
function newest(dir, exts) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p, exts));
    else if (exts.some((x) => e.name.endsWith(x))) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}
/** Build only when dist/ is older than a source (a rebuild would cost the first run's time too). */
function ensureBuilt() {
  const built = existsSync(dist('src/cli.js')) ? newest(join(root, 'dist'), ['.js']) : 0;
  const src = Math.max(...['src', 'suites'].map((d) => newest(join(root, d), ['.ts', '.sh'])), statSync(join(root, 'tsconfig.json')).mtimeMs);
  if (built >= src) return;
  console.log('bench: dist/ is older than the sources, building');
  const r = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
ensureBuilt();

// `npm run bench -- --fleet N`: the fleet bench (scripts/bench-fleet.js, issue 15) with --nodes N.
if (process.argv.includes('--fleet')) {
  const a = process.argv.slice(2);
  const i = a.indexOf('--fleet');
  a.splice(i, 2, '--nodes', a[i + 1]);
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'bench-fleet.js'), ...a], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

const { up, down } = await import(dist('src/lab/lab.js'));
const { readLab } = await import(dist('src/lab/types.js'));
const { openHost } = await import(dist('src/transport/index.js'));
const { gatherIdentity } = await import(dist('src/probes/identity.js'));
const { suites } = await import(dist('src/suites.js'));
const { runInventory } = await import(dist('src/engine/run.js'));
const { loadInventory } = await import(dist('src/inventory/load.js'));

const argv = process.argv.slice(2);
const flag = (n) => argv.includes(`--${n}`);
const opt = (n, d) => (argv.indexOf(`--${n}`) >= 0 ? argv[argv.indexOf(`--${n}`) + 1] : d);
const RUNS = Number(opt('runs', 5));
const SUBSET = ['firewall', 'tls', 'health'];
const reuse = opt('reuse');
const state = reuse ? resolve(reuse) : join(root, '.lab-bench');

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};
const TICK = 1000 / 100; // ms per clock tick (USER_HZ is 100 on Linux)
/** utime, stime, cutime, cstime of a process, in ms. */
function cpuOf(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return { self: (Number(f[11]) + Number(f[12])) * TICK, children: (Number(f[13]) + Number(f[14])) * TICK };
}
/** The CPU this process's reaped children used (ms): a spawnSync'd CLI's own accounting. */
const childCpu = () => cpuOf(process.pid).children;

/** The node's listening sshd: every session is its child, so its children CPU is the node's cost of us. */
function sshdOf(node) {
  const r = spawnSync('ip', ['netns', 'pids', node.netns], { encoding: 'utf8' });
  const pids = r.stdout.split('\n').filter(Boolean).map(Number);
  const comm = (p) => { try { return readFileSync(`/proc/${p}/comm`, 'utf8').trim(); } catch { return ''; } };
  const ppid = (p) => Number(readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
  const listener = pids.find((p) => comm(p) === 'sshd' && comm(ppid(p)) !== 'sshd');
  if (!listener) throw new Error(`no sshd in ${node.netns}`);
  return listener;
}

/** The lab's inventory minus expectation keys no registered suite reads (reported, not hidden). */
function benchInventory(labInventory) {
  const doc = parse(readFileSync(labInventory, 'utf8'));
  const known = new Set(suites.map((s) => s.key));
  const dropped = new Set();
  for (const exp of Object.values(doc.expectations ?? {})) {
    for (const k of Object.keys(exp)) if (!known.has(k)) (dropped.add(k), delete exp[k]);
  }
  const file = join(dirname(labInventory), 'inventory.bench.yaml');
  writeFileSync(file, stringify(doc));
  if (dropped.size) console.log(`(bench: expectation keys without a suite left out: ${[...dropped].join(', ')})`);
  // The same with the repository check scheduled (backup.checkEvery 24h): what a node costs when it
  // is certified again within the day, the harness remembering the last clean check (--state-dir).
  const sched = structuredClone(doc);
  for (const exp of Object.values(sched.expectations ?? {})) if (exp.backup) exp.backup.checkEvery = '24h';
  const schedFile = join(dirname(labInventory), 'inventory.bench-checkevery.yaml');
  writeFileSync(schedFile, stringify(sched));
  return { file, doc, schedFile };
}

/** A reporter that keeps nothing: the in-process runs are measured, not reported. */
const quiet = { onRunStart() {}, onNodeStart() {}, onNodeEnd() {}, onWarning() {}, onProgress() {}, onResult() {}, async onRunEnd() {} };

const tmp = mkdtempSync(join(tmpdir(), 'leafcert-bench-'));
let labUp = false;
try {
  let info;
  if (reuse) info = readLab(state);
  else {
    if (existsSync(join(state, 'lab.json'))) await down(state).catch(() => undefined);
    info = await up({ state, nodes: 1, flavour: 'full', firewall: 'iptables' });
    labUp = true;
  }
  const node = info.nodes[0];
  const { file: inv, doc, schedFile } = benchInventory(info.inventory);
  const stateDir = join(tmp, 'state');
  const sshd = sshdOf(node);
  // The listener counts a session's CPU when it reaps it, which may come a moment after the client
  // exits: wait (up to 1 s) until no session of it is left, so no run is billed for the one before.
  const sessions = () => spawnSync('pgrep', ['-P', String(sshd)], { encoding: 'utf8' }).stdout.trim();
  const settle = () => { for (let i = 0; i < 50 && sessions(); i++) spawnSync('sleep', ['0.02']); };
  const nodeCpu = () => (settle(), cpuOf(sshd).children + cpuOf(sshd).self);

  // One measured command: wall ms, the harness's CPU (the reaped child's), the node's CPU.
  const measure = (cmd, args, o = {}) => {
    const c0 = childCpu();
    const n0 = nodeCpu();
    const t0 = performance.now();
    const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, CI: 'true', ...o.env }, cwd: o.cwd ?? root, maxBuffer: 64 << 20 });
    const wall = performance.now() - t0;
    // A ControlMaster outlives its client: end it so the node has reaped (and counted) its session.
    if (o.after) spawnSync(o.after[0], o.after.slice(1), { stdio: 'ignore' });
    if (o.after) spawnSync('sleep', ['0.1']);
    return { wall, cpu: childCpu() - c0, node: nodeCpu() - n0, code: r.status, out: r.stdout + r.stderr };
  };
  const sshFloor = () => measure('ssh', ['-i', info.identityFile, '-o', `UserKnownHostsFile=${info.knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', `root@${node.address}`, 'true']);
  const cli = (only, o = {}) => {
    const json = join(tmp, `r-${Math.random().toString(36).slice(2)}.json`);
    const m = measure(process.execPath, [join(root, 'bin/leafcert.js'), 'run', '--inventory', o.inv ?? inv, '--json', json, ...(only ? ['--only', only.join(',')] : []), ...(o.stateDir ? ['--state-dir', o.stateDir] : [])]);
    const rep = existsSync(json) ? JSON.parse(readFileSync(json, 'utf8')) : undefined;
    return { ...m, report: rep, roundTrips: rep?.nodes?.[0]?.stats?.roundTrips, results: rep?.results?.length ?? 0, notPassing: rep?.results?.filter((x) => x.status === 'fail' || x.status === 'error') ?? [] };
  };

  // Peers: the same subset, their own specs, the expectation handed over as JSON.
  const peers = flag('peers') ? preparePeers(info, node, doc, tmp) : [];

  sshFloor(); // warm-up (host key, caches), not counted
  cli(SUBSET);
  cli(['backup'], { inv: schedFile, stateDir }); // the clean check the scheduled runs remember
  const rounds = [];
  for (let i = 0; i < RUNS; i++) {
    const floor = sshFloor();
    const whole = cli();
    const floor2 = sshFloor();
    const subset = cli(SUBSET);
    const floor3 = sshFloor();
    const sched = cli(null, { inv: schedFile, stateDir });
    const peerRuns = peers.map((p) => ({ name: p.name, floor: sshFloor(), lc: cli(SUBSET), peer: measure(p.cmd, p.args, { env: p.env, cwd: p.cwd, after: p.after }) }));
    rounds.push({ floor, whole, floor2, subset, floor3, sched, peerRuns });
  }
  const last = rounds.at(-1);
  const floorMs = median(rounds.flatMap((r) => [r.floor.wall, r.floor2.wall]));
  const rows = [
    { what: 'ssh node true (the floor)', 'median ms': floorMs.toFixed(0), 'x floor': '1.00', 'round trips': 1, checks: '', 'harness CPU ms': median(rounds.map((r) => r.floor.cpu)).toFixed(0), 'node CPU ms': median(rounds.map((r) => r.floor.node)).toFixed(0), exit: '' },
    row('whole profile', rounds.map((r) => [r.whole, r.floor])),
    row(`subset ${SUBSET.join('+')}`, rounds.map((r) => [r.subset, r.floor2])),
    row('whole, check remembered (checkEvery 24h)', rounds.map((r) => [r.sched, r.floor3])),
  ];
  function row(what, pairs) {
    const l = pairs.at(-1)[0];
    return {
      what, 'median ms': median(pairs.map(([m]) => m.wall)).toFixed(0), 'x floor': median(pairs.map(([m, f]) => m.wall / f.wall)).toFixed(2),
      'round trips': l.roundTrips ?? '', checks: l.results, 'harness CPU ms': median(pairs.map(([m]) => m.cpu)).toFixed(0),
      'node CPU ms': median(pairs.map(([m]) => m.node)).toFixed(0), exit: [...new Set(pairs.map(([m]) => m.code))].join('/'),
    };
  }
  console.log(`\nleafcert bench: 1 full lab node, ${RUNS} paired runs, medians (x floor: pair by pair; CPU from /proc: harness = the CLI process, node = the node's sshd children)`);
  console.table(rows);
  const schedCheck = last.sched.report?.results?.find((x) => x.id === 'backup.check');
  if (schedCheck) console.log(`(checkEvery run: backup.check ${schedCheck.status}: ${schedCheck.message.slice(0, 160)})`);
  for (const w of [last.whole, last.subset, last.sched]) if (w.notPassing.length) console.log(`not passing (a loaded machine, or a real finding):\n  ${w.notPassing.slice(0, 8).map((x) => `${x.id} ${x.subject}: ${x.message}`).join('\n  ')}`);
  if (last.whole.report?.run?.criticalPath) console.log(`critical path (last whole run): ${last.whole.report.run.criticalPath.text}`);

  if (peers.length) {
    const prow = peers.map((p) => {
      const runs = rounds.map((r) => r.peerRuns.find((x) => x.name === p.name));
      const ok = runs.at(-1).peer;
      return {
        peer: p.name, 'median ms': median(runs.map((r) => r.peer.wall)).toFixed(0), 'x floor': median(runs.map((r) => r.peer.wall / r.floor.wall)).toFixed(2),
        'leafcert subset ms': median(runs.map((r) => r.lc.wall)).toFixed(0), 'peer / leafcert': median(runs.map((r) => r.peer.wall / r.lc.wall)).toFixed(2),
        'peer harness CPU ms': median(runs.map((r) => r.peer.cpu)).toFixed(0), 'peer node CPU ms': median(runs.map((r) => r.peer.node)).toFixed(0),
        exit: [...new Set(runs.map((r) => r.peer.code))].join('/'), summary: (/(\d+ (passed|examples)[^\n]*)/.exec(ok.out)?.[1] ?? ok.out.trim().split('\n').at(-1) ?? '').slice(0, 60),
      };
    });
    console.log('\npeers on the same node, the same subset (each run paired with a leafcert subset run):');
    console.table(prow);
    for (const p of peers) {
      const o = rounds.at(-1).peerRuns.find((x) => x.name === p.name).peer;
      if (o.code !== 0) console.log(`${p.name} failed (exit ${o.code}):\n${o.out.split('\n').slice(-25).join('\n')}`);
    }
  }

  // Per suite, one at a time, in-process over one connection as the engine opens it.
  const suiteRows = [];
  const planned = Object.keys(doc.expectations[doc.nodes[0].expect] ?? {});
  const invObj = loadInventory(inv);
  for (const s of suites.filter((x) => planned.includes(x.key))) {
    const per = [];
    for (let i = 0; i < Math.max(1, Math.min(RUNS, 3)); i++) {
      let host;
      const c0 = process.cpuUsage();
      const n0 = nodeCpu();
      const t0 = performance.now();
      await runInventory(invObj, { allowMutating: false, timeoutMs: invObj.defaults.timeoutMs, baseDir: invObj.baseDir, concurrency: 1, only: [s.name] }, [quiet], {
        suites, gatherIdentity, now: () => new Date(),
        openHost: async (n, o) => (host = await openHost(n, o)),
      });
      const wall = performance.now() - t0;
      const c = process.cpuUsage(c0);
      per.push({ wall, cpu: (c.user + c.system) / 1000, node: nodeCpu() - n0, rt: host?.roundTrips ?? 0 });
    }
    suiteRows.push({ suite: s.name, 'wall ms': median(per.map((p) => p.wall)).toFixed(0), 'round trips (incl. identity)': per.at(-1).rt, 'harness CPU ms': median(per.map((p) => p.cpu)).toFixed(0), 'node CPU ms': median(per.map((p) => p.node)).toFixed(0) });
  }
  console.log('\nper suite alone (connect + identity + the suite; the floor\'s node CPU is one bare ssh session):');
  console.table(suiteRows);
} catch (e) {
  console.error(`bench: ${e.stack ?? e.message}`);
  process.exitCode = 1;
} finally {
  rmSync(tmp, { recursive: true, force: true });
  if (labUp && !flag('keep')) await down(state).catch(() => undefined);
}


/**
 * The peers' commands: testinfra (Debian's python3-testinfra under /usr/bin/python3, not pyenv's
 * python3) over ssh with a ControlMaster, and serverspec (ruby-serverspec), both reading the
 * subset's expectation from one JSON file. Missing tools are named with the package to install.
 */
function preparePeers(info, node, doc, dir) {
  const e = doc.expectations[doc.nodes[0].expect];
  const spec = { address: node.address, firewall: e.firewall, tls: e.tls, health: e.health, caCert: info.caCert };
  const specFile = join(dir, 'expect.json');
  writeFileSync(specFile, JSON.stringify(spec, null, 2));
  const sshConfig = join(dir, 'ssh_config');
  writeFileSync(sshConfig, [
    `Host ${node.address}`, '  User root', `  IdentityFile ${info.identityFile}`, `  UserKnownHostsFile ${info.knownHosts}`, '  StrictHostKeyChecking yes',
    '  BatchMode yes', '  ControlMaster auto', `  ControlPath ${join(dir, 'cm-%C')}`, '  ControlPersist 60', '',
  ].join('\n'));
  const missing = [];
  if (spawnSync('/usr/bin/python3', ['-c', 'import testinfra, pytest'], { encoding: 'utf8' }).status !== 0) missing.push('python3-testinfra (apt-get install python3-testinfra)');
  if (spawnSync('ruby', ['-e', 'require "serverspec"'], { encoding: 'utf8' }).status !== 0) missing.push('ruby-serverspec (apt-get install ruby-serverspec)');
  if (missing.length) throw new Error(`--peers needs ${missing.join(' and ')}`);
  const env = { LEAFCERT_PEER_EXPECT: specFile, LEAFCERT_PEER_SSH_CONFIG: sshConfig, LEAFCERT_PEER_HOST: node.address };
  const peers = join(root, 'bench', 'peers');
  return [
    { name: 'testinfra (ssh + ControlMaster)', cmd: '/usr/bin/python3', args: ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', `--hosts=ssh://${node.address}`, `--ssh-config=${sshConfig}`, join(peers, 'test_subset.py')], env, cwd: peers, after: ['ssh', '-F', sshConfig, '-O', 'exit', node.address] },
    { name: 'serverspec', cmd: 'ruby', args: ['-S', 'rspec', join(peers, 'subset_spec.rb')], env, cwd: peers },
  ];
}
