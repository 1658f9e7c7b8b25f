// What an ssh node needs before anything connects: a host that is a name or an address, a key file
// that can be read, a known_hosts file (or the opt-in to start one). Each is an inventory mistake
// (exit 2, located at the key that says it), not an error result per check after the connection
// attempt; a host such as `1.2.3.4;touch x` is never handed to a resolver.
import { accessSync, constants, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname } from 'node:path';
import type { NodeSpec } from '../core/types.js';
import { formatPath, type InventoryProblem } from './errors.js';

type Locate = (segs: (string | number)[]) => { line: number; col: number } | undefined;

/** An IPv4/IPv6 address, or a hostname of RFC 1123 labels (letters, digits, inner hyphens). */
export function isHostOrAddress(host: string): boolean {
  if (isIP(host)) return true;
  const name = host.endsWith('.') ? host.slice(0, -1) : host;
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.split('.');
  if (!labels.every((l) => /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l))) return false;
  // An all-digit last label is a mistyped address (999.1.1.1, 10.0.1), which resolvers read as a number.
  return !/^\d+$/.test(labels[labels.length - 1]);
}

function nodeList(names: string[]): string {
  const shown = names.slice(0, 5).join(', ');
  const more = names.length > 5 ? ` and ${names.length - 5} more` : '';
  return names.length === 1 ? `node ${shown}` : `nodes ${shown}${more}`;
}

/** Why a path cannot be used as a file to read, or undefined when it can. */
function unreadable(file: string, wantRegular: boolean): { missing: boolean; why: string } | undefined {
  let st;
  try {
    st = statSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { missing: true, why: 'does not exist' };
    if (code === 'ENOTDIR') return { missing: true, why: 'does not exist (a parent is not a directory)' };
    return { missing: false, why: `cannot be read (${code ?? (e as Error).message})` };
  }
  if (st.isDirectory()) return { missing: false, why: 'is a directory' };
  if (wantRegular && !st.isFile()) return { missing: false, why: 'is not a regular file' };
  try {
    accessSync(file, constants.R_OK);
  } catch {
    return { missing: false, why: 'is not readable (permission denied)' };
  }
  return undefined;
}

/** Why `file` cannot be created, or undefined when its directory exists (or can be made) and is writable. */
function notCreatable(file: string): string | undefined {
  let dir = dirname(file);
  for (;;) {
    try {
      if (!statSync(dir).isDirectory()) return `${dir} is not a directory`;
      break;
    } catch {
      const up = dirname(dir);
      if (up === dir) return `no directory of it exists`;
      dir = up;
    }
  }
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    return `${dir} is not writable`;
  }
  return undefined;
}

interface Use {
  file: string;
  segs: (string | number)[];
  nodes: string[];
}

/** Groups the nodes by the inventory key their file comes from, so each mistake is one line. */
function byKey(rawNodes: any[], specs: NodeSpec[], field: 'identityFile' | 'knownHosts', keep: (spec: NodeSpec) => boolean): Use[] {
  const uses = new Map<string, Use>();
  specs.forEach((spec, i) => {
    const file = spec.ssh[field];
    if (spec.transport !== 'ssh' || !file || !keep(spec)) return;
    const segs = rawNodes[i].ssh?.[field] !== undefined ? ['nodes', i, 'ssh', field] : ['defaults', 'ssh', field];
    const k = segs.join('\0');
    const u = uses.get(k);
    if (u) u.nodes.push(spec.name);
    else uses.set(k, { file, segs, nodes: [spec.name] });
  });
  return [...uses.values()];
}

export interface SshCheck {
  problems: InventoryProblem[];
  /** known_hosts files to start (empty, 0600) once the inventory is accepted. */
  create: string[];
}

export function checkSshNodes(rawNodes: any[], specs: NodeSpec[], locate: Locate): SshCheck {
  const problems: InventoryProblem[] = [];
  const problem = (segs: (string | number)[], message: string) => problems.push({ path: formatPath(segs), message, ...locate(segs) });

  specs.forEach((spec, i) => {
    if (spec.transport === 'ssh' && spec.host !== undefined && !isHostOrAddress(spec.host)) {
      problem(['nodes', i, 'host'], `node ${spec.name}: ${JSON.stringify(spec.host)} is not a hostname (RFC 1123: letters, digits and inner hyphens, dot-separated) or an IPv4/IPv6 address`);
    }
  });

  for (const u of byKey(rawNodes, specs, 'identityFile', () => true)) {
    const bad = unreadable(u.file, true);
    if (bad) problem(u.segs, `identity file ${u.file} ${bad.why} (${nodeList(u.nodes)})`);
  }

  const create = new Set<string>();
  for (const accept of [false, true]) {
    for (const u of byKey(rawNodes, specs, 'knownHosts', (s) => Boolean(s.ssh.acceptNewHostKey) === accept)) {
      const bad = unreadable(u.file, false);
      if (!bad) continue;
      if (!bad.missing) {
        problem(u.segs, `known_hosts file ${u.file} ${bad.why} (${nodeList(u.nodes)})`);
      } else if (!accept) {
        problem(u.segs, `known_hosts file ${u.file} ${bad.why} (${nodeList(u.nodes)}); host keys are always verified: ` +
          'create it with the nodes\' keys, or set acceptNewHostKey: true to record them on first contact');
      } else {
        const why = notCreatable(u.file);
        if (why) problem(u.segs, `known_hosts file ${u.file} does not exist and cannot be created: ${why} (${nodeList(u.nodes)})`);
        else create.add(u.file);
      }
    }
  }
  return { problems, create: [...create] };
}

/** Starts each missing known_hosts file empty; a file made meanwhile by someone else is kept. */
export function createKnownHosts(files: string[]): void {
  for (const f of files) {
    mkdirSync(dirname(f), { recursive: true, mode: 0o700 });
    try {
      writeFileSync(f, '', { flag: 'wx', mode: 0o600 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}
