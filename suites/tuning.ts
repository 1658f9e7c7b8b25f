// The guide's Performance Tuning as it runs: declared kernel parameters (boot.kernel.sysctl) against
// the running values, read in the network namespace that holds them (the node's, each named
// container's), global ones only where the node owns its kernel; and units' LimitNOFILE against
// systemd's loaded unit and the running main process (/proc/PID/limits). Gathering lives in
// src/probes/tuning.ts; this file judges and plans.
import type { Outcome, Suite, SuiteContext } from '../src/core/types.js';
import { defineChecks, outcome } from '../src/core/checks.js';
import { optionPath, type Cite, type Manifest } from '../src/core/manifest.js';
import type { Fact } from '../src/core/fact.js';
import { unitName } from '../src/probes/systemd.js';
import { gatherTuning, type TuningFacts, type TuningRequest } from '../src/probes/tuning.js';
import type { SysctlRead } from '../src/probes/hardening.js';
import { perNetns } from './hardening/kernel.js';

const CHECKS = defineChecks('tuning', {
  sysctl: {
    title: 'Declared kernel parameters are in effect',
    severity: 'medium',
    checklist: ['resource-limits'],
    description:
      'Each parameter of boot.kernel.sysctl has its declared value in the running kernel: per network namespace for the ones the kernel keeps per namespace (net.core.somaxconn, net.ipv4.tcp_max_syn_backlog, net.ipv4.*), read in the node\'s and in each container\'s that declares them; global ones only where the node owns its kernel (skipped with the reason elsewhere). One result per parameter and namespace.',
    fix: 'Redeploy (systemd-sysctl applies boot.kernel.sysctl at boot and on switch) or `systemctl restart systemd-sysctl`; a container\'s own network namespace needs the parameter in containers.NAME.config.boot.kernel.sysctl.',
  },
  nofile: {
    title: 'Declared open-file limits are in effect',
    severity: 'medium',
    checklist: ['resource-limits'],
    description: "Each unit's declared LimitNOFILE is what systemd has loaded (LimitNOFILE / LimitNOFILESoft) and what its running main process has (/proc/PID/limits, Max open files). Needs systemd: skipped with the reason where there is none.",
    fix: 'Set systemd.services.NAME.serviceConfig.LimitNOFILE, redeploy, and restart the unit (a running process keeps the limit it started with).',
  },
});

type SysctlValue = number | string | boolean;
export interface TuningExpect {
  /** boot.kernel.sysctl of the node. */
  sysctl?: Record<string, SysctlValue>;
  /** containers.NAME.config.boot.kernel.sysctl: judged in the container's network namespace. */
  containers?: Record<string, Record<string, SysctlValue>>;
  /** Unit → LimitNOFILE ("65536", "1024:65536", "infinity"). */
  nofile?: Record<string, number | string>;
}

const sysctlMap = {
  type: 'object',
  propertyNames: { pattern: '^[a-z0-9_]+(\\.[A-Za-z0-9_-]+)+$' },
  additionalProperties: { type: ['integer', 'string', 'boolean'] },
};
const SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    sysctl: sysctlMap,
    containers: { type: 'object', propertyNames: { pattern: '^[A-Za-z0-9_-]+$' }, additionalProperties: sysctlMap },
    nofile: {
      type: 'object',
      propertyNames: { pattern: '^[A-Za-z0-9@:._-]+$' },
      additionalProperties: { oneOf: [{ type: 'integer', minimum: 0 }, { type: 'string', pattern: '^(\\d+|infinity)(:(\\d+|infinity))?$' }] },
    },
  },
};

export function request(e: TuningExpect): TuningRequest {
  const containers: Record<string, string[]> = {};
  for (const [n, s] of Object.entries(e.containers ?? {})) containers[n] = Object.keys(s);
  return { keys: Object.keys(e.sysctl ?? {}), containers, units: Object.keys(e.nofile ?? {}).map(unitName) };
}

async function gather(ctx: SuiteContext, e: TuningExpect): Promise<TuningFacts> {
  return gatherTuning(ctx.host, request(e), ctx.options.timeoutMs);
}

// NixOS writes true/false as 1/0; multi-value parameters compare with single spaces.
const norm = (v: SysctlValue | string) => (v === true ? '1' : v === false ? '0' : String(v).trim().replace(/\s+/g, ' '));

function judgeSysctls(f: Fact<SysctlRead>, declared: Record<string, SysctlValue>, where: string, container: boolean, platformLimit: string | null): Outcome[] {
  return Object.entries(declared).map(([key, want]) => {
    const subject = container ? `${key} in container ${where}` : key;
    const res = (status: Outcome['status'], msg: string, ev: Outcome['evidence']) => outcome(CHECKS.sysctl, subject, status, msg, ev);
    if (container && !perNetns(key)) return res('skipped', `${key} is not kept per network namespace: container ${where} runs with the host's value (declare it on the host)`, { source: 'expectation tuning', expected: want });
    if (!f.ok) return res('error', f.reason, { source: f.source, excerpt: f.excerpt });
    const v = f.value.values[key];
    const ns = perNetns(key) ? ` (network namespace ${f.value.netns || '?'})` : '';
    const ev = { source: `${f.source.replace('/proc/sys/…', `/proc/sys/${key.replace(/\./g, '/')}`)}${ns}`, expected: norm(want), observed: v };
    if (!perNetns(key) && platformLimit) return res('skipped', `platform cannot provide this: ${platformLimit} (observed ${v ?? 'none'})`, ev);
    if (v === null || v === undefined) return res('error', `this kernel has no ${key}${ns ? ` in ${where}'s network namespace` : ''} (not kept per namespace there, module not loaded, or too old); not judged`, ev);
    return norm(v) === norm(want) ? res('pass', `${key} = ${v}${ns}`, ev) : res('fail', `${key} is ${v}${ns}, declared ${norm(want)}`, ev);
  });
}

/** LimitNOFILE=N sets soft and hard; "S:H" each; systemd prints infinity, the kernel unlimited. */
function nofilePair(v: number | string): { soft: string; hard: string } {
  const [s, h] = String(v).split(':');
  const fix = (x: string) => (x === 'infinity' ? 'infinity' : String(Number(x)));
  return { soft: fix(s), hard: fix(h ?? s) };
}
const procNorm = (x: string) => (x === 'unlimited' ? 'infinity' : x);

function judgeNofile(f: TuningFacts, declared: Record<string, number | string>): Outcome[] {
  return Object.entries(declared).map(([name, v]) => {
    const unit = unitName(name);
    const want = nofilePair(v);
    const res = (status: Outcome['status'], msg: string, ev: Outcome['evidence']) => outcome(CHECKS.nofile, unit, status, msg, ev);
    const u = f.units;
    if (!u) return res('error', 'no units asked', { source: 'expectation tuning' });
    if (!u.ok) return /no systemd/.test(u.reason) ? res('skipped', `platform cannot provide this: ${u.reason}`, { source: u.source, expected: want }) : res('error', u.reason, { source: u.source, excerpt: u.excerpt });
    const s = u.value.find((x) => x.unit === unit);
    const ev = { source: `${u.source}; /proc/PID/limits`, expected: want, observed: { unit: s ? { soft: s.soft, hard: s.hard, mainPid: s.mainPid } : null, process: f.limits[unit] ?? null } };
    if (!s || s.loadState !== 'loaded') return res('fail', `${unit} is ${s?.loadState ?? 'absent'}: the declared unit does not exist on the node`, ev);
    if (s.soft !== want.soft || s.hard !== want.hard) return res('fail', `${unit} is loaded with LimitNOFILE ${s.soft}:${s.hard}, declared ${want.soft}:${want.hard} (not redeployed, or overridden by a drop-in)`, ev);
    const p = f.limits[unit];
    if (!s.mainPid || !p) return res('error', `${unit} has no running main process (${s.activeState || 'inactive'}): its limit cannot be read`, ev);
    if (p === 'gone') return res('error', `${unit}'s main process exited while it was read`, ev);
    if (procNorm(p.soft) !== want.soft || procNorm(p.hard) !== want.hard) return res('fail', `${unit}'s process ${p.pid} runs with open files ${p.soft}:${p.hard}, declared ${want.soft}:${want.hard} (started before the limit changed: restart it)`, ev);
    return res('pass', `${unit}: LimitNOFILE ${want.soft}:${want.hard} loaded, process ${p.pid} runs with it`, ev);
  });
}

export function evaluate(f: TuningFacts, e: TuningExpect): Outcome[] {
  const out: Outcome[] = [...judgeSysctls(f.sysctl, e.sysctl ?? {}, 'the node', false, f.platformLimit)];
  for (const [n, d] of Object.entries(e.containers ?? {})) out.push(...judgeSysctls(f.containers[n], d, n, true, f.platformLimit));
  out.push(...judgeNofile(f, e.nofile ?? {}));
  if (!out.some((o) => o.id === CHECKS.sysctl.id)) out.push(outcome(CHECKS.sysctl, 'boot.kernel.sysctl', 'skipped', 'no kernel parameters declared', { source: 'expectation tuning' }));
  if (!out.some((o) => o.id === CHECKS.nofile.id)) out.push(outcome(CHECKS.nofile, 'LimitNOFILE', 'skipped', 'no LimitNOFILE declared', { source: 'expectation tuning' }));
  return out;
}

// --- plan (leafcert plan --from-nix) ---

/** boot.kernel.sysctl of the node and of each container with its own network, units' LimitNOFILE. */
export function fromManifest(m: Manifest, cite: Cite): TuningExpect | undefined {
  const t = m.tuning;
  if (!t) return undefined;
  const e: TuningExpect = {};
  const set = (v: unknown): v is SysctlValue => v !== null && ['number', 'string', 'boolean'].includes(typeof v);
  const declared = Object.entries(t.host.sysctl.values).filter(([, v]) => set(v)) as [string, SysctlValue][];
  if (declared.length) {
    e.sysctl = Object.fromEntries(declared);
    for (const [k] of declared) cite(['tuning', 'sysctl', k], optionPath(t.host.sysctl.path, k));
  }
  for (const c of t.containers) {
    const own = Object.entries(c.sysctl.values).filter(([k, v]) => set(v) && perNetns(k)) as [string, SysctlValue][];
    if (!own.length || !m.containers.find((x) => x.name === c.name)?.privateNetwork) continue;
    (e.containers ??= {})[c.name] = Object.fromEntries(own);
    for (const [k] of own) cite(['tuning', 'containers', c.name, k], optionPath(c.sysctl.path, k));
  }
  for (const u of t.host.nofile) {
    (e.nofile ??= {})[u.unit] = u.value;
    cite(['tuning', 'nofile', u.unit], u.path);
  }
  return e.sysctl || e.containers || e.nofile ? e : undefined;
}

export const tuningSuite: Suite<TuningExpect, TuningFacts> = {
  name: 'tuning',
  key: 'tuning',
  schema: SCHEMA,
  gather: (ctx, e) => gather(ctx, e ?? {}),
  evaluate: (facts, expect) => evaluate(facts, expect ?? {}),
  checkIds: Object.values(CHECKS).map((c) => c.id),
  checks: Object.values(CHECKS),
  fromManifest,
};
