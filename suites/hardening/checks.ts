// The hardening suite's checks (defined once; judged in ssh.ts, kernel.ts, files.ts) and its
// expectation. Where each applies on NixOS is said in its description.
import { defineChecks } from '../../src/core/checks.js';

export const CHECKS = defineChecks('hardening', {
  'ssh-auth': {
    title: 'sshd accepts keys only, root by key at most',
    severity: 'critical',
    checklist: ['hardening'],
    description:
      "sshd's effective configuration (sshd -T): password and keyboard-interactive authentication off, PermitRootLogin no or prohibit-password, no empty passwords, no host-based or rhosts authentication, no user known_hosts, no Kerberos/GSSAPI, public keys on, no user environment, StrictModes on. One result per setting. Applies on NixOS as is (services.openssh).",
    fix: 'Set services.openssh.settings.PasswordAuthentication = false, KbdInteractiveAuthentication = false, PermitRootLogin = "prohibit-password" (or "no"), and redeploy.',
  },
  'ssh-crypto': {
    title: 'sshd offers no weak ciphers, MACs or key exchanges',
    severity: 'high',
    checklist: ['hardening'],
    description:
      "sshd's effective Ciphers, MACs and KexAlgorithms (sshd -T) hold nothing weak (CBC, 3DES, RC4, MD5/SHA-1 MACs, 64-bit UMAC, SHA-1 key exchanges), or only what the expectation allows. One result per list. Applies on NixOS as is; NixOS's defaults pass.",
    fix: 'Drop the weak entries from services.openssh.settings.Ciphers / Macs / KexAlgorithms (NixOS\'s defaults are strong).',
  },
  'ssh-limits': {
    title: 'sshd limits authentication attempts and time',
    severity: 'medium',
    checklist: ['hardening'],
    description: "sshd's effective MaxAuthTries and LoginGraceTime are at most the expected values (default 3 tries, 60 s), and MaxSessions/MaxStartups where declared. Applies on NixOS as is.",
    fix: 'Set services.openssh.settings.MaxAuthTries and LoginGraceTime (services.openssh.extraConfig on older NixOS).',
  },
  'ssh-forwarding': {
    title: 'sshd forwards only what is declared',
    severity: 'medium',
    checklist: ['hardening'],
    description: "sshd's effective X11Forwarding, AllowAgentForwarding, AllowTcpForwarding, GatewayPorts and PermitTunnel equal the declared values (default: all off), and X11 displays bound to localhost. Applies on NixOS as is.",
    fix: 'Set services.openssh.settings.X11Forwarding = false, and AllowAgentForwarding / AllowTcpForwarding / GatewayPorts / PermitTunnel as declared (services.openssh.settings or extraConfig).',
  },
  'kernel-net': {
    title: 'Network kernel parameters are hardened',
    severity: 'medium',
    checklist: ['hardening'],
    description:
      'Per network namespace kernel parameters (reverse-path filtering, redirects, source routing, martian logging, SYN cookies, ICMP broadcasts) have the expected values, read from /proc/sys in the node\'s own network namespace. One result per parameter. Applies on NixOS and in every network namespace of its own (a lab node, a container with a private network).',
    fix: 'Declare the value in boot.kernel.sysctl (e.g. boot.kernel.sysctl."net.ipv4.conf.all.accept_redirects" = 0) and redeploy (systemd-sysctl applies it).',
  },
  kernel: {
    title: 'Global kernel parameters are hardened',
    severity: 'medium',
    checklist: ['hardening'],
    description:
      'Global kernel parameters (kptr_restrict, dmesg_restrict, randomize_va_space, fs.protected_*, suid_dumpable with its core_pattern, sysrq) have the expected values. One result per parameter. Applies on a NixOS system that owns its kernel; skipped with the reason where the kernel is another\'s (a container, an emulated node), never passed.',
    fix: 'Declare the value in boot.kernel.sysctl (e.g. boot.kernel.sysctl."kernel.kptr_restrict" = 2) and redeploy.',
  },
  'world-writable': {
    title: 'No world-writable files in system directories',
    severity: 'high',
    checklist: ['hardening'],
    description:
      'One bounded scan (find -xdev over the system\'s own directories; the store left out; in /tmp, /var/tmp and /dev/shm only setuid/setgid files are looked for) finds no regular file writable by everyone and no world-writable directory, except what the expectation allows. A sticky world-writable directory passes only where that is the norm (/tmp, /var/tmp, /dev/shm, /run/lock, /var/lock, also inside a container\'s root): sticky or not, anyone may plant files in a world-writable /etc, /var/lib, /root, /srv, /opt or /usr directory. Applies on NixOS: /nix/store is read-only and not scanned; /etc, /var, /root, /home and /usr are.',
    fix: 'chmod o-w the files and directories named (and fix the unit or tmpfiles rule that creates them: systemd.tmpfiles.rules, a service\'s UMask=).',
  },
  suid: {
    title: 'No unexpected setuid/setgid binaries',
    severity: 'high',
    checklist: ['hardening'],
    description:
      'The same scan finds no setuid or setgid file outside what the expectation allows. Applies on NixOS, which keeps its setuid programs as wrappers under /run/wrappers (security.wrappers) and none in the store: any setuid file in /etc, /var, /usr, /root, /home, /tmp, /var/tmp or /dev/shm is unexpected (temp dirs are searched for setuid files although they are left out of the world-writable search: NixOS mounts them without nosuid).',
    fix: 'Remove the file or its setuid/setgid bit; declare a needed one with security.wrappers.',
  },
});

export interface HardeningExpect {
  sshd?: false | {
    /** Allowed PermitRootLogin values. Default ["no", "prohibit-password", "without-password"]. */
    permitRootLogin?: string[];
    /** Default true; false where the platform cannot run sshd with it. */
    strictModes?: boolean;
    /** Highest MaxAuthTries. Default 3. */
    maxAuthTries?: number;
    /** Longest LoginGraceTime. Default 60 s. */
    loginGraceTime?: string | number;
    maxSessions?: number;
    maxStartups?: string;
    x11Forwarding?: boolean;
    agentForwarding?: boolean;
    /** AllowTcpForwarding: no, local, remote, yes/all. Default "no". */
    tcpForwarding?: string;
    gatewayPorts?: string;
    permitTunnel?: string;
    /** Allowed algorithms (exact names): when given, nothing else may be offered. */
    ciphers?: string[];
    macs?: string[];
    kexAlgorithms?: string[];
  };
  /** Kernel parameter → accepted value(s); null stops checking a default item. */
  kernel?: false | Record<string, number | string | (number | string)[] | null>;
  worldWritable?: false | { allow?: string[] };
  suid?: false | { allow?: string[] };
  scan?: { roots?: string[]; prune?: string[]; timeout?: string | number };
}
