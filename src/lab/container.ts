// Running commands inside a container of a full lab node, the way its own processes run: in its
// namespaces, its cgroups, with its reduced bounding set and no_new_privs.
import type { LabContainerInfo } from './types.js';
import { run, type RunOpts, type RunResult } from './proc.js';

/** The bounding set of lab containers: nspawn's default list minus CAP_SYS_ADMIN (and minus boot/module/time ones). */
export const CONTAINER_CAPS = [
  'chown', 'dac_override', 'dac_read_search', 'fowner', 'fsetid', 'ipc_owner', 'kill', 'lease', 'linux_immutable',
  'net_bind_service', 'net_broadcast', 'net_raw', 'setgid', 'setfcap', 'setpcap', 'setuid', 'sys_chroot', 'sys_nice',
  'sys_ptrace', 'sys_tty_config', 'sys_resource', 'audit_write', 'audit_control', 'net_admin',
];

export function setprivArgs(): string[] {
  return [`--bounding-set=-all,${CONTAINER_CAPS.map((c) => '+' + c).join(',')}`, '--no-new-privs'];
}

export function containerSh(c: LabContainerInfo, script: string, opts: RunOpts = {}): Promise<RunResult> {
  const join = `echo $$ > ${c.cgroup.memory}/cgroup.procs && echo $$ > ${c.cgroup.cpu}/cgroup.procs && ` +
    `exec nsenter -t ${c.hostPid} -m -u -i -n -p -C -- setpriv ${setprivArgs().join(' ')} -- bash -c "$0"`;
  return run('bash', ['-c', join, script], opts);
}
