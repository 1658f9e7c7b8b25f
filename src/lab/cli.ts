import type { Command } from 'commander';
// Owned by the lab work (issue 2): registers `leafcert lab up|down|status|faults|fault|heal`.
export function registerLab(_program: Command): void {}
