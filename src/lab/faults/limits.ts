// Limits faults: the kernel-side limits of a lab container change under it (what a manual cgroup
// write, a unit edited without its limit, or a forgotten `systemctl set-property` does). The lab's
// containers live in v1 memory/cpu cgroups on the host side of the node.
import { parsePercent, parseSize } from '../../core/units.js';
import type { Fault, FaultContext } from './types.js';

const TARGET = 'alchemist';

function cg(ctx: FaultContext) {
  const c = ctx.node.containers.find((x) => x.name === TARGET);
  if (!c) throw new Error(`${ctx.node.name} has no container ${TARGET}`);
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
];
