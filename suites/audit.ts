// Checklist "audit logging enabled" and the AppArmor half of "security hardening": kernel audit on
// with rules loaded, the NixOS rule loader succeeded, auditd running where expected, AppArmor on
// with policies (on without policies confines nothing). Where the node does not own its kernel
// view (the lab, a container) every check is skipped with that reason: never a pass.
import type { Outcome, Severity, Suite, SuiteContext } from '../src/core/types.js';
import { AUDIT_SCRIPT, parseAuditProbe, type AuditFacts, type UnitState } from '../src/probes/audit.js';

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
  const r = await ctx.host.exec(AUDIT_SCRIPT, { timeoutMs: Math.min(ctx.options.timeoutMs, 30_000) });
  return parseAuditProbe(r.stdout);
}

function o(id: string, title: string, subject: string, severity: Severity, checklist: string[], status: Outcome['status'], message: string, evidence: Outcome['evidence']): Outcome {
  return { id, title, subject, severity, status, message, evidence, checklist };
}

export function evaluate(f: AuditFacts, e: AuditExpect): Outcome[] {
  const out: Outcome[] = [];
  const AL = ['audit-logging'];
  const HD = ['hardening'];
  const units = f.units.ok ? new Map(f.units.value.map((u) => [u.Id, u])) : new Map<string, UnitState>();
  const unitLine = (u?: UnitState) => (u ? `${u.Id}: ${u.LoadState}/${u.ActiveState}${u.Result ? ` result=${u.Result}` : ''}${u.ExecMainStatus ? ` status=${u.ExecMainStatus}` : ''}` : 'absent');
  const checks: [string, string, Severity, string[], boolean, string][] = [
    ['audit.enabled', 'Kernel audit is enabled', 'high', AL, e.audit !== false, 'audit not expected (audit: false)'],
    ['audit.rules', 'Audit rules are loaded', 'high', AL, e.audit !== false, 'audit not expected (audit: false)'],
    ['audit.rules-unit', 'The audit rule loader succeeded', 'medium', AL, e.audit !== false, 'audit not expected (audit: false)'],
    ['audit.auditd', 'auditd is running', 'medium', AL, e.auditd === true, 'auditd not expected (security.auditd.enable is separate; set auditd: true to require it)'],
    ['audit.apparmor', 'AppArmor is enabled with policies loaded', 'high', HD, e.apparmor !== false, 'AppArmor not expected (apparmor: false)'],
  ];
  for (const [id, title, sev, cl, wanted, why] of checks) {
    const subject = id === 'audit.apparmor' ? 'apparmor' : id === 'audit.auditd' ? 'auditd.service' : 'kernel audit';
    if (!wanted) {
      out.push(o(id, title, subject, sev, cl, 'skipped', why, { source: 'expectation audit' }));
      continue;
    }
    if (f.platformLimit) {
      out.push(o(id, title, subject, sev, cl, 'skipped', `platform cannot provide this: ${f.platformLimit}`, { source: 'cat /proc/1/comm; systemd-detect-virt --container', observed: { pid1: f.pid1, virt: f.virt } }));
      continue;
    }
    out.push(judge(id, title, subject, sev, cl, f, e, units, unitLine));
  }
  return out;
}

function judge(
  id: string,
  title: string,
  subject: string,
  sev: Severity,
  cl: string[],
  f: AuditFacts,
  e: AuditExpect,
  units: Map<string, UnitState>,
  unitLine: (u?: UnitState) => string,
): Outcome {
  const res = (status: Outcome['status'], message: string, evidence: Outcome['evidence']) => o(id, title, subject, sev, cl, status, message, evidence);
  const cmdlineAudit = /(?:^|\s)audit=(\S+)/.exec(f.cmdline)?.[1];
  switch (id) {
    case 'audit.enabled': {
      if (!f.status.ok) return res('error', f.status.reason, { source: 'auditctl -s', excerpt: f.status.excerpt, observed: { cmdlineAudit: cmdlineAudit ?? null } });
      const ev = { source: `${f.auditctl} -s; /proc/cmdline`, expected: 'enabled 1 or 2', observed: { enabled: f.status.value.enabled, cmdlineAudit: cmdlineAudit ?? null }, excerpt: f.status.excerpt };
      return f.status.value.enabled >= 1
        ? res('pass', `kernel audit enabled (${f.status.value.enabled === 2 ? '2, locked' : '1'})`, ev)
        : res('fail', `kernel audit disabled (enabled 0${cmdlineAudit ? `, kernel command line audit=${cmdlineAudit}` : ', no audit= on the kernel command line'})`, ev);
    }
    case 'audit.rules': {
      if (!f.rules.ok) return res('error', f.rules.reason, { source: 'auditctl -l', excerpt: f.rules.excerpt });
      const min = e.minRules ?? 1;
      const ev = { source: `${f.auditctl} -l`, expected: `at least ${min} rule(s)`, observed: f.rules.value.slice(0, 20), excerpt: f.rules.excerpt };
      return f.rules.value.length >= min
        ? res('pass', `${f.rules.value.length} audit rule(s) loaded`, ev)
        : res('fail', f.rules.value.length ? `only ${f.rules.value.length} audit rule(s) loaded (min ${min})` : '"No rules": audit is on but nothing is audited (security.audit.rules is empty)', ev);
    }
    case 'audit.rules-unit': {
      if (!f.units.ok) return res('error', `cannot read units: ${f.units.reason}`, { source: 'systemctl show' });
      const loader = [units.get('audit-rules-nixos.service'), units.get('audit.service')].find((u) => u && u.LoadState === 'loaded');
      const ev = { source: 'systemctl show audit-rules-nixos.service audit.service', expected: 'loaded, Result=success', observed: [unitLine(units.get('audit-rules-nixos.service')), unitLine(units.get('audit.service'))], excerpt: f.units.excerpt };
      if (!loader) return res('fail', 'no rule-loading unit (audit-rules-nixos.service / audit.service): security.audit.enable is off', ev);
      if (loader.Result && loader.Result !== 'success') return res('fail', `${loader.Id} failed (result=${loader.Result}${loader.ExecMainStatus ? `, status ${loader.ExecMainStatus}` : ''}): rules were not loaded`, ev);
      if (loader.ActiveState === 'failed') return res('fail', `${loader.Id} is failed`, ev);
      return res('pass', `${loader.Id} ${loader.ActiveState}, result ${loader.Result ?? 'n/a'}`, ev);
    }
    case 'audit.auditd': {
      if (!f.units.ok) return res('error', `cannot read units: ${f.units.reason}`, { source: 'systemctl show' });
      const u = units.get('auditd.service');
      const pid = f.status.ok ? f.status.value.pid : undefined;
      const ev = { source: 'systemctl show auditd.service; auditctl -s (pid)', expected: 'auditd.service active, kernel audit pid ≠ 0', observed: { unit: unitLine(u), kernelAuditPid: pid ?? null } };
      if (!u || u.LoadState !== 'loaded') return res('fail', 'auditd.service does not exist (security.auditd.enable is off): events go to the journal only', ev);
      if (u.ActiveState !== 'active') return res('fail', `auditd.service is ${u.ActiveState}`, ev);
      if (pid === 0) return res('fail', 'auditd.service is active but the kernel has no audit daemon registered (pid 0)', ev);
      return res('pass', `auditd active${pid ? ` (pid ${pid})` : ''}`, ev);
    }
    default: {
      // AppArmor: module on, in the LSM list, and profiles loaded.
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
    }
  }
}

export const auditSuite: Suite<AuditExpect, AuditFacts> = {
  name: 'audit',
  key: 'audit',
  schema: SCHEMA,
  gather: (ctx) => gather(ctx),
  evaluate: (facts, expect) => evaluate(facts, expect ?? {}),
  checkIds: ['audit.enabled', 'audit.rules', 'audit.rules-unit', 'audit.auditd', 'audit.apparmor'],
};

