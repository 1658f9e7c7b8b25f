// Full node: the containers of the deployment (own net/pid/mnt/uts/ipc/cgroup namespaces, no
// CAP_SYS_ADMIN in the bounding set, no_new_privs, ve-NAME veths, v1 cgroup memory+cpu limits),
// PostgreSQL 15 in `alchemist`, Prometheus in `monitoring`, secrets, borg. The in-node work is
// sh/full-node.sh; this side creates the cgroups (recorded first) and maps PIDs to host numbering.
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONTAINER_CAPS } from './container.js';
import { LabError, nodeSh } from './proc.js';

/** Where a node keeps the lab's scripts (copied in at prepare time; the checkout is hidden from nodes). */
const NODE_SH = '/usr/local/lib/leafcert-lab';
import { record } from './state.js';
import type { LabContainerInfo, LabNodeInfo } from './types.js';
import { pgHba, postgresqlConf, prometheusConfig, prometheusRules } from './services.js';
import { parseSize, parsePercent } from '../core/units.js';

export interface ContainerSpec {
  name: string;
  /** N in 10.233.N.1/2. */
  n: number;
  ports: number[];
  memoryMax: string;
  cpuQuota: string;
  /** Runs NixOS's firewall in its own netns allowing exactly `ports` (networking.firewall is on by default inside a NixOS container). */
  innerFirewall?: boolean;
}

/** The deployment's containers. alchemist 8G/400% and graph 2G/400% come from the deployment; the rest are lab choices (docs/lab.md). */
export const CONTAINERS: ContainerSpec[] = [
  { name: 'alchemist', n: 1, ports: [8080, 5432], memoryMax: '8G', cpuQuota: '400%', innerFirewall: true },
  { name: 'alchemist-graph', n: 2, ports: [6333], memoryMax: '2G', cpuQuota: '400%' },
  { name: 'alchemist-workflow', n: 3, ports: [8081], memoryMax: '1G', cpuQuota: '200%' },
  { name: 'alchemist-agent', n: 4, ports: [11434], memoryMax: '4G', cpuQuota: '200%' },
  { name: 'monitoring', n: 5, ports: [9090], memoryMax: '1G', cpuQuota: '100%' },
];

/** This process's v1 cgroup path for a controller (the sandbox puts us in a memory cgroup). */
function ownCgroup(controller: string): string {
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const [, ctrls, path] = line.split(':');
    if (ctrls?.split(',').includes(controller)) return path === '/' ? '' : path!;
  }
  throw new LabError(`no cgroup v1 ${controller} controller in /proc/self/cgroup`);
}

export function labCgroupParents(id: string): { memory: string; cpu: string } {
  return {
    memory: `/sys/fs/cgroup/memory${ownCgroup('memory')}/leafcert-${id}`,
    cpu: `/sys/fs/cgroup/cpu${ownCgroup('cpu')}/leafcert-${id}`,
  };
}

/** Host PID of the process that is `nodePid` inside the node whose init is `initPid`. */
function hostPidOf(initPid: number, nodePid: number): number {
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const ns = readFileSync(`/proc/${p}/status`, 'utf8').match(/^NSpid:\s+(.*)$/m)?.[1]?.trim().split(/\s+/);
      // NSpid lists host pid, node pid, (container pid): the node pid is the second entry.
      if (ns && ns.length >= 2 && Number(ns[1]) === nodePid && descendsFrom(Number(p), initPid)) return Number(p);
    } catch {
      /* raced with an exiting process */
    }
  }
  throw new LabError(`cannot map node pid ${nodePid} of node init ${initPid} to a host pid`);
}

function descendsFrom(pid: number, ancestor: number): boolean {
  let cur = pid;
  for (let i = 0; i < 64 && cur > 1; i++) {
    if (cur === ancestor) return true;
    try {
      cur = Number(readFileSync(`/proc/${cur}/status`, 'utf8').match(/^PPid:\s+(\d+)/m)?.[1] ?? 0);
    } catch {
      return false;
    }
  }
  return false;
}

export async function setupFullNode(state: string, id: string, node: LabNodeInfo, log: (l: string) => void): Promise<void> {
  const parents = labCgroupParents(id);
  record(state, { kind: 'cgroup', path: parents.memory });
  record(state, { kind: 'cgroup', path: parents.cpu });
  const lines: string[] = [];
  const infos: LabContainerInfo[] = [];
  for (const c of CONTAINERS) {
    const memory = join(parents.memory, node.name, 'machine.slice', `container@${c.name}.service`);
    const cpu = join(parents.cpu, node.name, 'machine.slice', `container@${c.name}.service`);
    mkdirSync(memory, { recursive: true });
    mkdirSync(cpu, { recursive: true });
    writeFileSync(join(memory, 'memory.limit_in_bytes'), String(parseSize(c.memoryMax)));
    writeFileSync(join(cpu, 'cpu.cfs_period_us'), '100000');
    writeFileSync(join(cpu, 'cpu.cfs_quota_us'), String(Math.round(parsePercent(c.cpuQuota) * 100000)));
    lines.push([c.name, c.n, c.ports.join(','), memory, cpu, c.memoryMax, c.cpuQuota, c.innerFirewall ? c.ports.join(',') : '-'].join(' '));
    infos.push({ name: c.name, hostAddress: `10.233.${c.n}.1`, localAddress: `10.233.${c.n}.2`, hostPid: 0, nodePid: 0,
      ports: c.ports, memoryMax: c.memoryMax, cpuQuota: c.cpuQuota, cgroup: { memory, cpu } });
  }
  // Files the containers read at first start, placed through the node's own view of /var/lib.
  const root = `/proc/${node.initPid}/root/var/lib/nixos-containers`;
  mkdirSync(join(root, 'alchemist'), { recursive: true });
  mkdirSync(join(root, 'monitoring', 'etc', 'prometheus', 'rules'), { recursive: true });
  writeFileSync(join(root, 'alchemist', 'postgresql.conf'), postgresqlConf());
  writeFileSync(join(root, 'alchemist', 'pg_hba.conf'), pgHba());
  writeFileSync(join(root, 'monitoring', 'etc', 'prometheus', 'prometheus.yml'), prometheusConfig(CONTAINERS));
  writeFileSync(join(root, 'monitoring', 'etc', 'prometheus', 'rules', 'alchemist.rules.yml'), prometheusRules());
  const bounding = `-all,${CONTAINER_CAPS.map((c) => '+' + c).join(',')}`;
  const r = await nodeSh(node.initPid, `LAB_SH=${NODE_SH} BOUNDING=${bounding} CONTAINERS='${lines.join('\n')}' bash ${NODE_SH}/full-node.sh`, { timeoutMs: 180_000 });
  writeFileSync(join(node.nodeDir, 'full-node.log'), r.stdout + r.stderr);
  if (r.code !== 0 || !r.stdout.includes('FULL-READY'))
    throw new LabError(`${node.name}: full node setup failed (exit ${r.code}); ${join(node.nodeDir, 'full-node.log')}:\n${(r.stderr || r.stdout).split('\n').slice(-20).join('\n')}`);
  for (const m of r.stdout.matchAll(/^CONTAINER (\S+) (\d+)$/gm)) {
    const info = infos.find((x) => x.name === m[1])!;
    info.nodePid = Number(m[2]);
    info.hostPid = hostPidOf(node.initPid, info.nodePid);
  }
  node.containers = infos;
  log(`${node.name}: containers ${infos.map((c) => c.name).join(', ')} up`);
}
