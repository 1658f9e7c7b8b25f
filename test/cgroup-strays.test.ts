// cg_strays (src/probes/cgroup.sh) on real processes: a small "container" (its own PID namespace, in
// a v1 memory and cpu cgroup of its own) whose processes are judged from this machine's /proc. The
// kernel shows an exiting task (a zombie, a PostgreSQL backend whose client just left) in the ROOT
// cgroup of every v1 hierarchy while v2 keeps its real one: such a task is no stray (the systemd lab
// test failed once on `4:memory:/; 1:cpu:/; 0::/machine.slice/container@alchemist.service`, a psql
// backend of the concurrent postgres probe exiting). A live process moved out of the container's
// cgroup still is one, also when its main thread has exited and another thread runs on.
// Root only (cgroups, unshare --pid), on a machine with v1 memory and cpu hierarchies.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CGROUP_SH } from '../src/probes/cgroup.js';
import { children, until } from './helpers/procs.js';

const isRoot = process.getuid?.() === 0;

/** This process's v1 cgroup path for a controller, or undefined. */
function own(controller: string): string | undefined {
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (m && m[1].split(',').includes(controller)) return m[2] === '/' ? '' : m[2];
  }
  return undefined;
}

const v1 = own('memory') !== undefined && own('cpu') !== undefined && existsSync('/sys/fs/cgroup/memory/cgroup.procs') && existsSync('/sys/fs/cgroup/cpu/cgroup.procs');
const hasPython = (() => {
  try {
    execFileSync('python3', ['-c', 'import ctypes, threading'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const comm = (pid: number) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
const state = (pid: number) => readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')[0];

/** cg_strays LEADER under bash and under POSIX sh (the local transport's /bin/sh). */
function strays(leader: number): { bash: string; sh: string } {
  const script = `${CGROUP_SH}\ncg_strays "$1"`;
  const run = (shell: string) => execFileSync(shell, ['-c', script, 'cg_strays', String(leader)], { encoding: 'utf8' });
  return { bash: run('bash'), sh: run('sh') };
}

describe.skipIf(!isRoot || !v1)('cg_strays on real processes (v1 memory + cpu)', () => {
  const name = `leafcert-strays-${process.pid}`;
  const mem = `/sys/fs/cgroup/memory${own('memory') ?? ''}/${name}`;
  const cpu = `/sys/fs/cgroup/cpu${own('cpu') ?? ''}/${name}`;
  let child: ChildProcess;
  let leader = 0;
  let holder = 0;
  let zombie = 0;
  let live = 0;
  let threaded = 0;
  let twoThreads = 0;

  beforeAll(async () => {
    for (const d of [mem, cpu]) mkdirSync(`${d}/ctr`, { recursive: true });
    // The leader (PID 1 of its namespace) starts everything in the container's cgroups:
    // a holder that never reaps its exited child (a zombie), a live sleep, and (with python3)
    // a process whose main thread exits while another thread runs on.
    const py = `python3 -c 'import ctypes, threading, time; threading.Thread(target=time.sleep, args=(600,)).start(); ctypes.CDLL(None).pthread_exit(None)'`;
    // and a process whose main thread and second thread both run (comm "twothreads", PR_SET_NAME).
    const py2 = `python3 -c 'import ctypes, threading, time; ctypes.CDLL(None).prctl(15, b"twothreads"); threading.Thread(target=time.sleep, args=(600,)).start(); time.sleep(600)'`;
    const inner = `sh -c 'sleep 0 & exec sleep 600' & sleep 600 & ${hasPython ? `${py} & ${py2} &` : ''} wait`;
    child = spawn('bash', ['-c', `echo $$ > ${mem}/ctr/cgroup.procs && echo $$ > ${cpu}/ctr/cgroup.procs && exec unshare --pid --fork -- bash -c "$1"`, 'ctr', inner], { stdio: 'ignore' });
    leader = await until('the leader', () => children(child.pid!)[0]);
    const kids = await until('the leader\'s children', () => {
      const k = children(leader);
      return k.length === (hasPython ? 4 : 2) && k.every((p) => existsSync(`/proc/${p}`) && comm(p) !== 'bash') ? k : undefined;
    });
    holder = kids.find((p) => comm(p) === 'sleep' && children(p).length > 0) ?? (await until('the zombie\'s holder', () => kids.find((p) => comm(p) === 'sleep' && children(p).length > 0)));
    live = kids.find((p) => p !== holder && comm(p) === 'sleep')!;
    zombie = await until('the zombie', () => children(holder).find((p) => state(p) === 'Z'));
    if (hasPython) {
      twoThreads = await until('the two-thread process', () => kids.find((p) => comm(p) === 'twothreads' && readdirSync(`/proc/${p}/task`).length === 2));
      threaded = kids.find((p) => p !== holder && p !== live && p !== twoThreads)!;
      await until('the main thread to exit', () => (state(threaded) === 'Z' && readdirSync(`/proc/${threaded}/task`).length === 2 ? true : undefined));
    }
  });

  afterAll(async () => {
    // SIGKILL to a PID namespace's init ends every process in it.
    if (leader) process.kill(leader, 'SIGKILL');
    child?.kill('SIGKILL');
    for (const d of [mem, cpu]) {
      for (const c of [`${d}/ctr`, d]) {
        await until(`${c} to empty`, () => {
          if (!existsSync(c)) return true;
          try {
            rmdirSync(c);
            return true;
          } catch {
            return undefined;
          }
        });
      }
    }
  });

  it('an exiting process (a zombie: `/` in every v1 hierarchy, whatever its cgroup) is no stray', () => {
    // What the kernel shows, the premise of the fix.
    const z = readFileSync(`/proc/${zombie}/cgroup`, 'utf8');
    expect(z).toMatch(/^\d+:memory:\/$/m);
    expect(z).toMatch(/^\d+:cpu:\/$/m);
    expect(readFileSync(`/proc/${holder}/cgroup`, 'utf8')).toMatch(new RegExp(`^\\d+:memory:.*/${name}/ctr$`, 'm'));
    expect(strays(leader)).toEqual({ bash: '', sh: '' });
  });

  it.skipIf(!hasPython)('a process whose main thread exited is judged by a running thread: none while in the container', () => {
    expect(readFileSync(`/proc/${threaded}/cgroup`, 'utf8')).toMatch(/^\d+:memory:\/$/m);
    expect(strays(leader)).toEqual({ bash: '', sh: '' });
  });

  it.skipIf(!hasPython)('a thread moved out of the container\'s cpu cgroup (echo TID > ../tasks) while its main thread stays in: a stray thread (T PID TID COMM), read from /proc/PID/task/TID/cgroup', () => {
    const tid = readdirSync(`/proc/${twoThreads}/task`).map(Number).find((t) => t !== twoThreads)!;
    writeFileSync(`${cpu}/tasks`, String(tid));
    try {
      // the main thread still shows the container's cgroup: only the thread's own file tells
      expect(readFileSync(`/proc/${twoThreads}/cgroup`, 'utf8')).toMatch(new RegExp(`^\\d+:cpu:.*/${name}/ctr$`, 'm'));
      const out = strays(leader);
      expect(out.sh).toBe(out.bash);
      expect(out.bash).toMatch(new RegExp(`^T ${twoThreads} ${tid} twothreads\\n`));
      expect(out.bash).toMatch(new RegExp(`^C \\d+:cpu:.*/${name}$`, 'm'));
      expect(out.bash.match(/^[PT] /gm)).toHaveLength(1);
    } finally {
      writeFileSync(`${cpu}/ctr/tasks`, String(tid));
    }
    expect(strays(leader)).toEqual({ bash: '', sh: '' });
  });

  it('a live process moved out of the container\'s cgroup (echo PID > ../cgroup.procs) still is a stray, with its cgroup lines', () => {
    writeFileSync(`${mem}/cgroup.procs`, String(live));
    writeFileSync(`${cpu}/cgroup.procs`, String(live));
    try {
      const out = strays(leader);
      expect(out.sh).toBe(out.bash);
      expect(out.bash).toMatch(new RegExp(`^P ${live} sleep\\n`));
      expect(out.bash).toMatch(new RegExp(`^C \\d+:memory:.*/${name}$`, 'm'));
      expect(out.bash.match(/^P /gm)).toHaveLength(1);
      if (hasPython) {
        // Its running thread moved out too (v1 `tasks` moves one thread): a stray, read from that thread.
        const tid = readdirSync(`/proc/${threaded}/task`).map(Number).find((t) => t !== threaded)!;
        writeFileSync(`${mem}/tasks`, String(tid));
        const t = strays(leader).bash;
        expect(t.match(/^P /gm)).toHaveLength(2);
        expect(t).toMatch(new RegExp(`^P ${threaded} \\S+\\n`, 'm'));
        writeFileSync(`${mem}/ctr/tasks`, String(tid));
      }
    } finally {
      writeFileSync(`${mem}/ctr/cgroup.procs`, String(live));
      writeFileSync(`${cpu}/ctr/cgroup.procs`, String(live));
    }
    expect(strays(leader)).toEqual({ bash: '', sh: '' });
  });
});
