// Hostile node, real SSH (issue 12): a full lab node whose tools misbehave — a grep that hangs, a
// systemctl that prints garbage, a readlink that kills the ssh session mid-script, a command that
// floods its output — run through the built CLI. No secret value ever reaches the node's disk, the
// node-side kill bound follows --timeout, scratch is gone after, garbage is `error` (never pass or
// fail), a dropped connection is one plain sentence, and output is capped.
// The fake tools live in the node's /usr/local/bin (its own overlay), which is early on the PATH
// of ssh sessions; the test's own commands on the node use absolute paths.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type TestLab } from './helpers/lab.js';
import { opsInventory, type ReportResult } from './helpers/ops.js';
import { loadInventory } from '../src/inventory/load.js';
import { openHost } from '../src/transport/index.js';
import { TransportError } from '../src/core/types.js';

const NODE = 'leaf-1';
let lab: TestLab;
let values: string[];
let seq = 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function sh(cmd: string): Promise<string> {
  const r = await lab.exec(NODE, cmd);
  if (r.code !== 0) throw new Error(`on ${NODE}: ${cmd.slice(0, 120)}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** Installs a fake tool in the node's /usr/local/bin: `body` runs, then the real one. */
async function fake(name: string, real: string, body: string): Promise<void> {
  await sh(`mkdir -p /run/hostile && cat > /usr/local/bin/${name} <<'EOF'\n#!/bin/bash\n${body}\nexec ${real} "$@"\nEOF\nchmod 755 /usr/local/bin/${name}`);
}
async function unfake(...names: string[]): Promise<void> {
  await sh(`rm -f ${names.map((n) => `/usr/local/bin/${n}`).join(' ')}; rm -rf /run/hostile /run/systemd`);
}

/** The CLI on the lab with only `keys` of the expectation, `--only only`; the JSON results. */
async function run(keys: string[], only: string, extra: string[] = []): Promise<{ code: number | null; results: ReportResult[]; out: string; ms: number }> {
  const inv = opsInventory(lab, keys);
  const json = join(lab.info.state, `hostile-${process.pid}-${++seq}.json`);
  const t0 = Date.now();
  const r = await lab.leafcert(['run', '--inventory', inv, '--only', only, '--json', json, ...extra]);
  const ms = Date.now() - t0;
  let results: ReportResult[];
  try {
    results = JSON.parse(readFileSync(json, 'utf8')).results;
  } catch {
    throw new Error(`no JSON report (exit ${r.code}): ${r.stderr.slice(0, 800)} ${r.stdout.slice(0, 800)}`);
  }
  return { code: r.code, results, out: r.stdout + r.stderr, ms };
}

/** Files in the node's temp places (its /tmp, /run, /var/tmp; /dev/shm is the host's) holding a secret value. */
async function filesHoldingValues(): Promise<string[]> {
  const r = await lab.exec(NODE, `printf '%s\\n' ${values.map((v) => `'${v}'`).join(' ')} | /usr/bin/grep -rlsF -D skip -f - /tmp /dev/shm /run /var/tmp; true`);
  return r.stdout.split('\n').filter(Boolean);
}

/** leafcert scratch dirs of the node's PID namespace. */
async function scratchDirs(): Promise<string[]> {
  const out = await sh(`ns=$(/usr/bin/readlink /proc/self/ns/pid | tr -cd 0-9); ls -d /dev/shm/leafcert.$ns.* /run/leafcert.$ns.* /tmp/leafcert.$ns.* 2>/dev/null; true`);
  return out.split('\n').filter(Boolean);
}

async function until(what: () => Promise<boolean>, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(250)) if (await what()) return true;
  return what();
}

describe('a hostile lab node', { timeout: 180_000 }, () => {
  beforeAll(async () => {
    lab = await startLab({ name: 'hostile-node', flavour: 'full' });
    values = (await sh('cat /etc/alchemist/secrets.env')).split('\n').map((l) => l.replace(/^[A-Z_]+=/, '').trim()).filter((v) => v.length >= 8);
    expect(values.length).toBeGreaterThan(0);
    // nothing holds a value to begin with (else the checks below would prove nothing)
    expect(await filesHoldingValues()).toEqual([]);
  });
  afterAll(async () => {
    if (lab) await unfake('grep', 'systemctl', 'readlink').catch(() => undefined);
    await lab?.down();
  });

  it('secrets with a grep that hangs and --timeout 12s: no value on disk meanwhile, the remote work ends with the timeout, nothing left; the next run sweeps a killed run\'s scratch', async () => {
    // A killed run's leftover (its process is gone): the next run's first round trip removes it.
    const ns = (await sh('/usr/bin/readlink /proc/self/ns/pid')).replace(/\D/g, '');
    const stale = `/dev/shm/leafcert.${ns}.4194301.hostil`;
    await sh(`mkdir -p ${stale} && echo scratch > ${stale}/files`);
    await fake('grep', '/usr/bin/grep', 'if [ "$1" = -laF ]; then echo $$ > /run/hostile/grep.pid; sleep 60; fi');
    try {
      // 12 s: room for a loaded machine to reach the leak scan, and still far from the old 30.5 s bound.
      const running = run(['secrets'], 'secrets', ['--timeout', '12s']);
      const reached = await until(async () => (await lab.exec(NODE, 'test -s /run/hostile/grep.pid')).code === 0, 30_000);
      if (!reached) {
        const r = await running;
        throw new Error(`the probe did not reach its leak scan (exit ${r.code}): ${r.results.map((x) => `${x.id} ${x.status} ${x.message}`).join('; ').slice(0, 600)}`);
      }
      // the probe is stuck with every value in hand: none of them in a file
      expect(await filesHoldingValues()).toEqual([]);
      expect(await scratchDirs()).not.toContain(stale);
      const { code, results, ms } = await running;
      expect(code).toBe(3);
      const own = results.filter((r) => r.id.startsWith('secrets.'));
      expect(own.length).toBeGreaterThan(0);
      for (const r of own) expect(r.status, `${r.id}: ${r.message}`).toBe('error');
      expect(own[0].message).toMatch(/timed out|did not finish within 12s/);
      // The node-side bound is the run's timeout (+0.5 s, TERM, KILL 2 s later), not 30.5 s.
      const pid = (await sh('cat /run/hostile/grep.pid')).trim();
      const t0 = Date.now();
      expect(await until(async () => (await lab.exec(NODE, `test -d /proc/${pid}`)).code !== 0, 8000), `the hanging grep (pid ${pid}) outlived the timeout`).toBe(true);
      console.log(`hostile secrets run: ${ms} ms, remote grep gone ${Date.now() - t0} ms after the CLI exited`);
      expect(await until(async () => (await scratchDirs()).length === 0, 5000), 'scratch dirs left').toBe(true);
      expect(await filesHoldingValues()).toEqual([]);
      expect((await sh('ls /tmp')).split('\n').filter((n) => n.startsWith('tmp.'))).toEqual([]);
    } finally {
      await unfake('grep');
      await sh(`rm -rf ${stale}`);
    }
  });

  it('a systemctl that prints garbage: backup.units and secrets.exposure are errors, never fail or pass; no temp file left', async () => {
    // A node "with systemd" whose systemctl answers nonsense.
    await sh('mkdir -p /run/systemd/system');
    await fake('systemctl', '/bin/false', `printf '\\033[1mFailed to connect to bus: Transport endpoint is not connected\\033[0m\\nsomething else\\n'; exit 0`);
    try {
      const { code, results } = await run(['backup', 'secrets'], 'backup,secrets');
      const get = (id: string) => results.find((r) => r.id === id)!;
      expect(get('backup.units')).toMatchObject({ status: 'error' });
      expect(get('backup.units').message).toMatch(/systemctl|unit state/);
      expect(get('secrets.exposure')).toMatchObject({ status: 'error', message: expect.stringMatching(/cannot tell whether the values leak: unit environments unreadable: systemctl show printed a block without Id= first at line 1: \?\[1mFailed to connect to bus/) });
      // garbage never became a verdict
      expect(results.filter((r) => r.status === 'fail').map((r) => `${r.id}: ${r.message}`)).toEqual([]);
      expect(code).toBe(3);
      for (const r of results) expect(r.message).not.toMatch(/Cannot read properties|at .*\.js:\d+/);
      expect((await sh('ls /tmp')).split('\n').filter((n) => n.startsWith('tmp.'))).toEqual([]);
      expect(await until(async () => (await scratchDirs()).length === 0, 5000)).toBe(true);
    } finally {
      await unfake('systemctl');
    }
  });

  it('the ssh connection dropping in the middle of the isolation facts script: every isolation result an error with one plain sentence', async () => {
    // find over the namespace links (/proc/1/ns first) is the isolation facts script's first
    // command: there, kill this ssh session's own sshd (walking up from the script), once.
    await fake(
      'find',
      '/usr/bin/find',
      'if [ "$1" = /proc/1/ns ] && mkdir /run/hostile/dropped 2>/dev/null; then p=$$; while [ "$p" -gt 1 ]; do case "$(cat /proc/$p/comm)" in sshd*) kill -TERM "$p"; sleep 2; break;; esac; p=$(cut -d" " -f4 /proc/$p/stat); done; fi',
    );
    try {
      const { code, results, out } = await run(['containers'], 'isolation');
      expect((await lab.exec(NODE, 'test -d /run/hostile/dropped')).code, 'the session was dropped').toBe(0);
      const iso = results.filter((r) => r.id.startsWith('isolation.'));
      expect(iso.length).toBeGreaterThan(0);
      for (const r of iso) {
        expect(r.status, `${r.id}: ${r.message}`).toBe('error');
        expect(r.message).toMatch(new RegExp(`^${NODE}: ssh (connection closed by [0-9.]+|connection lost: .+)$`));
      }
      expect(out).not.toMatch(/Cannot read properties/);
      expect(code).toBe(3);
    } finally {
      await unfake('find');
    }
  });

  it('200 MiB of output over ssh: an error naming the command and the cap, memory bounded, the connection still usable', async () => {
    const inv = loadInventory(lab.inventory);
    const host = await openHost(inv.nodes[0], { baseDir: inv.baseDir });
    try {
      const base = process.memoryUsage().rss;
      let peak = base;
      const t = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
      let e: unknown;
      try {
        e = await host.exec('head -c 209715200 /dev/zero', { timeoutMs: 60_000 }).then(() => undefined, (x) => x);
      } finally {
        clearInterval(t);
      }
      expect(e).toBeInstanceOf(TransportError);
      expect((e as Error).message).toMatch(new RegExp(`^${NODE}: output of "head -c 209715200 /dev/zero" exceeded the 16 MiB cap \\(\\d+ bytes read\\); the command was stopped$`));
      expect(peak - base).toBeLessThan(150 * 1024 * 1024);
      expect((await host.exec('echo still here')).stdout).toBe('still here\n');
      // an endless file is no different
      await expect(host.readFile('/dev/zero', { maxOutputBytes: 1024 * 1024 })).rejects.toThrow(/output of "cat -- '\/dev\/zero'" exceeded the 1 MiB cap/);
      // nothing keeps running on the node
      expect(await until(async () => !/head -c 209715200|cat -- \/dev\/zero/.test(await sh('ps -eo args')), 5000)).toBe(true);
    } finally {
      await host.close();
    }
  });
});
