// What a systemd node (`lab up --flavour systemd`) adds to the full node's expectations: the limits of
// machine.slice and that the five container@ units run in it, the ACME renewal timer, and nginx's
// LimitNOFILE. Other keys stay the full node's (the node carries the same services).
import { CONTAINERS } from '../full.js';
import { ACME_DOMAIN, MACHINE_SLICE, NGINX_NOFILE } from '../systemd-units.js';
import type { LabInfo, LabNodeInfo } from '../types.js';
import type { ExpectFn } from './index.js';

type Extend = (node: LabNodeInfo, lab: LabInfo, base: ExpectFn) => unknown | undefined;

const limits: Extend = (node, lab, base) => ({
  ...(base(node, lab) as object),
  slices: {
    [MACHINE_SLICE.name]: {
      memoryMax: MACHINE_SLICE.memoryMax,
      cpuQuota: MACHINE_SLICE.cpuQuota,
      units: CONTAINERS.map((c) => `container@${c.name}.service`),
    },
  },
});

const checklist: Extend = (node, lab, base) => {
  const b = base(node, lab) as { renewal?: Record<string, unknown> } | undefined;
  return { ...b, renewal: { ...b?.renewal, acme: { certs: [ACME_DOMAIN], maxSinceLastRun: '48h' } } };
};

const tuning: Extend = (node, lab, base) => ({ ...(base(node, lab) as object), nofile: { 'nginx.service': NGINX_NOFILE } });

/** Suite key → how a systemd node's expectation extends the full node's (its `base`). */
export const systemdExtensions: Record<string, Extend> = { limits, checklist, tuning };

export function extendForSystemd(key: string, base: ExpectFn): ExpectFn {
  const ext = systemdExtensions[key];
  return ext ? (node, lab) => (node.init === 'systemd' ? ext(node, lab, base) : base(node, lab)) : base;
}
