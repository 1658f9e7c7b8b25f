// Shapes of a lab as recorded in its state dir (<state>/lab.json). Other layers (tests, faults,
// integration suites) read a lab only through readLab(), never by guessing paths.
import { readFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface LabContainerInfo {
  name: string;
  /** Node side of ve-NAME, 10.233.N.1. */
  hostAddress: string;
  /** Container side (eth0), 10.233.N.2. */
  localAddress: string;
  /** Leader PID (the container's pid 1) in host numbering. */
  hostPid: number;
  /** Leader PID as seen inside the node. */
  nodePid: number;
  ports: number[];
  memoryMax: string;
  cpuQuota: string;
  /** cgroup v1 directories (absolute, host view). */
  cgroup: { memory: string; cpu: string };
}

export interface LabNodeInfo {
  name: string;
  /** Node address on its veth, 10.250.X.Y. */
  address: string;
  /** Host side of the node's veth. */
  hostAddress?: string;
  netns: string;
  /** Host PID of the node's init (pid 1 of the node's pid namespace). */
  initPid: number;
  flavour: 'full' | 'light';
  firewall: 'iptables' | 'nftables';
  containers: LabContainerInfo[];
  /** `systemd`: PID 1 of the node is systemd (`lab up --flavour systemd`: a full node booted with systemd-nspawn). */
  init?: 'systemd';
  /** Per-node dir in the lab state (host side). */
  nodeDir: string;
  hostname?: string;
}

/** What `lab up --flavour` builds; a `systemd` lab's nodes are full nodes (flavour 'full') with `init: 'systemd'`. */
export type LabFlavour = 'full' | 'light' | 'systemd';

export interface LabInfo {
  state: string;
  inventory: string;
  identityFile: string;
  knownHosts: string;
  caCert: string;
  nodes: LabNodeInfo[];
}

/** Reads a lab's state. Throws a plain Error naming the dir when there is no lab there. */
export function readLab(state: string): LabInfo {
  const dir = resolve(state);
  const file = join(dir, 'lab.json');
  if (!existsSync(file)) throw new Error(`no lab in ${dir} (missing lab.json); run \`leafcert lab up --state ${state}\``);
  const raw = JSON.parse(readFileSync(file, 'utf8')) as { info: LabInfo };
  return raw.info;
}
