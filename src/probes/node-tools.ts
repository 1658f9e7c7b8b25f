// Every program a certification starts on a node, and where a NixOS node has it. Probes rely only
// on NixOS's required packages (bash, coreutils, gawk, gnugrep, gnused, findutils, util-linux,
// procps, iproute2, curl, openssh, systemd) and the checked service's own tools: never python or
// perl of their own. test/lab.test.ts traces a whole certification on a full lab node (strace on
// its sshd) and fails on any program not listed here; docs/node-tools.md is this table for people.

export interface NodeTool {
  /** The NixOS package (attribute) that puts it on the node's PATH. */
  pkg: string;
  /** base: NixOS's required packages; service: present where the checked service is declared. */
  kind: 'base' | 'service';
  /** What the probes use it for. */
  use: string;
}

const base = (pkg: string, use: string): NodeTool => ({ pkg, kind: 'base', use });
const service = (pkg: string, use: string): NodeTool => ({ pkg, kind: 'service', use });

export const NODE_TOOLS: Record<string, NodeTool> = {
  bash: base('bashInteractive', 'every probe script (arrays, process substitution, builtins instead of processes)'),
  sh: base('bashInteractive', "NixOS's /bin/sh is bash: a container exec and the borg job wrapper"),
  timeout: base('coreutils', 'bounds every round trip (TERM, then KILL)'),
  cat: base('coreutils', "the borg job's passphrase command (BORG_PASSCOMMAND)"),
  env: base('coreutils', "borg's environment for one call"),
  head: base('coreutils', 'caps on file lists and log reads'),
  mkdir: base('coreutils', 'the restore scratch dir (RAM-backed)'),
  mkfifo: base('coreutils', 'pipes for secret values (never files)'),
  mktemp: base('coreutils', 'the scratch dir (RAM-backed, removed by traps)'),
  nice: base('coreutils', 'the hardening filesystem scan at low priority'),
  readlink: base('coreutils', 'namespace inodes'),
  rm: base('coreutils', 'removing the scratch dir'),
  sha256sum: base('coreutils', 'fingerprints of secret values and restored files'),
  sort: base('coreutils', 'de-duplicating file lists'),
  stat: base('coreutils', 'modes, owners, mtimes; filesystem types'),
  tr: base('coreutils', 'NUL-separated /proc files'),
  cut: base('coreutils', 'fallback fingerprint of a value'),
  chown: base('coreutils', 'the canary round trip (--allow-mutating)'),
  ls: base('coreutils', 'finding psql where it is not on PATH'),
  tail: base('coreutils', 'the same'),
  awk: base('gawk', 'one pass over listings (borg, logs, systemctl show)'),
  grep: base('gnugrep', 'fixed-string searches for leaked values'),
  find: base('findutils', 'file scans (secrets, hardening, namespaces)'),
  xargs: base('findutils', 'batched greps over file lists'),
  nsenter: base('util-linux', "entering a container's namespaces"),
  runuser: base('util-linux', 'psql as the postgres user'),
  ss: base('iproute2', 'listening sockets when /proc/net/tcp is very long'),
  sshd: base('openssh', "the node's own sshd: our sessions, and connect attempts to port 22"),
  systemctl: base('systemd', 'unit properties (systemctl show)'),
  'systemd-detect-virt': base('systemd', 'whether the node is a container'),
  journalctl: base('systemd', 'the journal, searched for leaked values'),
  machinectl: base('systemd', 'the containers and their leaders (systemd-machined)'),
  'iptables-save': service('iptables', "the firewall's rules (networking.firewall, iptables backend)"),
  'ip6tables-save': service('iptables', "the firewall's IPv6 rules"),
  nft: service('nftables', "the firewall's rules (networking.nftables)"),
  'nixos-container': service('nixos-container', 'declarative containers (containers.<name>)'),
  psql: service('postgresql', 'settings and pg_hba rules (services.postgresql)'),
  pg_dump: service('postgresql', 'the dump/restore round trip (--allow-mutating)'),
  pg_restore: service('postgresql', 'the same'),
  'borg-job-*': service('borgbackup', "the job's wrapper (services.borgbackup.jobs.<name>)"),
  borg: service('borgbackup', 'archive list, listing, restore sample, repository check'),
  openssl: service('openssl', 'public-key fingerprints of private keys and certificates (skipped, and said, without it)'),
};

/** The table entry for a program started on the node (by its file name), or undefined. */
export function nodeTool(program: string): NodeTool | undefined {
  const name = program.slice(program.lastIndexOf('/') + 1);
  return NODE_TOOLS[name] ?? (name.startsWith('borg-job-') ? NODE_TOOLS['borg-job-*'] : undefined);
}
