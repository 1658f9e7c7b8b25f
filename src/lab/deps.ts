// What `lab up` needs from the machine, checked before anything is built: on a fresh machine a
// missing package must be one line naming it and the script that installs it, not a node init
// dying half-way through with `/usr/sbin/sshd: No such file or directory`.
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { packageRoot } from './proc.js';

export interface Requirement {
  /** A command name (searched on the node PATH) or an absolute path. */
  need: string;
  /** The Debian package that provides it, as scripts/install-deps.sh names it. */
  pkg: string;
  /** Only for this flavour / firewall backend; every flavour when unset. */
  flavour?: 'full' | 'light' | 'systemd';
  firewall?: 'iptables' | 'nftables';
  /** A data file, not a program. */
  file?: boolean;
}

// The PATH node-init.sh runs with (src/lab/lab.ts startInit).
export const NODE_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

const PG = '/usr/lib/postgresql/15/bin';

/** From src/lab/*.ts and src/lab/sh/*.sh; essential packages (coreutils, bash, passwd, perl-base) are not listed. */
export const REQUIREMENTS: Requirement[] = [
  { need: 'ip', pkg: 'iproute2' },
  { need: 'ss', pkg: 'iproute2' },
  { need: 'nsenter', pkg: 'util-linux' },
  { need: 'unshare', pkg: 'util-linux' },
  { need: 'setsid', pkg: 'util-linux' },
  { need: 'ssh-keygen', pkg: 'openssh-client' },
  { need: '/usr/sbin/sshd', pkg: 'openssh-server' },
  { need: 'nginx', pkg: 'nginx-light' },
  { need: '/etc/nginx/mime.types', pkg: 'nginx-light', file: true },
  { need: 'openssl', pkg: 'openssl' },
  { need: 'iptables', pkg: 'iptables', firewall: 'iptables' },
  { need: 'ip6tables', pkg: 'iptables', firewall: 'iptables' },
  { need: 'nft', pkg: 'nftables', firewall: 'nftables' },
  { need: 'sysctl', pkg: 'procps', flavour: 'full' },
  { need: 'setpriv', pkg: 'util-linux', flavour: 'full' },
  { need: 'curl', pkg: 'curl', flavour: 'full' },
  { need: 'borg', pkg: 'borgbackup', flavour: 'full' },
  { need: 'prometheus', pkg: 'prometheus', flavour: 'full' },
  { need: `${PG}/initdb`, pkg: 'postgresql', flavour: 'full' },
  { need: `${PG}/pg_ctl`, pkg: 'postgresql', flavour: 'full' },
  { need: `${PG}/psql`, pkg: 'postgresql', flavour: 'full' },
  { need: `${PG}/pg_dump`, pkg: 'postgresql', flavour: 'full' },
  // The systemd flavour boots a debootstrapped Debian rootfs (scripts/build-rootfs.sh) that carries the node's own services.
  { need: 'systemd-nspawn', pkg: 'systemd-container', flavour: 'systemd' },
  { need: 'debootstrap', pkg: 'debootstrap', flavour: 'systemd' },
];

/** Is `path` there (and, for a program, executable)? Injectable so tests need not uninstall anything. */
export type Exists = (path: string, program: boolean) => boolean;

/**
 * The real file system under `root`: `LEAFCERT_LAB_ROOT` (default `/`) lets a test point the check
 * at a tree that lacks a package.
 */
export function fsExists(root = process.env.LEAFCERT_LAB_ROOT || '/'): Exists {
  return (path, program) => {
    const p = join(root, path);
    try {
      if (!program) return existsSync(p);
      if (!statSync(p).isFile()) return false;
      accessSync(p, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
}

/** The requirements of this lab shape that are not met. */
export function missingRequirements(shape: { flavour: 'full' | 'light' | 'systemd'; firewall: 'iptables' | 'nftables' }, exists: Exists = fsExists()): Requirement[] {
  return REQUIREMENTS.filter((r) => (!r.flavour || r.flavour === shape.flavour) && (!r.firewall || r.firewall === shape.firewall)).filter((r) =>
    r.need.startsWith('/') ? !exists(r.need, !r.file) : !NODE_PATH.some((dir) => exists(join(dir, r.need), true)),
  );
}

/** One line: the packages, what of each is missing, and the command that installs them. */
export function missingMessage(shape: { flavour: 'full' | 'light' | 'systemd'; firewall: 'iptables' | 'nftables' }, missing: Requirement[]): string {
  const byPkg = new Map<string, string[]>();
  for (const r of missing) byPkg.set(r.pkg, [...(byPkg.get(r.pkg) ?? []), r.need]);
  const pkgs = [...byPkg].map(([p, needs]) => `${p} (${needs.join(', ')})`).join(', ');
  const script = join(packageRoot(), 'scripts', 'install-deps.sh');
  const rel = relative(process.cwd(), script);
  const shown = rel && !rel.startsWith('..') ? rel : script;
  return `a ${shape.flavour} lab with the ${shape.firewall} firewall needs packages that are not installed: ${pkgs}. ` +
    `Install them with \`bash ${shown}\` (as root), then run \`leafcert lab up\` again; nothing was built`;
}
