// net_strays (src/probes/isolation-facts.sh) on real processes: a small "container" (its own PID and
// network namespaces) and a process entered into its PID namespace that kept this machine's network
// namespace (`nsenter --pid` without `--net`, red team I1): the facts script names it, the judge fails
// isolation.namespaces. Root only (unshare --pid --net, nsenter).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { factsCommand, parseNetStrays } from '../src/probes/isolation.js';
import { splitSections } from '../src/probes/sections.js';
import { judgeNamespaces } from '../suites/isolation/namespaces.js';
import { children, until } from './helpers/procs.js';

const isRoot = process.getuid?.() === 0;
/** The netprocs.0 section of the real facts script for LEADER. */
function netprocs(leader: number): string {
  const out = execFileSync('bash', ['-c', factsCommand([{ idx: 0, leader, firewall: false }])], { encoding: 'utf8' });
  const s = splitSections(out, 'facts', ['netprocs.0']).get('netprocs.0')!;
  expect(s.rc).toBe(0);
  return s.text;
}

describe.skipIf(!isRoot)('net_strays on real processes', () => {
  let ctr: ChildProcess;
  let entered: ChildProcess | undefined;
  let leader = 0;

  beforeAll(async () => {
    ctr = spawn('unshare', ['--pid', '--net', '--fork', '--', 'bash', '-c', 'sleep 600 & wait'], { stdio: 'ignore' });
    leader = await until('the leader', () => children(ctr.pid!)[0]);
    await until('the leader\'s child', () => (children(leader).length ? true : undefined));
  });
  afterAll(() => {
    entered?.kill('SIGKILL');
    if (leader) process.kill(leader, 'SIGKILL');
    ctr?.kill('SIGKILL');
  });

  it('healthy: every process of the PID namespace shares the leader\'s network namespace', () => {
    expect(netprocs(leader).trim()).toBe('');
  });

  it('a process entered with nsenter --pid (no --net) is named, and isolation.namespaces fails', async () => {
    entered = spawn('nsenter', ['-t', String(leader), '--pid', '--', 'sleep', '600'], { stdio: 'ignore' });
    const pid = await until('the entered process', () => children(entered!.pid!)[0]);
    await until('its exec', () => (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sleep' ? true : undefined));
    const text = netprocs(leader);
    expect(text).toMatch(new RegExp(`^P ${pid} (host|other) sleep$`, 'm'));
    expect(text.match(/^[PT] /gm)).toHaveLength(1);
    const { strays } = parseNetStrays(text, 'netprocs');
    const o = judgeNamespaces('container t', { name: 't', leader, ns: { net: 'net:[2]', pid: 'pid:[2]', mnt: 'mnt:[2]', ipc: 'ipc:[2]', uts: 'uts:[2]', cgroup: 'cgroup:[2]' }, netStrays: strays }, true, { net: 'net:[1]', pid: 'pid:[1]', mnt: 'mnt:[1]', ipc: 'ipc:[1]', uts: 'uts:[1]', cgroup: 'cgroup:[1]' });
    expect(o).toMatchObject({ status: 'fail', message: expect.stringMatching(new RegExp(`^process ${pid} \\(sleep\\) runs in .*network namespace`)) });
  });
});
