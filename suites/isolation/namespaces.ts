// isolation.namespaces: the leader's namespaces differ from the host's, and every process (and
// thread) of the container's PID namespace shares the leader's network namespace: one started with
// `nsenter --pid --mount` into the container that kept the host's network (its cgroups joined too,
// so the limits see nothing) binds and connects in the host network, privateNetwork or not.
import type { Outcome } from '../../src/core/types.js';
import { outcome } from '../../src/core/checks.js';
import type { ContainerFacts, NetStray } from '../../src/probes/isolation.js';
import type { NsSet } from '../../src/probes/ns.js';
import { CHECKS } from './checks.js';

const NS_CHECKED = ['net', 'pid', 'mnt', 'ipc', 'uts', 'cgroup'] as const;

const who = (p: NetStray) => (p.tid !== undefined ? `thread ${p.tid} of process ${p.pid} (${p.comm})` : `process ${p.pid} (${p.comm})`);

export function judgeNamespaces(subject: string, f: ContainerFacts, privNet: boolean, hostNs: NsSet): Outcome {
  const ns = f.ns!;
  const checked = NS_CHECKED.filter((k) => k !== 'net' || privNet);
  const shared = NS_CHECKED.filter((k) => (k !== 'net' || privNet) && ns[k] !== undefined && ns[k] === hostNs[k]);
  const unknown = NS_CHECKED.filter((k) => ns[k] === undefined || hostNs[k] === undefined);
  const strays = f.netStrays ?? [];
  const strayUnknown = [
    ...(f.netStraysProblem ? [`the network namespaces of the container's other processes could not be read: ${f.netStraysProblem}`] : []),
    ...(f.netStraysMore ? ['more than 20 of its processes run in another network namespace (the rest not read)'] : []),
  ];
  const nsObserved = Object.fromEntries(NS_CHECKED.map((k) => [k, { container: ns[k] ?? null, host: hostNs[k] ?? null }]));
  const severity = shared.includes('net') || shared.includes('pid') || shared.includes('mnt') || strays.some((p) => p.hostNet) ? 'critical' : 'high';
  const problems = [
    shared.length ? `shares the host's ${shared.join(', ')} namespace${shared.length > 1 ? 's' : ''}${shared.includes('net') ? ' (it sees and binds host ports; set privateNetwork = true)' : ''}` : '',
    ...strays.map((p) => `${who(p)} runs in ${p.hostNet ? 'the host\'s network namespace (it binds and connects in the host network)' : 'a network namespace other than the container\'s'}, though in the container's PID namespace`),
  ].filter(Boolean);
  const message = problems.length
    ? [...problems, ...strayUnknown].join('; ')
    : unknown.length || strayUnknown.length
      ? [...(unknown.length ? [`cannot read the ${unknown.join(', ')} namespace of the leader or the host`] : []), ...strayUnknown].join('; ')
      : `own ${checked.join(', ')} namespaces${privNet ? '' : ' (network shared by declaration)'}; every process of the container in the leader's network namespace`;
  const evidence = {
    expected: `differs from the host (/proc/1/ns) for ${checked.join(', ')}; every process of the container's PID namespace in the leader's network namespace`,
    observed: { ...nsObserved, ...(strays.length ? { otherNetwork: strays } : {}) },
    source: `readlink /proc/${f.leader}/ns/* vs /proc/1/ns/*; test /proc/PID{,/task/TID}/ns/net -ef /proc/${f.leader}/ns/net for the processes of its PID namespace`,
  };
  return outcome(CHECKS.namespaces, subject, problems.length ? 'fail' : unknown.length || strayUnknown.length ? 'error' : 'pass', message, evidence, { severity });
}
