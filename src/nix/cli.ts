import type { Command } from 'commander';
// Owned by the NixOS work (issue 6): registers `leafcert plan` and `leafcert check-config`.
export function registerNix(_program: Command): void {}
