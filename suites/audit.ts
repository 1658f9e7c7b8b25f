// Checklist "audit logging enabled" and the AppArmor half of "security hardening": kernel audit on
// with rules loaded, the NixOS rule loader succeeded, auditd running where expected, AppArmor on
// with policies (on without policies confines nothing). Where the node does not own its kernel
// view (the lab, a container) every check is skipped with that reason: never a pass. Gathering
// lives in src/probes/audit.ts (gatherAudit, audit.sh); this file judges.
import type { Outcome, Suite, SuiteContext } from '../src/core/types.js';
import { defineChecks, outcome, type CheckDef } from '../src/core/checks.js';
import { optionPath, type Cite, type Manifest } from '../src/core/manifest.js';
import { gatherAudit, type AuditFacts, type UnitState } from '../src/probes/audit.js';

// In the order of the suite's results (and of today's checkIds).
const CHECKS = defineChecks('audit', {
  enabled: {
    title: 'Kernel audit is enabled',
    severity: 'high',
    checklist: ['audit-logging'],
    description: 'The kernel audit subsystem is on (auditctl -s: enabled 1, or 2 when locked), on a node that owns its kernel view.',
    fix: 'Set security.audit.enable = true (or "lock"); make sure audit=0 is not on the kernel command line (boot.kernelParams).',
  },
  rules: {
    title: 'Audit rules are loaded',
    severity: 'high',
    checklist: ['audit-logging'],
    description: 'auditctl -l lists at least minRules rules that audit (default 1; never rules, which suppress, are not counted): audit on without rules audits nothing, and a loaded -a never,task rule fails whatever else is loaded (no task gets syscall auditing).',
    fix: 'Declare the rules in security.audit.rules and redeploy.',
  },
  'rules-unit': {
    title: 'The audit rule loader succeeded',
    severity: 'medium',
    checklist: ['audit-logging'],
    description: "NixOS's rule-loading unit (audit-rules-nixos.service, or audit.service) is loaded and its last run succeeded.",
    fix: 'Enable security.audit.enable; fix the rule its journal names (journalctl -u audit-rules-nixos.service) in security.audit.rules.',
  },
  auditd: {
    title: 'auditd is running',
    severity: 'medium',
    checklist: ['audit-logging'],
    description: 'Where expected (auditd: true), auditd.service is active and registered with the kernel as its audit daemon (pid ≠ 0), so events reach the audit log and not only the journal.',
    fix: 'Set security.auditd.enable = true and check systemctl status auditd.service.',
  },
  apparmor: {
    title: 'AppArmor is enabled with policies loaded',
    severity: 'high',
    checklist: ['hardening'],
    description: 'The AppArmor module is on, an active LSM, and has at least minProfiles profiles loaded (aa-status --json): on without profiles confines nothing.',
    fix: 'Set security.apparmor.enable = true and declare profiles in security.apparmor.policies.',
  },
});

export interface AuditExpect {
  /** security.audit.enable: kernel audit on and rules loaded. Default true. */
  audit?: boolean;
  /** Fewest rules `auditctl -l` must list. Default 1. */
  minRules?: number;
  /** security.auditd.enable: auditd running. Default false (skipped). */
  auditd?: boolean;
  /** security.apparmor.enable: AppArmor on with policies loaded. Default true. */
  apparmor?: boolean;
  /** Fewest loaded AppArmor profiles. Default 1. */
  minProfiles?: number;
}

const SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    audit: { type: 'boolean' },
    minRules: { type: 'integer', minimum: 0 },
    auditd: { type: 'boolean' },
    apparmor: { type: 'boolean' },
    minProfiles: { type: 'integer', minimum: 1 },
  },
};


async function gather(ctx: SuiteContext): Promise<AuditFacts> {
  return gatherAudit(ctx.host, ctx.options.timeoutMs);
}

// --- evaluate (pure) ---

type Judge = (f: AuditFacts, e: AuditExpect, units: Map<string, UnitState>) => Outcome;

const unitLine = (u?: UnitState) => (u ? `${u.Id}: ${u.LoadState}/${u.ActiveState}${u.Result ? ` result=${u.Result}` : ''}${u.ExecMainStatus ? ` status=${u.ExecMainStatus}` : ''}` : 'absent');

const enabled: Judge = (f) => {
  const res = (status: Outcome['status'], message: string, evidence: Outcome['evidence']) => outcome(CHECKS.enabled, 'kernel audit', status, message, evidence);
  const cmdlineAudit = /(?:^|\s)audit=(\S+)/.exec(f.cmdline)?.[1];
  if (!f.status.ok) return res('error', f.status.reason, { source: 'auditctl -s', excerpt: f.status.excerpt, observed: { cmdlineAudit: cmdlineAudit ?? null } });
  const ev = { source: `${f.auditctl} -s; /proc/cmdline`, expected: 'enabled 1 or 2', observed: { enabled: f.status.value.enabled, cmdlineAudit: cmdlineAudit ?? null }, excerpt: f.status.excerpt };
  return f.status.value.enabled >= 1
    ? res('pass', `kernel audit enabled (${f.status.value.enabled === 2 ? '2, locked' : '1'})`, ev)
    : res('fail', `kernel audit disabled (enabled 0${cmdlineAudit ? `, kernel command line audit=${cmdlineAudit}` : ', no audit= on the kernel command line'})`, ev);
};

/** A rule whose action is never (`-a never,exit`, `-a task,never`): it suppresses auditing, it audits nothing. */
export const neverRule = (r: string) => /^-[aA]\s+(never,\w+|\w+,never)(\s|$)/.test(r.trim());
/** `-a never,task`: no task gets a syscall audit context, so no syscall rule after it ever matches. */
const taskNever = (r: string) => /^-[aA]\s+(never,task|task,never)(\s|$)/.test(r.trim());

const rules: Judge = (f, e) => {
  const res = (status: Outcome['status'], message: string, evidence: Outcome['evidence']) => outcome(CHECKS.rules, 'kernel audit', status, message, evidence);
  if (!f.rules.ok) return res('error', f.rules.reason, { source: 'auditctl -l', excerpt: f.rules.excerpt });
  const min = e.minRules ?? 1;
  const auditing = f.rules.value.filter((r) => !neverRule(r));
  const nevers = f.rules.value.length - auditing.length;
  const ev = { source: `${f.auditctl} -l`, expected: `at least ${min} rule(s) that audit (never rules suppress; no -a never,task)`, observed: f.rules.value.slice(0, 20), excerpt: f.rules.excerpt };
  const tn = f.rules.value.find(taskNever);
  if (tn) return res('fail', `"${tn.trim()}" is loaded: no task gets syscall auditing, so ${auditing.length ? `the ${auditing.length} other rule(s) never match` : 'nothing is audited'}`, ev);
  const also = nevers ? ` (and ${nevers} never rule(s), which suppress)` : '';
  return auditing.length >= min
    ? res('pass', `${auditing.length} audit rule(s) loaded${also}`, ev)
    : res('fail', auditing.length ? `only ${auditing.length} audit rule(s) loaded (min ${min})${also}` : f.rules.value.length ? `only never rules are loaded (${f.rules.value.slice(0, 3).join('; ')}): nothing is audited` : '"No rules": audit is on but nothing is audited (security.audit.rules is empty)', ev);
};

const rulesUnit: Judge = (f, _e, units) => {
  const res = (status: Outcome['status'], message: string, evidence: Outcome['evidence']) => outcome(CHECKS['rules-unit'], 'kernel audit', status, message, evidence);
  if (!f.units.ok) return res('error', `cannot read units: ${f.units.reason}`, { source: 'systemctl show' });
  const loader = [units.get('audit-rules-nixos.service'), units.get('audit.service')].find((u) => u && u.LoadState === 'loaded');
  const ev = { source: 'systemctl show audit-rules-nixos.service audit.service', expected: 'loaded, Result=success', observed: [unitLine(units.get('audit-rules-nixos.service')), unitLine(units.get('audit.service'))], excerpt: f.units.excerpt };
  if (!loader) return res('fail', 'no rule-loading unit (audit-rules-nixos.service / audit.service): security.audit.enable is off', ev);
  if (loader.Result && loader.Result !== 'success') return res('fail', `${loader.Id} failed (result=${loader.Result}${loader.ExecMainStatus ? `, status ${loader.ExecMainStatus}` : ''}): rules were not loaded`, ev);
  if (loader.ActiveState === 'failed') return res('fail', `${loader.Id} is failed`, ev);
  return res('pass', `${loader.Id} ${loader.ActiveState}, result ${loader.Result ?? 'n/a'}`, ev);
};

const auditd: Judge = (f, _e, units) => {
  const res = (status: Outcome['status'], message: string, evidence: Outcome['evidence']) => outcome(CHECKS.auditd, 'auditd.service', status, message, evidence);
  if (!f.units.ok) return res('error', `cannot read units: ${f.units.reason}`, { source: 'systemctl show' });
  const u = units.get('auditd.service');
  const pid = f.status.ok ? f.status.value.pid : undefined;
  const ev = { source: 'systemctl show auditd.service; auditctl -s (pid)', expected: 'auditd.service active, kernel audit pid ≠ 0', observed: { unit: unitLine(u), kernelAuditPid: pid ?? null } };
  if (!u || u.LoadState !== 'loaded') return res('fail', 'auditd.service does not exist (security.auditd.enable is off): events go to the journal only', ev);
  if (u.ActiveState !== 'active') return res('fail', `auditd.service is ${u.ActiveState}`, ev);
  if (pid === 0) return res('fail', 'auditd.service is active but the kernel has no audit daemon registered (pid 0)', ev);
  return res('pass', `auditd active${pid ? ` (pid ${pid})` : ''}`, ev);
};

/** AppArmor: module on, in the LSM list, and profiles loaded. */
const apparmor: Judge = (f, e) => {
  const res = (status: Outcome['status'], message: string, evidence: Outcome['evidence']) => outcome(CHECKS.apparmor, 'apparmor', status, message, evidence);
  const min = e.minProfiles ?? 1;
  const profiles = f.aaStatus.ok ? Object.keys(f.aaStatus.value.profiles).length : undefined;
  const ev = {
    source: 'cat /sys/module/apparmor/parameters/enabled /sys/kernel/security/lsm; aa-status --json',
    expected: { enabled: 'Y', lsm: 'contains apparmor', profiles: `>= ${min}` },
    observed: { enabled: f.apparmorEnabled, lsm: f.lsm, profiles: profiles ?? null, byMode: f.aaStatus.ok ? f.aaStatus.value.byMode : null },
    excerpt: f.aaStatus.ok ? f.aaStatus.excerpt : undefined,
  };
  if (f.apparmorEnabled !== 'Y') return res('fail', f.apparmorEnabled === null ? 'AppArmor is not in the kernel (/sys/module/apparmor missing)' : `AppArmor disabled (enabled=${f.apparmorEnabled})`, ev);
  if (f.lsm !== null && !f.lsm.split(',').includes('apparmor')) return res('fail', `AppArmor is not an active LSM (${f.lsm})`, ev);
  if (!f.aaStatus.ok) return res('error', f.aaStatus.reason, { ...ev, excerpt: f.aaStatus.excerpt });
  if ((profiles ?? 0) < min) return res('fail', `AppArmor is enabled but ${profiles} profile(s) are loaded: it confines nothing`, ev);
  return res('pass', `AppArmor enabled, ${profiles} profile(s) loaded (${Object.entries(f.aaStatus.value.byMode).map(([m, n]) => `${n} ${m}`).join(', ')})`, ev);
};

export function evaluate(f: AuditFacts, e: AuditExpect): Outcome[] {
  const units = f.units.ok ? new Map(f.units.value.map((u) => [u.Id, u])) : new Map<string, UnitState>();
  const checks: [CheckDef, string, Judge, boolean, string][] = [
    [CHECKS.enabled, 'kernel audit', enabled, e.audit !== false, 'audit not expected (audit: false)'],
    [CHECKS.rules, 'kernel audit', rules, e.audit !== false, 'audit not expected (audit: false)'],
    [CHECKS['rules-unit'], 'kernel audit', rulesUnit, e.audit !== false, 'audit not expected (audit: false)'],
    [CHECKS.auditd, 'auditd.service', auditd, e.auditd === true, 'auditd not expected (security.auditd.enable is separate; set auditd: true to require it)'],
    [CHECKS.apparmor, 'apparmor', apparmor, e.apparmor !== false, 'AppArmor not expected (apparmor: false)'],
  ];
  return checks.map(([def, subject, judge, wanted, why]) => {
    if (!wanted) return outcome(def, subject, 'skipped', why, { source: 'expectation audit' });
    if (f.platformLimit) return outcome(def, subject, 'skipped', `platform cannot provide this: ${f.platformLimit}`, { source: 'cat /proc/1/comm; systemd-detect-virt --container', observed: { pid1: f.pid1, virt: f.virt } });
    return judge(f, e, units);
  });
}

// --- plan (leafcert plan --from-nix) ---

/** What security.audit / auditd / apparmor declare. */
export function fromManifest(m: Manifest, cite: Cite): AuditExpect {
  const s = m.host.security;
  const a: AuditExpect = { audit: s.audit.enable !== false, auditd: s.auditd.enable, apparmor: s.apparmor.enable };
  cite(['audit', 'audit'], optionPath(s.audit.path, 'enable'));
  cite(['audit', 'auditd'], optionPath(s.auditd.path, 'enable'));
  cite(['audit', 'apparmor'], optionPath(s.apparmor.path, 'enable'));
  // Never rules suppress: they are not counted on the node, so not here either.
  const auditing = s.audit.rules.filter((r) => !neverRule(r));
  if (auditing.length) {
    a.minRules = auditing.length;
    cite(['audit', 'minRules'], optionPath(s.audit.path, 'rules'));
  }
  if (s.apparmor.enable && s.apparmor.policies.length) {
    a.minProfiles = s.apparmor.policies.length;
    cite(['audit', 'minProfiles'], optionPath(s.apparmor.path, 'policies'));
  }
  return a;
}

export const auditSuite: Suite<AuditExpect, AuditFacts> = {
  name: 'audit',
  key: 'audit',
  schema: SCHEMA,
  gather: (ctx) => gather(ctx),
  evaluate: (facts, expect) => evaluate(facts, expect ?? {}),
  checkIds: Object.values(CHECKS).map((c) => c.id),
  checks: Object.values(CHECKS),
  fromManifest,
};
