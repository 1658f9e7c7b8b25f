// Applying and healing faults on lab nodes; applied faults are recorded in <nodeDir>/faults.json
// so `heal NODE` without a name reverts all of them (last applied first).
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LabError, nodeSh, sh } from '../proc.js';
import { readLab, type LabInfo, type LabNodeInfo } from '../types.js';
import { containerSh } from '../container.js';
import { allFaults } from './index.js';
import type { Fault, FaultContext } from './types.js';

export function listFaults(): Array<Pick<Fault, 'name' | 'area' | 'breaks' | 'catches' | 'needs'>> {
  return allFaults.map(({ name, area, breaks, catches, needs }) => ({ name, area, breaks, catches, ...(needs ? { needs } : {}) }));
}

export function findFault(name: string): Fault {
  const f = allFaults.find((x) => x.name === name);
  if (!f) throw new LabError(`unknown fault "${name}"; valid faults: ${allFaults.map((x) => x.name).join(', ')}`, 2);
  return f;
}

function findNode(lab: LabInfo, name: string): LabNodeInfo {
  const n = lab.nodes.find((x) => x.name === name);
  if (!n) throw new LabError(`unknown node "${name}"; nodes of this lab: ${lab.nodes.map((x) => x.name).join(', ')}`, 2);
  return n;
}

const checked = async (p: Promise<{ code: number | null; stdout: string; stderr: string }>, what: string) => {
  const r = await p;
  if (r.code !== 0) throw new LabError(`${what} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().slice(0, 800)}`);
  return r;
};

export function faultContext(lab: LabInfo, node: LabNodeInfo, fault: string): FaultContext {
  const scratch = join(node.nodeDir, 'scratch', fault);
  mkdirSync(scratch, { recursive: true });
  const root = `/proc/${node.initPid}/root`;
  return {
    node,
    lab,
    scratch,
    exec: (cmd) => checked(nodeSh(node.initPid, cmd, { timeoutMs: 60_000 }), `on ${node.name}: ${cmd.split('\n')[0]}`),
    hostExec: (cmd) => checked(sh(cmd, { timeoutMs: 60_000 }), `on the host: ${cmd.split('\n')[0]}`),
    writeFile: async (path, content, mode) => writeFileSync(root + path, content, mode === undefined ? undefined : { mode }),
    readFile: async (path) => readFileSync(root + path),
    containerExec: (name, cmd) => {
      const c = node.containers.find((x) => x.name === name);
      if (!c) throw new LabError(`${node.name} has no container ${name} (containers: ${node.containers.map((x) => x.name).join(', ') || 'none'})`);
      return checked(containerSh(c, cmd, { timeoutMs: 60_000 }), `in ${node.name}/${name}: ${cmd.split('\n')[0]}`);
    },
  };
}

function appliedFile(node: LabNodeInfo): string {
  return join(node.nodeDir, 'faults.json');
}

export function appliedFaults(node: LabNodeInfo): string[] {
  const f = appliedFile(node);
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as string[]) : [];
}

export async function applyFault(state: string, nodeName: string, faultName: string): Promise<void> {
  const lab = readLab(state);
  const node = findNode(lab, nodeName);
  const fault = findFault(faultName);
  if (fault.needs === 'systemd' && node.init !== 'systemd')
    throw new LabError(`fault ${fault.name} needs a node booted by systemd (lab up --flavour systemd); ${node.name} has no systemd`, 2);
  if (fault.needs && node.flavour !== 'full')
    throw new LabError(`fault ${fault.name} needs a full node; ${node.name} is ${node.flavour}`, 2);
  const applied = appliedFaults(node);
  if (applied.includes(fault.name)) throw new LabError(`${fault.name} is already applied on ${node.name}`, 2);
  // Record first: a fault that fails halfway can still be healed.
  writeFileSync(appliedFile(node), JSON.stringify([...applied, fault.name]));
  await fault.apply(faultContext(lab, node, fault.name));
}

export async function healFaults(state: string, nodeName: string, faultName?: string): Promise<string[]> {
  const lab = readLab(state);
  const node = findNode(lab, nodeName);
  if (faultName) findFault(faultName);
  const applied = appliedFaults(node);
  const todo = faultName ? applied.filter((f) => f === faultName) : [...applied].reverse();
  if (faultName && !todo.length) throw new LabError(`${faultName} is not applied on ${node.name} (applied: ${applied.join(', ') || 'none'})`, 2);
  const healed: string[] = [];
  for (const name of todo) {
    const ctx = faultContext(lab, node, name);
    await findFault(name).heal(ctx);
    rmSync(ctx.scratch, { recursive: true, force: true });
    const left = appliedFaults(node).filter((f) => f !== name);
    writeFileSync(appliedFile(node), JSON.stringify(left));
    healed.push(name);
  }
  return healed;
}
