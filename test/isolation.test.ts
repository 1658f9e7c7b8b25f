import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { decodeCapMask, normaliseCap, parseProcStatus } from '../src/probes/capabilities.js';
import { parseNs, parseUidMap } from '../src/probes/ns.js';
import { hexToAddress, parseProcNetTcp } from '../src/probes/listeners.js';
import { missingReason, parseLocate, scanContainers } from '../src/probes/containers.js';
import { containerHost, nsenterCommand } from '../src/transport/container.js';
import { evaluateIsolation, innerFirewallPorts, isolationSuite, type ContainerFacts, type IsolationFacts } from '../suites/isolation.js';
import { parseNetStrays } from '../src/probes/isolation.js';
import { declaredAddedCaps, NSPAWN_DEFAULT_CAPS } from '../suites/isolation/capabilities.js';
import { FakeHost } from './helpers/fakes.js';
import { ParseError, TransportError, type ExecResult } from '../src/core/types.js';

const fx = (p: string) => readFileSync(new URL(`../fixtures/${p}`, import.meta.url), 'utf8');

const HOST_NS = { net: 'net:[4026531840]', pid: 'pid:[4026531836]', mnt: 'mnt:[4026531841]', ipc: 'ipc:[4026531839]', uts: 'uts:[4026531838]', cgroup: 'cgroup:[4026531835]', user: 'user:[4026531837]' };
const CTR_NS = { net: 'net:[4026532301]', pid: 'pid:[4026532299]', mnt: 'mnt:[4026532297]', ipc: 'ipc:[4026532298]', uts: 'uts:[4026532296]', cgroup: 'cgroup:[4026532300]', user: HOST_NS.user };
// nspawn's default set with --private-network minus CAP_SYS_ADMIN (bit 21) and CAP_SYS_MODULE (bit 16)
const STATUS = (bnd: string) => `Name:\tbash\nUid:\t0\t0\t0\t0\nCapInh:\t0000000000000000\nCapPrm:\t${bnd}\nCapEff:\t${bnd}\nCapBnd:\t${bnd}\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\n`;

describe('capabilities', () => {
  it('decodes masks into names', () => {
    expect(decodeCapMask('0000000000200000')).toEqual(['CAP_SYS_ADMIN']);
    // Docker's default bounding set, a well-known mask
    expect(decodeCapMask('00000000a80425fb')).toEqual([
      'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP',
      'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW', 'CAP_SYS_CHROOT', 'CAP_MKNOD', 'CAP_AUDIT_WRITE', 'CAP_SETFCAP',
    ]);
    expect(decodeCapMask('000001ffffffffff')).toHaveLength(41);
    expect(() => decodeCapMask('zz')).toThrow(ParseError);
    expect(normaliseCap('sys_admin')).toBe('CAP_SYS_ADMIN');
    expect(normaliseCap('CAP_NOPE')).toBeUndefined();
  });
  it('reads CapBnd and NoNewPrivs from /proc/PID/status', () => {
    const s = parseProcStatus(STATUS('000001ffffffffff'), 'status');
    expect(s.capBnd).toContain('CAP_SYS_ADMIN');
    expect(s.noNewPrivs).toBe(true);
    expect(() => parseProcStatus('Name: x\n', 'status')).toThrow(/CapBnd/);
  });
});

describe('namespaces, uid_map, listeners', () => {
  it('parses readlink output and uid_map', () => {
    expect(parseNs('net net:[4026531840]\nuser -\n', 'ns')).toEqual({ net: 'net:[4026531840]' });
    expect(() => parseNs('net garbage\n', 'ns')).toThrow(ParseError);
    expect(parseUidMap('         0          0 4294967295\n', 'm').identity).toBe(true);
    expect(parseUidMap('         0  524288      65536\n', 'm').identity).toBe(false);
  });
  it('parses /proc/net/tcp and tcp6 listeners', () => {
    const text = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0',
      '   1: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   109        0 2 1 0 100 0 0 10 0',
      '   2: 0201E90A:1F90 0101E90A:C350 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0 100 0 0 10 0',
      '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4 1 0 100 0 0 10 0',
    ].join('\n');
    expect(parseProcNetTcp(text, 'tcp')).toEqual([
      { address: '0.0.0.0', port: 8080, family: 4 },
      { address: '127.0.0.1', port: 5432, family: 4 },
      { address: '::', port: 22, family: 6 },
    ]);
    expect(hexToAddress('0201E90A').address).toBe('10.233.1.2');
    expect(() => parseProcNetTcp('garbage line here', 'tcp')).toThrow(ParseError);
  });
});

describe('container locator', () => {
  it('reads NixOS: conf files + machinectl leaders; a configured container that is not running has no leader', () => {
    const scan = parseLocate(fx('machinectl/locate-nixos.txt'), 'locate');
    expect(scan.containers.get('alchemist')).toMatchObject({ leader: 1423, source: 'machinectl show alchemist -p Leader', conf: { HOST_ADDRESS: '10.233.1.1', LOCAL_ADDRESS: '10.233.1.2', EXTRA_NSPAWN_FLAGS: '' } });
    expect(scan.containers.get('alchemist-graph')?.conf?.EXTRA_NSPAWN_FLAGS).toBe('--bind-ro=/etc/alchemist/certs:/etc/alchemist/certs');
    expect(scan.containers.get('ollama')?.leader).toBeUndefined();
    expect(missingReason(scan, 'ollama')).toMatch(/configured .* but not running/);
    expect(missingReason(scan, 'nope')).toMatch(/"nope" does not exist.*found: alchemist, alchemist-graph, ollama/);
    expect(missingReason(scan, 'alchemist')).toBeUndefined();
  });
  it('reads machinectl when systemd is not PID 1 (the lab\'s machinectl stand-in)', () => {
    const scan = parseLocate(fx('machinectl/locate-lab.txt'), 'locate');
    expect(scan.containers.get('alchemist')).toMatchObject({ leader: 57, source: 'machinectl show alchemist -p Leader' });
  });
  it('a garbled leader is a ParseError, not a guess', () => {
    const bad = fx('machinectl/locate-lab.txt').replace('alchemist 57', 'alchemist x');
    expect(() => parseLocate(bad, 'l')).toThrow(/unexpected line "alchemist x"/);
    expect(() => parseLocate('nothing', 'l')).toThrow(ParseError);
  });
  it('scans once per Host (cached for the run)', async () => {
    const host = new FakeHost('n');
    host.exec = async (command: string): Promise<ExecResult> => {
      host.roundTrips++;
      return { code: 0, stdout: fx('machinectl/locate-lab.txt'), stderr: '', command, durationMs: 1 };
    };
    await Promise.all([scanContainers(host), scanContainers(host)]);
    await scanContainers(host);
    expect(host.roundTrips).toBe(1);
  });
});

describe('container transport', () => {
  it('wraps commands in nsenter into the leader and quotes them', async () => {
    const host = new FakeHost('n');
    const seen: string[] = [];
    host.exec = async (command: string) => {
      seen.push(command);
      return { code: 0, stdout: 'x', stderr: '', command, durationMs: 1 };
    };
    const c = containerHost(host, 57, 'alchemist');
    const r = await c.exec("echo 'hi'");
    expect(seen[0]).toBe(nsenterCommand(57, "echo 'hi'"));
    expect(seen[0]).toBe(`nsenter -t 57 -m -u -i -n -p -- sh -c 'echo '\\''hi'\\'''`);
    expect(r.command).toBe("echo 'hi'");
    await expect(c.forward(5432)).rejects.toThrow(TransportError);
  });
  it('a vanished leader is a TransportError naming the container', async () => {
    const host = new FakeHost('n');
    host.exec = async (command: string) => ({ code: 1, stdout: '', stderr: 'nsenter: cannot open /proc/57/ns/ipc: No such file or directory\n', command, durationMs: 1 });
    await expect(containerHost(host, 57, 'alchemist').exec('true')).rejects.toThrow(/container alchemist: cannot enter leader 57/);
  });
});

describe('inner firewall parser', () => {
  it('reads accepted TCP ports of nixos-fw (not interface-bound ones), ranges expanded', () => {
    expect(innerFirewallPorts(fx('iptables/alchemist.v4.save'))).toEqual([22, 80, 443, 3000, 6333, 6334, 8080]);
    expect(innerFirewallPorts('*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n')).toBeUndefined();
    expect(innerFirewallPorts('table inet nixos-fw {\n chain input-allow {\n  tcp dport { 22, 8080 } accept\n  iifname "eth1" tcp dport 9100 accept\n }\n}')).toEqual([22, 8080]);
  });
});

function ctr(name: string, over: Partial<ContainerFacts> = {}): ContainerFacts {
  return {
    name,
    leader: 57,
    leaderSource: '/run/leafcert-lab/containers.json',
    hostAddress: '10.233.1.1',
    localAddress: '10.233.1.2',
    ns: CTR_NS,
    uidMap: parseUidMap('0 0 4294967295', 'm'),
    status: parseProcStatus(STATUS('000000ffffddffff'.replace(/./g, (c) => c)), 's'),
    listeners: [{ address: '0.0.0.0', port: 8080, family: 4 }],
    reach: [],
    ...over,
  };
}

function facts(containers: ContainerFacts[], unexpected: IsolationFacts['unexpected'] = []): IsolationFacts {
  return { hostNs: HOST_NS, hostListeners: [], containers, unexpected, commands: ['locator'] };
}

const byId = (out: ReturnType<typeof evaluateIsolation>, id: string) => out.filter((o) => o.id === id);

describe('isolation evaluate', () => {
  // The lab containers' real CapBnd: systemd-nspawn's default set minus CAP_SYS_ADMIN, CAP_SYS_BOOT and
  // CAP_MKNOD, plus CAP_NET_ADMIN (nspawn adds it for a private network). It used to be "every
  // capability but SYS_ADMIN(21) and SYS_MODULE(16)", which passed the old blocklist; the check is an
  // allowlist now, and that set holds CAP_SYS_RAWIO, CAP_SYS_TIME, CAP_BPF... beyond nspawn's.
  const reduced = '00000000f48cbfff';
  const good = () => ctr('alchemist', { status: parseProcStatus(STATUS(reduced), 's'), reach: [{ target: 'host', address: '10.233.1.1', port: 22, result: 'refused' }] });

  it('healthy container: every check passes, with evidence', () => {
    const out = evaluateIsolation(facts([good()]), { alchemist: { noNewPrivs: true } });
    expect(out.map((o) => `${o.id}:${o.status}`)).toEqual([
      'isolation.container-present:pass',
      'isolation.namespaces:pass',
      'isolation.user-namespace:pass',
      'isolation.capabilities:pass',
      'isolation.no-new-privs:pass',
      'isolation.reachability:pass',
    ]);
    for (const o of out) expect(o.evidence.source).toBeTruthy();
  });
  it('container in the host network namespace fails namespaces (and cannot be reached-tested)', () => {
    const out = evaluateIsolation(facts([ctr('alchemist', { ns: { ...CTR_NS, net: HOST_NS.net }, status: parseProcStatus(STATUS(reduced), 's'), reach: undefined, reachProblem: 'shares the host network namespace' })]), { alchemist: {} });
    const ns = byId(out, 'isolation.namespaces')[0];
    expect(ns.status).toBe('fail');
    expect(ns.severity).toBe('critical');
    expect(ns.message).toMatch(/shares the host's net namespace/);
    expect(byId(out, 'isolation.reachability')[0].status).toBe('fail');
  });
  it('a process of the container\'s PID namespace in the host\'s network namespace fails namespaces, named (red team I1: the leader\'s namespaces alone passed)', () => {
    const { strays } = parseNetStrays('P 1274 host lab-backend.pl\nT 57 61 other bash\n', 'netprocs');
    expect(strays).toEqual([{ pid: 1274, comm: 'lab-backend.pl', hostNet: true }, { pid: 57, tid: 61, comm: 'bash', hostNet: false }]);
    const c = good();
    c.netStrays = strays.slice(0, 1);
    const ns = byId(evaluateIsolation(facts([c]), { alchemist: {} }), 'isolation.namespaces')[0];
    expect(ns).toMatchObject({ status: 'fail', severity: 'critical', message: 'process 1274 (lab-backend.pl) runs in the host\'s network namespace (it binds and connects in the host network), though in the container\'s PID namespace' });
    expect(ns.evidence.observed).toMatchObject({ otherNetwork: [{ pid: 1274, hostNet: true }] });
    c.netStrays = strays.slice(1);
    expect(byId(evaluateIsolation(facts([c]), { alchemist: {} }), 'isolation.namespaces')[0]).toMatchObject({ status: 'fail', severity: 'high', message: expect.stringMatching(/^thread 61 of process 57 \(bash\) runs in a network namespace other than the container's/) });
    // unreadable: unknown, never a pass; garbage is a ParseError
    const u = good();
    u.netStraysProblem = 'net_strays: exit 2';
    expect(byId(evaluateIsolation(facts([u]), { alchemist: {} }), 'isolation.namespaces')[0]).toMatchObject({ status: 'error', message: expect.stringMatching(/could not be read: net_strays: exit 2/) });
    expect(() => parseNetStrays('1274 host x', 'netprocs')).toThrow(ParseError);
    expect(parseNetStrays('MORE\n', 'n').more).toBe(true);
  });
  it('privateNetwork=false: a shared net namespace is as declared', () => {
    const out = evaluateIsolation(facts([ctr('alchemist', { ns: { ...CTR_NS, net: HOST_NS.net }, status: parseProcStatus(STATUS(reduced), 's') })]), { alchemist: { privateNetwork: false } });
    expect(byId(out, 'isolation.namespaces')[0].status).toBe('pass');
    expect(byId(out, 'isolation.reachability')).toHaveLength(0);
  });
  it('a default nixos-container keeps CAP_SYS_ADMIN: fail, with the fix', () => {
    const out = evaluateIsolation(facts([ctr('alchemist', { status: parseProcStatus(STATUS('000001ffffffffff'), 's') })]), { alchemist: {} });
    const c = byId(out, 'isolation.capabilities')[0];
    expect(c.status).toBe('fail');
    expect(c.message).toMatch(/keeps CAP_SYS_ADMIN, CAP_SYS_MODULE/);
    expect(c.message).toMatch(/--drop-capability=CAP_SYS_ADMIN/);
    expect(c.message).toMatch(/privateUsers = "pick"/);
  });
  it('capabilities is an allowlist: a bounding set beyond systemd-nspawn\'s default set fails, each extra one named (red team I2)', () => {
    // alchemist-workflow restarted with CAP_SYS_RAWIO, CAP_SYS_TIME, CAP_MKNOD, CAP_BPF added (its real CapBnd)
    expect(decodeCapMask('00000080fe8ebfff').filter((c) => !decodeCapMask(reduced).includes(c))).toEqual(['CAP_SYS_RAWIO', 'CAP_SYS_TIME', 'CAP_MKNOD', 'CAP_BPF']);
    const wide = ctr('alchemist', { status: parseProcStatus(STATUS('00000080fe8ebfff'), 's') });
    const c = byId(evaluateIsolation(facts([wide]), { alchemist: { dropCapabilities: ['CAP_SYS_ADMIN', 'CAP_SYS_MODULE'] } }), 'isolation.capabilities')[0];
    // CAP_MKNOD is in nspawn's default set (the device cgroup bounds it): not named
    expect(c).toMatchObject({ status: 'fail', severity: 'critical', message: expect.stringMatching(/^bounding set holds CAP_SYS_RAWIO, CAP_SYS_TIME, CAP_BPF, beyond systemd-nspawn's default set/) });
    expect(c.evidence.observed).toMatchObject({ extra: ['CAP_SYS_RAWIO', 'CAP_SYS_TIME', 'CAP_BPF'], kept: [] });
    // declared (additionalCapabilities / --capability=): allowed; "all": everything but the dropped
    expect(byId(evaluateIsolation(facts([wide]), { alchemist: { addCapabilities: ['CAP_SYS_RAWIO', 'sys_time', 'BPF'] } }), 'isolation.capabilities')[0].status).toBe('pass');
    expect(byId(evaluateIsolation(facts([wide]), { alchemist: { addCapabilities: ['all'] } }), 'isolation.capabilities')[0].status).toBe('pass');
    // CAP_NET_ADMIN comes with the private network only: in the host's network it is the host's
    const shared = byId(evaluateIsolation(facts([good()]), { alchemist: { privateNetwork: false } }), 'isolation.capabilities')[0];
    expect(shared).toMatchObject({ status: 'fail', severity: 'high', message: expect.stringMatching(/^bounding set holds CAP_NET_ADMIN, beyond/) });
    // an unknown high bit is beyond the set too
    const unknown = ctr('alchemist', { status: parseProcStatus(STATUS('00000800f48cbfff'), 's') });
    expect(byId(evaluateIsolation(facts([unknown]), { alchemist: {} }), 'isolation.capabilities')[0]).toMatchObject({ status: 'fail', message: expect.stringMatching(/holds cap_43/) });
  });
  it('plan: additionalCapabilities and --capability= flags become addCapabilities', () => {
    expect(declaredAddedCaps({ additionalCapabilities: ['CAP_SYS_TIME'], extraFlags: ['--capability=CAP_BPF,CAP_SYS_RAWIO', '--private-users=no'] })).toEqual(['CAP_SYS_TIME', 'CAP_BPF', 'CAP_SYS_RAWIO']);
    expect(declaredAddedCaps({ additionalCapabilities: [], extraFlags: [] })).toEqual([]);
    expect(NSPAWN_DEFAULT_CAPS).toHaveLength(26);
    expect(NSPAWN_DEFAULT_CAPS.every((c) => normaliseCap(c) === c)).toBe(true);
  });
  it('drop list is expectation-driven (NET_ADMIN may be required dropped)', () => {
    const out = evaluateIsolation(facts([good()]), { alchemist: { dropCapabilities: ['net_admin'] } });
    expect(byId(out, 'isolation.capabilities')[0]).toMatchObject({ status: 'fail', message: expect.stringMatching(/CAP_NET_ADMIN/) });
  });
  it('private users expected but uid_map is the identity: fail', () => {
    const out = evaluateIsolation(facts([good()]), { alchemist: { privateUsers: true } });
    expect(byId(out, 'isolation.user-namespace')[0]).toMatchObject({ status: 'fail', message: expect.stringMatching(/root in the container is root on the host/) });
    const mapped = good();
    mapped.ns = { ...CTR_NS, user: 'user:[4026532400]' };
    mapped.uidMap = parseUidMap('0 524288 65536', 'm');
    expect(byId(evaluateIsolation(facts([mapped]), { alchemist: { privateUsers: true } }), 'isolation.user-namespace')[0].status).toBe('pass');
  });
  it('reachability: undeclared open ports fail, declared ones and other containers\' declared ports pass', () => {
    const c = good();
    c.reach = [
      { target: 'host', address: '10.233.1.1', port: 22, result: 'open' },
      { target: 'host', address: '10.233.1.1', port: 19999, result: 'timeout' },
      { target: 'monitoring', address: '10.233.5.2', port: 9090, result: 'open' },
    ];
    const exp = { alchemist: { reach: ['host:22'] }, monitoring: { ports: [9090] } };
    const m = ctr('monitoring', { status: parseProcStatus(STATUS(reduced), 's') });
    expect(byId(evaluateIsolation(facts([c, m]), exp), 'isolation.reachability')[0].status).toBe('pass');
    c.reach.push({ target: 'monitoring', address: '10.233.5.2', port: 5432, result: 'open' });
    const r = byId(evaluateIsolation(facts([c, m]), exp), 'isolation.reachability')[0];
    expect(r.status).toBe('fail');
    expect(r.message).toMatch(/monitoring:5432/);
  });
  // The lab's alchemist container, as iptables-save prints it in its netns (iptables-nft 1.8.9). The
  // inner firewall is read with the host firewall's model now, which wants a whole iptables-save (a
  // bare "-A nixos-fw" fragment is garbled input: error), so the cases below are edits of it.
  const INNER = [
    '*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':nixos-fw - [0:0]', ':nixos-fw-accept - [0:0]', ':nixos-fw-log-refuse - [0:0]', ':nixos-fw-refuse - [0:0]',
    '-A INPUT -j nixos-fw',
    '-A nixos-fw -i lo -j nixos-fw-accept',
    '-A nixos-fw -m conntrack --ctstate RELATED,ESTABLISHED -j nixos-fw-accept',
    '-A nixos-fw -p tcp -m tcp --dport 8080 -j nixos-fw-accept',
    '-A nixos-fw -p tcp -m tcp --dport 5432 -j nixos-fw-accept',
    '-A nixos-fw -p icmp -m icmp --icmp-type 8 -j nixos-fw-accept',
    '-A nixos-fw -j nixos-fw-log-refuse',
    '-A nixos-fw-accept -j ACCEPT',
    '-A nixos-fw-log-refuse -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j LOG --log-prefix "refused connection: " --log-level 6',
    '-A nixos-fw-log-refuse -m pkttype ! --pkt-type unicast -j nixos-fw-refuse',
    '-A nixos-fw-log-refuse -j nixos-fw-refuse',
    '-A nixos-fw-refuse -j DROP',
    'COMMIT', '',
  ].join('\n');
  const inner = (text: string, ports = [5432, 8080]) => {
    const c = good();
    c.firewall = { text, rc: 0, command: 'iptables-save' };
    return byId(evaluateIsolation(facts([c]), { alchemist: { ports, innerFirewall: true } }), 'isolation.inner-firewall')[0];
  };
  it('inner firewall: the declared ports pass, an extra one fails', () => {
    expect(inner(INNER)).toMatchObject({ status: 'pass', message: 'allows exactly 5432, 8080' });
    expect(inner(INNER, [8080])).toMatchObject({ status: 'fail', message: 'also allows 5432' });
    expect(inner(INNER, [8080, 5432, 9000])).toMatchObject({ status: 'fail', message: 'does not allow declared 9000' });
  });
  it('inner firewall: a direct -j ACCEPT in nixos-fw is an open port (red team I8a), an unhooked nixos-fw is not in force (I8b)', () => {
    const direct = INNER.replace('-A nixos-fw -p icmp', '-A nixos-fw -p tcp -m tcp --dport 6379 -j ACCEPT\n-A nixos-fw -p icmp');
    expect(inner(direct)).toMatchObject({ status: 'fail', message: 'also allows 6379' });
    const unhooked = inner(INNER.replace('-A INPUT -j nixos-fw\n', ''));
    expect(unhooked).toMatchObject({ status: 'fail', message: expect.stringMatching(/^not in force: INPUT does not jump to nixos-fw/) });
    // a refuse path that accepts: everything is let through
    expect(inner(INNER.replace('-A nixos-fw-refuse -j DROP', '-A nixos-fw-refuse -j ACCEPT'))).toMatchObject({ status: 'fail', message: expect.stringMatching(/^not in force: /) });
    // a whole protocol accepted shows as a range, not 65536 numbers
    expect(inner(INNER.replace('-A nixos-fw -p icmp', '-A nixos-fw -p tcp -j ACCEPT\n-A nixos-fw -p icmp')).message).toMatch(/also allows 1-5431, 5433-8079, 8081-65535/);
    // garbled: error, never a pass
    expect(inner('-A nixos-fw -p tcp -m tcp --dport 8080 -j nixos-fw-accept\n')).toMatchObject({ status: 'error' });
  });
  it('a container in the expectation that does not exist: fail with the reason, no pass anywhere', () => {
    const out = evaluateIsolation(facts([{ name: 'ghost', problem: 'container "ghost" does not exist on the node' }]), { ghost: {} });
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ id: 'isolation.container-present', status: 'fail', message: expect.stringMatching(/does not exist/) });
  });
  it('unreadable facts of an existing container: error, not pass', () => {
    const out = evaluateIsolation(facts([{ name: 'alchemist', leader: 57, problem: 'leader PID 57 is not running' }]), { alchemist: {} });
    expect(out).toMatchObject([{ status: 'error' }]);
  });
  it('containers on the node the expectation does not name are drift', () => {
    const out = evaluateIsolation(facts([good()], [{ name: 'ollama', leader: 99, source: 'machinectl' }]), { alchemist: {} });
    expect(byId(out, 'isolation.unexpected-container')[0]).toMatchObject({ status: 'fail', subject: 'container ollama' });
  });
  it('reachability with 0 ports tested is an error (nothing was tested), unless declared with noReachTargets', () => {
    const c = good();
    c.reach = [];
    expect(byId(evaluateIsolation(facts([c]), { alchemist: {} }), 'isolation.reachability')[0]).toMatchObject({ status: 'error', message: expect.stringMatching(/^0 ports tested: .*not tested/) });
    expect(byId(evaluateIsolation(facts([c]), { alchemist: { noReachTargets: true } }), 'isolation.reachability')[0]).toMatchObject({ status: 'pass', message: expect.stringMatching(/^0 ports tested/) });
  });
  it('an unreadable /proc/PID/ns/user is an error, also when privateUsers is not expected', () => {
    const c = good();
    c.ns = { ...CTR_NS, user: undefined };
    for (const privateUsers of [false, true]) {
      expect(byId(evaluateIsolation(facts([c]), { alchemist: { privateUsers } }), 'isolation.user-namespace')[0]).toMatchObject({ status: 'error', message: expect.stringMatching(/cannot read \/proc\/57\/ns\/user/) });
    }
    const hostless = facts([good()]);
    hostless.hostNs = { ...HOST_NS, user: undefined };
    expect(byId(evaluateIsolation(hostless, { alchemist: {} }), 'isolation.user-namespace')[0].status).toBe('error');
  });
  it('schema: empty expectations that would check nothing are refused', async () => {
    const { default: Ajv } = await import('ajv');
    const v = new Ajv({ strict: false }).compile(isolationSuite.schema as object);
    expect(v({})).toBe(false);
    expect(v({ alchemist: { dropCapabilities: [] } })).toBe(false);
    expect(v({ alchemist: { reach: [] } })).toBe(false);
    expect(v({ alchemist: {} })).toBe(true);
    expect(v({ alchemist: { ports: [], noReachTargets: true } })).toBe(true);
  });
  it('suite metadata', () => {
    expect(isolationSuite.key).toBe('containers');
    expect(isolationSuite.checkIds).toContain('isolation.capabilities');
  });
});

describe('isolation evaluate: addresses unknown', () => {
  it('a container on a bridge (no HOST_ADDRESS): reachability is an error with the reason, not a fail', () => {
    const reduced = (0x1ffffffffffn & ~(1n << 21n) & ~(1n << 16n)).toString(16).padStart(16, '0');
    const c = ctr('alchemist', { status: parseProcStatus(STATUS(reduced), 's'), reach: undefined, reachProblem: 'no HOST_ADDRESS in the container config: cannot tell which host address the container uses' });
    expect(byId(evaluateIsolation(facts([c]), { alchemist: {} }), 'isolation.reachability')[0]).toMatchObject({ status: 'error', message: expect.stringMatching(/no HOST_ADDRESS/) });
  });
});

describe('container locator fallback', () => {
  it('without machined, container@NAME\'s nspawn child is the leader', () => {
    const text = fx('machinectl/locate-nixos.txt') + '@@leafcert units\nollama 2201\nalchemist 9999\n\n@@leafcert-rc units 0\n';
    const scan = parseLocate(text, 'locate');
    expect(scan.containers.get('ollama')).toMatchObject({ leader: 2201, source: 'systemctl show container@ollama -p MainPID (the nspawn child)' });
    // machinectl wins where it answered
    expect(scan.containers.get('alchemist')?.leader).toBe(1423);
  });
});
