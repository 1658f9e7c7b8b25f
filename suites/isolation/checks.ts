// The isolation suite's checks, defined once (in the order of its results).
import { defineChecks } from '../../src/core/checks.js';

const C = 'containers.<name>';
export const CHECKS = defineChecks('isolation', {
  'container-present': {
    title: 'Container exists and runs', severity: 'high', checklist: ['hardening'],
    description: 'The declared container exists on the node and its leader runs (located from the NixOS container configs and machinectl); missing or not running fails, with the names found.',
    fix: `Declare and start it (${C}.autoStart = true, or nixos-container start NAME), or remove it from the expectation.`,
  },
  namespaces: {
    title: 'Container has its own namespaces', severity: 'critical', checklist: ['hardening', 'network-policies'],
    description: 'The leader\'s net (when private), pid, mnt, ipc, uts and cgroup namespaces differ from those of /proc/1 (readlink of /proc/PID/ns/*). Sharing net, pid or mnt is critical, another one high.',
    fix: `Set ${C}.privateNetwork = true (with hostAddress/localAddress) and start the container with nixos-container, not by hand.`,
  },
  'user-namespace': {
    title: 'User namespace as declared', severity: 'high', checklist: ['hardening'],
    description: 'The container has its own user namespace exactly when privateUsers is expected (uid_map 0 0 4294967295 means none); high when one is expected, low otherwise. An unreadable ns/user link is an error.',
    fix: `Set ${C}.privateUsers = "pick" for a private user namespace (or "no" if it is not wanted), then restart the container.`,
  },
  capabilities: {
    title: 'Capability bounding set is nspawn\'s, minus what it must drop', severity: 'critical', checklist: ['hardening'],
    description: 'The leader\'s CapBnd (/proc/PID/status, decoded without capsh) is an allowlist: systemd-nspawn\'s default bounding set (plus CAP_NET_ADMIN with a private network, plus the declared --capability= / additionalCapabilities), minus the must-drop ones (default CAP_SYS_ADMIN, CAP_SYS_MODULE). A capability beyond it (CAP_SYS_RAWIO, CAP_SYS_TIME, CAP_BPF, ...) fails, named; keeping CAP_SYS_ADMIN, CAP_SYS_MODULE or a raw-hardware/clock/kernel one is critical.',
    fix: `Add ${C}.extraFlags = [ "--drop-capability=CAP_SYS_ADMIN" ] (and the others), or set ${C}.privateUsers = "pick" so they are namespace-local; start the container with nixos-container (no extra --capability=) or declare what it needs in ${C}.additionalCapabilities.`,
  },
  'no-new-privs': {
    title: 'NoNewPrivs as declared', severity: 'medium', checklist: ['hardening'],
    description: 'The leader\'s NoNewPrivs flag (/proc/PID/status) is the declared one.',
    fix: `Start the container with no_new_privs (systemd.services."container@NAME".serviceConfig.NoNewPrivileges = true), or correct noNewPrivs in the expectation.`,
  },
  reachability: {
    title: 'Only declared ports reachable from inside', severity: 'high', checklist: ['network-policies'],
    description: 'Bounded connects from inside the container\'s network namespace to every port the host listens on at its HOST_ADDRESS and every port another container listens on at its LOCAL_ADDRESS: every open one is declared (reach, or the other container\'s ports). 0 ports tested is an error unless noReachTargets.',
    fix: 'Close the port to the containers (networking.firewall on the host, the other container\'s networking.firewall.allowedTCPPorts, or bind the service to another address), or declare it with reach / ports.',
  },
  'inner-firewall': {
    title: 'Inner firewall allows what is declared', severity: 'medium', checklist: ['network-policies'],
    description: 'The NixOS firewall in the container\'s network namespace (nixos-fw via iptables-save, read with the host firewall\'s model; or nft) is in force (INPUT jumps to nixos-fw, nothing accepts on the refuse path) and accepts exactly the declared TCP ports, any accept with a port counted, interface-bound rules ignored.',
    fix: `Set ${C}.config.networking.firewall.enable = true and allowedTCPPorts to the declared ports; remove rules added by hand.`,
  },
  'unexpected-container': {
    title: 'No undeclared containers', severity: 'medium', checklist: ['hardening', 'documentation'],
    description: 'No container exists on the node (config file or machinectl) beyond the declared ones.',
    fix: 'Declare the container in the expectation (and the NixOS configuration), or remove it (containers.<name> and its /etc/nixos-containers/NAME.conf).',
  },
});
