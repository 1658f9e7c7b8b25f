// Hostile inputs and interrupted runs, without a lab (issue 12): a probe killed or timed out
// leaves no secret value and no scratch on the node, garbage from systemctl is `error` (never a
// pass or a fail), a connection that drops mid-command is one plain sentence, and a command's
// output is capped. Probe scripts run for real here (LocalHost, fake tools early on PATH); an
// in-process ssh2 server stands in for a node that misbehaves at the protocol level.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import ssh2 from 'ssh2';
import { LocalHost } from '../src/transport/local.js';
import { SshHost, withRemoteTimeout } from '../src/transport/ssh.js';
import { IDENTITY_COMMAND } from '../src/probes/identity.js';
import { scratchSh } from '../src/probes/scratch.js';
import { parseShowBlocks } from '../src/probes/audit.js';
import { parseLocate } from '../src/probes/containers.js';
import { parseSystemctlShow, requireProps } from '../src/probes/systemd.js';
import { secretsSuite, type SecretsExpect } from '../suites/secrets.js';
import { backupSuite, parseShow, type BackupExpect } from '../suites/backup.js';
import { isolationSuite } from '../suites/isolation.js';
import { limitsSuite, SLICE_USERS_AWK } from '../suites/limits.js';
import { FakeHost } from './helpers/fakes.js';
import { DEFAULT_MAX_OUTPUT_BYTES, ParseError, TransportError, type ExecOptions, type ExecResult, type Host, type NodeSpec, type SuiteContext } from '../src/core/types.js';

const rnd = () => execFileSync('openssl', ['rand', '-hex', '20']).toString().trim();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const node: NodeSpec = { name: 'hostile', transport: 'local', ssh: { user: 'root', port: 22, connectTimeoutMs: 1000 }, expect: 'x' };
const ctx = (host: Host, timeoutMs = 30_000): SuiteContext => ({ node, host, identity: {}, options: { allowMutating: false, timeoutMs, baseDir: '/' }, progress: () => {} });
const REAL_GREP = execFileSync('sh', ['-c', 'command -v grep']).toString().trim();

/** A LocalHost whose probes believe systemd is PID 1 (the fake systemctl on PATH answers). */
function withSystemd(host: LocalHost): Host {
  const h = Object.create(host) as LocalHost;
  h.exec = (cmd: string, o?: ExecOptions) => host.exec(cmd.replaceAll('[ -d /run/systemd/system ]', 'true'), o);
  return h;
}

/** Files under the usual scratch places that hold any of `values` (the test's own tree excluded). */
function filesHolding(values: string[], exclude: string): string[] {
  // exit 2 only says some file vanished or could not be read meanwhile (busy shared machine)
  const r = spawnSync(REAL_GREP, ['-rlsF', '-D', 'skip', `--exclude-dir=${exclude}`, '-f', '-', '/tmp', '/dev/shm', '/var/tmp', '/run'], { input: values.join('\n') + '\n', encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean);
}

async function waitFor(what: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) if (what()) return true;
  return what();
}

let dir: string;
let shim: string;
let log: string;
let oldPath: string | undefined;
const host = new LocalHost('hostile');

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'leafcert-hostile-'));
  shim = join(dir, 'shim');
  log = join(dir, 'log');
  for (const d of [shim, log, join(dir, 'etc'), join(dir, 'keys')]) mkdirSync(d);
  oldPath = process.env.PATH;
  process.env.PATH = `${shim}:${process.env.PATH}`;
});
afterAll(() => {
  process.env.PATH = oldPath;
  rmSync(dir, { recursive: true, force: true });
});
/** Marks the start of a case: temp files newer than this are the case's. */
function start(): void {
  const t0 = join(dir, 't0');
  writeFileSync(t0, '');
  const then = new Date(Date.now() - 1000);
  utimesSync(t0, then, then);
}
afterEach(() => {
  for (const f of ['grep', 'systemctl']) rmSync(join(shim, f), { force: true });
  rmSync(log, { recursive: true, force: true });
  mkdirSync(log);
});

/**
 * A fake tool on PATH: logs its argv and the leafcert scratch dirs of its own ancestors (the
 * script that runs it), and the /tmp/tmp.* made since the test started, then runs `body`.
 */
function fakeTool(name: string, body: string): void {
  writeFileSync(
    join(shim, name),
    [
      '#!/bin/bash',
      `L=${log}`,
      `printf '%s\\n' "$*" >> "$L/${name}.argv"`,
      'anc=" "; p=$$; while [ "$p" -gt 1 ] 2>/dev/null; do anc="$anc$p "; p=$(cut -d" " -f4 /proc/$p/stat); done',
      'for d in /dev/shm/leafcert.* /run/leafcert.* /tmp/leafcert.*; do [ -d "$d" ] || continue; x=${d##*/leafcert.}; x=${x#*.}; case "$anc" in *" ${x%%.*} "*) echo "$d" >> "$L/scratch";; esac; done',
      `find /tmp -maxdepth 1 -name 'tmp.*' -newer ${join(dir, 't0')} >> "$L/scratch" 2>/dev/null`,
      body,
    ].join('\n'),
    { mode: 0o755 },
  );
}
const logged = (f: string) => (existsSync(join(log, f)) ? readFileSync(join(log, f), 'utf8').split('\n').filter(Boolean) : []);

describe('secrets probe on a hostile node: no value ever on disk, nothing left behind', () => {
  it('a grep that hangs until the timeout: no file anywhere holds a value while it hangs, and its scratch is gone after', async () => {
    const values = [rnd(), rnd()];
    const env = join(dir, 'etc', 'secrets.env');
    writeFileSync(env, `A_SECRET=${values[0]}\nB_SECRET="${values[1]}"\n`, { mode: 0o640 });
    writeFileSync(join(dir, 'etc', 'public.conf'), 'nothing secret here\n', { mode: 0o644 });
    // the leak scan's first grep (-laF over the candidate files) hangs, as on a node whose grep stalls
    fakeTool('grep', `if [ "$1" = -laF ]; then echo $$ > "$L/stalled"; sleep 60; fi\nexec ${REAL_GREP} "$@"`);
    const spec: SecretsExpect = { files: [{ path: env }], scanRoots: [join(dir, 'etc')], keyPaths: [join(dir, 'keys')], discover: false };
    start();
    const run = secretsSuite.gather(ctx(host, 8000), spec);
    const stalled = await waitFor(() => existsSync(join(log, 'stalled')), 7500);
    expect(stalled, 'the probe reached the leak scan').toBe(true);
    // While the probe is stuck with the values in hand: none of them in any file.
    expect(filesHolding(values, basename(dir))).toEqual([]);
    await expect(run).rejects.toMatchObject({ kind: 'timeout' });
    const scratch = logged('scratch');
    expect(scratch.length, 'the probe had a scratch dir').toBeGreaterThan(0);
    expect(scratch.every((d) => d.startsWith('/dev/shm/') || d.startsWith('/run/')), `scratch in RAM: ${scratch}`).toBe(true);
    // TERM reached the script's trap: scratch removed, the hanging grep gone.
    expect(await waitFor(() => scratch.every((d) => !existsSync(d)), 4000), `left behind: ${scratch.filter((d) => existsSync(d))}`).toBe(true);
    const pid = readFileSync(join(log, 'stalled'), 'utf8').trim();
    expect(await waitFor(() => !existsSync(`/proc/${pid}`), 4000)).toBe(true);
    expect(filesHolding(values, basename(dir))).toEqual([]);
    // and never in an argument: grep read its patterns from a pipe, /dev/fd/N or a FIFO in the RAM
    // scratch (the probe's scratch, checked above to be gone), never from a file holding a value
    const argv = logged('grep.argv').join('\n');
    const from = /-laF -f (\S+)/.exec(argv)?.[1] ?? '';
    expect(from).toMatch(/^\/dev\/fd\/\d+$|^\/(dev\/shm|run)\/leafcert\.[^/]+\/[^/]+$/);
    if (!from.startsWith('/dev/fd/')) expect(scratch.some((d) => from.startsWith(`${d}/`)), `${from} in the probe's scratch`).toBe(true);
    for (const v of values) expect(argv.includes(v)).toBe(false);
  });

  it('the node-side kill bound follows --timeout (it was max(--timeout, 30 s))', async () => {
    const seen: (ExecOptions | undefined)[] = [];
    const h = new FakeHost('n');
    h.exec = async (command: string, o?: ExecOptions): Promise<ExecResult> => {
      seen.push(o);
      return { code: 0, stdout: 'END\n', stderr: '', command, durationMs: 1 };
    };
    await secretsSuite.gather(ctx(h, 5000), { files: [] });
    expect(seen.map((o) => o?.timeoutMs)).toEqual([5000]);
    // TERM at the deadline (traps run), KILL 2 s later
    expect(withRemoteTimeout('x', 5000)).toMatch(/exec timeout -s TERM -k 2 5\.5 sh -c 'x'/);
  });

  it('systemctl show printing garbage makes secrets.exposure an error, not a pass', async () => {
    const value = rnd();
    const env = join(dir, 'etc', 'secrets.env');
    writeFileSync(env, `A_SECRET=${value}\n`, { mode: 0o640 });
    const spec: SecretsExpect = { files: [{ path: env }], scanRoots: [join(dir, 'etc')], keyPaths: [join(dir, 'keys')], noCaKey: false, htpasswd: false };
    const exposure = async () => secretsSuite.evaluate(await secretsSuite.gather(ctx(withSystemd(host)), spec), spec, { node, identity: {}, options: ctx(host).options, now: new Date() }).find((o) => o.id === 'secrets.exposure')!;

    // a sane systemctl whose unit holds the value: found (the scan really reads it)
    fakeTool('systemctl', `printf 'Id=a.service\\nEnvironment=X=1\\n\\nId=leaky.service\\nEnvironment=TOKEN=%s\\n' '${value}'`);
    expect(await exposure()).toMatchObject({ status: 'fail', message: expect.stringMatching(/A_SECRET .* in unit Environment \(systemctl show\) leaky.service/) });

    for (const [garbage, why] of [
      [`printf '\\033[31mFailed to connect to bus\\033[0m\\nsomething\\n'`, /block without Id= first at line 1: \?\[31mFailed to connect to bus/],
      [`printf 'Id=a.service\\nEnvironment=X=1\\n\\nnot a property line\\n'`, /block without Id= first at line 4/],
      [`printf 'Id=a.service\\nthis is no KEY=VALUE %s\\n' '${value}'`, /not KEY=VALUE at line 2: \(withheld: holds a secret value\)/],
      ['true', /printed no unit/],
      ['exit 1', /exited 1/],
    ] as const) {
      fakeTool('systemctl', garbage);
      const o = await exposure();
      expect(o.status, garbage).toBe('error');
      expect(o.message).toMatch(/cannot tell whether the values leak: unit environments unreadable: /);
      expect(o.message).toMatch(why);
      expect(o.message.includes(value)).toBe(false);
    }
  });
});

describe('backup on a hostile node', () => {
  it('a probe killed at the suite timeout leaves no temp file (it left an empty /tmp/tmp.*)', async () => {
    // systemctl is-active hangs: the first round trip runs into the suite's deadline.
    fakeTool('systemctl', 'sleep 60');
    const e: BackupExpect = { job: 'nosuchjob', maxAge: '1h' };
    start();
    const t0 = Date.now();
    const f = await backupSuite.gather(ctx(withSystemd(host), 4000), e);
    expect(Date.now() - t0).toBeLessThan(9000);
    expect(f.list).toMatchObject({ ok: false, reason: expect.stringMatching(/timed out/) });
    const made = logged('scratch');
    expect(made.length, 'the probe made scratch').toBeGreaterThan(0);
    expect(await waitFor(() => made.every((p) => !existsSync(p)), 4000), `left behind: ${made.filter((p) => existsSync(p))}`).toBe(true);
  });

  it('systemctl show printing garbage makes backup.units an error, not a fail ("missing units")', async () => {
    const e: BackupExpect = { job: 'nosuchjob', maxAge: '1h' };
    const units = async () => {
      const f = await backupSuite.gather(ctx(withSystemd(host)), e);
      return backupSuite.evaluate(f, e, { node, identity: {}, options: ctx(host).options, now: new Date() }).find((o) => o.id === 'backup.units')!;
    };
    for (const garbage of ['Failed to get properties: Transport endpoint is not connected', '\\033[1mId=borgbackup-job-nosuchjob.service', 'Id=borgbackup-job-nosuchjob.service\\nLoadState=loaded\\n']) {
      fakeTool('systemctl', `case "$1" in is-active) echo inactive;; *) printf '${garbage}\\n';; esac`);
      const o = await units();
      expect(o.status, garbage).toBe('error');
      expect(o.evidence.source).toMatch(/systemctl show/);
    }
    // what systemctl really prints for units that do not exist: a verdict (fail), not an error
    fakeTool('systemctl', `case "$1" in is-active) echo inactive;; *) for u in "$@"; do case $u in -*|*,*|show) ;; *) printf 'Id=%s\\nLoadState=not-found\\nActiveState=inactive\\n\\n' "$u";; esac; done;; esac`);
    expect(await units()).toMatchObject({ status: 'fail', message: expect.stringMatching(/^missing: borgbackup-job-nosuchjob.service/) });
    // is-active printing garbage: the repository is left alone, and that is an error
    fakeTool('systemctl', `case "$1" in is-active) echo 'garbage from a broken bus';; esac`);
    const f = await backupSuite.gather(ctx(withSystemd(host)), e);
    expect(f.list).toMatchObject({ ok: false, reason: expect.stringMatching(/is-active .* printed something that is not a unit state/) });
  });
});

describe('strict systemctl show parsers', () => {
  it('refuse lines that are not KEY=VALUE, blocks without the asked-for properties, the wrong number of blocks', () => {
    expect(() => parseShow('garbage\n', 3)).toThrow(ParseError);
    expect(() => parseShow('Id=a.service\nLoadState=loaded\n', 3)).toThrow(/1 unit block\(s\) for 3 unit\(s\) asked/);
    expect(() => parseShow('Id=a\nLoadState=loaded\n\nId=b\n\nId=c\nLoadState=loaded\n', 3)).toThrow(/unit block 2 \(b\) lacks LoadState/);
    expect(() => parseShow('', 1)).toThrow(/printed no unit block/);
    expect(parseShow('Id=a\nLoadState=loaded\n', 1)).toEqual([{ Id: 'a', LoadState: 'loaded' }]);
    expect(() => parseShowBlocks('Id=audit.service\nLoadState=loaded\n')).toThrow(ParseError);
    expect(() => requireProps(parseSystemctlShow('Id=x\n', 's'), ['Id', 'MemoryMax'], 's')).toThrow(/lacks MemoryMax/);
  });

  it('a machinectl answering garbage is an error, not "the container does not exist"', () => {
    const out = readFileSync(new URL('../fixtures/machinectl/locate-nixos.txt', import.meta.url), 'utf8').replace('alchemist 1423\n', 'alchemist Failed to get machine property: Access denied\n');
    expect(() => parseLocate(out, 'locate')).toThrow(/machinectl show NAME -p Leader: unexpected line "alchemist Failed to get machine property/);
  });

  it('limits: garbled slice users are an error, not "no unit uses the slice"', async () => {
    const awk = (input: string) => execFileSync('awk', ['-v', 'RS=', '-v', 'want=|alchemist.slice|', SLICE_USERS_AWK], { input }).toString();
    expect(awk('Id=a.service\nSlice=alchemist.slice\n\nId=b.service\nSlice=system.slice\n')).toBe('Id=a.service\nSlice=alchemist.slice\n\n');
    expect(awk('Failed to connect to bus\n')).toMatch(/^GARBLED block 1 does not start with Id=: Failed to connect to bus/);
    expect(awk('')).toMatch(/^GARBLED no unit block/);
    const sec = (name: string, text: string, rc = 0) => `@@leafcert ${name}\n${text}\n@@leafcert-rc ${name} ${rc}\n`;
    const h = new FakeHost('n');
    const notFound = 'Id=alchemist.slice\nLoadState=loaded\nActiveState=active\nControlGroup=\nSlice=-.slice\nMemoryHigh=infinity\nMemoryMax=34359738368\nCPUQuotaPerSecUSec=8s\nTasksMax=infinity\n';
    h.exec = async (command: string) => ({ code: 0, stdout: sec('meminfo', 'MemTotal: 1000 kB') + sec('systemd', notFound) + sec('sliceusers', awk('garbage\n')), stderr: '', command, durationMs: 1 });
    const exp = { slices: { alchemist: { memoryMax: '32G' } } };
    const out = limitsSuite.evaluate(await limitsSuite.gather(ctx(h), exp), exp, { node, identity: {}, options: ctx(h).options, now: new Date() });
    expect(out.find((o) => o.id === 'limits.slice-used')).toMatchObject({ status: 'error', message: expect.stringMatching(/not systemctl show's output: block 1 does not start with Id=/) });
    // a limit missing from a loaded unit's block is not "no limit"
    h.exec = async (command: string) => ({ code: 0, stdout: sec('meminfo', 'MemTotal: 1000 kB') + sec('systemd', notFound.replace(/^MemoryMax=.*\n/m, '')) + sec('sliceusers', ''), stderr: '', command, durationMs: 1 });
    const out2 = limitsSuite.evaluate(await limitsSuite.gather(ctx(h), exp), exp, { node, identity: {}, options: ctx(h).options, now: new Date() });
    expect(out2.find((o) => o.id === 'limits.declared')).toMatchObject({ status: 'error', message: expect.stringMatching(/lacks MemoryMax/) });
  });
});

describe('isolation when the facts come back cut short', () => {
  it('a missing section is an error naming it, never "Cannot read properties of undefined"', async () => {
    const fx = (p: string) => readFileSync(new URL(`../fixtures/${p}`, import.meta.url), 'utf8');
    const sec = (name: string, text: string, rc = 0) => `@@leafcert ${name}\n${text}\n@@leafcert-rc ${name} ${rc}\n`;
    const ns = 'net net:[1]\npid pid:[2]\nmnt mnt:[3]\nipc ipc:[4]\nuts uts:[5]\ncgroup cgroup:[6]\nuser user:[7]';
    // what the ssh transport used to return when the connection dropped mid-command: a fragment
    const cut = sec('host.ns', ns) + sec('host.tcp', '') + sec('alive.0', 'bash') + '@@leafcert ns.0\nnet net:[1';
    const h = new FakeHost('n');
    let n = 0;
    h.exec = async (command: string) => ({ code: 0, stdout: n++ === 0 ? fx('machinectl/locate-lab.txt') : cut, stderr: '', command, durationMs: 1 });
    const exp = { alchemist: { noReachTargets: true } };
    const facts = await isolationSuite.gather(ctx(h), exp);
    const out = isolationSuite.evaluate(facts, exp, { node, identity: {}, options: ctx(h).options, now: new Date() });
    expect(out.map((o) => `${o.id}:${o.status}`)).toEqual(['isolation.container-present:error']);
    expect(out[0].message).toBe('isolation facts script: output lacks section ns.0 (container alchemist)');
    expect(JSON.stringify(out)).not.toMatch(/Cannot read properties/);
  });
});

describe('scratch on the node', () => {
  it('a probe script keeps its scratch in RAM and removes it on every catchable signal', async () => {
    for (const [sh, sig] of [['bash', 'TERM'], ['sh', 'INT'], ['sh', 'HUP'], ['bash', 'PIPE']]) {
      const r = spawnSync(sh, ['-c', `${scratchSh('S')}\necho "$S" >&2\nkill -${sig} $$\nsleep 5\necho still running >&2`], { encoding: 'utf8' });
      const path = r.stderr.trim().split('\n')[0];
      expect(path).toMatch(/^\/dev\/shm\/leafcert\.\d+\.\d+\.\w{6}$/);
      expect(r.stderr, sig).not.toMatch(/still running/);
      expect(existsSync(path), `${sh} ${sig}`).toBe(false);
    }
  });

  it('scratch is removed when TERM comes several times at once (the harness signals the group, timeout forwards it)', async () => {
    // A second TERM inside a plain EXIT trap ended the shell before its rm (1 run in 2 to 1 in 10).
    for (let i = 0; i < 20; i++) {
      const child = spawn('timeout', ['-s', 'TERM', '-k', '2', '10', 'sh', '-c', `${scratchSh('S')}\necho "$S" >&2\nJ=$(sleep 5)`], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d) => (err += d));
      // once the script holds its scratch (and sits in the command substitution)
      expect(await waitFor(() => err.includes('\n'), 10_000)).toBe(true);
      await sleep(100);
      process.kill(-child.pid!, 'SIGTERM');
      await new Promise((r) => child.once('close', r));
      const path = err.trim().split('\n')[0];
      expect(path).toMatch(/^\/dev\/shm\/leafcert\./);
      expect(existsSync(path), `run ${i}: ${path} left`).toBe(false);
    }
  });

  it('the first round trip (identity) sweeps leftovers of dead runs of its PID namespace and old ones, never a live run\'s', async () => {
    const ns = execFileSync('readlink', ['/proc/self/ns/pid']).toString().replace(/\D/g, '');
    let dead = 4194000;
    while (existsSync(`/proc/${dead}`)) dead++;
    const mk = (name: string) => {
      const p = `/dev/shm/${name}`;
      mkdirSync(p);
      writeFileSync(join(p, 'x'), 'scratch');
      return p;
    };
    const deadRun = mk(`leafcert.${ns}.${dead}.hostl1`);
    const liveRun = mk(`leafcert.${ns}.${process.pid}.hostl2`);
    const otherNs = mk(`leafcert.1.${dead}.hostl3`);
    const oldOtherNs = mk(`leafcert.2.${dead}.hostl4`);
    const old = new Date(Date.now() - 2 * 86400_000);
    utimesSync(oldOtherNs, old, old);
    try {
      await host.exec(IDENTITY_COMMAND, { timeoutMs: 15_000 });
      expect(existsSync(deadRun)).toBe(false);
      expect(existsSync(oldOtherNs)).toBe(false);
      expect(existsSync(liveRun)).toBe(true);
      expect(existsSync(otherNs)).toBe(true);
    } finally {
      for (const p of [deadRun, liveRun, otherNs, oldOtherNs]) rmSync(p, { recursive: true, force: true });
    }
  });
});

describe('output cap', () => {
  it('local: 200 MiB of output is an error naming the command and the cap; memory stays bounded', async () => {
    const base = process.memoryUsage().rss;
    let peak = base;
    const t = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    try {
      const e = await host.exec('head -c 209715200 /dev/zero').then(() => undefined, (x) => x);
      expect(e).toBeInstanceOf(TransportError);
      expect(e.message).toMatch(/^hostile: output of "head -c 209715200 \/dev\/zero" exceeded the 16 MiB cap \(\d+ bytes read\); the command was stopped$/);
    } finally {
      clearInterval(t);
    }
    expect(peak - base).toBeLessThan(120 * 1024 * 1024);
    expect(DEFAULT_MAX_OUTPUT_BYTES).toBe(16 * 1024 * 1024);
    // a smaller cap per call; output under the cap is untouched
    await expect(host.exec('head -c 5000 /dev/zero', { maxOutputBytes: 4096 })).rejects.toThrow(/exceeded the 4 KiB cap/);
    expect((await host.exec('head -c 4000 /dev/zero', { maxOutputBytes: 4096 })).stdout.length).toBe(4000);
  });

  it('local readFile: a huge file is an error too (it was read whole)', async () => {
    const big = join(dir, 'big');
    execFileSync('truncate', ['-s', '200M', big]);
    try {
      await expect(host.readFile(big)).rejects.toThrow(/output of "cat -- .*big" exceeded the 16 MiB cap/);
      await expect(host.readFile(big, { maxOutputBytes: 1024 })).rejects.toThrow(/1 KiB cap/);
      expect(statSync(big).size).toBe(200 * 1024 * 1024);
    } finally {
      rmSync(big);
    }
  });

  it('local close() stops what still runs and says so', async () => {
    const h = new LocalHost('closing');
    const p = h.exec('sleep 30.4343; echo never');
    await sleep(200);
    await h.close();
    await expect(p).rejects.toThrow(/^closing: host closed while "sleep 30.4343; echo never" ran$/);
  });
});

describe('ssh transport against a misbehaving server (in-process ssh2 server)', () => {
  let server: InstanceType<typeof ssh2.Server>;
  let port = 0;
  let kdir: string;
  // How the server answers each exec, by command.
  const behave: Record<string, (stream: any, conn: any) => void> = {
    echo: (s) => {
      s.write('hi\n');
      s.exit(0);
      s.end();
    },
    // the connection drops while the command is still writing (sshd killed, network gone)
    drop: (s, conn) => {
      s.write('@@leafcert host.ns\nnet net:[1');
      setTimeout(() => conn.end(), 50);
    },
    // the channel closes without an exit status
    noexit: (s) => {
      s.write('partial');
      setTimeout(() => s.close(), 50);
    },
    flood: (s) => {
      const chunk = Buffer.alloc(64 * 1024, 0x41);
      let sent = 0;
      const pump = () => {
        while (sent < 4 * 1024 * 1024) {
          sent += chunk.length;
          if (!s.write(chunk)) return s.once('drain', pump);
        }
        s.exit(0);
        s.end();
      };
      s.on('close', () => (sent = Infinity));
      pump();
    },
  };

  beforeAll(async () => {
    kdir = mkdtempSync(join(tmpdir(), 'leafcert-hostile-ssh-'));
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(kdir, 'host')]);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(kdir, 'client')]);
    server = new ssh2.Server({ hostKeys: [readFileSync(join(kdir, 'host'))] }, (conn: any) => {
      conn.on('error', () => undefined);
      conn.on('authentication', (c: any) => c.accept());
      conn.on('ready', () => {
        conn.on('session', (accept: any) => {
          accept().on('exec', (acc: any, _rej: any, info: { command: string }) => {
            const s = acc();
            const f = behave[info.command.split(' ')[0]] ?? behave.echo;
            f(s, conn);
          });
        });
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as { port: number }).port;
    const pub = readFileSync(join(kdir, 'host.pub'), 'utf8').split(' ');
    writeFileSync(join(kdir, 'known_hosts'), `[127.0.0.1]:${port} ${pub[0]} ${pub[1]}\n`);
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(kdir, { recursive: true, force: true });
  });
  const connect = () =>
    SshHost.connect({ name: 'misbehaving', host: '127.0.0.1', transport: 'ssh', expect: 'x', ssh: { user: 'root', port, identityFile: join(kdir, 'client'), knownHosts: join(kdir, 'known_hosts'), connectTimeoutMs: 5000 } });

  it('the connection dropping mid-command rejects with one plain sentence (it resolved with the fragment)', async () => {
    const h = await connect();
    try {
      expect((await h.exec('echo')).stdout).toBe('hi\n');
      const e = await h.exec('drop the connection').then(() => undefined, (x) => x);
      expect(e).toBeInstanceOf(TransportError);
      expect(e).toMatchObject({ kind: 'unreachable', message: expect.stringMatching(/^misbehaving: ssh connection (closed by 127\.0\.0\.1|lost: .+)$/) });
      // later commands say the same, at once
      await expect(h.exec('echo')).rejects.toThrow(e.message);
    } finally {
      await h.close();
    }
  });

  it('a channel closed without an exit status is an error, not a result', async () => {
    const h = await connect();
    try {
      await expect(h.exec('noexit please')).rejects.toMatchObject({ kind: 'unreachable', message: 'misbehaving: ssh channel closed before "noexit please" finished (no exit status)' });
      expect((await h.exec('echo')).stdout).toBe('hi\n');
    } finally {
      await h.close();
    }
  });

  it('output over the cap: error naming the command and the size; the connection stays usable', async () => {
    const h = await connect();
    try {
      const e = await h.exec('flood the client', { maxOutputBytes: 256 * 1024 }).then(() => undefined, (x) => x);
      expect(e).toMatchObject({ kind: 'protocol', message: expect.stringMatching(/^misbehaving: output of "flood the client" exceeded the 256 KiB cap \(\d+ bytes read\); the command was stopped$/) });
      expect((await h.exec('echo')).stdout).toBe('hi\n');
    } finally {
      await h.close();
    }
  });
});
