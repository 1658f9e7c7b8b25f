// Tuning fault: the guide's accept backlog lost in the node's network namespace (somaxconn back to
// 128 while boot.kernel.sysctl declares 65535). LimitNOFILE has no fault here: a lab node has no
// systemd, so the suite skips it with that reason; fixtures prove it (test/tuning.test.ts).
import type { Fault } from './types.js';

export const faults: Fault[] = [
  {
    name: 'tuning-somaxconn',
    area: 'tuning',
    breaks: 'net.core.somaxconn is 128 in the node\'s network namespace, declared 65535',
    catches: ['tuning.sysctl'],
    apply: async (ctx) => void (await ctx.exec('sysctl -q -w net.core.somaxconn=128')),
    heal: async (ctx) => void (await ctx.exec('sysctl -q -w net.core.somaxconn=65535')),
  },
];
