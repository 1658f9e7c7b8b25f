// Deployment-wide judges: a database dump before borg (config.backup-db-dump), an off-node
// (config.backup-offsite) and encrypted (config.backup-encryption) repository, explicit
// stateVersions (config.state-version), limits on container@NAME (config.container-limits), ports
// the deployment needs open in the containers' own firewalls (config.container-port-reach), no
// container bridge trusted (config.trusted-bridge), alert rules (config.alert-rules), and a
// configuration that evaluates (config.evaluates).
import { optionPath, sections, type Manifest } from '../../src/core/manifest.js';
import { prefix, type Finding } from './finding.js';
import { innerOpen, needs } from './reach.js';

const DUMP = /\b(pg_dump|pg_dumpall|pg_basebackup)\b/;

export function dbDumpFindings(m: Manifest): Finding[] {
  const out: Finding[] = [];
  const hooks = sections(m).flatMap(({ node }) => node.borg.filter((j) => DUMP.test(j.preHook) || DUMP.test(j.dumpCommand ?? '')).map((j) => j.path));
  for (const { where, node } of sections(m)) {
    if (!node.postgresql.enable) continue;
    const dump = node.postgresqlBackup.enable ? node.postgresqlBackup.path : hooks[0];
    out.push(dump
      ? { subject: `${prefix(where)}postgresql`, pass: true, optionPath: dump, observed: dump, expected: 'a dump before the backup', message: `PostgreSQL in ${where} is dumped (${dump})` }
      : { subject: `${prefix(where)}postgresql`, pass: false, optionPath: node.postgresqlBackup.path, observed: 'no postgresqlBackup, no pg_dump in a borg preHook', expected: 'a dump before the backup',
          message: `PostgreSQL runs in ${where} but nothing dumps it: a copy of a live data directory is not a consistent backup. Set ${optionPath(node.postgresqlBackup.path, 'enable')} = true (its location inside the borg paths), or run pg_dump in services.borgbackup.jobs.<name>.preHook.` });
  }
  return out;
}

const remote = (repo: string) => /^ssh:\/\//.test(repo) || /^[^/][^:]*:/.test(repo) && !/^file:/.test(repo);

export function offsiteFindings(m: Manifest): Finding[] {
  return sections(m).flatMap(({ where, node }) => node.borg.map((j): Finding => {
    const path = optionPath(j.path, 'repo');
    const subject = `${prefix(where)}borg job ${j.name}`;
    if (j.repo && remote(j.repo)) return { subject, pass: true, optionPath: path, observed: j.repo, expected: 'a repository on another machine', message: `borg job ${j.name} writes to ${j.repo}` };
    return { subject, pass: false, optionPath: path, observed: j.repo ?? 'unset', expected: 'a repository on another machine (ssh://…)',
      message: j.repo
        ? `${path} = "${j.repo}" is on the machine it protects: a lost disk or host takes the backup with it. Use a repository on another machine (ssh://user@backup-host/./repo) and keep it append-only there.`
        : `${path} has no value (evaluation fails): set it to a repository on another machine (ssh://user@backup-host/./repo).` };
  }));
}

export function encryptionFindings(m: Manifest): Finding[] {
  return sections(m).flatMap(({ where, node }) => node.borg.map((j): Finding => {
    const path = optionPath(j.path, 'encryption', 'mode');
    const mode = j.encryption.mode;
    const subject = `${prefix(where)}borg job ${j.name}`;
    if (mode && mode !== 'none' && !/^authenticated/.test(mode)) return { subject, pass: true, optionPath: path, observed: mode, expected: 'repokey/keyfile encryption', message: `borg job ${j.name} encrypts (${mode})` };
    return { subject, pass: false, optionPath: path, observed: mode ?? 'unset', expected: 'repokey-blake2 (or keyfile-blake2) with passCommand',
      message: `${path} is ${mode === null ? 'unset: NixOS has no default for it, so the configuration does not evaluate' : `"${mode}": archives are ${mode === 'none' ? 'neither encrypted nor authenticated' : 'authenticated but not encrypted'}`}. Set it to "repokey-blake2" with encryption.passCommand = "cat /run/agenix/borg-passphrase".` };
  }));
}

export function stateVersionFindings(m: Manifest): Finding[] {
  return sections(m).map(({ where, node }): Finding => {
    const path = optionPath(node.system.path, 'stateVersion');
    return node.system.stateVersionExplicit
      ? { subject: `${prefix(where)}system.stateVersion`, pass: true, optionPath: path, observed: node.system.stateVersion, expected: 'set explicitly', message: `${where} sets system.stateVersion = "${node.system.stateVersion}"` }
      : { subject: `${prefix(where)}system.stateVersion`, pass: false, optionPath: path, observed: node.system.stateVersion ?? 'unset', expected: 'set explicitly',
          message: `${where} does not set ${path}${node.system.stateVersion ? ` (it falls back to the release, "${node.system.stateVersion}")` : ''}: the next NixOS release silently changes state defaults (PostgreSQL major version and data dir, container paths). Set ${path} to the release it was first deployed with.` };
  });
}

/** A slice and the slices it nests in, nearest first, without `.slice`: a-b-c → a-b-c, a-b, a. */
export const sliceChain = (slice: string): string[] => {
  const parts = slice.replace(/\.slice$/, '').split('-');
  return parts.map((_, i) => parts.slice(0, parts.length - i).join('-'));
};

const LIMIT = /^(MemoryMax|MemoryHigh|CPUQuota|TasksMax)$/;
const limited = (sc: Record<string, unknown>) => Object.entries(sc).filter(([k, v]) => LIMIT.test(k) && v !== null && String(v) !== 'infinity' && String(v) !== '');

export function containerLimitFindings(m: Manifest): Finding[] {
  return m.containers.map((c): Finding => {
    const outer = limited(c.unit.serviceConfig);
    // No Slice set: nixos-containers puts container@NAME in machine.slice. A slice's limits also
    // bound every slice under it (a-b.slice nests in a.slice), so the nearest limited one counts.
    const chain = sliceChain(String(c.unit.serviceConfig.Slice ?? 'machine.slice')).flatMap((n) => m.host.slices.filter((s) => s.name === n && limited(s.sliceConfig).length));
    // CPUQuota or TasksMax alone (or MemoryMax = "infinity") still lets the container exhaust the host's memory.
    const memory = (sc: Record<string, unknown>) => limited(sc).some(([k]) => k.startsWith('Memory'));
    const slice = chain.find((s) => memory(s.sliceConfig)) ?? chain[0];
    const inner = c.config.units.filter((u) => limited(u.serviceConfig).length).map((u) => u.name);
    const path = optionPath(c.unit.path, 'serviceConfig', 'MemoryMax');
    if ((outer.length || slice) && !memory(c.unit.serviceConfig) && !(slice && memory(slice.sliceConfig))) {
      return { subject: `container ${c.name}`, pass: false, optionPath: path, observed: slice ? { Slice: `${slice.name}.slice`, ...slice.sliceConfig } : { ...c.unit.serviceConfig }, expected: 'a memory limit (MemoryMax) on container@NAME or its slice',
        message: `container@${c.name} has no memory limit (${slice ? `${slice.name}.slice sets none either` : `only ${outer.map(([k, v]) => `${k}=${v}`).join(' ')}`}${c.unit.serviceConfig.MemoryMax !== undefined ? `; MemoryMax = ${JSON.stringify(c.unit.serviceConfig.MemoryMax)} is no limit` : ''}), so the container can still take all of the host's memory. Set ${path}.` };
    }
    if (outer.length || slice) return { subject: `container ${c.name}`, pass: true, optionPath: slice ? slice.path : path, observed: slice ? `Slice=${slice.name}.slice` : Object.fromEntries(outer), expected: 'limits on container@NAME', message: `container@${c.name} is limited (${slice ? `${slice.name}.slice` : outer.map(([k, v]) => `${k}=${v}`).join(' ')})` };
    return { subject: `container ${c.name}`, pass: false, optionPath: path, observed: { containerUnit: 'unlimited', innerUnitsWithLimits: inner }, expected: 'MemoryMax and CPUQuota on container@NAME',
      message: `container@${c.name} has no MemoryMax/CPUQuota${inner.length ? `; only units inside it are limited (${inner.join(', ')}), so the container's other processes can still take the whole host` : ', so the container can take the whole host'}. Set ${optionPath(c.unit.path, 'serviceConfig')}.{MemoryMax,CPUQuota}.` };
  });
}

export function portReachFindings(m: Manifest): Finding[] {
  const seen = new Map<string, Finding>();
  for (const n of needs(m)) {
    const key = `${n.target.name}:${n.port}`;
    const o = innerOpen(n.target, n.port);
    const prev = seen.get(key);
    if (prev && !prev.pass) { (prev.observed as { neededBy: string[] }).neededBy.push(`${n.from}: ${n.what}`); continue; }
    if (prev) continue;
    const path = optionPath(n.target.config.firewall.path, 'allowedTCPPorts');
    seen.set(key, o.open
      ? { subject: `container ${n.target.name} tcp/${n.port}`, pass: true, optionPath: path, observed: o.why, expected: 'open for its clients', message: `${n.what} reaches container ${n.target.name} on ${n.port} (${o.why})` }
      : { subject: `container ${n.target.name} tcp/${n.port}`, pass: false, optionPath: path, observed: { neededBy: [`${n.from}: ${n.what}`], firewall: o.why }, expected: 'open for its clients',
          message: `${n.what} (${n.path}, in ${n.from}) connects to container ${n.target.name} on port ${n.port}, but the container's own firewall drops it (${o.why}). Add ${n.port} to ${path} (and bind the service to the container's address).` });
  }
  return [...seen.values()];
}

export function trustedBridgeFindings(m: Manifest): Finding[] {
  const fw = m.host.firewall;
  const bridges = new Set([...m.host.networking.bridges.map((b) => b.name), ...m.containers.map((c) => c.hostBridge).filter((b): b is string => !!b)]);
  // A br-* name is a container bridge once there are containers, even if the bridge is not declared yet.
  const bad = fw.trustedInterfaces.filter((i) => i !== 'lo' && (bridges.has(i) || /^(ve|vb|vz)-/.test(i) || m.host.networking.nat.internalInterfaces.includes(i) || (m.containers.length > 0 && /^br-/.test(i))));
  const path = optionPath(fw.path, 'trustedInterfaces');
  return bad.map((i): Finding => ({ subject: `trusted ${i}`, pass: false, optionPath: path, observed: fw.trustedInterfaces, expected: 'no container interface trusted',
    message: `${path} trusts ${i}, ${m.containers.some((c) => c.hostBridge === i) ? 'which the containers sit on' : 'a bridge meant for the containers'}: root in any container on it reaches every port of the host (sshd, databases, metrics) past the firewall. Remove "${i}" from ${path}; open the few host ports containers need with ${optionPath(fw.path, 'interfaces', i, 'allowedTCPPorts')}.` }));
}

export function alertRuleFindings(m: Manifest): Finding[] {
  return sections(m).filter(({ node }) => node.prometheus.enable).map(({ where, node }): Finding => {
    const p = node.prometheus;
    const n = p.rules.length + p.ruleFiles.length;
    const subject = `${prefix(where)}prometheus`;
    if (!n) return { subject, pass: false, optionPath: optionPath(p.path, 'rules'), observed: { rules: 0, ruleFiles: 0 }, expected: 'alert rules and an Alertmanager',
      message: `Prometheus in ${where} has no alert rules (${optionPath(p.path, 'rules')} and ruleFiles are empty): nothing alerts on errors, failures, resource exhaustion or certificate expiry, though the checklist says "alerting active". Add rules (services.prometheus.rules or ruleFiles) and an Alertmanager (${optionPath(p.path, 'alertmanagers')}).` };
    if (!p.alertmanagers.length) return { subject, pass: false, optionPath: optionPath(p.path, 'alertmanagers'), observed: { rules: n, alertmanagers: 0 }, expected: 'alert rules and an Alertmanager',
      message: `Prometheus in ${where} evaluates ${n} rule set(s) but ${optionPath(p.path, 'alertmanagers')} is empty: alerts fire into nothing. Point it at an Alertmanager (services.prometheus.alertmanager) with a receiver.` };
    return { subject, pass: true, optionPath: optionPath(p.path, 'rules'), observed: { rules: n, alertmanagers: p.alertmanagers.length }, expected: 'alert rules and an Alertmanager', message: `Prometheus in ${where} has ${n} rule set(s) and an Alertmanager` };
  });
}

export function evaluationFindings(m: Manifest): Finding[] {
  const problems = sections(m).map(({ where, node }) => {
    const ps = [...node.evaluation.problems];
    // Recent nixpkgs asserts Grafana's secret_key is set; a manifest without the assertion still shows it unset.
    const key = optionPath(node.grafana.path, 'settings', 'security', 'secret_key');
    if (node.grafana.enable && node.grafana.settings.security.secret_key === undefined && !ps.some((x) => x.path === key)) ps.push({ path: key, message: 'unset: recent nixpkgs asserts it is set (older ones fall back to a publicly known key)' });
    // firewall-nftables.nix asserts extraCommands/extraStopCommands are empty (a stub evaluation has no assertions).
    const fw = node.firewall;
    for (const k of ['extraCommands', 'extraStopCommands'] as const) {
      const at = optionPath(fw.path, k);
      if (fw.enable && fw.backend === 'nftables' && fw[k]?.trim() && !ps.some((x) => x.path === at || x.message.includes(k))) ps.push({ path: at, message: `set while the firewall uses the nftables backend, which asserts it is empty (use networking.firewall.extraInputRules / networking.nftables.tables instead)` });
    }
    return { where, ps };
  });
  const out = problems.flatMap(({ where, ps }) => ps.map((x): Finding => ({
    subject: `${prefix(where)}${x.path}`, pass: false, optionPath: x.path, observed: x.message, expected: 'the configuration evaluates',
    message: `${x.path}: ${x.message}. nixos-rebuild would refuse this configuration; give the option a value.`,
  })));
  return out.length ? out : [{ subject: 'evaluation', pass: true, optionPath: 'assertions', observed: 'no failed assertion, no option used without a value', expected: 'the configuration evaluates', message: 'no failed assertion and no option used without a value' }];
}
