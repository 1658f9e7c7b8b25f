// A lab fault: one real change on a node (rule, file, process, setting) that breaks exactly one
// property, and its undo. `catches` names the check ids that must fail while it is applied.
import type { LabInfo, LabNodeInfo } from '../types.js';

export interface FaultExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface FaultContext {
  node: LabNodeInfo;
  lab: LabInfo;
  /** Runs a bash script inside the node (all its namespaces, root); throws on a non-zero exit. */
  exec(cmd: string): Promise<FaultExecResult>;
  /** Runs a bash script on the host; throws on a non-zero exit. */
  hostExec(cmd: string): Promise<FaultExecResult>;
  /** Per-node, per-fault scratch dir on the host (kept until heal): save originals here. */
  scratch: string;
  /** Writes a file as the node sees it (through /proc/<init>/root). */
  writeFile(path: string, content: string | Buffer, mode?: number): Promise<void>;
  /** Reads a file as the node sees it. */
  readFile(path: string): Promise<Buffer>;
  /** Runs a bash script inside a container of a full node: its namespaces, cgroups and bounding set; throws on non-zero. */
  containerExec(container: string, cmd: string): Promise<FaultExecResult>;
}

export interface Fault {
  /** kebab-case, unique, starts with its area: `firewall-extra-port`. */
  name: string;
  /** Suite name this fault belongs to. */
  area: string;
  /** The one property it breaks, as a sentence. */
  breaks: string;
  /** Check ids that must fail with it applied. */
  catches: string[];
  /** Only on full nodes (containers, postgres, borg, prometheus); 'systemd': only on a full node booted by systemd. */
  needs?: 'full' | 'systemd';
  apply(ctx: FaultContext): Promise<void>;
  heal(ctx: FaultContext): Promise<void>;
}
