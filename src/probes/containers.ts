// The container locator: which nixos-containers a node has and the leader PID of each, as the node
// sees it, from what NixOS has (containers.sh, one exec): the per-container config files NixOS
// writes (/etc/nixos-containers/NAME.conf, or /etc/containers/NAME.conf before stateVersion 22.05),
// `machinectl show NAME -p Leader` (systemd registers every nspawn machine), and container@NAME's
// nspawn child when machined does not know one. Checks do not care which source answered: it is
// kept for evidence only.
import { probeScript, scriptCommand } from '../core/script.js';
import { ParseError, type Host } from '../core/types.js';
import { MARK, splitSections } from './sections.js';

export interface ContainerInfo {
  name: string;
  /** Leader PID in the node's numbering; undefined when the container is configured but not running. */
  leader?: number;
  /** Where the leader came from: machinectl or the container@NAME unit. */
  source?: string;
  /** KEY=VALUE of the NixOS container config file, when there is one. */
  conf?: Record<string, string>;
  confPath?: string;
}

export interface ContainerScan {
  containers: Map<string, ContainerInfo>;
  command: string;
  /** Raw output, for evidence excerpts. */
  raw: string;
}

const CONF_KEYS = /^(SYSTEM_PATH|AUTO_START|PRIVATE_NETWORK)=/m;

/** The command that locates a node's containers, as sent. */
export const LOCATE_COMMAND = scriptCommand(probeScript('containers.sh'), [MARK]);

export function parseConf(text: string, source: string): { conf: Record<string, string>; path?: string } {
  const conf: Record<string, string> = {};
  let path: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    if (line.startsWith('#path ')) {
      path = line.slice(6);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!m) throw new ParseError(source, `unexpected line "${line.slice(0, 80)}"`, text.slice(0, 300));
    conf[m[1]] = m[2].replace(/^"(.*)"$/, '$1');
  }
  return { conf, path };
}

/** Pure: the locator script's output → containers. */
export function parseLocate(output: string, command: string): ContainerScan {
  const secs = splitSections(output, 'container locator', ['machinectl']);
  const containers = new Map<string, ContainerInfo>();
  const get = (name: string) => {
    let c = containers.get(name);
    if (!c) containers.set(name, (c = { name }));
    return c;
  };
  for (const [key, sec] of secs) {
    if (!key.startsWith('conf.')) continue;
    const name = key.slice(5);
    if (!CONF_KEYS.test(sec.text)) continue;
    const { conf, path } = parseConf(sec.text, `container config of ${name}`);
    Object.assign(get(name), { conf, confPath: path });
  }
  const mc = secs.get('machinectl')!;
  if (mc.rc === 0) {
    for (const line of mc.text.split('\n')) {
      if (!line.trim()) continue;
      // "NAME LEADER" (LEADER empty when machined has none): anything else is not machinectl's answer,
      // and skipping it would make a running container look absent.
      const m = /^(\S+)\s+(\d*)\s*$/.exec(line.trim());
      if (!m) throw new ParseError('machinectl show NAME -p Leader', `unexpected line "${line.trim().slice(0, 80)}"`, mc.text.slice(0, 300));
      if (m[2]) Object.assign(get(m[1]), { leader: Number(m[2]), source: `machinectl show ${m[1]} -p Leader` });
    }
  }
  const units = secs.get('units');
  if (units && units.rc === 0) {
    for (const line of units.text.split('\n')) {
      const m = /^(\S+)\s+(\d+)$/.exec(line.trim());
      if (m && get(m[1]).leader === undefined) Object.assign(get(m[1]), { leader: Number(m[2]), source: `systemctl show container@${m[1]} -p MainPID (the nspawn child)` });
    }
  }
  return { containers, command, raw: output };
}

const cache = new WeakMap<Host, Promise<ContainerScan>>();

/** All containers of a node (configured or running), one exec, cached per Host for the run. */
export function scanContainers(host: Host, timeoutMs = 15_000): Promise<ContainerScan> {
  let p = cache.get(host);
  if (!p) {
    p = host.exec(LOCATE_COMMAND, { timeoutMs }).then((r) => parseLocate(r.stdout, 'container locator script (conf files, machinectl, container@NAME units)'));
    cache.set(host, p);
    // A failed scan must not poison later suites of the same run.
    p.catch(() => cache.delete(host));
  }
  return p;
}

/** The agreed interface: running containers → leader PID and the source it came from. */
export async function locateContainers(host: Host): Promise<Map<string, { leader: number; source: string }>> {
  const scan = await scanContainers(host);
  const out = new Map<string, { leader: number; source: string }>();
  for (const c of scan.containers.values()) if (c.leader !== undefined) out.set(c.name, { leader: c.leader, source: c.source! });
  return out;
}

/** Plain reason a named container cannot be inspected, or undefined when it has a leader. */
export function missingReason(scan: ContainerScan, name: string): string | undefined {
  const c = scan.containers.get(name);
  if (!c) {
    const known = [...scan.containers.keys()];
    return `container "${name}" does not exist on the node (no /etc/nixos-containers/${name}.conf, not known to machinectl)${known.length ? `; found: ${known.join(', ')}` : '; no containers found'}`;
  }
  if (c.leader === undefined) return `container "${name}" is configured (${c.confPath ?? 'conf file'}) but not running: no leader PID from machinectl or container@${name}.service`;
  return undefined;
}
