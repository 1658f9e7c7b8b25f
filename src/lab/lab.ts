// Lab orchestration: `up` builds nodes (netns + veth + a node init with its own pid/mount/uts/ipc
// namespaces), `down` undoes everything the journal lists, `status` reports what runs.
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, openSync, closeSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ensureCa, issueCert, TLS_NAMES } from './pki.js';
import { nginxConf, sshdConfig, CERT_DIR } from './config.js';
import { LabError, nodeSh, packageRoot, pool, run, sh, shDir, sleep } from './proc.js';
import { ensureStateDir, isLabDir, journal, labId, readState, record, writeState, type LabState } from './state.js';
import type { LabInfo, LabNodeInfo } from './types.js';
import { writeInventory } from './inventory.js';
import { setupFullNode } from './full.js';
import { missingMessage, missingRequirements, type Exists } from './deps.js';
import { ensureRootfs, setupSystemdNode } from './systemd.js';

export interface UpOptions {
  state: string;
  nodes: number;
  flavour: 'full' | 'light' | 'systemd';
  firewall: 'iptables' | 'nftables';
  log?: (line: string) => void;
  /** Where to look for the lab's programs (tests); the real file system by default. */
  exists?: Exists;
}

const NODES_PER_BLOCK = 64;
const LOCK_DIR = '/run/leafcert-lab/blocks';

export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}

/** Host addresses already configured on this machine in 10.250.0.0/16, by third octet. */
async function usedBlocks(): Promise<Set<number>> {
  const r = await run('ip', ['-o', '-4', 'addr', 'show']);
  const used = new Set<number>();
  for (const m of r.stdout.matchAll(/inet 10\.250\.(\d+)\./g)) used.add(Number(m[1]));
  if (existsSync(LOCK_DIR))
    for (const f of readdirSync(LOCK_DIR)) {
      // A lock whose lab state dir is gone (deleted without `lab down`) is stale: reclaim it.
      const owner = existsSync(join(LOCK_DIR, f, 'owner')) ? readFileSync(join(LOCK_DIR, f, 'owner'), 'utf8').trim() : '';
      if (owner && !existsSync(join(owner, 'journal')) && !r.stdout.includes(`inet 10.250.${f}.`)) {
        rmSync(join(LOCK_DIR, f), { recursive: true, force: true });
        continue;
      }
      used.add(Number(f));
    }
  return used;
}

/** Reserves `count` /24 blocks of 10.250.0.0/16, starting at a point derived from the lab id. */
async function allocateBlocks(state: string, id: string, count: number): Promise<number[]> {
  mkdirSync(LOCK_DIR, { recursive: true });
  const used = await usedBlocks();
  const start = parseInt(id, 16) % 250;
  const got: number[] = [];
  for (let n = 0; n < 250 && got.length < count; n++) {
    const b = (start + n) % 250;
    if (used.has(b)) continue;
    const lock = join(LOCK_DIR, String(b));
    record(state, { kind: 'lock', path: lock });
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'owner'), resolve(state) + '\n');
      got.push(b);
    } catch {
      /* taken concurrently by another lab */
    }
  }
  if (got.length < count) throw new LabError(`no free 10.250.X.0/24 block left for ${count * NODES_PER_BLOCK} nodes`);
  return got;
}

function nodeInfo(state: string, id: string, blocks: number[], i: number, o: UpOptions): LabNodeInfo {
  const b = blocks[Math.floor(i / NODES_PER_BLOCK)]!;
  const k = i % NODES_PER_BLOCK;
  const name = `leaf-${i + 1}`;
  return {
    name,
    hostname: name,
    address: `10.250.${b}.${4 * k + 2}`,
    hostAddress: `10.250.${b}.${4 * k + 1}`,
    netns: `lc-${id}-${i + 1}`,
    initPid: 0,
    // A systemd node carries the full node's services; only its PID 1 differs.
    flavour: o.flavour === 'systemd' ? 'full' : o.flavour,
    ...(o.flavour === 'systemd' ? { init: 'systemd' as const } : {}),
    firewall: o.firewall,
    containers: [],
    nodeDir: join(state, 'nodes', name),
  };
}

export function vethName(id: string, node: LabNodeInfo): string {
  return `lc${id}n${node.name.replace(/^leaf-/, '')}`;
}

/** Files the node needs before its init starts: written into the upper dirs of its overlays. */
async function prepareNode(state: string, node: LabNodeInfo): Promise<void> {
  const d = node.nodeDir;
  const etc = join(d, 'etc', 'upper');
  for (const p of [join(etc, 'ssh'), join(etc, CERT_DIR.replace(/^\/etc\//, '')), join(etc, 'leafcert-lab'),
    join(d, 'usrlocal', 'upper', 'sbin'), join(d, 'usrlocal', 'upper', 'lib'), join(d, 'root', '.ssh'), join(d, 'scratch')])
    mkdirSync(p, { recursive: true });
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `root@${node.hostname}`, '-f', join(d, 'ssh_host_ed25519_key')], { check: true });
  copyFileSync(join(d, 'ssh_host_ed25519_key'), join(etc, 'ssh', 'ssh_host_ed25519_key'));
  copyFileSync(join(d, 'ssh_host_ed25519_key.pub'), join(etc, 'ssh', 'ssh_host_ed25519_key.pub'));
  chmodSync(join(etc, 'ssh', 'ssh_host_ed25519_key'), 0o600);
  writeFileSync(join(etc, 'ssh', 'sshd_config'), sshdConfig());
  writeFileSync(join(etc, 'nginx', 'nginx.conf'), nginxConf({ flavour: node.flavour }));
  const { key, cert } = await issueCert(state, { dns: TLS_NAMES, ips: [node.address] });
  const certDir = join(etc, CERT_DIR.replace(/^\/etc\//, ''));
  writeFileSync(join(certDir, 'fullchain.pem'), cert);
  writeFileSync(join(certDir, 'key.pem'), key, { mode: 0o640 });
  const sh_ = shDir();
  copyFileSync(join(sh_, `firewall-${node.firewall}.sh`), join(etc, 'leafcert-lab', 'firewall-start.sh'));
  copyFileSync(join(sh_, 'backend.pl'), join(d, 'usrlocal', 'upper', 'lib', 'lab-backend.pl'));
  copyFileSync(join(sh_, 'backend-start.sh'), join(d, 'usrlocal', 'upper', 'sbin', 'lab-backend-start'));
  chmodSync(join(d, 'usrlocal', 'upper', 'lib', 'lab-backend.pl'), 0o755);
  chmodSync(join(d, 'usrlocal', 'upper', 'sbin', 'lab-backend-start'), 0o755);
  copyFileSync(join(state, 'id_ed25519.pub'), join(d, 'root', '.ssh', 'authorized_keys'));
  // The node sees neither the lab state nor the package (other labs' state dirs may sit in it):
  // the scripts it runs later live in its own /usr/local.
  const nodeSh_ = join(d, 'usrlocal', 'upper', 'lib', 'leafcert-lab');
  mkdirSync(nodeSh_, { recursive: true });
  for (const f of readdirSync(sh_)) copyFileSync(join(sh_, f), join(nodeSh_, f));
}

async function createNetwork(state: string, id: string, node: LabNodeInfo): Promise<void> {
  const veth = vethName(id, node);
  record(state, { kind: 'netns', name: node.netns });
  await run('ip', ['netns', 'add', node.netns], { check: true });
  record(state, { kind: 'link', name: veth });
  await run('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', node.netns], { check: true });
  await sh(
    `set -e
ip addr add ${node.hostAddress}/30 dev ${veth}
ip link set ${veth} up
ip -n ${node.netns} link set lo up
ip -n ${node.netns} addr add ${node.address}/30 dev eth0
ip -n ${node.netns} link set eth0 up`,
    { check: true },
  );
}

/** Starts the node's init and waits until it prints READY (or dies: then its log is the error). */
async function startInit(state: string, node: LabNodeInfo): Promise<void> {
  const log = join(node.nodeDir, 'init.log');
  const fd = openSync(log, 'w');
  const child = spawn('nsenter', [`--net=/run/netns/${node.netns}`, '--', 'unshare', '--pid', '--fork', '--mount', '--uts',
    '--ipc', '--propagation', 'private', '--mount-proc', 'bash', join(shDir(), 'node-init.sh')], {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', NODE_DIR: node.nodeDir, STATE_DIR: resolve(state), PKG_ROOT: packageRoot(),
      NODE_HOSTNAME: node.hostname!, NODE_ADDRESS: node.address, FLAVOUR: node.flavour, FIREWALL: node.firewall, LANG: 'C', LAB_TRACE: process.env.LAB_TRACE ?? '' },
  });
  closeSync(fd);
  let exited = false;
  child.on('exit', () => (exited = true));
  child.unref();
  if (!child.pid) throw new LabError(`${node.name}: could not start the node init`);
  record(state, { kind: 'pid', pid: child.pid, node: node.name });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const text = readFileSync(log, 'utf8');
    if (/^READY$/m.test(text)) break;
    if (exited || Date.now() > deadline)
      throw new LabError(`${node.name}: node init ${exited ? 'died' : 'timed out'}; ${log}:\n${text.split('\n').slice(-15).join('\n')}`);
    await sleep(15);
  }
  const children = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
  if (!children[0]) throw new LabError(`${node.name}: cannot find the node init under unshare ${child.pid}`);
  node.initPid = children[0];
  record(state, { kind: 'pid', pid: node.initPid, node: node.name });
}

function describe(s: LabState): string {
  return `${s.info.nodes.length} ${s.flavour} node(s), ${s.firewall} firewall: ` +
    s.info.nodes.map((n) => `${n.name} ${n.address}`).slice(0, 8).join(', ') + (s.info.nodes.length > 8 ? ', …' : '');
}

export async function up(o: UpOptions): Promise<LabInfo> {
  const log = o.log ?? (() => undefined);
  // Before anything exists: a missing package is the machine's problem, not a half-built lab's.
  const missing = missingRequirements(o, o.exists);
  if (missing.length) throw new LabError(missingMessage(o, missing), 2);
  const state = resolve(o.state);
  const existing = existsSync(join(state, 'lab.json')) ? readState(state) : undefined;
  if (existing) {
    const dead = existing.info.nodes.filter((n) => !alive(n.initPid));
    const same = existing.info.nodes.length === o.nodes && existing.flavour === o.flavour && existing.firewall === o.firewall;
    if (!dead.length && same) {
      // Reusing a lab with a service down or a fault applied would hand tests a broken "healthy" node.
      const bad = (await nodeStatuses(existing)).map((n) => ({ n, p: problems(n) })).filter((x) => x.p.length);
      if (!bad.length) {
        log(`lab already up in ${state}: ${describe(existing)} (reused)`);
        return existing.info;
      }
      const healable = bad.filter((x) => x.n.faults.length).map((x) => `\`leafcert lab heal ${x.n.name} --state ${o.state}\``);
      throw new LabError(`the lab in ${state} is up but not healthy, refusing to reuse it: ` +
        bad.map((x) => `${x.n.name}: ${x.p.join('; ')}`).join('; ') +
        `. Fix: ${healable.length ? `${healable.join(', ')} (for the faults), or ` : ''}` +
        `\`leafcert lab down --state ${o.state}\` then \`leafcert lab up\` again.`, 2);
    }
    throw new LabError(`a lab is already in ${state}: ${describe(existing)}` +
      (dead.length ? `; not running: ${dead.map((n) => n.name).join(', ')}` : '') +
      `. Run \`leafcert lab down --state ${o.state}\` first.`, 2);
  }
  if (journal(state).length)
    throw new LabError(`a half-built lab is in ${state} (an earlier \`lab up\` did not finish). Run \`leafcert lab down --state ${o.state}\` first.`, 2);
  if (existsSync(state) && readdirSync(state).length && !isLabDir(state))
    throw new LabError(`${state} exists and is not a lab state dir; choose another --state`, 2);

  // Built (once, cached) before anything of the lab exists: a failed build leaves nothing to clean.
  const rootfs = o.flavour === 'systemd' ? await ensureRootfs(log) : '';
  const t0 = Date.now();
  ensureStateDir(state);
  const id = labId(state);
  const blocks = await allocateBlocks(state, id, Math.ceil(o.nodes / NODES_PER_BLOCK));
  await ensureCa(state, id);
  if (!existsSync(join(state, 'id_ed25519')))
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `leafcert-lab-${id}`, '-f', join(state, 'id_ed25519')], { check: true });
  const nodes = Array.from({ length: o.nodes }, (_, i) => nodeInfo(state, id, blocks, i, o));
  const info: LabInfo = {
    state,
    inventory: join(state, 'inventory.yaml'),
    identityFile: join(state, 'id_ed25519'),
    knownHosts: join(state, 'known_hosts'),
    caCert: join(state, 'ca.pem'),
    nodes,
  };
  try {
    await pool(nodes, o.flavour === 'light' ? 6 : 2, async (node) => {
      if (node.init === 'systemd') {
        await createNetwork(state, id, node);
        await setupSystemdNode(state, id, node, rootfs, log);
        log(`${node.name} up at ${node.address}`);
        return;
      }
      await prepareNode(state, node);
      await createNetwork(state, id, node);
      await startInit(state, node);
      if (node.flavour === 'full') await setupFullNode(state, id, node, log);
      log(`${node.name} up at ${node.address}`);
    });
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new LabError(`${msg}\n(the lab in ${state} is half-built: \`leafcert lab down --state ${o.state}\` removes it)`);
  }
  writeFileSync(info.knownHosts, nodes
    .map((n) => `${n.address} ${readFileSync(join(n.nodeDir, 'ssh_host_ed25519_key.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ')}\n`)
    .join(''));
  writeInventory(info);
  writeState(state, { version: 1, id, flavour: o.flavour, firewall: o.firewall, blocks, createdAt: new Date().toISOString(), info });
  log(`lab up in ${state}: ${o.nodes} ${o.flavour} node(s) in ${((Date.now() - t0) / 1000).toFixed(2)} s; inventory ${info.inventory}`);
  return info;
}

/** Kills, unmounts, deletes everything the journal lists; also works on a half-built lab. */
export async function down(stateArg: string, log: (l: string) => void = () => undefined): Promise<void> {
  const state = resolve(stateArg);
  if (!existsSync(state)) {
    log(`no lab in ${state}: nothing to do`);
    return;
  }
  if (!isLabDir(state)) throw new LabError(`${state} is not a lab state dir (no ${'.leafcert-lab'} marker); refusing to touch it`, 2);
  const res = journal(state);
  const netns = [...new Set(res.flatMap((r) => (r.kind === 'netns' ? [r.name] : [])))];
  const pids = res.flatMap((r) => (r.kind === 'pid' ? [r.pid] : []));
  // Every process in a node's netns, plus recorded inits (a node init dies => its pid namespace dies).
  const victims = new Set<number>();
  for (const ns of netns) {
    const r = await run('ip', ['netns', 'pids', ns]);
    for (const p of r.stdout.split(/\s+/).filter(Boolean)) victims.add(Number(p));
  }
  for (const p of pids) if (alive(p) && ownedBy(p, netns)) victims.add(p);
  for (const p of victims) try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
  const deadline = Date.now() + 10_000;
  while ([...victims].some(alive) && Date.now() < deadline) await sleep(20);
  for (const r of [...res].reverse()) {
    if (r.kind === 'cgroup' && existsSync(r.path)) {
      await sh(`find ${JSON.stringify(r.path)} -depth -type d -exec rmdir {} + 2>/dev/null; true`);
      if (existsSync(r.path)) log(`warning: cgroup ${r.path} still there (processes left?)`);
    }
  }
  for (const r of res) {
    if (r.kind === 'link') await run('ip', ['link', 'del', r.name]);
  }
  for (const ns of netns) await run('ip', ['netns', 'del', ns]);
  // systemd-nspawn (systemd flavour, machine name = netns) leaves this dir behind when killed.
  for (const ns of netns) rmSync(`/run/systemd/nspawn/propagate/${ns}`, { recursive: true, force: true });
  for (const r of res) if (r.kind === 'lock' && existsSync(r.path)) {
    const owner = existsSync(join(r.path, 'owner')) ? readFileSync(join(r.path, 'owner'), 'utf8').trim() : '';
    if (owner === state || owner === '') rmSync(r.path, { recursive: true, force: true });
  }
  rmSync(state, { recursive: true, force: true });
  log(`lab in ${state} is down (${netns.length} node(s) removed)`);
}

/** A recorded PID may have been reused by an unrelated process: only kill it if it still sits in a lab netns. */
function ownedBy(pid: number, netns: string[]): boolean {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return netns.some((ns) => cmd.includes(ns)) || /node-init\.sh/.test(cmd);
  } catch {
    return false;
  }
}

export interface NodeStatus {
  name: string;
  address: string;
  up: boolean;
  services: Record<string, boolean>;
  containers: Record<string, { up: boolean; ports: Record<string, boolean> }>;
  /** Faults recorded as applied on the node (`lab fault`, not yet healed). */
  faults: string[];
}

/** What is wrong with a node, one phrase each (empty = healthy, no fault applied). */
export function problems(n: NodeStatus): string[] {
  if (!n.up) return ['node init not running'];
  const out: string[] = [];
  for (const [k, v] of Object.entries(n.services)) if (!v) out.push(`${k} down`);
  for (const [c, cs] of Object.entries(n.containers)) {
    if (!cs.up) out.push(`container ${c} down`);
    else for (const [p, v] of Object.entries(cs.ports)) if (!v) out.push(`container ${c} port ${p} not listening`);
  }
  for (const f of n.faults) out.push(`fault ${f} applied`);
  return out;
}

function recordedFaults(n: LabNodeInfo): string[] {
  const f = join(n.nodeDir, 'faults.json');
  try {
    return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as string[]) : [];
  } catch {
    return ['(unreadable faults.json)'];
  }
}

async function nodeStatuses(s: LabState): Promise<NodeStatus[]> {
  return pool(s.info.nodes, 8, async (n): Promise<NodeStatus> => {
    const st: NodeStatus = { name: n.name, address: n.address, up: alive(n.initPid), services: {}, containers: {}, faults: recordedFaults(n) };
    if (!st.up) return st;
    const r = await nodeSh(n.initPid, 'ss -ltnH', { timeoutMs: 10_000 });
    const listening = new Set([...r.stdout.matchAll(/:(\d+)\s/g)].map((m) => Number(m[1])));
    st.services = { sshd: listening.has(22), 'nginx-http': listening.has(80), 'nginx-https': listening.has(443) };
    if (n.flavour === 'light') st.services['health-backend'] = listening.has(8080);
    for (const c of n.containers) {
      const cup = alive(c.hostPid);
      const ports: Record<string, boolean> = {};
      if (cup) {
        const cr = await run('nsenter', ['-t', String(c.hostPid), '-n', '--', 'ss', '-ltnH'], { timeoutMs: 10_000 });
        const l = new Set([...cr.stdout.matchAll(/:(\d+)\s/g)].map((m) => Number(m[1])));
        for (const p of c.ports) ports[String(p)] = l.has(p);
      }
      st.containers[c.name] = { up: cup, ports };
    }
    return st;
  });
}

export async function status(stateArg: string): Promise<{ state: string; inventory: string; nodes: NodeStatus[] }> {
  const state = resolve(stateArg);
  const s = readState(state);
  if (!s) throw new LabError(`no lab in ${state}${journal(state).length ? ' (a half-built one: run lab down)' : ''}`, 2);
  return { state, inventory: s.info.inventory, nodes: await nodeStatuses(s) };
}
