// Declared tuning as it runs: kernel parameters in the node's network namespace and in the named
// containers' (tuning.sh, one exec; the container locator first, only when containers are named),
// and units' LimitNOFILE with their main process's open-files limit. Parsed strictly.
import { factMissing, factOk, type Fact } from '../core/fact.js';
import { probeScript, scriptCommand } from '../core/script.js';
import { ParseError, type Host } from '../core/types.js';
import { MARK, splitSections } from './sections.js';
import { parseSysctls, kernelOwner, type SysctlRead } from './hardening.js';
import { missingReason, scanContainers } from './containers.js';
import { parseSystemctlShow, requireProps } from './systemd.js';

export interface UnitNofile {
  unit: string;
  loadState: string;
  activeState: string;
  /** systemd's LimitNOFILE (hard) and LimitNOFILESoft, as printed (a number or "infinity"). */
  hard: string;
  soft: string;
  mainPid: number;
}

/** One "Max open files" line of /proc/PID/limits: soft and hard ("unlimited" or a number). */
export interface ProcNofile {
  pid: number;
  soft: string;
  hard: string;
}

export interface TuningFacts {
  pid1: string;
  virt: string;
  platformLimit: string | null;
  sysctl: Fact<SysctlRead>;
  containers: Record<string, Fact<SysctlRead>>;
  units: Fact<UnitNofile[]> | null;
  /** unit → its main process's limit; absent when the unit has no running main process. */
  limits: Record<string, ProcNofile | 'gone'>;
}

export interface TuningRequest {
  keys: string[];
  containers: Record<string, string[]>;
  units: string[];
}

export function parseUnitNofile(text: string, count: number, source = 'systemctl show'): UnitNofile[] {
  const blocks = requireProps(parseSystemctlShow(text, source), ['Id', 'LoadState', 'LimitNOFILE', 'LimitNOFILESoft', 'MainPID'], source, { count });
  return blocks.map((b) => {
    if (!/^\d+$/.test(b.MainPID)) throw new ParseError(source, `MainPID "${b.MainPID}" is not a number`, text.slice(0, 300));
    return { unit: b.Id, loadState: b.LoadState, activeState: b.ActiveState ?? '', hard: b.LimitNOFILE, soft: b.LimitNOFILESoft, mainPid: Number(b.MainPID) };
  });
}

/** "#pid UNIT PID" then "Max open files  SOFT  HARD  files" (or "!gone") per running unit. */
export function parseProcLimits(text: string, source = '/proc/PID/limits'): Record<string, ProcNofile | 'gone'> {
  const out: Record<string, ProcNofile | 'gone'> = {};
  const lines = text.split('\n').filter((l) => l.trim());
  for (let i = 0; i < lines.length; i++) {
    const h = /^#pid (\S+) (\d+)$/.exec(lines[i]);
    if (!h) throw new ParseError(source, `unexpected line "${lines[i].slice(0, 80)}"`, text.slice(0, 300));
    const next = lines[++i] ?? '';
    if (next === '!gone') {
      out[h[1]] = 'gone';
      continue;
    }
    const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)\s+files\s*$/.exec(next);
    if (!m) throw new ParseError(source, `no "Max open files" line for ${h[1]}`, text.slice(0, 300));
    out[h[1]] = { pid: Number(h[2]), soft: m[1], hard: m[2] };
  }
  return out;
}

export function tuningCommand(req: TuningRequest, leaders: Record<string, number>): string {
  const lines = Object.entries(req.containers).filter(([n]) => leaders[n]).map(([n, keys]) => [n, leaders[n], ...keys].join(' '));
  return scriptCommand(probeScript('tuning.sh'), [MARK, req.keys.join(' '), lines.join('\n'), req.units.join(' ')]);
}

export function parseTuningProbe(output: string, req: TuningRequest, leaders: Record<string, number>, missing: Record<string, string> = {}): TuningFacts {
  const ctrs = Object.keys(req.containers).filter((n) => leaders[n]);
  const s = splitSections(output, 'tuning probe', ['pid1', 'virt', 'sysctl', ...ctrs.map((n) => `ctr.${n}`), ...(req.units.length ? ['nofile', 'limits'] : [])]);
  const sec = (k: string) => s.get(k)!;
  const pid1 = sec('pid1').text.trim();
  const virt = sec('virt').text.trim().split('\n').at(-1) ?? '';
  const read = (k: string, keys: string[], source: string): Fact<SysctlRead> => {
    const x = sec(k);
    if (x.rc !== 0) return factMissing(`${source} failed (rc ${x.rc}): ${(x.text + x.stderr).trim().slice(0, 200)}`, source);
    try {
      return factOk(parseSysctls(x.text, keys, source), source);
    } catch (e) {
      return factMissing((e as Error).message, source, x.text.slice(0, 300));
    }
  };
  const containers: Record<string, Fact<SysctlRead>> = {};
  for (const [n, keys] of Object.entries(req.containers)) {
    const source = `nsenter --net=/proc/LEADER/ns/net bash: /proc/sys/… read in its namespace (container ${n})`;
    containers[n] = leaders[n] ? read(`ctr.${n}`, keys, source.replace('LEADER', String(leaders[n]))) : factMissing(missing[n] ?? `container ${n} not found`, source);
  }
  let units: Fact<UnitNofile[]> | null = null;
  let limits: Record<string, ProcNofile | 'gone'> = {};
  if (req.units.length) {
    const src = `systemctl show -p LimitNOFILE,LimitNOFILESoft,MainPID ${req.units.join(' ')}`;
    const u = sec('nofile');
    if (u.rc === 3) units = factMissing(`no systemd on this node (PID 1 is "${pid1}"): units and their LimitNOFILE do not exist here`, src);
    else if (u.rc !== 0) units = factMissing(`systemctl show failed (rc ${u.rc}): ${u.stderr.slice(0, 200)}`, src);
    else {
      try {
        units = factOk(parseUnitNofile(u.text, req.units.length, src), src, u.text.slice(0, 400));
        limits = parseProcLimits(sec('limits').text);
      } catch (e) {
        units = factMissing((e as Error).message, src, u.text.slice(0, 300));
      }
    }
  }
  return { pid1, virt, platformLimit: kernelOwner(pid1, virt), sysctl: read('sysctl', req.keys, 'cat /proc/sys/…'), containers, units, limits };
}

/** The container locator when containers are named (cached per run), then one exec. */
export async function gatherTuning(host: Host, req: TuningRequest, timeoutMs: number): Promise<TuningFacts> {
  const leaders: Record<string, number> = {};
  const missing: Record<string, string> = {};
  if (Object.keys(req.containers).length) {
    const scan = await scanContainers(host, Math.min(timeoutMs, 15_000));
    for (const n of Object.keys(req.containers)) {
      const why = missingReason(scan, n);
      if (why) missing[n] = why;
      else leaders[n] = scan.containers.get(n)!.leader!;
    }
  }
  const r = await host.exec(tuningCommand(req, leaders), { timeoutMs: Math.min(timeoutMs, 30_000) });
  return parseTuningProbe(r.stdout, req, leaders, missing);
}
