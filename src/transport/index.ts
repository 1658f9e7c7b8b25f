// Pick a transport for a node. `ssh` connects once and keeps the connection for every probe.
import type { Host, NodeSpec } from '../core/types.js';
import { LocalHost } from './local.js';
import { SshHost } from './ssh.js';

export { SshHost } from './ssh.js';
export { LocalHost } from './local.js';

export async function openHost(node: NodeSpec, opts: { baseDir?: string } = {}): Promise<Host> {
  if (node.transport === 'local') return new LocalHost(node.name, node.host);
  return SshHost.connect(node, opts);
}
