// Unit files of a systemd lab node, under the names NixOS gives them: sshd, nginx, firewall,
// container@NAME in machine.slice with the deployment's limits, borgbackup-job-alchemist (+ timer),
// acme-DOMAIN (+ timer). Written into the node's /etc/systemd/system before it boots.
import { CERT_DIR } from './config.js';
import type { ContainerSpec } from './full.js';

const LIB = '/usr/local/lib/leafcert-lab';
export const ACME_DOMAIN = 'api.alchemist.local';
/** The slice the containers run in, with a limit of its own (limits.slice-used, limits.declared). */
export const MACHINE_SLICE = { name: 'machine.slice', memoryMax: '16G', cpuQuota: '1400%' };
export const BACKUP_JOB = 'alchemist';
/**
 * nginx.service's LimitNOFILE (tuning.nofile). A lab choice below this machine's hard limit (20000 in
 * the CI sandbox, which nothing in it may raise): systemd cannot hand out more than PID 1 has.
 */
export const NGINX_NOFILE = 16384;

const setup = 'leafcert-lab-setup.service';

export function systemdUnits(containers: ContainerSpec[]): Record<string, string> {
  const u: Record<string, string> = {};
  u[setup] = `[Unit]
Description=leafcert lab: what NixOS activation puts in place (users, secrets, container configs, borg repo)
DefaultDependencies=no
After=local-fs.target
Before=sshd.service nginx.service firewall.service machine.slice
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=${LIB}/systemd-setup.sh
[Install]
WantedBy=multi-user.target
`;
  u['firewall.service'] = `[Unit]
Description=Firewall
After=${setup}
Requires=${setup}
Before=network-pre.target
Wants=network-pre.target
[Service]
Type=oneshot
RemainAfterExit=yes
Environment=FW_TCP_PORTS="22 80 443"
ExecStart=/bin/bash /etc/leafcert-lab/firewall-start.sh
[Install]
WantedBy=multi-user.target
`;
  u['sshd.service'] = `[Unit]
Description=SSH Daemon
After=network.target ${setup}
Requires=${setup}
[Service]
ExecStart=/usr/sbin/sshd -D -f /etc/ssh/sshd_config
ExecReload=/bin/kill -HUP $MAINPID
RuntimeDirectory=sshd
RuntimeDirectoryMode=0755
KillMode=process
Restart=always
[Install]
WantedBy=multi-user.target
`;
  u['nginx.service'] = `[Unit]
Description=Nginx Web Server
After=network.target ${setup}
Requires=${setup}
[Service]
ExecStartPre=/bin/mkdir -p /run/nginx /var/log/nginx
ExecStart=/usr/sbin/nginx -c /etc/nginx/nginx.conf -g 'daemon off;'
ExecReload=/usr/sbin/nginx -c /etc/nginx/nginx.conf -s reload
LimitNOFILE=${NGINX_NOFILE}
Restart=always
[Install]
WantedBy=multi-user.target
`;
  // Debian ships machines.target with systemd-container, which the node does not need otherwise.
  u['machines.target'] = `[Unit]
Description=Containers
Documentation=man:systemd.special(7)
Before=multi-user.target
[Install]
WantedBy=multi-user.target
`;
  u[MACHINE_SLICE.name] = `[Unit]
Description=Virtual Machine and Container Slice
Before=slices.target
[Slice]
MemoryMax=${MACHINE_SLICE.memoryMax}
CPUQuota=${MACHINE_SLICE.cpuQuota}
`;
  // The template, as NixOS's container@.service; each container's limits are its own drop-in.
  u['container@.service'] = `[Unit]
Description=Container '%i'
After=network.target ${setup} firewall.service
Requires=${setup}
[Service]
Slice=machine.slice
ExecStart=${LIB}/systemd-container.sh start %i
ExecStartPost=${LIB}/systemd-container.sh post %i
ExecStopPost=${LIB}/systemd-container.sh stoppost %i
KillMode=mixed
TimeoutStartSec=180
TimeoutStopSec=20
Restart=no
`;
  for (const c of containers)
    u[`container@${c.name}.service.d/limits.conf`] = `[Service]
MemoryMax=${c.memoryMax}
MemoryHigh=${memoryHigh(c.memoryMax)}
CPUQuota=${c.cpuQuota}
[Install]
WantedBy=machines.target
`;
  u[`borgbackup-job-${BACKUP_JOB}.service`] = `[Unit]
Description=BorgBackup job ${BACKUP_JOB}
After=${setup}
[Service]
Type=oneshot
CPUSchedulingPolicy=idle
IOSchedulingClass=idle
ProtectSystem=strict
ReadWritePaths=/var/lib/borgbackup/${BACKUP_JOB} /var/lib/alchemist /root
PrivateTmp=true
ExecStart=/usr/local/sbin/borgbackup-job-${BACKUP_JOB}
`;
  u[`borgbackup-job-${BACKUP_JOB}.timer`] = `[Unit]
Description=BorgBackup job ${BACKUP_JOB} timer
[Timer]
OnCalendar=daily
Persistent=false
[Install]
WantedBy=timers.target
`;
  u[`acme-${ACME_DOMAIN}.service`] = `[Unit]
Description=Renew ACME certificate for ${ACME_DOMAIN}
After=network.target nginx.service
[Service]
Type=oneshot
ExecStart=${LIB}/systemd-acme.sh ${ACME_DOMAIN} ${CERT_DIR}
`;
  u[`acme-${ACME_DOMAIN}.timer`] = `[Unit]
Description=Renew ACME Certificate for ${ACME_DOMAIN}
[Timer]
OnCalendar=daily
Persistent=true
[Install]
WantedBy=timers.target
`;
  return u;
}

/** MemoryHigh at 90 % of MemoryMax, in whole MiB (what the lab declares beside the deployment's MemoryMax). */
export function memoryHigh(max: string): string {
  const m = /^(\d+)([KMGT])$/.exec(max);
  if (!m) throw new Error(`memory size ${max}`);
  const mib = Number(m[1]) * { K: 1 / 1024, M: 1, G: 1024, T: 1024 * 1024 }[m[2] as 'K' | 'M' | 'G' | 'T'];
  return `${Math.floor(mib * 0.9)}M`;
}

/** Units enabled at boot (symlinks into the .wants dirs): target → units. */
export function enabledUnits(containers: ContainerSpec[]): Record<string, string[]> {
  return {
    'multi-user.target': [setup, 'firewall.service', 'sshd.service', 'nginx.service', 'machines.target'],
    'machines.target': containers.map((c) => `container@${c.name}.service`),
    'timers.target': [`borgbackup-job-${BACKUP_JOB}.timer`, `acme-${ACME_DOMAIN}.timer`],
  };
}
