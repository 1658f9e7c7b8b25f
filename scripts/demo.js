#!/usr/bin/env node
// `npm run demo`: installs the lab's Debian packages if missing, brings one lab leaf node up,
// certifies it, writes reports/, tears the lab down (also on Ctrl-C) and exits with leafcert's
// exit code. Run as root on a Debian 12 machine.
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = `${root}bin/leafcert.js`;
const state = '.lab-demo';
const t0 = Date.now();
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
const say = (s) => process.stdout.write(`demo: ${s}\n`);

let child;
function run(cmd, args, { quiet = false, env = process.env } = {}) {
  return new Promise((resolve) => {
    child = spawn(cmd, args, { cwd: root, env, stdio: quiet ? ['ignore', 'pipe', 'pipe'] : 'inherit' });
    let out = '';
    child.stdout?.on('data', (b) => (out += b));
    child.stderr?.on('data', (b) => (out += b));
    child.on('error', (e) => resolve({ code: 127, out: e.message }));
    child.on('exit', (code, signal) => resolve({ code: code ?? (signal ? 130 : 1), out }));
  });
}

if (typeof process.getuid === 'function' && process.getuid() !== 0) {
  process.stderr.write('demo: must run as root (the lab creates network namespaces and installs Debian packages)\n');
  process.exit(2);
}

let interrupted = false;
let labUp = false;
async function teardown() {
  if (!labUp) return;
  labUp = false;
  say('tearing the lab down');
  const down = await run(process.execPath, [bin, 'lab', 'down', '--state', state], { quiet: true });
  if (down.code !== 0) process.stderr.write(`demo: lab down failed (exit ${down.code}): ${down.out.trim()}\n`);
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    say(`${sig}: stopping; the lab will be torn down`);
    // Ctrl-C reaches the whole process group, so the child has it already (a second SIGINT would
    // make leafcert skip finishing its reports); a SIGTERM is usually sent to this process alone.
    if (sig === 'SIGTERM') child?.kill('SIGTERM');
  });
}

let exitCode = 3;
try {
  say('checking Debian packages');
  // The demo's node is the full flavour: the systemd flavour's rootfs (minutes of debootstrap) is not needed.
  const deps = await run('bash', [`${root}scripts/install-deps.sh`], { env: { ...process.env, LEAFCERT_SKIP_ROOTFS: '1' } });
  if (deps.code !== 0) throw new Error(`install-deps.sh failed (exit ${deps.code})`);
  if (interrupted) throw new Error('interrupted');

  say(`bringing up one lab node (state ${state}) [${elapsed()}]`);
  labUp = true; // tear down even a half-built lab
  const up = await run(process.execPath, [bin, 'lab', 'up', '--state', state, '--flavour', 'full']);
  if (up.code !== 0) throw new Error(`lab up failed (exit ${up.code})`);
  if (interrupted) throw new Error('interrupted');

  mkdirSync(`${root}reports`, { recursive: true });
  say(`certifying [${elapsed()}]`);
  const cert = await run(process.execPath, [
    bin, 'run',
    '--inventory', `${state}/inventory.yaml`,
    '--junit', 'reports/junit.xml',
    '--tap', 'reports/results.tap',
    '--json', 'reports/evidence.json',
    '--html', 'reports/report.html',
  ]);
  exitCode = cert.code;
} catch (e) {
  process.stderr.write(`demo: ${e instanceof Error ? e.message : String(e)}\n`);
  exitCode = interrupted ? 3 : exitCode;
} finally {
  await teardown();
}
say(`done in ${elapsed()}; leafcert exit code ${exitCode}; reports in reports/`);
process.exit(exitCode);
