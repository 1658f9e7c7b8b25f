// Integration-test access to a lab: brings up its own lab in `.lab-test-<name>` (repo root),
// runs commands inside nodes, applies/heals faults, runs the built CLI, tears down.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { up, down } from '../../src/lab/lab.js';
import { applyFault, healFaults } from '../../src/lab/faults/run.js';
import { nodeSh } from '../../src/lab/proc.js';
import type { LabInfo } from '../../src/lab/types.js';

export type { LabInfo, LabNodeInfo, LabContainerInfo } from '../../src/lab/types.js';

export interface CmdResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface TestLab {
  info: LabInfo;
  inventory: string;
  /** Runs a bash command inside the node (all its namespaces, root). */
  exec(node: string, cmd: string): Promise<CmdResult>;
  fault(node: string, fault: string): Promise<void>;
  heal(node: string, fault?: string): Promise<void>;
  /** Runs the built CLI (dist) with these args, cwd = repo root. */
  leafcert(args: string[]): Promise<CmdResult>;
  down(): Promise<void>;
}

export const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));

export function runCli(args: string[], timeoutMs = 300_000): Promise<CmdResult> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [join(repoRoot, 'bin', 'leafcert.js'), ...args], { cwd: repoRoot });
    let stdout = '';
    let stderr = '';
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', rej);
    child.on('close', (code) => {
      clearTimeout(t);
      res({ code, stdout, stderr });
    });
  });
}

export async function startLab(opts: {
  name: string;
  nodes?: number;
  flavour?: 'full' | 'light';
  firewall?: 'iptables' | 'nftables';
}): Promise<TestLab> {
  const state = join(repoRoot, `.lab-test-${opts.name}`);
  if (existsSync(state)) await down(state);
  let info: LabInfo;
  try {
    info = await up({ state, nodes: opts.nodes ?? 1, flavour: opts.flavour ?? 'light', firewall: opts.firewall ?? 'iptables' });
  } catch (e) {
    await down(state).catch(() => undefined);
    throw e;
  }
  const node = (name: string) => {
    const n = info.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node ${name} in lab ${opts.name} (nodes: ${info.nodes.map((x) => x.name).join(', ')})`);
    return n;
  };
  return {
    info,
    inventory: info.inventory,
    exec: (name, cmd) => nodeSh(node(name).initPid, cmd, { timeoutMs: 120_000 }),
    fault: (name, fault) => applyFault(state, name, fault),
    heal: async (name, fault) => {
      await healFaults(state, name, fault);
    },
    leafcert: (args) => runCli(args),
    down: () => down(state),
  };
}
