// Containers and slices: a user namespace per container (config.container-private-users), no host
// CAP_SYS_ADMIN (config.container-cap-sys-admin), and slices with limits that some unit runs in
// (config.unused-slice).
import { optionPath, sections, type Container, type Manifest } from '../../src/core/manifest.js';
import { prefix, type Finding } from './finding.js';

// ── containers ──────────────────────────────────────────────────────────────────────────────
/**
 * The container's user namespace: `on` = own UID range (pick / a base UID); `namespaced` = any user
 * namespace, "identity" included (no UID isolation, but capabilities are namespace-local).
 */
export function userns(c: Container): { on: boolean; namespaced: boolean; how: string; path: string } {
  const flag = [...c.extraFlags].reverse().find((f) => /^--private-users(=|$)/.test(f));
  if (flag !== undefined) {
    const v = flag.split('=')[1] ?? 'yes';
    const on = v === 'pick' || v === 'yes' || (/^\d+$/.test(v) && Number(v) > 0) || /^\d+:\d+$/.test(v);
    return { on, namespaced: on || v === 'identity', how: `extraFlags ${flag}`, path: optionPath(c.path, 'extraFlags') };
  }
  const pu = c.privateUsers;
  const on = pu === 'pick' || (typeof pu === 'number' && pu > 0);
  return { on, namespaced: on || pu === 'identity', how: `privateUsers = ${JSON.stringify(pu)}`, path: optionPath(c.path, 'privateUsers') };
}

export function containerFindings(m: Manifest): { users: Finding[]; caps: Finding[] } {
  const users: Finding[] = [];
  const caps: Finding[] = [];
  for (const c of m.containers) {
    const u = userns(c);
    users.push(u.on
      ? { subject: `container ${c.name}`, pass: true, optionPath: u.path, observed: u.how, expected: 'privateUsers = "pick" (or a UID base)', message: `container ${c.name} runs in a user namespace (${u.how})` }
      : { subject: `container ${c.name}`, pass: false, optionPath: u.path, observed: u.how, expected: 'privateUsers = "pick"',
          message: `container ${c.name} has ${u.namespaced ? 'no UID isolation (identity mapping' : 'no user namespace ('}${u.namespaced ? `, ${u.how})` : `${u.how})`}: root in the container is uid 0 on the host, and files it writes under /var/lib/nixos-containers/${c.name} are owned by host root. Set ${optionPath(c.path, 'privateUsers')} = "pick" (idmapped bind mounts for host files it must read).` });
    const dropped = c.extraFlags.some((f) => /^--drop-capability=(.*,)?(CAP_SYS_ADMIN|all)(,|$)/i.test(f));
    const added = c.additionalCapabilities.some((x) => /^(CAP_)?SYS_ADMIN$/i.test(x) || x.toLowerCase() === 'all');
    const keeps = added ? !u.namespaced : !u.namespaced && !dropped;
    const observed = { userNamespace: u.namespaced, dropCapability: dropped, additionalCapabilities: c.additionalCapabilities };
    caps.push(keeps
      ? { subject: `container ${c.name}`, pass: false, optionPath: added ? optionPath(c.path, 'additionalCapabilities') : optionPath(c.path, 'extraFlags'), observed, expected: 'CAP_SYS_ADMIN dropped or namespaced',
          message: `container ${c.name} keeps CAP_SYS_ADMIN in the host's user namespace (systemd-nspawn keeps it by default${added ? ', and additionalCapabilities adds it' : ''}): mount, namespace and many kernel interfaces are open to its root. Set ${optionPath(c.path, 'privateUsers')} = "pick", or add "--drop-capability=CAP_SYS_ADMIN" to ${optionPath(c.path, 'extraFlags')}.` }
      : { subject: `container ${c.name}`, pass: true, optionPath: u.namespaced ? u.path : optionPath(c.path, 'extraFlags'), observed, expected: 'CAP_SYS_ADMIN dropped or namespaced',
          message: `container ${c.name}: CAP_SYS_ADMIN is ${u.namespaced ? 'confined to its user namespace' : 'dropped'}` });
  }
  return { users, caps };
}

// ── slices ──────────────────────────────────────────────────────────────────────────────────
const LIMIT_KEY = /^(Memory|CPU|Tasks|IO|StartupCPU|StartupIO|AllowedCPUs)/;

export function sliceFindings(m: Manifest): Finding[] {
  const out: Finding[] = [];
  for (const { where, node } of sections(m)) {
    for (const s of node.slices) {
      const limits = Object.fromEntries(Object.entries(s.sliceConfig).filter(([k]) => LIMIT_KEY.test(k)));
      if (!Object.keys(limits).length) continue;
      // container@NAME units run in machine.slice unless they set Slice (nixos-containers.nix sets it;
      // a stub evaluation may not show it), as do units under machine-*.slice.
      const implicit = where === 'host' && s.name === 'machine' ? m.containers.filter((c) => !c.unit.serviceConfig.Slice).map((c) => `container@${c.name}`) : [];
      const usedBy = [...s.usedBy, ...implicit.filter((u) => !s.usedBy.includes(u))];
      out.push(usedBy.length
        ? { subject: `${prefix(where)}${s.name}.slice`, pass: true, optionPath: s.path, observed: { limits, usedBy }, expected: 'used by at least one unit', message: `${s.name}.slice (${JSON.stringify(limits)}) holds ${usedBy.join(', ')}` }
        : { subject: `${prefix(where)}${s.name}.slice`, pass: false, optionPath: optionPath(s.path, 'sliceConfig'), observed: { limits, usedBy: [] }, expected: 'used by at least one unit',
            message: `${s.name}.slice sets ${Object.entries(limits).map(([k, v]) => `${k}=${v}`).join(' ')} but no unit runs in it (containers stay in machine.slice), so these limits are never enforced. Set systemd.services."container@NAME".serviceConfig.Slice = lib.mkForce "${s.name}.slice" for the containers it should hold, or put the limits on the container@NAME units and drop the slice.` });
    }
  }
  if (!out.length) out.push({ subject: 'systemd slices', pass: false, skipped: true, optionPath: 'systemd.slices', observed: 'no slice sets limits', expected: 'used by at least one unit', message: 'not applicable: no declared slice carries limits' });
  return out;
}

