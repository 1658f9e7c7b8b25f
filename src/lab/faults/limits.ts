// Limits faults: the kernel-side limits of a lab container change under it (what a manual cgroup
// write, a unit edited without its limit, a forgotten `systemctl set-property`, or a process moved
// out of the container's cgroup does). The lab's
// containers live in v1 memory/cpu cgroups on the host side of the node.
import { parsePercent, parseSize } from '../../core/units.js';
import type { Fault, FaultContext } from './types.js';

const TARGET = 'alchemist';
/** The sibling memory cgroup limits-sibling-cgroup moves the API process into. */
const SIBLING = 'alchemist-extra';
/** The container whose Prometheus (a Go program: several threads) limits-threads-escaped splits. */
const THREADED = 'monitoring';

function cg(ctx: FaultContext, name = TARGET) {
  const c = ctx.node.containers.find((x) => x.name === name);
  if (!c) throw new Error(`${ctx.node.name} has no container ${name}`);
  return c;
}

export const faults: Fault[] = [
  {
    name: 'limits-memory-unlimited',
    area: 'limits',
    breaks: `container ${TARGET} has no memory limit (memory.limit_in_bytes = -1)`,
    catches: ['limits.enforced', 'limits.memory-budget'],
    needs: 'full',
    async apply(ctx) {
      await ctx.hostExec(`echo -1 > ${cg(ctx).cgroup.memory}/memory.limit_in_bytes`);
    },
    async heal(ctx) {
      const c = cg(ctx);
      await ctx.hostExec(`echo ${parseSize(c.memoryMax)} > ${c.cgroup.memory}/memory.limit_in_bytes`);
    },
  },
  {
    name: 'limits-cpu-quota-changed',
    area: 'limits',
    breaks: `container ${TARGET}'s CPU quota is halved (cfs_quota_us for 200% instead of its declared quota)`,
    catches: ['limits.enforced'],
    needs: 'full',
    async apply(ctx) {
      const c = cg(ctx);
      await ctx.hostExec(`echo ${Math.round((parsePercent(c.cpuQuota) * 100_000) / 2)} > ${c.cgroup.cpu}/cpu.cfs_quota_us`);
    },
    async heal(ctx) {
      const c = cg(ctx);
      await ctx.hostExec(`echo 100000 > ${c.cgroup.cpu}/cpu.cfs_period_us && echo ${Math.round(parsePercent(c.cpuQuota) * 100_000)} > ${c.cgroup.cpu}/cpu.cfs_quota_us`);
    },
  },
  {
    name: 'limits-process-escaped',
    area: 'limits',
    breaks: `the API process of container ${TARGET} is moved out of its cgroup into machine.slice (echo PID > cgroup.procs): it runs without the container's memory and CPU limits, while the leader keeps them`,
    catches: ['limits.enforced'],
    needs: 'full',
    async apply(ctx) {
      const c = cg(ctx);
      const moved = await ctx.hostExec(`n=0; for p in $(cat ${c.cgroup.memory}/cgroup.procs); do [ "$(cat /proc/$p/comm 2>/dev/null)" = lab-backend.pl ] || continue; echo $p > ${c.cgroup.memory}/../cgroup.procs && echo $p > ${c.cgroup.cpu}/../cgroup.procs && n=$((n + 1)); done; echo $n`);
      if (moved.stdout.trim() === '0') throw new Error(`no API process (lab-backend.pl) in container ${TARGET}'s cgroup`);
    },
    async heal(ctx) {
      // Every process of the container's PID namespace found in the parents goes back.
      const c = cg(ctx);
      await ctx.hostExec(`for k in ${c.cgroup.memory} ${c.cgroup.cpu}; do for p in $(cat $k/../cgroup.procs); do [ /proc/$p/ns/pid -ef /proc/${c.hostPid}/ns/pid ] && echo $p > $k/cgroup.procs; done; done; true`);
    },
  },
  {
    name: 'limits-sibling-cgroup',
    area: 'limits',
    breaks: `the API process of container ${TARGET} is moved into a sibling memory cgroup carrying the same limit (mkdir …/${SIBLING}; same memory.limit_in_bytes; echo PID > cgroup.procs): its memory is charged there, so the container has its budget twice`,
    catches: ['limits.enforced'],
    needs: 'full',
    async apply(ctx) {
      const m = cg(ctx).cgroup.memory;
      const moved = await ctx.hostExec(`set -e; mkdir -p ${m}/../${SIBLING}; cat ${m}/memory.limit_in_bytes > ${m}/../${SIBLING}/memory.limit_in_bytes
n=0; for p in $(cat ${m}/cgroup.procs); do [ "$(cat /proc/$p/comm 2>/dev/null)" = lab-backend.pl ] || continue; echo $p > ${m}/../${SIBLING}/cgroup.procs && n=$((n + 1)); done; echo $n`);
      if (moved.stdout.trim() === '0') throw new Error(`no API process (lab-backend.pl) in container ${TARGET}'s cgroup`);
    },
    async heal(ctx) {
      const m = cg(ctx).cgroup.memory;
      await ctx.hostExec(`s=${m}/../${SIBLING}; [ -d $s ] || exit 0; for p in $(cat $s/cgroup.procs); do echo $p > ${m}/cgroup.procs; done; for _ in $(seq 1 50); do rmdir $s 2>/dev/null && exit 0; sleep 0.05; done; rmdir $s`);
    },
  },
  {
    name: 'limits-threads-escaped',
    area: 'limits',
    breaks: `every thread but the main one of Prometheus in container ${THREADED} is moved out of its CPU cgroup into machine.slice (echo TID > tasks): the threads doing the work run without the CPU quota, while /proc/PID/cgroup (the main thread) still shows the container's`,
    catches: ['limits.enforced'],
    needs: 'full',
    async apply(ctx) {
      const c = cg(ctx, THREADED).cgroup.cpu;
      const moved = await ctx.hostExec(`n=0; for p in $(cat ${c}/cgroup.procs); do [ "$(cat /proc/$p/comm 2>/dev/null)" = prometheus ] || continue; for t in /proc/$p/task/*; do t=\${t##*/}; [ $t = $p ] || { echo $t > ${c}/../tasks && n=$((n + 1)); }; done; done; echo $n`);
      if (moved.stdout.trim() === '0') throw new Error(`no thread of Prometheus in container ${THREADED}'s cpu cgroup to move`);
    },
    async heal(ctx) {
      // Every thread of every process in the container's memory cgroup goes back to its cpu cgroup.
      const c = cg(ctx, THREADED).cgroup;
      await ctx.hostExec(`for p in $(cat ${c.memory}/cgroup.procs); do for t in /proc/$p/task/*; do echo \${t##*/} > ${c.cpu}/tasks 2>/dev/null; done; done; true`);
    },
  },
];
