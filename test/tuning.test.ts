// tuning suite: parsers (systemctl show, /proc/PID/limits, the probe's sections), each judge fails
// on drift and passes on the declared value; a missing parameter, a global one in a container's
// namespace, a node without systemd or without its own kernel: error or skipped with the reason,
// never a pass. plan: boot.kernel.sysctl and LimitNOFILE from the manifest, cited.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MARK } from '../src/probes/sections.js';
import { parseProcLimits, parseTuningProbe, parseUnitNofile, type TuningRequest } from '../src/probes/tuning.js';
import { evaluate, fromManifest, request, tuningSuite, type TuningExpect } from '../suites/tuning.js';
import type { Manifest } from '../src/core/manifest.js';

const fx = (f: string) => readFileSync(join(__dirname, '..', 'fixtures', 'tuning', f), 'utf8');
const openFiles = fx('proc-limits.txt').split('\n').find((l) => l.startsWith('Max open files'))!.replace('20000                20000', '65536                65536');

const E: TuningExpect = {
  sysctl: { 'net.core.somaxconn': 65535, 'net.ipv4.tcp_max_syn_backlog': 65535, 'vm.swappiness': 10 },
  containers: { alchemist: { 'net.core.somaxconn': 65535, 'vm.swappiness': 10 } },
  nofile: { nginx: 65536, 'postgresql.service': '1024:524288' },
};
const REQ: TuningRequest = request(E);
const LEADERS = { alchemist: 4242 };

type Sec = { text: string; rc?: number; stderr?: string };
function probe(over: Record<string, Sec> = {}): string {
  const parts: Record<string, Sec> = {
    pid1: { text: 'systemd' },
    virt: { text: 'none', rc: 1 },
    sysctl: { text: '#netns net:[4026531840]\nnet.core.somaxconn\t65535\nnet.ipv4.tcp_max_syn_backlog\t65535\nvm.swappiness\t10' },
    'ctr.alchemist': { text: '#netns net:[4026532999]\nnet.core.somaxconn\t65535\nvm.swappiness\t10' },
    nofile: { text: fx('systemctl-show-nofile.txt') },
    limits: { text: `#pid nginx.service 812\n${openFiles}\n#pid postgresql.service 901\n${openFiles.replace('65536                65536', '1024                 524288')}` },
    ...over,
  };
  return Object.entries(parts)
    .map(([k, v]) => `${MARK} ${k}\n${v.text}\n${MARK}-rc ${k} ${v.rc ?? 0}\n${v.stderr ? `${MARK}-stderr ${k}\n${v.stderr}\n${MARK}-stderr-end ${k}\n` : ''}`)
    .join('');
}
const run = (over?: Record<string, Sec>, e: TuningExpect = E) => evaluate(parseTuningProbe(probe(over), request(e), LEADERS), e);
const get = (os: ReturnType<typeof evaluate>, subject: string) => {
  const o = os.find((x) => x.subject === subject);
  if (!o) throw new Error(`no ${subject}: ${os.map((x) => x.subject).join(', ')}`);
  return o;
};

describe('tuning parsers', () => {
  it('reads systemctl show LimitNOFILE blocks and /proc/PID/limits, strictly', () => {
    expect(parseUnitNofile(fx('systemctl-show-nofile.txt'), 2)).toEqual([
      { unit: 'nginx.service', loadState: 'loaded', activeState: 'active', hard: '65536', soft: '65536', mainPid: 812 },
      { unit: 'postgresql.service', loadState: 'loaded', activeState: 'active', hard: '524288', soft: '1024', mainPid: 901 },
    ]);
    expect(() => parseUnitNofile('Id=x.service\nLoadState=loaded', 1)).toThrow(/LimitNOFILE/);
    expect(parseProcLimits(`#pid a.service 7\n${fx('proc-limits.txt').split('\n').find((l) => l.startsWith('Max open files'))}`)).toEqual({ 'a.service': { pid: 7, soft: '20000', hard: '20000' } });
    expect(parseProcLimits('#pid a.service 7\n!gone')).toEqual({ 'a.service': 'gone' });
    expect(() => parseProcLimits('#pid a.service 7\nMax processes 1 1 processes')).toThrow(/no "Max open files"/);
  });
});

describe('tuning evaluate', () => {
  it('passes declared values in each namespace and running limits, with evidence', () => {
    const os = run();
    expect([...new Set(os.map((o) => o.id))].sort()).toEqual([...tuningSuite.checkIds].sort());
    for (const s of ['net.core.somaxconn', 'net.ipv4.tcp_max_syn_backlog', 'vm.swappiness', 'net.core.somaxconn in container alchemist', 'nginx.service', 'postgresql.service']) {
      expect(get(os, s).status, `${s}: ${get(os, s).message}`).toBe('pass');
    }
    expect(get(os, 'net.core.somaxconn').evidence.source).toMatch(/\/proc\/sys\/net\/core\/somaxconn \(network namespace net:\[4026531840\]\)/);
    expect(get(os, 'net.core.somaxconn in container alchemist').evidence.source).toMatch(/nsenter --net=\/proc\/4242\/ns\/net.*net:\[4026532999\]/);
    expect(get(os, 'nginx.service').checklist).toEqual(['resource-limits']);
  });
  it('somaxconn drifted to 128 fails, in the node and in a container', () => {
    const os = run({ sysctl: { text: '#netns net:[1]\nnet.core.somaxconn\t128\nnet.ipv4.tcp_max_syn_backlog\t65535\nvm.swappiness\t10' }, 'ctr.alchemist': { text: '#netns net:[2]\nnet.core.somaxconn\t4096\nvm.swappiness\t10' } });
    expect(get(os, 'net.core.somaxconn')).toMatchObject({ status: 'fail', message: 'net.core.somaxconn is 128 (network namespace net:[1]), declared 65535' });
    expect(get(os, 'net.core.somaxconn in container alchemist').status).toBe('fail');
  });
  it('a global parameter declared for a container is skipped (no namespace for it); on a node without its own kernel too', () => {
    expect(get(run(), 'vm.swappiness in container alchemist')).toMatchObject({ status: 'skipped', message: expect.stringMatching(/not kept per network namespace/) });
    const lab = run({ pid1: { text: 'bash' } });
    expect(get(lab, 'vm.swappiness')).toMatchObject({ status: 'skipped', message: expect.stringMatching(/platform cannot provide this: PID 1 is "bash"/) });
    expect(get(lab, 'net.core.somaxconn').status).toBe('pass');
  });
  it('a missing parameter is an error; a missing container too; never a pass', () => {
    const os = run({ sysctl: { text: '#netns net:[1]\nnet.core.somaxconn\t!missing\nnet.ipv4.tcp_max_syn_backlog\t65535\nvm.swappiness\t10' } });
    expect(get(os, 'net.core.somaxconn')).toMatchObject({ status: 'error', message: expect.stringMatching(/this kernel has no net.core.somaxconn/) });
    const gone = evaluate(parseTuningProbe(probe(), request(E), {}, { alchemist: 'container "alchemist" does not exist on the node' }), E);
    expect(get(gone, 'net.core.somaxconn in container alchemist')).toMatchObject({ status: 'error', message: expect.stringMatching(/does not exist/) });
  });
  it('LimitNOFILE: a unit loaded with another limit, a process started before it changed, a missing unit: fail', () => {
    const loaded = run({ nofile: { text: fx('systemctl-show-nofile.txt').replace('LimitNOFILE=65536\nLimitNOFILESoft=65536', 'LimitNOFILE=524288\nLimitNOFILESoft=1024') } });
    expect(get(loaded, 'nginx.service').message).toMatch(/loaded with LimitNOFILE 1024:524288, declared 65536:65536/);
    const stale = run({ limits: { text: `#pid nginx.service 812\n${openFiles.replace('65536                65536', '1024                 1024')}\n#pid postgresql.service 901\n${openFiles.replace('65536                65536', '1024                 524288')}` } });
    expect(get(stale, 'nginx.service')).toMatchObject({ status: 'fail', message: expect.stringMatching(/process 812 runs with open files 1024:1024.*restart it/) });
    const absent = run({ nofile: { text: fx('systemctl-show-nofile.txt').replace('LoadState=loaded\nActiveState=active\nMainPID=812', 'LoadState=not-found\nActiveState=inactive\nMainPID=0') } });
    expect(get(absent, 'nginx.service').status).toBe('fail');
  });
  it('LimitNOFILE: no systemd is skipped with the reason, a stopped unit is an error', () => {
    const none = run({ nofile: { text: 'no systemd', rc: 3 }, limits: { text: 'no systemd', rc: 3 } });
    expect(get(none, 'nginx.service')).toMatchObject({ status: 'skipped', message: expect.stringMatching(/no systemd on this node/) });
    const stopped = run({ limits: { text: `#pid postgresql.service 901\n${openFiles.replace('65536                65536', '1024                 524288')}` } });
    expect(get(stopped, 'nginx.service')).toMatchObject({ status: 'error', message: expect.stringMatching(/no running main process/) });
  });
  it('nothing declared: both checks skipped with the reason', () => {
    const os = evaluate(parseTuningProbe(probe({}), request({}), {}), {});
    expect(os.map((o) => [o.id, o.status])).toEqual([['tuning.sysctl', 'skipped'], ['tuning.nofile', 'skipped']]);
  });
  it('garbled output is an error, not a verdict', () => {
    expect(() => parseTuningProbe('nothing', REQ, LEADERS)).toThrow(/lacks section/);
    const os = run({ sysctl: { text: 'garbage' } });
    expect(get(os, 'net.core.somaxconn').status).toBe('error');
  });
});

describe('tuning plan', () => {
  const manifest = (f: string) => JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'nix', f), 'utf8')) as Manifest;
  it("emits the guide's boot.kernel.sysctl with option paths", () => {
    const cites: Record<string, string> = {};
    const e = fromManifest(manifest('guide-as-written.manifest.json'), (at, p) => (cites[at.join('.')] = p));
    expect(e).toEqual({ sysctl: { 'net.core.somaxconn': 65535, 'net.ipv4.tcp_max_syn_backlog': 65535, 'vm.swappiness': 10 } });
    expect(cites['tuning.sysctl.net.core.somaxconn']).toBe('boot.kernel.sysctl."net.core.somaxconn"');
  });
  it('emits LimitNOFILE of units and per-namespace parameters of containers with their own network; nothing when nothing is declared', () => {
    const m = manifest('guide-as-written.manifest.json');
    m.tuning = {
      host: { sysctl: { path: 'boot.kernel.sysctl', values: { 'kernel.printk': null } }, nofile: [{ unit: 'nginx.service', path: 'systemd.services.nginx.serviceConfig.LimitNOFILE', value: 65536 }] },
      containers: [{ name: 'alchemist', path: 'containers.alchemist.config', sysctl: { path: 'containers.alchemist.config.boot.kernel.sysctl', values: { 'net.core.somaxconn': 65535, 'vm.swappiness': 1 } } }],
    };
    m.containers = [{ ...m.containers[0], name: 'alchemist', privateNetwork: true }];
    const cites: Record<string, string> = {};
    expect(fromManifest(m, (at, p) => (cites[at.join('.')] = p))).toEqual({ containers: { alchemist: { 'net.core.somaxconn': 65535 } }, nofile: { 'nginx.service': 65536 } });
    expect(cites['tuning.nofile.nginx.service']).toBe('systemd.services.nginx.serviceConfig.LimitNOFILE');
    expect(fromManifest(manifest('alchemist-as-written.manifest.json'), () => undefined)).toBeUndefined();
    expect(fromManifest({ ...m, tuning: undefined }, () => undefined)).toBeUndefined();
  });
});
