// sshd's effective configuration, kernel parameters and one bounded filesystem scan, in one exec
// (hardening.sh, run by gatherHardening; its sections parsed strictly into facts). Kernel
// parameters outside net.* are global: on something that is not a booted system of its own they
// are the host kernel's, so the probe records the platform and the suite says whose they are.
import { factMissing, factOk, type Fact } from '../core/fact.js';
import { probeScript, scriptCommand } from '../core/script.js';
import { ParseError, type Host } from '../core/types.js';
import { MARK, splitSections } from './sections.js';

export const HARDENING_SECTIONS = ['pid1', 'virt', 'sshd', 'sysctl', 'scan'];

/** `sshd -T`: lower-case keyword → its values (keywords such as hostkey or port repeat). */
export interface SshdConfig {
  binary: string;
  settings: Record<string, string[]>;
  /** The Match blocks of the configuration (sshd -T shows none of them): criteria and their own keyword → values, as written. */
  matches?: { criteria: string; settings: Record<string, string[]> }[];
}

/** Keywords every OpenSSH ≥ 7 prints with -T: without them the output is not sshd's. */
const SSHD_REQUIRED = ['passwordauthentication', 'permitrootlogin', 'ciphers', 'macs', 'kexalgorithms', 'maxauthtries'];

export function parseSshdT(text: string, source = 'sshd -T'): SshdConfig {
  const settings: Record<string, string[]> = {};
  const matches: NonNullable<SshdConfig['matches']> = [];
  let binary = 'sshd';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    if (line.startsWith('#sshd ')) {
      binary = line.slice(6);
      continue;
    }
    if (line.startsWith('#match ')) {
      matches.push({ criteria: line.slice(7), settings: {} });
      continue;
    }
    const set = /^#set ([a-z0-9]+) (.*)$/.exec(line);
    if (set && matches.length) {
      (matches[matches.length - 1].settings[set[1]] ??= []).push(set[2]);
      continue;
    }
    const m = /^([a-z0-9]+) (.*)$/.exec(line);
    if (!m) throw new ParseError(source, `unexpected line "${line.slice(0, 80)}"`, text.slice(0, 300));
    (settings[m[1]] ??= []).push(m[2]);
  }
  const missing = SSHD_REQUIRED.filter((k) => !(k in settings));
  if (missing.length) throw new ParseError(source, `no ${missing.join(', ')} in the output`, text.slice(0, 300));
  return { binary, settings, ...(matches.length ? { matches } : {}) };
}

/** Kernel parameters as read in one network namespace: value, or null when the kernel has none there. */
export interface SysctlRead {
  netns: string;
  values: Record<string, string | null>;
}

export function parseSysctls(text: string, keys: readonly string[], source = 'read /proc/sys'): SysctlRead {
  const values: Record<string, string | null> = {};
  let netns = '';
  for (const line of text.split('\n')) {
    if (!line) continue;
    if (line.startsWith('#netns ')) {
      netns = line.slice(7).trim();
      continue;
    }
    const tab = line.indexOf('\t');
    if (tab < 1) throw new ParseError(source, `unexpected line "${line.slice(0, 80)}"`, text.slice(0, 300));
    const v = line.slice(tab + 1).trim();
    values[line.slice(0, tab)] = v === '!missing' ? null : v;
  }
  const lost = keys.filter((k) => !(k in values));
  if (lost.length) throw new ParseError(source, `no line for ${lost.slice(0, 5).join(', ')}`, text.slice(0, 300));
  return { netns, values };
}

export interface ScanEntry {
  /** Octal mode bits as find prints them (%m), e.g. 4755. */
  mode: number;
  uid: number;
  gid: number;
  type: 'f' | 'd';
  path: string;
}

export interface ScanFacts {
  roots: string[];
  entries: ScanEntry[];
  elapsedMs: number;
  /** User + system CPU of the scan, from the shell's `times`. */
  cpuMs: number | null;
}

const dur = (s: string) => {
  const m = /^(\d+)m([\d.]+)s$/.exec(s);
  return m ? Number(m[1]) * 60_000 + Math.round(Number(m[2]) * 1000) : NaN;
};

/** The scan section: "#roots …", NUL-terminated "MODE UID GID TYPE<TAB>PATH" records, then its cost. */
export function parseScan(text: string, source = 'find'): ScanFacts {
  const cost = /^#cost elapsedMs=(\d+) rc=(\d+)$/m.exec(text);
  const rootsLine = /^#roots ?(.*)$/m.exec(text);
  if (!cost || !rootsLine) throw new ParseError(source, 'no #roots or #cost line: the scan did not finish', text.slice(0, 300));
  const times = /^#times\n\S+ \S+\n(\S+) (\S+)$/m.exec(text);
  const cpuMs = times ? dur(times[1]) + dur(times[2]) : NaN;
  const body = text.slice(rootsLine.index + rootsLine[0].length + 1, cost.index);
  const entries: ScanEntry[] = [];
  for (const rec of body.split('\0')) {
    const r = rec.replace(/^\n/, '');
    if (!r.trim()) continue;
    const m = /^([0-7]{3,4}) (\d+) (\d+) ([fd])\t(\/[\s\S]*)$/.exec(r);
    if (!m) throw new ParseError(source, `unexpected record "${r.slice(0, 80)}"`, text.slice(0, 300));
    entries.push({ mode: parseInt(m[1], 8), uid: Number(m[2]), gid: Number(m[3]), type: m[4] as 'f' | 'd', path: m[5] });
  }
  return { roots: rootsLine[1].split(' ').filter(Boolean), entries, elapsedMs: Number(cost[1]), cpuMs: Number.isNaN(cpuMs) ? null : cpuMs };
}

export interface HardeningFacts {
  pid1: string;
  virt: string;
  /** Why global kernel parameters here are not this node's own, or null when they are. */
  platformLimit: string | null;
  sshd: Fact<SshdConfig>;
  sysctl: Fact<SysctlRead>;
  scan: Fact<ScanFacts>;
}

/** Why global kernel state is not this node's own, from PID 1 and the container check. */
export function kernelOwner(pid1: string, virt: string): string | null {
  if (pid1 !== 'systemd') return `PID 1 is "${pid1 || '?'}", not systemd: not a booted NixOS system of its own, so global kernel parameters here are another kernel owner's`;
  if (virt && virt !== 'none' && virt !== 'unknown') return `running in a container (${virt}): global kernel parameters belong to the host (boot.kernel.sysctl of the host sets them)`;
  return null;
}

export interface HardeningRequest {
  keys: string[];
  roots: string[];
  prune: string[];
  /** Paths (and below) where only setuid/setgid files are reported: temp dirs, world-writable by design. */
  suidOnly?: string[];
  /** find's time limit, seconds. */
  limitSec: number;
}

export function hardeningCommand(req: HardeningRequest): string {
  return scriptCommand(probeScript('hardening.sh'), [MARK, req.keys.join(' '), req.roots.join(' '), req.prune.join(' '), req.limitSec, (req.suidOnly ?? []).join(' ')]);
}

/** How the script's sections become facts; `req` says what was asked (a key without a line is garbled output). */
export function parseHardeningProbe(output: string, req: HardeningRequest): HardeningFacts {
  const s = splitSections(output, 'hardening probe', HARDENING_SECTIONS);
  const sec = (k: string) => s.get(k)!;
  const pid1 = sec('pid1').text.trim();
  const virt = sec('virt').text.trim().split('\n').at(-1) ?? '';
  const sshdSec = sec('sshd');
  const sshdSource = 'sshd -T -f /etc/ssh/sshd_config';
  let sshd: Fact<SshdConfig>;
  if (sshdSec.rc === 127) sshd = factMissing('sshd not found on the node (not on PATH, /run/current-system/sw/bin or /usr/sbin)', sshdSource);
  else if (sshdSec.rc !== 0) {
    const why = (sshdSec.stderr || sshdSec.text).trim().split('\n').filter((l) => !l.startsWith('#sshd ')).join('; ').slice(0, 200);
    sshd = factMissing(`sshd -T failed (rc ${sshdSec.rc}): ${why || 'no message'}${/host ?key|Permission denied|privilege separation/i.test(why) ? ' (sshd -T needs root: run as root or give the user the right to run it)' : ''}`, sshdSource, why);
  } else {
    try {
      sshd = factOk(parseSshdT(sshdSec.text, sshdSource), sshdSource, sshdSec.text.slice(0, 400));
    } catch (e) {
      sshd = factMissing((e as Error).message, sshdSource, sshdSec.text.slice(0, 300));
    }
  }
  const sy = sec('sysctl');
  let sysctl: Fact<SysctlRead>;
  try {
    sysctl = sy.rc === 0 ? factOk(parseSysctls(sy.text, req.keys), 'read /proc/sys/…') : factMissing(`reading /proc/sys failed (rc ${sy.rc}): ${sy.stderr.slice(0, 200)}`, 'read /proc/sys/…');
  } catch (e) {
    sysctl = factMissing((e as Error).message, 'read /proc/sys/…', sy.text.slice(0, 300));
  }
  const sc = sec('scan');
  const scanSource = `find ${req.roots.join(' ')} -xdev (pruned: ${req.prune.join(' ') || 'none'}${req.suidOnly?.length ? `; setuid/setgid only: ${req.suidOnly.join(' ')}` : ''})`;
  let scan: Fact<ScanFacts>;
  const denied = sc.stderr.split('\n').filter((l) => /Permission denied/.test(l));
  if (sc.rc === 124) scan = factMissing(`the scan did not finish within its ${req.limitSec} s bound: nothing judged (narrow the roots or raise scanTimeout)`, scanSource);
  else if (denied.length) scan = factMissing(`the scan could not read ${denied.length} path(s) (${denied[0].slice(0, 120)}): incomplete, not judged (run as root)`, scanSource, sc.stderr.slice(0, 300));
  else if (sc.rc !== 0 && !/^#cost /m.test(sc.text)) scan = factMissing(`find failed (rc ${sc.rc}): ${sc.stderr.slice(0, 200)}`, scanSource, sc.stderr.slice(0, 300));
  else {
    try {
      scan = factOk(parseScan(sc.text, scanSource), scanSource);
      // A find that ran but exited non-zero for another reason (vanished files during the walk are harmless).
      if (sc.rc !== 0 && !/No such file or directory/.test(sc.stderr)) scan = factMissing(`find exited ${sc.rc}: ${sc.stderr.slice(0, 200)}`, scanSource, sc.stderr.slice(0, 300));
    } catch (e) {
      scan = factMissing((e as Error).message, scanSource, sc.text.slice(0, 300));
    }
  }
  return { pid1, virt, platformLimit: kernelOwner(pid1, virt), sshd, sysctl, scan };
}

/** One round trip; the exec is bounded by the scan's limit plus slack, or the run's timeout if shorter. */
export async function gatherHardening(host: Host, req: HardeningRequest, timeoutMs: number): Promise<HardeningFacts> {
  const r = await host.exec(hardeningCommand(req), { timeoutMs: Math.min(timeoutMs, req.limitSec * 1000 + 15_000) });
  return parseHardeningProbe(r.stdout, req);
}
