// audit suite: each finding fails on fixture output shaped like NixOS's (auditctl, systemctl show,
// aa-status --json), a healthy node passes, and a platform that does not own its kernel view
// (the lab, this CI machine) is skipped with the reason, never passed.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalHost } from '../src/transport/local.js';
import type { NodeSpec } from '../src/core/types.js';
import { parseAaStatus, parseAuditProbe, parseAuditRules, parseAuditStatus, platformLimit } from '../src/probes/audit.js';
import { MARK } from '../src/probes/sections.js';
import { auditSuite, evaluate, type AuditExpect } from '../suites/audit.js';

const fx = (f: string) => readFileSync(join(__dirname, '..', 'fixtures', 'audit', f), 'utf8').replace(/\n$/, '');

/** Probe output in the sections format, with a healthy NixOS node as default. */
function probe(over: Record<string, { text: string; rc?: number }> = {}): string {
  const parts: Record<string, { text: string; rc?: number }> = {
    pid1: { text: 'systemd' },
    virt: { text: 'none', rc: 1 },
    auditctl: { text: '/run/current-system/sw/bin/auditctl' },
    status: { text: fx('auditctl-s-enabled.txt') },
    rules: { text: fx('auditctl-l-rules.txt') },
    units: { text: fx('systemctl-show-ok.txt') },
    cmdline: { text: 'initrd=\\EFI\\nixos\\initrd.efi init=/nix/store/x-nixos-system/init audit=1 audit_backlog_limit=8192 apparmor=1 security=apparmor' },
    'aa-enabled': { text: 'Y' },
    lsm: { text: 'lockdown,capability,landlock,yama,apparmor,bpf' },
    'aa-status': { text: fx('aa-status-profiles.json') },
    ...over,
  };
  return Object.entries(parts).map(([k, v]) => `${MARK} ${k}\n${v.text}\n${MARK}-rc ${k} ${v.rc ?? 0}\n`).join('');
}
const FULL: AuditExpect = { audit: true, auditd: true, apparmor: true };
const by = (os: ReturnType<typeof evaluate>, id: string) => os.find((o) => o.id === id)!;

describe('audit parsers', () => {
  it('reads auditctl -s in both formats, auditctl -l, aa-status --json', () => {
    expect(parseAuditStatus(fx('auditctl-s-enabled.txt'))).toMatchObject({ enabled: 1, pid: 812, backlogLimit: 8192 });
    expect(parseAuditStatus(fx('auditctl-s-old.txt'))).toMatchObject({ enabled: 2, pid: 0 });
    expect(parseAuditRules(fx('auditctl-l-none.txt'))).toEqual([]);
    expect(parseAuditRules(fx('auditctl-l-rules.txt'))).toHaveLength(3);
    expect(parseAaStatus(fx('aa-status-profiles.json')).byMode).toEqual({ enforce: 2, complain: 1 });
    expect(() => parseAuditStatus('garbage')).toThrow(/no "enabled"/);
    expect(() => parseAuditRules('You must be root to run this program.')).toThrow(/unexpected line/);
    expect(() => parseAaStatus('apparmor module is not loaded.')).toThrow(/not JSON/);
  });
  it('knows when the kernel view is not the node\'s own', () => {
    expect(platformLimit('systemd', 'none')).toBeNull();
    expect(platformLimit('leafcert-init', 'unknown')).toMatch(/not systemd/);
    expect(platformLimit('systemd', 'systemd-nspawn')).toMatch(/container/);
  });
});

describe('audit evaluate', () => {
  it('passes a healthy node, every check with evidence', () => {
    const os = evaluate(parseAuditProbe(probe()), FULL);
    expect(os.map((o) => o.id).sort()).toEqual([...auditSuite.checkIds].sort());
    for (const o of os) {
      expect(o.status, `${o.id}: ${o.message}`).toBe('pass');
      expect(o.evidence.source).toBeTruthy();
    }
    expect(by(os, 'audit.apparmor').checklist).toEqual(['hardening']);
    expect(by(os, 'audit.enabled').checklist).toEqual(['audit-logging']);
  });
  it('enabled 0 fails', () => {
    const o = by(evaluate(parseAuditProbe(probe({ status: { text: fx('auditctl-s-disabled.txt') }, cmdline: { text: 'init=/nix/store/x/init' } })), FULL), 'audit.enabled');
    expect(o.status).toBe('fail');
    expect(o.message).toMatch(/disabled \(enabled 0, no audit= on the kernel command line\)/);
  });
  it('"No rules" fails', () => {
    const o = by(evaluate(parseAuditProbe(probe({ rules: { text: 'No rules' } })), FULL), 'audit.rules');
    expect(o.status).toBe('fail');
    expect(o.message).toMatch(/No rules/);
  });
  it('red team B A2: never rules suppress and are not counted; -a never,task fails whatever else is loaded', () => {
    const judge = (text: string, minRules?: number) => by(evaluate(parseAuditProbe(probe({ rules: { text } })), { ...FULL, ...(minRules ? { minRules } : {}) }), 'audit.rules');
    expect(judge('-a never,task')).toMatchObject({ status: 'fail', message: '"-a never,task" is loaded: no task gets syscall auditing, so nothing is audited' });
    expect(judge('-a never,task\n-a always,exit -F arch=b64 -S execve')).toMatchObject({ status: 'fail', message: expect.stringMatching(/the 1 other rule\(s\) never match/) });
    expect(judge('-a never,exit -F arch=b64 -S adjtimex')).toMatchObject({ status: 'fail', message: expect.stringMatching(/^only never rules are loaded/) });
    expect(judge('-a never,exit -F arch=b64 -S adjtimex\n-a always,exit -F arch=b64 -S execve\n-w /etc/passwd -p wa -k identity', 2)).toMatchObject({ status: 'pass', message: '2 audit rule(s) loaded (and 1 never rule(s), which suppress)' });
    expect(judge('-a exit,never -F arch=b64 -S adjtimex\n-a always,exit -F arch=b64 -S execve', 2).status).toBe('fail');
  });
  it('a failed rule loader fails, and a missing one too', () => {
    let o = by(evaluate(parseAuditProbe(probe({ units: { text: fx('systemctl-show-rules-failed.txt') } })), FULL), 'audit.rules-unit');
    expect(o.status).toBe('fail');
    expect(o.message).toMatch(/audit-rules-nixos.service failed \(result=exit-code, status 255\)/);
    const none = fx('systemctl-show-ok.txt').replace(/Id=audit-rules-nixos.service\nLoadState=loaded/, 'Id=audit-rules-nixos.service\nLoadState=not-found');
    o = by(evaluate(parseAuditProbe(probe({ units: { text: none } })), FULL), 'audit.rules-unit');
    expect(o.message).toMatch(/security.audit.enable is off/);
  });
  it('auditd missing or unregistered fails when expected, is skipped when not', () => {
    const noAuditd = fx('systemctl-show-ok.txt').replace(/Id=auditd.service\nLoadState=loaded\nActiveState=active/, 'Id=auditd.service\nLoadState=not-found\nActiveState=inactive');
    expect(by(evaluate(parseAuditProbe(probe({ units: { text: noAuditd } })), FULL), 'audit.auditd').status).toBe('fail');
    expect(by(evaluate(parseAuditProbe(probe({ status: { text: fx('auditctl-s-enabled.txt').replace('pid 812', 'pid 0') } })), FULL), 'audit.auditd').message).toMatch(/pid 0/);
    expect(by(evaluate(parseAuditProbe(probe()), { audit: true }), 'audit.auditd').status).toBe('skipped');
  });
  it('AppArmor enabled with no profiles fails (rc 2 or empty JSON), disabled fails', () => {
    for (const aa of [{ text: fx('aa-status-empty.json') }, { text: '', rc: 2 }]) {
      const o = by(evaluate(parseAuditProbe(probe({ 'aa-status': aa })), FULL), 'audit.apparmor');
      expect(o.status).toBe('fail');
      expect(o.message).toMatch(/0 profile\(s\) are loaded: it confines nothing/);
    }
    const off = by(evaluate(parseAuditProbe(probe({ 'aa-enabled': { text: 'cat: /sys/module/apparmor/parameters/enabled: No such file or directory', rc: 1 } })), FULL), 'audit.apparmor');
    expect(off.status).toBe('fail');
    expect(off.message).toMatch(/not in the kernel/);
    expect(by(evaluate(parseAuditProbe(probe({ 'aa-enabled': { text: 'N' } })), FULL), 'audit.apparmor').message).toMatch(/disabled/);
  });
  it('a missing auditctl is an error, not a pass', () => {
    const os = evaluate(parseAuditProbe(probe({ auditctl: { text: 'auditctl not found', rc: 127 }, status: { text: '', rc: 1 }, rules: { text: '', rc: 1 } })), FULL);
    expect(by(os, 'audit.enabled').status).toBe('error');
    expect(by(os, 'audit.enabled').message).toMatch(/auditctl not found/);
    expect(by(os, 'audit.rules').status).toBe('error');
  });
  it('a platform without its own kernel view skips every check with the reason', () => {
    const os = evaluate(parseAuditProbe(probe({ pid1: { text: 'leafcert-init' } })), FULL);
    for (const o of os) {
      expect(o.status).toBe('skipped');
      expect(o.message).toMatch(/platform cannot provide this: PID 1 is "leafcert-init", not systemd/);
    }
  });
  it.skipIf(readFileSync('/proc/1/comm', 'utf8').trim() === 'systemd')('on this machine (no systemd as PID 1) the real probe skips, never passes', async () => {
    const host = new LocalHost('local-test');
    const node: NodeSpec = { name: 'local-test', transport: 'local', ssh: { user: 'root', port: 22, connectTimeoutMs: 1000 }, expect: 'x' };
    const f = await auditSuite.gather({ node, host, identity: {}, options: { allowMutating: false, timeoutMs: 20_000, baseDir: '/' }, progress: () => {} }, FULL);
    const os = auditSuite.evaluate(f, FULL, { node, identity: {}, options: { allowMutating: false, timeoutMs: 1, baseDir: '/' }, now: new Date() });
    expect(os).toHaveLength(5);
    for (const o of os) expect(o.status).toBe('skipped');
  });
});
