// Isolation faults: a lab container is restarted the wrong way (in the node's network namespace,
// keeping CAP_SYS_ADMIN, or with capabilities beyond nspawn's default set), an undeclared service
// listens inside a container, a container nobody declared runs, a declared one is stopped. Restarts
// replace the container's processes for real (new leader, same cgroups); heal restarts it the way the
// lab starts it (own netns + ve-NAME veth, reduced bounding set, no_new_privs) and updates the lab's
// records (containers.json, lab.json).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CONTAINER_CAPS } from '../container.js';
import { CONTAINERS } from '../full.js';
import { shDir } from '../proc.js';
import { readState, writeState } from '../state.js';
import type { LabContainerInfo } from '../types.js';
import type { Fault, FaultContext } from './types.js';

/** The container the restart faults use: a plain API container (no PostgreSQL, no Prometheus). */
export const VICTIM = 'alchemist-workflow';
const JSON_FILE = '/run/leafcert-lab/containers.json';

interface StartOpts {
  privateNetwork: boolean;
  extraCaps?: string[];
  /** Default true, as the lab starts containers. */
  noNewPrivs?: boolean;
  /** Own user namespace, root mapped to root (`unshare --user --map-root-user`). */
  userNamespace?: boolean;
}

function container(ctx: FaultContext, name: string): LabContainerInfo {
  const c = ctx.node.containers.find((x) => x.name === name);
  if (!c) throw new Error(`${ctx.node.name} has no container ${name}`);
  return c;
}

/** Host PID of node-local `nodePid` (NSpid's second entry) under the node's init. */
function hostPidOf(initPid: number, nodePid: number): number {
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const ns = /^NSpid:\s+(.*)$/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1]?.trim().split(/\s+/);
      if (!ns || ns.length < 2 || Number(ns[1]) !== nodePid) continue;
      let cur = Number(p);
      for (let i = 0; i < 64 && cur > 1; i++) {
        if (cur === initPid) return Number(p);
        cur = Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${cur}/status`, 'utf8'))?.[1] ?? 0);
      }
    } catch {
      /* raced with an exiting process */
    }
  }
  throw new Error(`cannot map node pid ${nodePid} to a host pid`);
}

/** Keep the lab's own record of the leader current, so later faults and `lab status` see the new one. */
function recordLeader(ctx: FaultContext, name: string, nodePid: number | undefined): void {
  const s = readState(ctx.lab.state);
  if (!s) return;
  const n = s.info.nodes.find((x) => x.name === ctx.node.name);
  const c = n?.containers.find((x) => x.name === name);
  if (!c) return;
  c.nodePid = nodePid ?? 0;
  c.hostPid = nodePid ? hostPidOf(ctx.node.initPid, nodePid) : 0;
  Object.assign(container(ctx, name), { nodePid: c.nodePid, hostPid: c.hostPid });
  writeState(ctx.lab.state, s);
}

/** The lab's veth naming (full-node.sh): ve-NAME, or a hashed 15-char name with ve-NAME as altname. */
const IFNAME = (name: string) =>
  `n_=${name}; if [ ${'$'}{#n_} -le 12 ]; then ifname=ve-$n_; else ifname=ve-${'$'}{n_:0:8}$(printf %s "$n_" | md5sum | cut -c1-4); fi`;

const leaderSh = (name: string) => `sed -n 's/.*"${name}":{"leader":\\([0-9]*\\)}.*/\\1/p' ${JSON_FILE}`;

/** Stop a container: TERM its leader (its pid namespace dies with it) and drop it from containers.json. */
function stopSh(name: string, signal = 'TERM'): string {
  return `l=$(${leaderSh(name)})
if [ -n "$l" ] && kill -0 "$l" 2>/dev/null; then kill -${signal} "$l"; for _ in $(seq 1 100); do kill -0 "$l" 2>/dev/null || break; sleep 0.05; done; kill -0 "$l" 2>/dev/null && kill -KILL "$l"; fi
${IFNAME(name)}
for _ in $(seq 1 100); do ip link show "$ifname" >/dev/null 2>&1 || break; sleep 0.02; done
sed -i 's/"${name}":{"leader":[0-9]*},\\{0,1\\}//; s/,}$/}/' ${JSON_FILE}`;
}

/**
 * Start NAME as the lab does (full-node.sh), or with the given deviation. Prints "LEADER <pid>".
 * Without a private network the container keeps the node's netns and gets no veth.
 */
function startSh(ctx: FaultContext, name: string, o: StartOpts): string {
  const c = container(ctx, name);
  const n = /^10\.233\.(\d+)\.1$/.exec(c.hostAddress)?.[1];
  const caps = [...CONTAINER_CAPS, ...(o.extraCaps ?? [])];
  const bounding = `-all,${caps.map((x) => `+${x}`).join(',')}`;
  const net = `${o.userNamespace ? '--user --map-root-user ' : ''}${o.privateNetwork ? '--net ' : ''}`;
  const nnp = o.noNewPrivs === false ? '' : ' --no-new-privs';
  // PID 1 of the container: what container-init.sh does; without a private network there is no eth0 to wait for.
  const init = o.privateNetwork
    ? `bash ${INIT_IN_NODE} ${name} ${c.localAddress} ${bounding}`
    : `bash -c 'hostname ${name}; mount -t tmpfs -o mode=0755,size=32m tmpfs /run; mount -t tmpfs -o mode=1777,size=64m tmpfs /tmp; exec setpriv --bounding-set=${bounding}${nnp} -- bash /usr/local/lib/lab-container-run.sh ${name} ${c.localAddress}'`;
  return `set -euo pipefail
: > /var/log/containers/${name}.log
(
  echo $BASHPID > ${c.cgroup.memory}/cgroup.procs
  echo $BASHPID > ${c.cgroup.cpu}/cgroup.procs
  LAB_PORT=${c.ports[0]} LAB_FW_PORTS="${fwPorts(name)}" exec setsid unshare ${net}--pid --fork --mount --uts --ipc --cgroup --mount-proc --propagation private ${init}
) </dev/null >>/var/log/containers/${name}.log 2>&1 &
outer=$!
leader=
for _ in $(seq 1 200); do leader=$(cat /proc/$outer/task/$outer/children 2>/dev/null | awk '{print $1}'); [ -n "$leader" ] && break; sleep 0.01; done
[ -n "$leader" ] || { echo "container ${name} did not start" >&2; exit 1; }
${o.privateNetwork ? `${IFNAME(name)}
ip link add "$ifname" type veth peer name eth0 netns "$leader"
[ "$ifname" = "ve-${name}" ] || ip link property add dev "$ifname" altname "ve-${name}"
ip addr add 10.233.${n}.1/32 dev "$ifname"
ip link set "$ifname" up
ip route add 10.233.${n}.2/32 dev "$ifname"
nsenter -t "$leader" -n sh -c "ip link set lo up && ip addr add 10.233.${n}.2/32 dev eth0 && ip link set eth0 up && ip route add 10.233.${n}.1/32 dev eth0 && ip route add default via 10.233.${n}.1 dev eth0"` : ''}
sed -i "s/}$/,\\"${name}\\":{\\"leader\\":$leader}}/; s/{,/{/" ${JSON_FILE}
for _ in $(seq 1 400); do grep -q "^READY ${name}" /var/log/containers/${name}.log && break; kill -0 "$leader" || break; sleep 0.05; done
grep -q "^READY ${name}" /var/log/containers/${name}.log || { tail -5 /var/log/containers/${name}.log >&2; exit 1; }
echo "LEADER $leader"`;
}

/** TCP ports of the container's own firewall (full.ts), empty = it has none. */
const fwPorts = (name: string) => {
  const spec = CONTAINERS.find((x) => x.name === name);
  return spec?.innerFirewall ? spec.ports.join(' ') : '';
};

/** The lab's own container init, copied into the node (the repo is not visible from inside it). */
const INIT_IN_NODE = '/usr/local/lib/leafcert-fault-container-init.sh';

async function restart(ctx: FaultContext, name: string, o: StartOpts): Promise<void> {
  let init = readFileSync(join(shDir(), 'container-init.sh'), 'utf8');
  if (o.noNewPrivs === false) init = init.replace(/ --no-new-privs\b/g, '');
  await ctx.writeFile(INIT_IN_NODE, init, 0o755);
  await ctx.exec(stopSh(name));
  const r = await ctx.exec(startSh(ctx, name, o));
  const leader = Number(/^LEADER (\d+)$/m.exec(r.stdout)?.[1]);
  recordLeader(ctx, name, leader);
}

/**
 * After a heal, wait until the lab's Prometheus has scraped the restarted container again: until
 * then its last scrape says "down" and the monitoring suite would still see the fault.
 */
async function waitScraped(ctx: FaultContext, name: string): Promise<void> {
  const c = container(ctx, name);
  const mon = ctx.node.containers.find((x) => x.name === 'monitoring');
  if (!mon) return;
  const url = `http://${c.localAddress}:${c.ports[0]}/metrics`;
  const since = Date.now();
  for (let i = 0; i < 60; i++) {
    const r = await ctx.exec(`curl -s --max-time 2 http://${mon.localAddress}:${mon.ports[0]}/api/v1/targets || true`);
    try {
      const t = (JSON.parse(r.stdout).data?.activeTargets ?? []).find((x: { scrapeUrl?: string }) => x.scrapeUrl === url);
      if (!t || (t.health === 'up' && Date.parse(t.lastScrape) >= since)) return;
    } catch {
      /* Prometheus not answering yet */
    }
    await new Promise((res) => setTimeout(res, 500));
  }
  throw new Error(`Prometheus did not scrape ${url} as up within 30 s after the restart`);
}

async function healRestart(ctx: FaultContext): Promise<void> {
  await restart(ctx, VICTIM, { privateNetwork: true });
  await waitScraped(ctx, VICTIM);
}

/** Re-runs the NixOS firewall in FW_IN's netns (from the node, as a reload would) allowing `ports`. */
function innerFirewallSh(ports: string): string {
  return `L=$(${leaderSh(FW_IN)}); [ -n "$L" ] || { echo "no leader for ${FW_IN} in ${JSON_FILE}" >&2; exit 1; }
nsenter --net=/proc/$L/ns/net env FW_TCP_PORTS="${ports}" bash /etc/leafcert-lab/firewall-start.sh`;
}

/** A command in FW_IN's network namespace, from the node. */
function inFwNetns(cmd: string): string {
  return `L=$(${leaderSh(FW_IN)}); [ -n "$L" ] || { echo "no leader for ${FW_IN} in ${JSON_FILE}" >&2; exit 1; }
nsenter --net=/proc/$L/ns/net sh -c '${cmd}'`;
}

const ROGUE = 'rogue';
const OPEN_PORT = 7000;
const OPEN_IN = 'alchemist-agent';
/** The container with its own firewall (full.ts) and the port the fault opens in it. */
const FW_IN = 'alchemist';
const FW_EXTRA_PORT = 6379;
/** The service isolation-process-host-netns starts in OPEN_IN's PID namespace but the node's network. */
const HOSTNET_NAME = 'fault-hostnet';
const HOSTNET_PORT = 7070;

export const faults: Fault[] = [
  {
    name: 'isolation-host-netns',
    area: 'isolation',
    breaks: `container ${VICTIM} runs in the node's network namespace (restarted without a private network)`,
    catches: ['isolation.namespaces', 'isolation.reachability'],
    needs: 'full',
    apply: (ctx) => restart(ctx, VICTIM, { privateNetwork: false }),
    heal: healRestart,
  },
  {
    name: 'isolation-cap-sys-admin',
    area: 'isolation',
    breaks: `container ${VICTIM} keeps CAP_SYS_ADMIN in its bounding set (as a default nixos-container does)`,
    catches: ['isolation.capabilities'],
    needs: 'full',
    apply: (ctx) => restart(ctx, VICTIM, { privateNetwork: true, extraCaps: ['sys_admin'] }),
    heal: healRestart,
  },
  {
    name: 'isolation-extra-capabilities',
    area: 'isolation',
    breaks: `container ${VICTIM} is restarted with CAP_SYS_RAWIO, CAP_SYS_TIME and CAP_BPF in its bounding set, none of them in systemd-nspawn's default set nor declared (raw I/O, the host clock, BPF)`,
    catches: ['isolation.capabilities'],
    needs: 'full',
    apply: (ctx) => restart(ctx, VICTIM, { privateNetwork: true, extraCaps: ['sys_rawio', 'sys_time', 'bpf'] }),
    heal: healRestart,
  },
  {
    name: 'isolation-new-privs',
    area: 'isolation',
    breaks: `container ${VICTIM} runs without no_new_privs (setuid binaries inside can gain privileges)`,
    catches: ['isolation.no-new-privs'],
    needs: 'full',
    apply: (ctx) => restart(ctx, VICTIM, { privateNetwork: true, noNewPrivs: false }),
    heal: healRestart,
  },
  {
    name: 'isolation-user-namespace',
    area: 'isolation',
    breaks: `container ${VICTIM} runs in a user namespace its declaration does not have (privateUsers drift)`,
    catches: ['isolation.user-namespace'],
    needs: 'full',
    apply: (ctx) => restart(ctx, VICTIM, { privateNetwork: true, userNamespace: true }),
    heal: healRestart,
  },
  {
    name: 'isolation-undeclared-port',
    area: 'isolation',
    breaks: `a service in ${OPEN_IN} listens on undeclared TCP ${OPEN_PORT}, reachable from the other containers`,
    catches: ['isolation.reachability'],
    needs: 'full',
    async apply(ctx) {
      await ctx.containerExec(OPEN_IN, `lab-backend-start fault-open 0.0.0.0 ${OPEN_PORT}`);
    },
    async heal(ctx) {
      await ctx.containerExec(OPEN_IN, `[ -f /run/lab-backend-fault-open.pid ] && kill $(cat /run/lab-backend-fault-open.pid) 2>/dev/null; rm -f /run/lab-backend-fault-open.pid /etc/lab-backend/fault-open.conf; for _ in $(seq 1 50); do (exec 3<>/dev/tcp/127.0.0.1/${OPEN_PORT}) 2>/dev/null || exit 0; sleep 0.05; done; exit 1`);
    },
  },
  {
    name: 'isolation-process-host-netns',
    area: 'isolation',
    breaks: `a service joins ${OPEN_IN}'s cgroups and its PID, mount, UTS and IPC namespaces but keeps the node's network namespace (nsenter without --net), listening on the node's 0.0.0.0:${HOSTNET_PORT}: privateNetwork broken for that process while the leader's namespaces and the limits look right`,
    catches: ['isolation.namespaces'],
    needs: 'full',
    async apply(ctx) {
      const c = container(ctx, OPEN_IN);
      await ctx.exec(`set -euo pipefail
L=$(${leaderSh(OPEN_IN)}); [ -n "$L" ] || { echo "no leader for ${OPEN_IN} in ${JSON_FILE}" >&2; exit 1; }
( echo $BASHPID > ${c.cgroup.memory}/cgroup.procs; echo $BASHPID > ${c.cgroup.cpu}/cgroup.procs
  exec nsenter -t "$L" -p -m -u -i -- lab-backend-start ${HOSTNET_NAME} 0.0.0.0 ${HOSTNET_PORT} ) </dev/null`);
    },
    async heal(ctx) {
      await ctx.containerExec(OPEN_IN, `[ -f /run/lab-backend-${HOSTNET_NAME}.pid ] && kill $(cat /run/lab-backend-${HOSTNET_NAME}.pid) 2>/dev/null; rm -f /run/lab-backend-${HOSTNET_NAME}.pid /etc/lab-backend/${HOSTNET_NAME}.conf; true`);
      // gone from the node's network (it listened there, not in the container's)
      await ctx.exec(`for _ in $(seq 1 50); do (exec 3<>/dev/tcp/127.0.0.1/${HOSTNET_PORT}) 2>/dev/null || exit 0; sleep 0.05; done; exit 1`);
    },
  },
  {
    name: 'isolation-inner-firewall-open',
    area: 'isolation',
    breaks: `the firewall inside ${FW_IN} also accepts undeclared TCP ${FW_EXTRA_PORT} (allowedTCPPorts drift in the container)`,
    catches: ['isolation.inner-firewall'],
    needs: 'full',
    apply: (ctx) => ctx.exec(innerFirewallSh(`${fwPorts(FW_IN)} ${FW_EXTRA_PORT}`)).then(() => undefined),
    heal: (ctx) => ctx.exec(innerFirewallSh(fwPorts(FW_IN))).then(() => undefined),
  },
  {
    name: 'isolation-inner-firewall-accept',
    area: 'isolation',
    breaks: `the firewall inside ${FW_IN} accepts undeclared TCP ${FW_EXTRA_PORT} with a direct -j ACCEPT in nixos-fw (not through nixos-fw-accept, as a hand-made rule does)`,
    catches: ['isolation.inner-firewall'],
    needs: 'full',
    apply: (ctx) => ctx.exec(inFwNetns(`iptables -I nixos-fw 3 -p tcp -m tcp --dport ${FW_EXTRA_PORT} -j ACCEPT`)).then(() => undefined),
    heal: (ctx) => ctx.exec(innerFirewallSh(fwPorts(FW_IN))).then(() => undefined),
  },
  {
    name: 'isolation-inner-firewall-unhooked',
    area: 'isolation',
    breaks: `the firewall inside ${FW_IN} is unhooked: INPUT no longer jumps to nixos-fw (v4 and v6), so with INPUT's policy ACCEPT it filters nothing while its chains still list the declared ports`,
    catches: ['isolation.inner-firewall'],
    needs: 'full',
    apply: (ctx) => ctx.exec(inFwNetns('iptables -D INPUT -j nixos-fw; ip6tables -D INPUT -j nixos-fw')).then(() => undefined),
    heal: (ctx) => ctx.exec(innerFirewallSh(fwPorts(FW_IN))).then(() => undefined),
  },
  {
    name: 'isolation-undeclared-container',
    area: 'isolation',
    breaks: `a container "${ROGUE}" that no expectation declares runs on the node`,
    catches: ['isolation.unexpected-container'],
    needs: 'full',
    async apply(ctx) {
      await ctx.exec(`set -euo pipefail
printf 'PRIVATE_NETWORK=1\\nHOST_ADDRESS=10.233.99.1\\nLOCAL_ADDRESS=10.233.99.2\\nPRIVATE_USERS=no\\nAUTO_START=1\\nEXTRA_NSPAWN_FLAGS=""\\n' > /etc/nixos-containers/${ROGUE}.conf
setsid unshare --net --pid --fork --mount --uts --ipc --mount-proc --propagation private sleep infinity </dev/null >/dev/null 2>&1 &
outer=$!
leader=
for _ in $(seq 1 200); do leader=$(cat /proc/$outer/task/$outer/children 2>/dev/null | awk '{print $1}'); [ -n "$leader" ] && break; sleep 0.01; done
[ -n "$leader" ]
sed -i "s/}$/,\\"${ROGUE}\\":{\\"leader\\":$leader}}/" ${JSON_FILE}`);
    },
    async heal(ctx) {
      await ctx.exec(`${stopSh(ROGUE, 'KILL')}\nrm -f /etc/nixos-containers/${ROGUE}.conf`);
    },
  },
  {
    name: 'isolation-container-stopped',
    area: 'isolation',
    breaks: `declared container ${VICTIM} is not running`,
    catches: ['isolation.container-present', 'limits.enforced'],
    needs: 'full',
    async apply(ctx) {
      await ctx.exec(stopSh(VICTIM));
      recordLeader(ctx, VICTIM, undefined);
    },
    heal: healRestart,
  },
];
