// The limits suite's checks, defined once (in the order of its results).
import { defineChecks } from '../../src/core/checks.js';

const CL = ['resource-limits'];
const SC = 'serviceConfig / sliceConfig';
export const CHECKS = defineChecks('limits', {
  declared: {
    title: 'Declared unit limits as expected', severity: 'high', checklist: CL,
    description: 'systemd shows the expected MemoryMax, MemoryHigh, CPUQuota and TasksMax for the unit (container@NAME, a service, a slice, or a unit inside a container) and the unit is active; skipped with the reason without systemd.',
    fix: `Set the limits in the unit's ${SC} (e.g. systemd.services."container@NAME".serviceConfig.MemoryMax = "8G", systemd.slices.NAME.sliceConfig.MemoryMax), then nixos-rebuild switch.`,
  },
  enforced: {
    title: 'Limits enforced by the kernel (cgroup)', severity: 'high', checklist: CL,
    description: 'The effective limit in the cgroup files (v1 or v2, the smallest over the cgroup and its ancestors) equals the expectation; unlimited where a limit is expected is critical. For a container, also every process of its PID namespace that sits in another cgroup (moved out with echo PID > cgroup.procs; processes entered from outside by nsenter are skipped) is judged the same way. cgroup v1 has no memory.high (said, not compared).',
    fix: `Declare the limit in the unit's ${SC} and restart the unit so systemd writes it to the cgroup; undo limits changed by hand in /sys/fs/cgroup, and move processes moved out of a container's cgroup back (or restart the container).`,
  },
  'memory-budget': {
    title: "Containers' memory limits fit the node", severity: 'high', checklist: CL,
    description: 'No container is without a memory limit, the sum of their enforced limits is at most MemTotal, and at most the MemoryMax of a slice holding them.',
    fix: 'Lower systemd.services."container@NAME".serviceConfig.MemoryMax so the sum fits the node (or the slice\'s sliceConfig.MemoryMax), or give every container one.',
  },
  'slice-used': {
    title: 'Declared slice is used', severity: 'medium', checklist: CL,
    description: 'Some unit (or each of the listed units) runs in the slice: a systemd.slices entry limits nothing until units set Slice=. With systemd, a slice that does not exist fails and an unanswered query is an error.',
    fix: 'Set Slice= on the units (e.g. systemd.services."container@NAME".serviceConfig.Slice = lib.mkForce "NAME.slice"), or remove the unused slice.',
  },
});
