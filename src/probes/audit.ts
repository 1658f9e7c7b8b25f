// Kernel audit (auditctl), the NixOS rule-loading unit, auditd and AppArmor, in one exec
// (audit.sh, run by gatherAudit; its sections parsed strictly into facts).
// The kernel's audit and LSM state is global, not per namespace: on something that is not a
// booted system of its own (PID 1 not systemd, or a container) it describes the host, so the
// probe records the platform and the checks skip rather than credit the node with the host's state.
import { factMissing, factOk, type Fact } from '../core/fact.js';
import { probeScript, scriptCommand } from '../core/script.js';
import { ParseError, type Host } from '../core/types.js';
import { MARK, splitSections } from './sections.js';
import { parseSystemctlShow, requireProps } from './systemd.js';

export const AUDIT_UNITS = ['audit-rules-nixos.service', 'audit.service', 'auditd.service', 'apparmor.service'];

/** The command that prints the audit probe's sections (audit.sh), as sent. */
export const AUDIT_SCRIPT = scriptCommand(probeScript('audit.sh'), [MARK, ...AUDIT_UNITS]);

export const AUDIT_SECTIONS = ['pid1', 'virt', 'auditctl', 'status', 'rules', 'units', 'cmdline', 'aa-enabled', 'lsm', 'aa-status'];

export interface AuditStatus {
  /** 0 off, 1 on, 2 on and locked. */
  enabled: number;
  /** Audit daemon PID as the kernel knows it (0: no auditd). */
  pid: number;
  backlogLimit?: number;
  lost?: number;
}

/** `auditctl -s`: `enabled 1` lines (audit ≥ 2.5) or the old `AUDIT_STATUS: enabled=1 ... pid=0` form. */
export function parseAuditStatus(text: string, source = 'auditctl -s'): AuditStatus {
  const kv: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+) (\S+)/.exec(line.trim());
    if (m) kv[m[1]] = m[2];
  }
  const old = /AUDIT_STATUS:(.*)$/m.exec(text);
  if (old) for (const m of old[1].matchAll(/([a-z_]+)=(\S+)/g)) kv[m[1]] = m[2];
  if (!('enabled' in kv) || !/^\d+$/.test(kv.enabled)) throw new ParseError(source, 'no "enabled" value', text.slice(0, 300));
  const num = (k: string) => (k in kv && /^\d+$/.test(kv[k]) ? Number(kv[k]) : undefined);
  return { enabled: Number(kv.enabled), pid: num('pid') ?? 0, backlogLimit: num('backlog_limit'), lost: num('lost') };
}

/** `auditctl -l`: one rule per line, or the single line "No rules". */
export function parseAuditRules(text: string, source = 'auditctl -l'): string[] {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  if (lines.length === 1 && lines[0] === 'No rules') return [];
  const bad = lines.find((l) => !l.startsWith('-'));
  if (bad) throw new ParseError(source, `unexpected line "${bad.slice(0, 80)}"`, text.slice(0, 300));
  return lines;
}

export interface AppArmorStatus {
  profiles: Record<string, string>;
  /** Mode → count (enforce, complain, kill, unconfined...). */
  byMode: Record<string, number>;
  processes: number;
}

/** `aa-status --json`: `{"version": "1"|"2", "profiles": {name: mode}, "processes": {exe: [...]}}`. */
export function parseAaStatus(text: string, source = 'aa-status --json'): AppArmorStatus {
  let j: any;
  try {
    j = JSON.parse(text);
  } catch {
    throw new ParseError(source, 'output is not JSON', text.slice(0, 300));
  }
  if (!j || typeof j.profiles !== 'object' || j.profiles === null || Array.isArray(j.profiles)) {
    throw new ParseError(source, 'no "profiles" object', text.slice(0, 300));
  }
  const byMode: Record<string, number> = {};
  for (const mode of Object.values(j.profiles)) byMode[String(mode)] = (byMode[String(mode)] ?? 0) + 1;
  const processes = j.processes && typeof j.processes === 'object' ? Object.values(j.processes).reduce((n: number, v) => n + (Array.isArray(v) ? v.length : 0), 0) : 0;
  return { profiles: j.profiles, byMode, processes };
}

export interface UnitState {
  Id: string;
  LoadState: string;
  ActiveState: string;
  SubState?: string;
  Result?: string;
  ExecMainStatus?: string;
}

/** Blank-line separated `systemctl show -p ...` blocks, strictly: one per unit asked, each with Id/LoadState/ActiveState. */
export function parseShowBlocks(text: string, source = 'systemctl show'): UnitState[] {
  return requireProps(parseSystemctlShow(text, source), ['Id', 'LoadState', 'ActiveState'], source, { count: AUDIT_UNITS.length }) as unknown as UnitState[];
}

export interface AuditFacts {
  pid1: string;
  virt: string;
  /** Why kernel-level facts do not describe this node, or null when they do. */
  platformLimit: string | null;
  auditctl: string | null;
  status: Fact<AuditStatus>;
  rules: Fact<string[]>;
  units: Fact<UnitState[]>;
  cmdline: string;
  apparmorEnabled: string | null;
  lsm: string | null;
  aaStatus: Fact<AppArmorStatus>;
}

/** Why the kernel's audit/LSM state is not this node's own, from PID 1 and the container check. */
export function platformLimit(pid1: string, virt: string): string | null {
  if (pid1 !== 'systemd') {
    return `PID 1 is "${pid1 || '?'}", not systemd: not a booted NixOS system of its own (an emulated node); kernel audit and AppArmor are not namespaced, so what they show here is the host kernel's state`;
  }
  if (virt && virt !== 'none' && virt !== 'unknown') {
    return `running in a container (${virt}): kernel audit and AppArmor belong to the host, and NixOS's audit units skip containers (ConditionVirtualization=!container)`;
  }
  return null;
}

/** The command behind each parsed section, for a fact's source. */
const SOURCE: Record<string, string> = { status: 'auditctl -s', rules: 'auditctl -l', units: `systemctl show ${AUDIT_UNITS.join(' ')}`, 'aa-status': 'aa-status --json' };

export function parseAuditProbe(output: string): AuditFacts {
  const s = splitSections(output, 'audit probe', AUDIT_SECTIONS);
  const sec = (k: string) => s.get(k)!;
  const pid1 = sec('pid1').text.trim();
  const virt = sec('virt').text.trim().split('\n').at(-1) ?? '';
  const a = sec('auditctl');
  const auditctl = a.rc === 0 ? a.text.trim() : null;
  const tryParse = <T>(k: string, parse: (t: string) => T, missing: string): Fact<T> => {
    const x = sec(k);
    const source = SOURCE[k] ?? k;
    if (!auditctl && (k === 'status' || k === 'rules')) return factMissing(missing, source);
    if (x.rc !== 0) return factMissing(`${k === 'status' ? 'auditctl -s' : k === 'rules' ? 'auditctl -l' : k} failed (rc ${x.rc}): ${x.text.trim().slice(0, 200)}`, source, x.text.slice(0, 300));
    try {
      return factOk(parse(x.text), source, x.text.slice(0, 400));
    } catch (e) {
      return factMissing((e as Error).message, source, x.text.slice(0, 300));
    }
  };
  const units = sec('units');
  const aa = sec('aa-status');
  const file = (k: string) => (sec(k).rc === 0 ? sec(k).text.trim() : null);
  return {
    pid1,
    virt,
    platformLimit: platformLimit(pid1, virt),
    auditctl,
    status: tryParse('status', (t) => parseAuditStatus(t), 'auditctl not found (not on PATH, not in /run/current-system/sw/bin, not in the rule-loading unit)'),
    rules: tryParse('rules', (t) => parseAuditRules(t), 'auditctl not found'),
    units: units.rc === 3 ? factMissing('no systemd', SOURCE.units) : tryParse('units', (t) => parseShowBlocks(t), ''),
    cmdline: sec('cmdline').text.trim(),
    apparmorEnabled: file('aa-enabled'),
    lsm: file('lsm'),
    // aa-status exits 2 when AppArmor is on but no policy is loaded: that is a fact, not a failure to read.
    aaStatus:
      aa.rc === 2
        ? factOk({ profiles: {}, byMode: {}, processes: 0 }, SOURCE['aa-status'], `rc 2 (no policy loaded) ${aa.text.slice(0, 200)}`)
        : aa.rc === 127
          ? factMissing('aa-status not found on the node', SOURCE['aa-status'])
          : aa.rc !== 0
            ? factMissing(`aa-status --json failed (rc ${aa.rc}): ${aa.text.trim().slice(0, 200)}`, SOURCE['aa-status'], aa.text.slice(0, 300))
            : tryParse('aa-status', (t) => parseAaStatus(t), ''),
  };
}

/** One round trip (audit.sh), bounded by 30 s or the run's timeout if shorter; parsed strictly. */
export async function gatherAudit(host: Host, timeoutMs: number): Promise<AuditFacts> {
  const r = await host.exec(AUDIT_SCRIPT, { timeoutMs: Math.min(timeoutMs, 30_000) });
  return parseAuditProbe(r.stdout);
}
