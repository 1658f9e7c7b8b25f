import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { byUnitId, cpuQuotaProp, memoryProp, parseSystemctlShow, tasksMaxProp, unitName } from '../src/probes/systemd.js';
import { enforcedLimits, parseCgFiles, parseProcCgroup } from '../src/probes/cgroup.js';
import { evaluateLimits, limitsSuite, type LimitsFacts, type SubjectFacts } from '../suites/limits.js';
import { parseStrays } from '../src/probes/limits.js';
import { ParseError } from '../src/core/types.js';
import { parseMemoryLimit, scaleMemory } from '../src/core/units.js';
import { FakeHost } from './helpers/fakes.js';

const fx = (p: string) => readFileSync(new URL(`../fixtures/${p}`, import.meta.url), 'utf8');
const GiB = 1024 ** 3;

describe('systemctl show parser', () => {
  const units = byUnitId(parseSystemctlShow(fx('systemd/container-alchemist.show'), 'show'), 'show');
  it('reads one block per unit, in any property order', () => {
    expect([...units.keys()]).toEqual(['container@alchemist.service', 'container@alchemist-graph.service', 'container@monitoring.service', 'nginx.service', 'alchemist.slice']);
  });
  it('converts bytes, timespans and infinity (formats of nixos-facts §3)', () => {
    const a = units.get('container@alchemist.service')!;
    expect(memoryProp(a, 'MemoryMax', 's')).toBe(8 * GiB);
    expect(memoryProp(a, 'MemoryHigh', 's')).toBe(Infinity);
    expect(cpuQuotaProp(a, 's')).toBe(4_000_000);
    expect(tasksMaxProp(a, 's')).toBe(4915);
    const g = units.get('container@alchemist-graph.service')!;
    expect(cpuQuotaProp(g, 's')).toBe(1_500_000);
    expect(tasksMaxProp(g, 's')).toBe(Infinity);
    const n = units.get('nginx.service')!;
    expect(cpuQuotaProp(n, 's')).toBe(500_000);
    expect(memoryProp(n, 'MemoryHigh', 's')).toBe(1.5 * GiB);
    expect(memoryProp(units.get('alchemist.slice')!, 'MemoryMax', 's')).toBe(32 * GiB);
    expect(cpuQuotaProp(units.get('alchemist.slice')!, 's')).toBe(8_000_000);
  });
  it('garbage is a ParseError', () => {
    expect(() => parseSystemctlShow(fx('systemd/no-systemd.txt'), 'show')).toThrow(ParseError);
    expect(() => memoryProp({ MemoryMax: '8G' }, 'MemoryMax', 's')).toThrow(ParseError);
    expect(unitName('container@alchemist')).toBe('container@alchemist.service');
    expect(unitName('alchemist.slice')).toBe('alchemist.slice');
  });
  it('machinectl show uses the same KEY=VALUE shape (Leader)', () => {
    expect(parseSystemctlShow(fx('machinectl/show-alchemist.txt'), 'machinectl')[0].Leader).toBe('1423');
  });
});

describe('cgroup reader', () => {
  it('v2: the smallest limit over the payload cgroup and its ancestors (limits sit on container@NAME)', () => {
    const e = enforcedLimits(parseCgFiles(fx('cgroup/v2-container-alchemist.txt'), 'cg'), 'cg');
    expect(e).toMatchObject({ layout: 'v2', memoryMax: 8 * GiB, memoryHigh: Infinity, cpuQuotaPerSecUs: 4_000_000, pidsMax: 4915 });
    expect(e.sources.memoryMax).toBe('/sys/fs/cgroup/machine.slice/container@alchemist.service/memory.max = 8589934592');
    expect(e.sources.cpuQuotaPerSecUs).toMatch(/cpu.max = 400000 100000/);
  });
  it('v2 unlimited: max everywhere', () => {
    const e = enforcedLimits(parseCgFiles(fx('cgroup/v2-unlimited.txt'), 'cg'), 'cg');
    expect(e).toMatchObject({ layout: 'v2', memoryMax: Infinity, cpuQuotaPerSecUs: Infinity });
  });
  it('v2 single files as the kernel prints them', () => {
    const files = (m: Record<string, string>) => ({ lines: parseProcCgroup('0::/x', 'c'), files: new Map(Object.entries(m).map(([k, v]) => [`/sys/fs/cgroup/x/${k}`, fx(v).trim()])), unmounted: [] });
    expect(enforcedLimits(files({ 'memory.max': 'cgroup/v2-memory.max', 'cpu.max': 'cgroup/v2-cpu.max', 'pids.max': 'cgroup/v2-pids.max' }), 'c')).toMatchObject({ memoryMax: 8 * GiB, cpuQuotaPerSecUs: 4_000_000, pidsMax: 4915 });
    expect(enforcedLimits(files({ 'memory.max': 'cgroup/v2-memory.max.unlimited', 'cpu.max': 'cgroup/v2-cpu.max.unlimited' }), 'c')).toMatchObject({ memoryMax: Infinity, cpuQuotaPerSecUs: Infinity });
  });
  it('v1 (this machine, the lab): limit_in_bytes, cfs quota/period; 9223372036854771712 and -1 are unlimited', () => {
    const text = [
      'C 4:memory:/process_api/abc/leafcert-lab/n1/alchemist',
      'F /sys/fs/cgroup/memory/process_api/abc/leafcert-lab/n1/alchemist/memory.limit_in_bytes 8589934592',
      'F /sys/fs/cgroup/memory/process_api/abc/leafcert-lab/n1/memory.limit_in_bytes 9223372036854771712',
      'F /sys/fs/cgroup/memory/memory.limit_in_bytes 9223372036854771712',
      'C 1:cpu:/leafcert-lab/n1/alchemist',
      'F /sys/fs/cgroup/cpu/leafcert-lab/n1/alchemist/cpu.cfs_quota_us 400000',
      'F /sys/fs/cgroup/cpu/leafcert-lab/n1/alchemist/cpu.cfs_period_us 100000',
      'F /sys/fs/cgroup/cpu/cpu.cfs_quota_us -1',
      'F /sys/fs/cgroup/cpu/cpu.cfs_period_us 100000',
      'C 0::/',
    ].join('\n');
    expect(enforcedLimits(parseCgFiles(text, 'cg'), 'cg')).toMatchObject({ layout: 'v1', memoryMax: 8 * GiB, cpuQuotaPerSecUs: 4_000_000 });
    const removed = text.replace('alchemist/memory.limit_in_bytes 8589934592', 'alchemist/memory.limit_in_bytes 9223372036854771712').replace('cpu.cfs_quota_us 400000', 'cpu.cfs_quota_us -1');
    expect(enforcedLimits(parseCgFiles(removed, 'cg'), 'cg')).toMatchObject({ memoryMax: Infinity, cpuQuotaPerSecUs: Infinity });
  });
  it('an unknown layout is a ParseError with the reason', () => {
    expect(() => enforcedLimits(parseCgFiles(fx('cgroup/unknown-layout.txt'), 'cg'), 'cg')).toThrow(/unknown cgroup layout/);
    expect(() => parseCgFiles('no process 57\n', 'cg')).toThrow(/no process 57/);
    expect(() => parseProcCgroup('garbage', 'c')).toThrow(ParseError);
  });
});

const showUnits = byUnitId(parseSystemctlShow(fx('systemd/container-alchemist.show'), 'show'), 'show');
function sd(unit: string): SubjectFacts['declared'] {
  const props = showUnits.get(unit)!;
  return { props, limits: { memoryMax: memoryProp(props, 'MemoryMax', 's'), memoryHigh: memoryProp(props, 'MemoryHigh', 's'), cpuQuotaPerSecUs: cpuQuotaProp(props, 's'), tasksMax: tasksMaxProp(props, 's') } };
}
function labFacts(over: Partial<Record<'alchemist' | 'graph', Partial<SubjectFacts>>> = {}): LimitsFacts {
  const v1 = (mem: number, cpu: number) => ({ layout: 'v1' as const, memoryMax: mem, cpuQuotaPerSecUs: cpu, sources: { memoryMax: 'memory.limit_in_bytes' } });
  return {
    systemd: false,
    systemdReason: 'PID 1 on the node is not systemd: unit properties cannot be read',
    memTotal: 24 * GiB,
    containers: {
      alchemist: { subject: 'container alchemist', unit: 'container@alchemist.service', leader: 57, declaredProblem: 'no systemd', enforced: v1(8 * GiB, 4_000_000), ...over.alchemist },
      'alchemist-graph': { subject: 'container alchemist-graph', unit: 'container@alchemist-graph.service', leader: 60, declaredProblem: 'no systemd', enforced: v1(2 * GiB, 4_000_000), ...over.graph },
    },
    services: {},
    slices: {},
    commands: [],
  };
}
const LAB_EXPECT = { containers: { alchemist: { memoryMax: '8G', cpuQuota: '400%' }, 'alchemist-graph': { memoryMax: '2G', cpuQuota: '400%' } } };
const ids = (o: ReturnType<typeof evaluateLimits>) => o.map((x) => `${x.id}:${x.subject}:${x.status}`);

describe('limits evaluate', () => {
  it('lab (no systemd): declared skipped with the reason, enforced + budget pass', () => {
    const out = evaluateLimits(labFacts(), LAB_EXPECT);
    expect(ids(out)).toEqual([
      'limits.declared:container alchemist:skipped',
      'limits.enforced:container alchemist:pass',
      'limits.declared:container alchemist-graph:skipped',
      'limits.enforced:container alchemist-graph:pass',
      'limits.memory-budget:containers:pass',
    ]);
    expect(out[0].message).toMatch(/not systemd/);
  });
  it('memory limit removed: enforced fails (critical) and the budget is unbounded', () => {
    const out = evaluateLimits(labFacts({ alchemist: { enforced: { layout: 'v1', memoryMax: Infinity, cpuQuotaPerSecUs: 4_000_000, sources: {} } } }), LAB_EXPECT);
    const e = out.find((o) => o.id === 'limits.enforced' && o.subject === 'container alchemist')!;
    expect(e).toMatchObject({ status: 'fail', severity: 'critical' });
    expect(e.message).toMatch(/MemoryMax infinity \(expected 8G\)/);
    expect(out.find((o) => o.id === 'limits.memory-budget')!.status).toBe('fail');
  });
  it('CPU quota changed: enforced fails naming the quota', () => {
    const out = evaluateLimits(labFacts({ graph: { enforced: { layout: 'v1', memoryMax: 2 * GiB, cpuQuotaPerSecUs: 2_000_000, sources: {} } } }), LAB_EXPECT);
    expect(out.find((o) => o.id === 'limits.enforced' && o.subject === 'container alchemist-graph')).toMatchObject({ status: 'fail', message: 'CPUQuota 200% (expected 400%)' });
    expect(out.find((o) => o.id === 'limits.memory-budget')!.status).toBe('pass');
  });
  it('MemoryMax as a percentage (systemd MemoryMax=75%) is that share of MemTotal in whole pages; unknown MemTotal is an error', () => {
    const pct = { containers: { alchemist: { memoryMax: '25%', cpuQuota: '400%' } } };
    const f = labFacts({ alchemist: { enforced: { layout: 'v1', memoryMax: 6 * GiB, cpuQuotaPerSecUs: 4_000_000, sources: {} } } });
    const enforced = (x: LimitsFacts) => evaluateLimits(x, pct).find((o) => o.id === 'limits.enforced' && o.subject === 'container alchemist')!;
    expect(enforced(f).status).toBe('pass'); // 25% of 24G
    f.memTotal = 32 * GiB;
    expect(enforced(f)).toMatchObject({ status: 'fail', message: 'MemoryMax 6G (expected 8G)' });
    f.memTotal = 24 * GiB + 3 * 4096; // 24G + 3 pages: a quarter rounds down to whole pages
    expect(scaleMemory(0.25, f.memTotal)).toBe(6 * GiB);
    f.memTotal = undefined;
    expect(enforced(f)).toMatchObject({ status: 'error', message: expect.stringMatching(/percentage .* no MemTotal/) });
  });
  it('the inventory takes a size or a share of memory up to 100% for MemoryMax/MemoryHigh', () => {
    expect(parseMemoryLimit('75%')).toEqual({ share: 0.75 });
    expect(parseMemoryLimit('8G')).toEqual({ bytes: 8 * GiB });
    expect(() => parseMemoryLimit('150%')).toThrow(/more than all/);
  });
  it('sum of limits above the node memory fails', () => {
    const f = labFacts();
    f.memTotal = 8 * GiB;
    expect(evaluateLimits(f, LAB_EXPECT).find((o) => o.id === 'limits.memory-budget')).toMatchObject({ status: 'fail', message: expect.stringMatching(/exceeds the node's memory 8G/) });
  });
  it('container missing: fail with the locator reason, never a pass', () => {
    const out = evaluateLimits(labFacts({ alchemist: { problem: 'container "alchemist" does not exist on the node', leader: undefined, enforced: undefined } }), LAB_EXPECT);
    expect(out.find((o) => o.id === 'limits.enforced' && o.subject === 'container alchemist')).toMatchObject({ status: 'fail', message: expect.stringMatching(/does not exist/) });
    expect(out.find((o) => o.id === 'limits.memory-budget')!.status).toBe('error');
  });
  it('a container process moved out of its cgroup (echo PID > machine.slice/cgroup.procs) fails enforced although the leader is limited (real cg_strays output)', () => {
    const M = '/sys/fs/cgroup/memory/leafcert-a73f6d/leaf-1';
    const C = '/sys/fs/cgroup/cpu/leafcert-a73f6d/leaf-1';
    const text = [
      'P 569 lab-backend.pl',
      'C 8:pids:/',
      'C 4:memory:/leafcert-a73f6d/leaf-1/machine.slice',
      `F ${M}/machine.slice/memory.limit_in_bytes 9223372036854771712`,
      `F ${M}/memory.limit_in_bytes 9223372036854771712`,
      'C 3:cpuset:/',
      'C 1:cpu:/leafcert-a73f6d/leaf-1/machine.slice/container@alchemist.service',
      `F ${C}/machine.slice/container@alchemist.service/cpu.cfs_quota_us 400000`,
      `F ${C}/machine.slice/container@alchemist.service/cpu.cfs_period_us 100000`,
      `F ${C}/machine.slice/cpu.cfs_quota_us -1`,
      `F ${C}/machine.slice/cpu.cfs_period_us 100000`,
      'C 0::/',
    ].join('\n');
    const { strays, more } = parseStrays(text, 'strays');
    expect(more).toBe(false);
    expect(strays).toMatchObject([{ pid: 569, comm: 'lab-backend.pl', cgroup: '4:memory:/leafcert-a73f6d/leaf-1/machine.slice; 1:cpu:/leafcert-a73f6d/leaf-1/machine.slice/container@alchemist.service; 0::/', enforced: { memoryMax: Infinity, cpuQuotaPerSecUs: 4_000_000 } }]);
    const out = evaluateLimits(labFacts({ alchemist: { strays } }), LAB_EXPECT);
    const e = out.find((o) => o.id === 'limits.enforced' && o.subject === 'container alchemist')!;
    expect(e).toMatchObject({ status: 'fail', severity: 'critical' });
    expect(e.message).toMatch(/^process 569 \(lab-backend.pl\) of the container runs outside its cgroup \(4:memory:.*machine.slice; .*\): MemoryMax infinity \(expected 8G\): not limited at all$/);
    // Moved to a sibling cgroup with the same limit values (red team L14): this used to pass ("1
    // process(es) in other cgroups with the same limits"), but its memory is charged to that cgroup,
    // not to the container's: the container gets its budget twice. It fails, named, whatever the limits there.
    const same = parseStrays(text.replaceAll('9223372036854771712', String(8 * GiB)), 'strays').strays;
    const sib = evaluateLimits(labFacts({ alchemist: { strays: same } }), LAB_EXPECT).find((o) => o.id === 'limits.enforced' && o.subject === 'container alchemist')!;
    expect(sib).toMatchObject({ status: 'fail', severity: 'high' });
    expect(sib.message).toMatch(/^process 569 \(lab-backend.pl\) of the container runs outside its cgroup \(4:memory:\/leafcert-a73f6d\/leaf-1\/machine.slice; .*\): not bounded by the container's limits .*same/);
    expect(sib.evidence.observed).toMatchObject({ outsideCgroup: [{ pid: 569, comm: 'lab-backend.pl', MemoryMax: '8G' }] });
    // its limits unreadable: still outside, still a fail
    const unreadable = evaluateLimits(labFacts({ alchemist: { strays: [{ pid: 569, comm: 'lab-backend.pl', cgroup: '4:memory:/x', problem: 'unknown cgroup layout' }] } }), LAB_EXPECT).find((o) => o.id === 'limits.enforced' && o.subject === 'container alchemist')!;
    expect(unreadable).toMatchObject({ status: 'fail', message: expect.stringMatching(/^process 569 .* its limits there unreadable \(unknown cgroup layout\)/) });
    // unreadable strays, or more than 20: unknown, never a pass
    expect(evaluateLimits(labFacts({ alchemist: { straysMore: true } }), LAB_EXPECT).find((o) => o.id === 'limits.enforced' && o.subject === 'container alchemist')!.status).toBe('error');
    expect(() => parseStrays('C 4:memory:/', 'strays')).toThrow(ParseError);
  });
  it('threads moved out of the container\'s CPU cgroup (echo TID > machine.slice/tasks) while the main thread stays: fail naming each thread (cg_strays T lines)', () => {
    const M = '/sys/fs/cgroup/memory/leafcert-a73f6d/leaf-1';
    const C = '/sys/fs/cgroup/cpu/leafcert-a73f6d/leaf-1';
    const thread = (tid: number) => [
      `T 431 ${tid} prometheus`,
      'C 4:memory:/leafcert-a73f6d/leaf-1/machine.slice/container@monitoring.service',
      `F ${M}/machine.slice/container@monitoring.service/memory.limit_in_bytes 1073741824`,
      `F ${M}/machine.slice/memory.limit_in_bytes 9223372036854771712`,
      'C 1:cpu:/leafcert-a73f6d/leaf-1/machine.slice',
      `F ${C}/machine.slice/cpu.cfs_quota_us -1`,
      `F ${C}/machine.slice/cpu.cfs_period_us 100000`,
      'C 0::/',
    ];
    const { strays } = parseStrays([...thread(433), ...thread(434)].join('\n'), 'strays');
    expect(strays).toMatchObject([{ pid: 431, tid: 433, comm: 'prometheus', enforced: { memoryMax: GiB, cpuQuotaPerSecUs: Infinity } }, { pid: 431, tid: 434 }]);
    const facts = labFacts();
    facts.containers.monitoring = { subject: 'container monitoring', unit: 'container@monitoring.service', leader: 400, enforced: { layout: 'v1', memoryMax: GiB, cpuQuotaPerSecUs: 1_000_000, sources: {} }, strays };
    const exp = { containers: { monitoring: { memoryMax: '1G', cpuQuota: '100%' } } };
    const e = evaluateLimits(facts, exp).find((o) => o.id === 'limits.enforced' && o.subject === 'container monitoring')!;
    expect(e).toMatchObject({ status: 'fail', severity: 'critical' });
    expect(e.message).toMatch(/^threads 433, 434 of process 431 \(prometheus\) of the container run outside its cgroup \(4:memory:\S+; 1:cpu:\/leafcert-a73f6d\/leaf-1\/machine.slice; 0::\/\): CPUQuota infinity \(expected 100%\): not limited at all$/);
    expect(e.evidence.observed).toMatchObject({ outsideCgroup: [{ pid: 431, tid: 433, comm: 'prometheus' }, { pid: 431, tid: 434 }] });
  });
  it('unknown cgroup layout: error with the reason', () => {
    const out = evaluateLimits(labFacts({ alchemist: { enforced: undefined, enforcedProblem: 'unknown cgroup layout: ...' } }), LAB_EXPECT);
    expect(out.find((o) => o.id === 'limits.enforced' && o.subject === 'container alchemist')).toMatchObject({ status: 'error', message: expect.stringMatching(/unknown cgroup layout/) });
  });
  it('NixOS with systemd: declared compared, inactive unit fails, unused slice fails, slice cap on the sum', () => {
    const v2 = enforcedLimits(parseCgFiles(fx('cgroup/v2-container-alchemist.txt'), 'cg'), 'cg');
    const facts: LimitsFacts = {
      systemd: true,
      memTotal: 64 * GiB,
      containers: {
        alchemist: { subject: 'container alchemist', unit: 'container@alchemist.service', leader: 1423, declared: sd('container@alchemist.service'), enforced: v2 },
        monitoring: { subject: 'container monitoring', unit: 'container@monitoring.service', leader: 1600, declared: sd('container@monitoring.service'), enforced: enforcedLimits(parseCgFiles(fx('cgroup/v2-unlimited.txt'), 'cg'), 'cg') },
      },
      services: { 'nginx.service': { subject: 'service nginx.service', unit: 'nginx.service', declared: sd('nginx.service'), enforcedProblem: 'x' } },
      slices: { 'alchemist.slice': { subject: 'slice alchemist.slice', unit: 'alchemist.slice', declared: sd('alchemist.slice'), usedBy: [] } },
      commands: [],
    };
    const exp = {
      containers: { alchemist: { memoryMax: '8G', cpuQuota: '400%', tasksMax: 4915 }, monitoring: { memoryMax: '2G' } },
      services: { nginx: { memoryMax: '2G', memoryHigh: '1536M', cpuQuota: '50%' } },
      slices: { alchemist: { memoryMax: '32G', cpuQuota: '800%' } },
    };
    const out = evaluateLimits(facts, exp);
    const get = (id: string, subject: string) => out.find((o) => o.id === id && o.subject === subject)!;
    expect(get('limits.declared', 'container alchemist').status).toBe('pass');
    expect(get('limits.enforced', 'container alchemist').status).toBe('pass');
    expect(get('limits.declared', 'container monitoring')).toMatchObject({ status: 'fail', message: expect.stringMatching(/MemoryMax infinity \(expected 2G\)/) });
    expect(get('limits.declared', 'service nginx.service').status).toBe('pass');
    expect(get('limits.declared', 'slice alchemist.slice').status).toBe('pass');
    expect(get('limits.slice-used', 'slice alchemist.slice')).toMatchObject({ status: 'fail', message: expect.stringMatching(/no unit uses alchemist.slice/) });
    facts.slices['alchemist.slice'].usedBy = ['container@alchemist.service (active)'];
    expect(evaluateLimits(facts, exp).find((o) => o.id === 'limits.slice-used')!.status).toBe('pass');
  });
  it('schema: units are strings in the inventory', () => {
    expect(limitsSuite.key).toBe('limits');
    expect((limitsSuite.schema as any).additionalProperties).toBe(false);
  });
});

describe('limits gather on a NixOS-shaped node (canned output, real script assembly and parsing)', () => {
  const sec = (name: string, text: string, rc = 0) => `@@leafcert ${name}\n${text}\n@@leafcert-rc ${name} ${rc}\n`;
  const nixosLocate = fx('machinectl/locate-nixos.txt');
  function host(factsOut: string) {
    const h = new FakeHost('n');
    const cmds: string[] = [];
    h.exec = async (command: string) => {
      h.roundTrips++;
      cmds.push(command);
      return { code: 0, stdout: cmds.length === 1 ? nixosLocate : factsOut, stderr: '', command, durationMs: 1 };
    };
    return { h, cmds };
  }
  const ctx = (h: FakeHost) => ({ host: h, node: {} as any, identity: {}, options: { allowMutating: false, timeoutMs: 5000, baseDir: '.' }, progress() {} });

  it('container@NAME declared + enforced, a unit inside the container through its own systemd', async () => {
    const show = fx('systemd/container-alchemist.show').split('\n\n')[0];
    const out =
      sec('meminfo', 'MemTotal:       65842012 kB') +
      sec('systemd', show) +
      sec('cg.0', fx('cgroup/v2-container-alchemist.txt').trim()) +
      sec('csvc.0', fx('systemd/inner-postgresql.show').trim()) +
      sec('csvccg.0', fx('cgroup/v2-inner-postgresql.txt').trim());
    const { h, cmds } = host(out);
    const exp = { containers: { alchemist: { memoryMax: '8G', cpuQuota: '400%', tasksMax: 4915 } }, containerServices: { alchemist: { postgresql: { memoryMax: '4G', cpuQuota: '200%' } } } };
    const facts = await limitsSuite.gather(ctx(h), exp);
    expect(h.roundTrips).toBe(2);
    expect(cmds[1]).toContain('nsenter -t 1423 -m -u -i -n -p -- systemctl show --no-pager -p Id,LoadState,ActiveState');
    expect(cmds[1]).toContain("systemctl show --no-pager -p Id,LoadState,ActiveState,ControlGroup,Slice,MemoryHigh,MemoryMax,CPUQuotaPerSecUSec,TasksMax 'container@alchemist.service'");
    const out2 = evaluateLimits(facts, exp);
    expect(ids(out2)).toEqual([
      'limits.declared:container alchemist:pass',
      'limits.enforced:container alchemist:pass',
      'limits.declared:service postgresql.service in container alchemist:pass',
      'limits.enforced:service postgresql.service in container alchemist:pass',
      'limits.memory-budget:containers:pass',
    ]);
  });

  it('slices: declared limits from systemctl show, users from Slice= of every unit; the containers\' sum against the slice', async () => {
    const blocks = fx('systemd/container-alchemist.show').split('\n\n');
    const inSlice = blocks[0].replace('Slice=machine.slice', 'Slice=alchemist.slice');
    const out =
      sec('meminfo', 'MemTotal:       65842012 kB') +
      sec('systemd', [inSlice, blocks[4]].join('\n\n')) +
      sec('sliceusers', 'Id=container@alchemist.service\nActiveState=active\nSlice=alchemist.slice\n') +
      sec('cg.0', fx('cgroup/v2-container-alchemist.txt').trim());
    const { h, cmds } = host(out);
    const exp = { containers: { alchemist: { memoryMax: '8G' } }, slices: { alchemist: { memoryMax: '32G', cpuQuota: '800%', units: ['container@alchemist'] } } };
    const res = evaluateLimits(await limitsSuite.gather(ctx(h), exp), exp);
    expect(cmds[1]).toMatch(/systemctl show --no-pager -p Id,Slice,ActiveState '\*' \| awk -v RS= -v want='\|alchemist.slice\|'/);
    expect(res.map((r) => `${r.id}:${r.subject}:${r.status}`)).toEqual([
      'limits.declared:container alchemist:pass',
      'limits.enforced:container alchemist:pass',
      'limits.declared:slice alchemist.slice:pass',
      'limits.slice-used:slice alchemist.slice:pass',
      'limits.memory-budget:containers:pass',
    ]);
    expect(res.find((r) => r.id === 'limits.memory-budget')!.evidence.observed).toMatchObject({ slices: [{ slice: 'alchemist.slice', memoryMax: '32G', holds: ['alchemist'] }] });
  });

  it('a declared slice that does not exist on a systemd node fails; an unanswered query is an error, never skipped', async () => {
    const exp = { slices: { alchemist: { memoryMax: '32G' } } };
    // what systemctl show prints for a unit it does not know
    const notFound = 'Id=alchemist.slice\nLoadState=not-found\nActiveState=inactive\nControlGroup=\nSlice=\nMemoryHigh=infinity\nMemoryMax=infinity\nCPUQuotaPerSecUSec=infinity\nTasksMax=infinity\n';
    // only slices: no container scan, the facts script is the one exec
    const host = (out: string) => {
      const h = new FakeHost('n');
      h.exec = async (command: string) => ({ code: 0, stdout: out, stderr: '', command, durationMs: 1 });
      return { h };
    };
    let { h } = host(sec('meminfo', 'MemTotal: 1000 kB') + sec('systemd', notFound) + sec('sliceusers', ''));
    let res = evaluateLimits(await limitsSuite.gather(ctx(h), exp), exp);
    expect(res.find((r) => r.id === 'limits.slice-used')).toMatchObject({ status: 'fail', message: expect.stringMatching(/alchemist.slice does not exist on the node \(LoadState=not-found\)/) });
    ({ h } = host(sec('meminfo', 'MemTotal: 1000 kB') + sec('systemd', notFound) + sec('sliceusers', 'Failed to connect to bus: Connection refused', 1)));
    res = evaluateLimits(await limitsSuite.gather(ctx(h), exp), exp);
    expect(res.find((r) => r.id === 'limits.slice-used')).toMatchObject({ status: 'error', message: expect.stringMatching(/cannot tell whether alchemist.slice exists.*Failed to connect to bus/) });
    // facts without the slice (systemd running): error, not skipped
    const facts = await limitsSuite.gather(ctx(host(sec('meminfo', 'MemTotal: 1000 kB') + sec('systemd', notFound) + sec('sliceusers', '')).h), exp);
    delete facts.slices['alchemist.slice'];
    expect(evaluateLimits(facts, exp).find((r) => r.id === 'limits.slice-used')!.status).toBe('error');
  });

  it('no systemd inside the container: the inner unit is skipped with the reason', async () => {
    const out = sec('meminfo', 'MemTotal: 1000 kB') + sec('systemd', 'PID 1 is not systemd', 3) + sec('csvc.0', 'no systemd inside the container', 3) + sec('csvccg.0', 'no systemd inside the container', 3);
    const { h } = host(out);
    const exp = { containerServices: { alchemist: { 'postgresql.service': { memoryMax: '4G' } } } };
    const res = evaluateLimits(await limitsSuite.gather(ctx(h), exp), exp);
    expect(res.map((r) => `${r.id}:${r.status}:${r.message}`)).toEqual([
      'limits.declared:skipped:no systemd inside container alchemist: unit properties cannot be read',
      'limits.enforced:skipped:no systemd inside container alchemist: unit properties cannot be read',
    ]);
  });

  it('a container that is configured but not running: its inner units fail with the reason', async () => {
    const { h } = host(sec('meminfo', 'MemTotal: 1000 kB') + sec('systemd', 'x', 3));
    const exp = { containerServices: { ollama: { 'ollama.service': { memoryMax: '16G' } } } };
    const res = evaluateLimits(await limitsSuite.gather(ctx(h), exp), exp);
    expect(res.map((r) => r.status)).toEqual(['fail', 'fail']);
    for (const r of res) expect(r.message).toMatch(/configured .* but not running/);
  });
});

describe('limits schema: expectations that would compare nothing are refused', () => {
  it('empty maps, empty specs and empty unit lists do not validate', async () => {
    const { default: Ajv } = await import('ajv');
    const { FORMATS } = await import('../src/inventory/schema.js');
    const ajv = new Ajv({ strict: false });
    for (const f of Object.values(FORMATS)) ajv.addFormat(f, true);
    const v = ajv.compile(limitsSuite.schema as object);
    expect(v({ containers: { alchemist: {} } })).toBe(false);
    expect(v({ containers: {} })).toBe(false);
    expect(v({})).toBe(false);
    expect(v({ memoryBudget: true })).toBe(false);
    expect(v({ services: { nginx: {} } })).toBe(false);
    expect(v({ containerServices: { alchemist: {} } })).toBe(false);
    expect(v({ containerServices: { alchemist: { 'postgresql.service': {} } } })).toBe(false);
    expect(v({ slices: { alchemist: {} } })).toBe(false);
    expect(v({ slices: { alchemist: { units: [] } } })).toBe(false);
    expect(v({ slices: { alchemist: { units: ['container@alchemist'] } } })).toBe(true);
    expect(v({ containers: { alchemist: { memoryMax: '8G' } } })).toBe(true);
  });
});
