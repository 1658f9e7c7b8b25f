// `lab up --flavour systemd`: a full node whose PID 1 is systemd. The cached Debian rootfs
// (scripts/build-rootfs.sh) is the lower layer of a per-node overlay, booted with
// `systemd-nspawn -b --register=no --keep-unit` inside the node's netns; the deployment's services
// are units under NixOS's names (systemd-units.ts). Limits: systemd declares them, but nspawn mounts
// the v1 controllers read-only, so the lab's own v1 cgroups (bound in writable) enforce them.
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { CONTAINER_CAPS } from './container.js';
import { CERT_DIR, nginxConf, sshdConfig } from './config.js';
import { CONTAINERS, labCgroupParents } from './full.js';
import { issueCert, TLS_NAMES } from './pki.js';
import { LabError, nodeSh, packageRoot, run, shDir, sleep } from './proc.js';
import { pgHba, postgresqlConf, prometheusConfig, prometheusRules } from './services.js';
import { record } from './state.js';
import { ACME_DOMAIN, BACKUP_JOB, enabledUnits, systemdUnits } from './systemd-units.js';
import type { LabContainerInfo, LabNodeInfo } from './types.js';
import { parsePercent, parseSize } from '../core/units.js';

const LIB = '/usr/local/lib/leafcert-lab';
/** Where a systemd node sees the lab's v1 memory/cpu cgroups of its containers (bound in writable). */
const NODE_CG = '/var/lib/leafcert-lab/cgroup';
/** How long systemd may take to reach `running` (containers' PostgreSQL initdb and Prometheus included). */
export const BOOT_TIMEOUT_MS = Number(process.env.LEAFCERT_LAB_BOOT_TIMEOUT_MS) || 150_000;

/** The cached rootfs (built by scripts/build-rootfs.sh, with its progress lines passed to `log`). */
export async function ensureRootfs(log: (l: string) => void): Promise<string> {
  const script = join(packageRoot(), 'scripts', 'build-rootfs.sh');
  return new Promise((res, rej) => {
    const child = spawn('bash', [script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      for (const l of d.split('\n')) if (l.trim() && !/^build-rootfs: cached /.test(l)) log(l);
    });
    child.on('error', (e) => rej(new LabError(`cannot run ${script}: ${e.message}`)));
    child.on('close', (code) => {
      const path = out.trim().split('\n').pop() ?? '';
      if (code === 0 && path && existsSync(join(path, '.leafcert-rootfs-ok'))) res(path);
      else rej(new LabError(`building the systemd node's rootfs failed (exit ${code}): ${err.trim().split('\n').slice(-5).join('; ')}`, code === 2 ? 2 : 1));
    });
  });
}

/** The node's filesystem before boot: everything goes into the upper dir of its overlay. */
function writeTree(upper: string, path: string, content: string | Buffer, mode?: number): void {
  const p = join(upper, path);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, content);
  if (mode !== undefined) chmodSync(p, mode);
}

const BORG_WRAPPER = `#!/bin/sh
# as NixOS's services.borgbackup.jobs.${BACKUP_JOB} wrapper: borg with the job's repo and passphrase
export BORG_REPO=/var/lib/borgbackup/${BACKUP_JOB}
export BORG_PASSCOMMAND='cat /etc/borg/passphrase'
export BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
exec borg "$@"
`;

const BORG_JOB = `#!/bin/sh
# what borgbackup-job-${BACKUP_JOB}.service runs: DB dump into the data path, then an archive
set -e
mkdir -p /var/lib/alchemist/backup
nixos-container run alchemist -- setpriv --reuid postgres --regid postgres --init-groups -- sh -c 'cd / && /usr/lib/postgresql/15/bin/pg_dump -Fp alchemist' > /var/lib/alchemist/backup/alchemist.sql
borg-job-${BACKUP_JOB} create --compression auto,lz4 "::$(hostname)-${BACKUP_JOB}-$(date +%Y-%m-%dT%H:%M:%S)" /var/lib/alchemist /etc/alchemist
`;

/**
 * boot.kernel.sysctl of the example NixOS module (what node-init.sh sets on the other flavours), as
 * /etc/sysctl.d holds it. nspawn keeps /proc/sys read-only inside, so the lab applies it to the
 * node's netns (every key here is per network namespace) before boot.
 */
const SYSCTL_CONF = `net.ipv4.ip_forward = 1
net.ipv4.conf.all.rp_filter = 1
net.ipv4.conf.default.rp_filter = 1
net.ipv4.conf.all.accept_redirects = 0
net.ipv4.conf.default.accept_redirects = 0
net.ipv4.conf.all.secure_redirects = 0
net.ipv4.conf.default.secure_redirects = 0
net.ipv4.conf.all.send_redirects = 0
net.ipv4.conf.default.send_redirects = 0
net.ipv4.conf.all.accept_source_route = 0
net.ipv4.conf.default.accept_source_route = 0
net.ipv4.conf.all.log_martians = 1
net.ipv4.conf.default.log_martians = 1
net.ipv4.tcp_syncookies = 1
net.ipv4.tcp_rfc1337 = 1
net.ipv4.icmp_echo_ignore_broadcasts = 1
net.ipv4.icmp_ignore_bogus_error_responses = 1
net.core.somaxconn = 65535
net.ipv4.tcp_max_syn_backlog = 65535
net.ipv6.conf.all.accept_redirects = 0
net.ipv6.conf.default.accept_redirects = 0
net.ipv6.conf.all.accept_source_route = 0
net.ipv6.conf.default.accept_source_route = 0
`;

/** The v1 cgroups the lab enforces limits with, per container, and the dirs nspawn is launched from. */
function cgroups(id: string, node: LabNodeInfo) {
  const p = labCgroupParents(id);
  const mem = join(p.memory, node.name);
  const cpu = join(p.cpu, node.name);
  return { parents: p, mem, cpu };
}

async function prepare(state: string, id: string, node: LabNodeInfo): Promise<{ upper: string; infos: LabContainerInfo[] }> {
  const d = node.nodeDir;
  const upper = join(d, 'rootfs', 'upper');
  mkdirSync(join(d, 'rootfs', 'work'), { recursive: true });
  mkdirSync(join(d, 'rootfs', 'merged'), { recursive: true });
  mkdirSync(join(d, 'scratch'), { recursive: true });
  mkdirSync(upper, { recursive: true });
  const w = (p: string, c: string | Buffer, m?: number) => writeTree(upper, p, c, m);
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `root@${node.hostname}`, '-f', join(d, 'ssh_host_ed25519_key')], { check: true });
  w('etc/ssh/ssh_host_ed25519_key', readFileSync(join(d, 'ssh_host_ed25519_key')), 0o600);
  w('etc/ssh/ssh_host_ed25519_key.pub', readFileSync(join(d, 'ssh_host_ed25519_key.pub')));
  w('etc/ssh/sshd_config', sshdConfig());
  w('root/.ssh/authorized_keys', readFileSync(join(state, 'id_ed25519.pub')), 0o600);
  w('etc/hostname', `${node.hostname}\n`);
  w('etc/hosts', `127.0.0.1 localhost\n${node.address} ${node.hostname}\n127.0.0.1 api.alchemist.local monitoring.alchemist.local\n`);
  w('etc/nginx/nginx.conf', nginxConf({ flavour: 'full' }));
  w('etc/sysctl.d/60-nixos.conf', SYSCTL_CONF);
  const cert = await issueCert(state, { dns: TLS_NAMES, ips: [node.address] });
  w(`${CERT_DIR.slice(1)}/fullchain.pem`, cert.cert);
  w(`${CERT_DIR.slice(1)}/key.pem`, cert.key, 0o640);
  // What the ACME stand-in installs when the served certificate falls due: issued now by the lab CA.
  const next = await issueCert(state, { dns: TLS_NAMES, ips: [node.address] });
  w(`var/lib/acme/${ACME_DOMAIN}/fullchain.pem`, next.cert);
  w(`var/lib/acme/${ACME_DOMAIN}/key.pem`, next.key, 0o600);
  // A persistent timer fires at boot when its stamp says it missed a run: so the timer has fired once.
  w(`var/lib/systemd/timers/stamp-acme-${ACME_DOMAIN}.timer`, '');
  const old = new Date(Date.now() - 2 * 86400_000);
  utimesSync(join(upper, `var/lib/systemd/timers/stamp-acme-${ACME_DOMAIN}.timer`), old, old);
  w('etc/leafcert-lab/firewall-start.sh', readFileSync(join(shDir(), `firewall-${node.firewall}.sh`)), 0o755);
  for (const f of readdirSync(shDir())) w(`${LIB.slice(1)}/${f}`, readFileSync(join(shDir(), f)), 0o755);
  w('usr/local/lib/lab-backend.pl', readFileSync(join(shDir(), 'backend.pl')), 0o755);
  w('usr/local/sbin/lab-backend-start', readFileSync(join(shDir(), 'backend-start.sh')), 0o755);
  w('usr/local/lib/lab-container-run.sh', readFileSync(join(shDir(), 'container-run.sh')), 0o755);
  w('usr/local/bin/nixos-container', readFileSync(join(shDir(), 'nixos-container.sh')), 0o755);
  // No machined registers the lab's containers: the stand-in answers from containers.json, which
  // container@NAME keeps (the probes also find each leader as the child of the unit's MainPID).
  w('usr/local/bin/machinectl', readFileSync(join(shDir(), 'machinectl.sh')), 0o755);
  w(`usr/local/bin/borg-job-${BACKUP_JOB}`, BORG_WRAPPER, 0o755);
  w(`usr/local/sbin/borgbackup-job-${BACKUP_JOB}`, BORG_JOB, 0o755);
  w('var/lib/nixos-containers/alchemist/postgresql.conf', postgresqlConf());
  w('var/lib/nixos-containers/alchemist/pg_hba.conf', pgHba());
  w('var/lib/nixos-containers/monitoring/etc/prometheus/prometheus.yml', prometheusConfig(CONTAINERS));
  w('var/lib/nixos-containers/monitoring/etc/prometheus/rules/alchemist.rules.yml', prometheusRules());
  for (const [name, text] of Object.entries(systemdUnits(CONTAINERS))) w(`etc/systemd/system/${name}`, text);
  for (const [target, units] of Object.entries(enabledUnits(CONTAINERS))) {
    mkdirSync(join(upper, 'etc/systemd/system', `${target}.wants`), { recursive: true });
    for (const u of units) {
      const link = join(upper, 'etc/systemd/system', `${target}.wants`, u);
      const to = u.startsWith('container@') ? '/etc/systemd/system/container@.service' : `/etc/systemd/system/${u}`;
      if (!existsSync(link)) symlinkSync(to, link);
    }
  }

  const cg = cgroups(id, node);
  record(state, { kind: 'cgroup', path: cg.parents.memory });
  record(state, { kind: 'cgroup', path: cg.parents.cpu });
  const bounding = `-all,${CONTAINER_CAPS.map((c) => '+' + c).join(',')}`;
  const infos: LabContainerInfo[] = [];
  const list: string[] = [];
  for (const c of CONTAINERS) {
    const memory = join(cg.mem, 'machine.slice', `container@${c.name}.service`);
    const cpu = join(cg.cpu, 'machine.slice', `container@${c.name}.service`);
    mkdirSync(memory, { recursive: true });
    mkdirSync(cpu, { recursive: true });
    writeFileSync(join(memory, 'memory.limit_in_bytes'), String(parseSize(c.memoryMax)));
    writeFileSync(join(cpu, 'cpu.cfs_period_us'), '100000');
    writeFileSync(join(cpu, 'cpu.cfs_quota_us'), String(Math.round(parsePercent(c.cpuQuota) * 100000)));
    w(`etc/leafcert-lab/containers/${c.name}.env`, [`N=${c.n}`, `PORTS=${c.ports.join(',')}`, `FW_PORTS=${c.innerFirewall ? c.ports.join(',') : ''}`,
      `BOUNDING=${bounding}`, `MEMCG=${NODE_CG}/memory/machine.slice/container@${c.name}.service`,
      `CPUCG=${NODE_CG}/cpu/machine.slice/container@${c.name}.service`, ''].join('\n'));
    list.push(`${c.name} ${c.n}`);
    infos.push({ name: c.name, hostAddress: `10.233.${c.n}.1`, localAddress: `10.233.${c.n}.2`, hostPid: 0, nodePid: 0,
      ports: c.ports, memoryMax: c.memoryMax, cpuQuota: c.cpuQuota, cgroup: { memory, cpu } });
  }
  w('etc/leafcert-lab/containers.list', list.join('\n') + '\n');
  return { upper, infos };
}

/** Host PID whose NSpid inside the node's pid namespace is `nodePid`, below `ancestor`. */
export function hostPidIn(ancestor: number, nodePid: number, depth = 1): number {
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const ns = readFileSync(`/proc/${p}/status`, 'utf8').match(/^NSpid:\s+(.*)$/m)?.[1]?.trim().split(/\s+/);
      if (ns && ns.length > depth && Number(ns[depth]) === nodePid && below(Number(p), ancestor)) return Number(p);
    } catch {
      /* raced with an exiting process */
    }
  }
  return 0;
}

function below(pid: number, ancestor: number): boolean {
  let cur = pid;
  for (let i = 0; i < 64 && cur > 1; i++) {
    if (cur === ancestor) return true;
    try {
      cur = Number(readFileSync(`/proc/${cur}/status`, 'utf8').match(/^PPid:\s+(\d+)/m)?.[1] ?? 0);
    } catch {
      return false;
    }
  }
  return false;
}

/** Boots the node: nspawn in a private mount namespace holding the overlay, launched from the lab's cgroups. */
async function boot(state: string, id: string, node: LabNodeInfo, rootfs: string, upper: string): Promise<number> {
  const cg = cgroups(id, node);
  const merged = join(node.nodeDir, 'rootfs', 'merged');
  const work = join(node.nodeDir, 'rootfs', 'work');
  // nspawn --keep-unit puts payload/ and supervisor/ under the caller's cgroup in every hierarchy:
  // give it the node's own dirs (recorded, so `down` removes them).
  const launch: string[] = [];
  for (const [ctrl, own] of ownCgroups()) {
    const parent = ctrl === 'memory' ? cg.parents.memory : ctrl === 'cpu' ? cg.parents.cpu : `/sys/fs/cgroup/${ctrl}${own}/leafcert-${id}`;
    if (ctrl !== 'memory' && ctrl !== 'cpu') record(state, { kind: 'cgroup', path: parent });
    const dir = join(parent, node.name);
    mkdirSync(dir, { recursive: true });
    launch.push(dir);
  }
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const nspawn = ['systemd-nspawn', '-q', '-b', '-D', merged, '--register=no', '--keep-unit', `--network-namespace-path=/run/netns/${node.netns}`,
    `--hostname=${node.hostname}`, `--machine=${node.netns}`, '--capability=CAP_NET_ADMIN', '--console=read-only',
    // The lab's v1 cgroups of the node, writable (container@NAME joins them).
    `--bind=${cg.mem}:${NODE_CG}/memory`, `--bind=${cg.cpu}:${NODE_CG}/cpu`];
  const script = `set -e
for d in ${launch.map(q).join(' ')}; do echo $$ > "$d/cgroup.procs"; done
exec unshare --mount --propagation private -- bash -c ${q(`set -e
mount -t overlay overlay -o lowerdir=${rootfs},upperdir=${upper},workdir=${work} ${merged}
exec ${nspawn.map(q).join(' ')}`)}`;
  await run('nsenter', [`--net=/run/netns/${node.netns}`, '--', 'sysctl', '-q', '-p', join(upper, 'etc/sysctl.d/60-nixos.conf')], { check: true });
  const log = join(node.nodeDir, 'boot.log');
  const fd = openSync(log, 'w');
  const child = spawn('bash', ['-c', script], { detached: true, stdio: ['ignore', fd, fd], env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' } });
  closeSync(fd);
  let exited = false;
  child.on('exit', () => (exited = true));
  child.unref();
  if (!child.pid) throw new LabError(`${node.name}: could not start systemd-nspawn`);
  record(state, { kind: 'pid', pid: child.pid, node: node.name });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const pid1 = hostPidIn(child.pid, 1);
    if (pid1 && readFileSync(`/proc/${pid1}/comm`, 'utf8').trim() === 'systemd') {
      record(state, { kind: 'pid', pid: pid1, node: node.name });
      return pid1;
    }
    if (exited || Date.now() > deadline)
      throw new LabError(`${node.name}: systemd-nspawn ${exited ? 'exited' : 'did not start systemd within 30 s'}; ${log}:\n${readFileSync(log, 'utf8').split('\n').slice(-15).join('\n')}`);
    await sleep(50);
  }
}

/** [controller name as in /sys/fs/cgroup, own path] for every v1 hierarchy and the unified one. */
function ownCgroups(): [string, string][] {
  const out: [string, string][] = [];
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    const ctrl = m[1] === '' ? 'unified' : m[1].replace(/^name=/, '');
    const dir = `/sys/fs/cgroup/${ctrl}`;
    // cpuset: a new cgroup has no cpus/mems, so nothing can join it (and nspawn does not need it).
    if (existsSync(dir) && ctrl !== 'cpuset') out.push([ctrl, m[2] === '/' ? '' : m[2]]);
  }
  return out;
}

/** Waits for `running`; otherwise names the failed units (and what systemd said about them). */
export async function waitRunning(node: LabNodeInfo): Promise<void> {
  const secs = Math.round(BOOT_TIMEOUT_MS / 1000);
  // Until PID 1 listens, systemctl answers "offline" at once; then --wait blocks while it starts up.
  const r = await nodeSh(node.initPid, `end=$((SECONDS + ${secs}))
while [ $SECONDS -lt $end ]; do
  s=$(timeout $((end - SECONDS)) systemctl is-system-running --wait 2>/dev/null)
  case $s in initializing|starting|offline|'') sleep 0.1 ;; *) break ;; esac
done
echo "$s"`, { timeoutMs: BOOT_TIMEOUT_MS + 10_000 });
  const st = r.stdout.trim().split('\n').pop() ?? '';
  if (st === 'running') return;
  const f = await nodeSh(node.initPid, `systemctl list-units --failed --no-legend --plain --no-pager | awk '{print $1}'; echo ---; systemctl list-jobs --no-legend --no-pager | head -5`, { timeoutMs: 15_000 });
  const [failed, jobs] = f.stdout.split('---\n');
  const units = (failed ?? '').trim().split('\n').filter(Boolean);
  let detail = '';
  for (const u of units.slice(0, 3)) {
    const j = await nodeSh(node.initPid, `journalctl -u ${u} --no-pager -n 4 -o cat 2>/dev/null | tail -4`, { timeoutMs: 10_000 });
    detail += `\n  ${u}: ${j.stdout.trim().split('\n').join(' | ')}`;
  }
  throw new LabError(`${node.name}: systemd did not reach "running" within ${secs} s (state: ${st || 'no answer'}); ` +
    (units.length ? `failed units: ${units.join(', ')}${detail}` : `no failed unit; jobs still queued: ${(jobs ?? '').trim().split('\n').join('; ') || 'none'}`));
}

/** Boots a systemd node and brings it to the state a full node has after `lab up`. */
export async function setupSystemdNode(state: string, id: string, node: LabNodeInfo, rootfs: string, log: (l: string) => void): Promise<void> {
  const t0 = Date.now();
  const { upper, infos } = await prepare(state, id, node);
  node.initPid = await boot(state, id, node, rootfs, upper);
  await waitRunning(node);
  const booted = (Date.now() - t0) / 1000;
  // One archive now (as a full node has), run as the unit so its Result is real.
  const b = await nodeSh(node.initPid, `systemctl start borgbackup-job-${BACKUP_JOB}.service && systemctl show -p Result --value borgbackup-job-${BACKUP_JOB}.service`, { timeoutMs: 120_000 });
  if (b.code !== 0 || b.stdout.trim() !== 'success')
    throw new LabError(`${node.name}: borgbackup-job-${BACKUP_JOB}.service failed: ${(b.stderr || b.stdout).trim().slice(0, 400)}`);
  // Prometheus answers before its first scrapes: wait (bounded) until every target was scraped up.
  await nodeSh(node.initPid, `for _ in $(seq 1 60); do t=$(curl -s -m 2 'http://10.233.5.2:9090/api/v1/targets?state=active' || true); [ "$(grep -o '"health":"up"' <<< "$t" | wc -l)" -ge 5 ] && break; sleep 0.25; done`, { timeoutMs: 30_000 });
  await refreshLeaders(node, infos);
  node.containers = infos;
  writeFileSync(join(node.nodeDir, 'boot-seconds'), `${booted.toFixed(2)}\n`);
  log(`${node.name}: systemd running after ${booted.toFixed(1)} s; containers ${infos.map((c) => c.name).join(', ')} up`);
}

/** The containers' leaders as container@NAME recorded them (node PIDs), mapped to host PIDs. */
export async function refreshLeaders(node: LabNodeInfo, infos: LabContainerInfo[] = node.containers): Promise<void> {
  const r = await nodeSh(node.initPid, 'cat /run/leafcert-lab/containers.json 2>/dev/null || echo {}', { timeoutMs: 10_000 });
  let leaders: Record<string, { leader: number }> = {};
  try {
    leaders = JSON.parse(r.stdout) as typeof leaders;
  } catch {
    throw new LabError(`${node.name}: /run/leafcert-lab/containers.json is not JSON: ${r.stdout.slice(0, 200)}`);
  }
  for (const c of infos) {
    c.nodePid = leaders[c.name]?.leader ?? 0;
    c.hostPid = c.nodePid ? hostPidIn(node.initPid, c.nodePid) : 0;
  }
}

/** The systemd flavour's requirements beyond the host tools: the rootfs script must exist. */
export function rootfsScript(): string {
  return resolve(packageRoot(), 'scripts', 'build-rootfs.sh');
}
