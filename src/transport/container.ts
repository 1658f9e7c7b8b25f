// The container transport: commands run inside a nixos-container of a node by entering its leader's
// namespaces from the node (what `nixos-container run` does: nsenter -m -u -i -n -p into the leader
// found via machinectl). It rides on the node's Host, so it costs no extra connection.
import { TransportError, type ExecOptions, type ExecResult, type Host, type PortStream } from '../core/types.js';
import { sh, shq } from '../core/quote.js';

// Quoting lives in src/core/quote.ts; re-exported for modules that imported it from here.
export { shq };

/** The namespaces a command entering a container joins (as `nixos-container run` does). */
const ENTER = '-m -u -i -n -p';

/** The node-side prefix that runs the words after it inside the container whose leader is `leaderPid`. */
export function nsenterPrefix(leaderPid: number): string {
  return `nsenter -t ${leaderPid} ${ENTER} --`;
}

export function nsenterCommand(leaderPid: number, command: string): string {
  return `${nsenterPrefix(leaderPid)} sh -c ${shq(command)}`;
}

/** How a command is shown in evidence when it ran in the network namespace of a container's leader. */
export function netnsCommandText(leader: number | string, command: string): string {
  return `nsenter --net=/proc/${leader}/ns/net ${command}`;
}

/**
 * Container entry for batched node scripts that visit several containers in one exec (a
 * ContainerHost costs one round trip per container): bash functions, prepended to a probe's
 * script. `ctr_exec LEADER CMD…` runs CMD inside the container, entered as nsenterCommand does;
 * `ctr_net LEADER CMD…` runs CMD on the node in the container's network namespace only (a connect
 * "from inside", with the node's tools).
 */
export const CONTAINER_ENTRY_SH = [
  `ctr_exec() { local l=$1; shift; nsenter -t "$l" ${ENTER} -- "$@"; }`,
  `ctr_net() { local l=$1; shift; nsenter --net="/proc/$l/ns/net" "$@"; }`,
].join('\n');

class ContainerHost implements Host {
  readonly describe: string;
  readonly address: string | undefined;

  constructor(
    private readonly host: Host,
    private readonly leaderPid: number,
    readonly name: string,
    address?: string,
  ) {
    if (!Number.isInteger(leaderPid) || leaderPid <= 0) throw new TransportError('config', `container ${name}: invalid leader PID ${leaderPid}`);
    this.describe = `container ${name} (leader ${leaderPid}) via ${host.describe}`;
    this.address = address;
  }

  get roundTrips(): number {
    return this.host.roundTrips;
  }

  async exec(command: string, opts?: ExecOptions): Promise<ExecResult> {
    const r = await this.host.exec(nsenterCommand(this.leaderPid, command), opts);
    // nsenter itself failing (leader gone, no permission) must not pass for the command's own exit code.
    if (r.code !== 0 && /^nsenter: /m.test(r.stderr)) {
      throw new TransportError('unreachable', `container ${this.name}: cannot enter leader ${this.leaderPid}: ${r.stderr.trim().split('\n')[0]}`);
    }
    return { ...r, command };
  }

  async readFile(path: string, opts?: ExecOptions): Promise<Buffer> {
    const r = await this.exec(sh`cat ${path}`, opts);
    if (r.code !== 0) throw new TransportError('protocol', `container ${this.name}: cannot read ${path}: ${r.stderr.trim() || `exit ${r.code}`}`);
    return Buffer.from(r.stdout, 'utf8');
  }

  forward(port: number, host?: string): Promise<PortStream> {
    // A stream into the container's netns is only possible through its routed address from the node.
    const target = host && host !== '127.0.0.1' && host !== 'localhost' ? host : this.address;
    if (!target) {
      return Promise.reject(new TransportError('config', `container ${this.name}: no address to forward port ${port} to (its loopback is not reachable from the node)`));
    }
    return this.host.forward(port, target);
  }

  async close(): Promise<void> {
    // The node's Host belongs to the engine; closing a container view must not close it.
  }
}

/** A Host for the container NAME whose leader is `leaderPid` in the node's numbering. */
export function containerHost(host: Host, leaderPid: number, name: string, address?: string): Host {
  return new ContainerHost(host, leaderPid, name, address);
}
