// Data and audit: PostgreSQL trust lines (config.pg-trust), a backup job declared
// (config.backup-declared) whose paths reach the data where it lives (config.backup-paths), audit
// rules with auditd (config.audit-rules), AppArmor with policies (config.apparmor-policies).
import { optionPath, sections, type Manifest, type NodeSection } from '../../src/core/manifest.js';
import { prefix, type Finding } from './finding.js';

// ── pg_hba trust ────────────────────────────────────────────────────────────────────────────
/** The auth method of one pg_hba line, or undefined for blank/comment/include lines. */
export function hbaMethod(line: string): string | undefined {
  const t = line.replace(/#.*/, '').trim().split(/\s+/).filter(Boolean);
  if (t.length < 4) return undefined;
  if (t[0] === 'local') return t[3];
  if (!/^host/.test(t[0])) return undefined;
  // host DB USER ADDRESS METHOD, or host DB USER IP MASK METHOD.
  const ipMask = t.length >= 6 && !t[3].includes('/') && /^[\d.:a-fA-F]+$/.test(t[4]);
  return ipMask ? t[5] : t[4];
}

/** Who a set of trust lines lets in, as the lines say it (roles, databases, local or network). */
function trustScope(lines: string[], where: string): string {
  const t = lines.map((l) => l.split(/\s+/));
  const roles = [...new Set(t.map((x) => x[2]))];
  const dbs = [...new Set(t.map((x) => x[1]))];
  const net = t.some((x) => x[0] !== 'local');
  const who = `${net ? 'any client that reaches the server' : 'any local user'} (${net ? 'from the addresses named' : `any process in ${where === 'host' ? 'the host' : where}`})`;
  const as = roles.includes('all') ? 'as any role, superuser included' : `as ${roles.join(', ')}`;
  return `${who} connects ${as}${dbs.includes('all') ? '' : ` (databases: ${dbs.join(', ')})`}`;
}

export function pgFindings(m: Manifest): Finding[] {
  const out: Finding[] = [];
  for (const { where, node } of sections(m)) {
    const pg = node.postgresql;
    if (!pg.enable) continue;
    const path = optionPath(pg.path, 'authentication');
    const trust = pg.authentication.split('\n').filter((l) => hbaMethod(l) === 'trust').map((l) => l.trim());
    out.push(trust.length
      ? { subject: `${prefix(where)}postgresql`, pass: false, optionPath: path, observed: trust, expected: 'no trust lines', excerpt: trust.join('\n'),
          message: `${path} has ${trust.length} trust line(s): ${trustScope(trust, where)} without a password. Use peer for local sockets and scram-sha-256 for host lines.` }
      : { subject: `${prefix(where)}postgresql`, pass: true, optionPath: path, observed: 'no trust lines', expected: 'no trust lines', message: `${path} has no trust lines` });
  }
  return out;
}

// ── backups ─────────────────────────────────────────────────────────────────────────────────
const under = (p: string, dir: string) => p === dir || p.startsWith(dir.endsWith('/') ? dir : dir + '/');
const asList = (v: unknown): string[] => ([] as unknown[]).concat(v ?? []).map(String);

/** State directories a node section declares (absolute, as seen inside that node). */
function statePaths(node: NodeSection): { dir: string; what: string }[] {
  const out: { dir: string; what: string }[] = [];
  if (node.postgresql.enable) out.push({ dir: node.postgresql.dataDir ?? '/var/lib/postgresql', what: 'PostgreSQL dataDir' });
  if (node.postgresqlBackup.enable) out.push({ dir: node.postgresqlBackup.location, what: 'postgresqlBackup dumps' });
  for (const r of node.redis) if (r.enable) out.push({ dir: r.stateDir ?? `/var/lib/redis-${r.name}`, what: `redis ${r.unit ?? r.name}` });
  if (node.grafana.enable) out.push({ dir: '/var/lib/grafana', what: 'Grafana' });
  for (const u of node.units) {
    for (const d of asList(u.serviceConfig.StateDirectory).flatMap((s) => s.split(/\s+/)).filter(Boolean)) out.push({ dir: `/var/lib/${d.replace(/:.*/, '')}`, what: `${u.name}.service StateDirectory` });
    for (const d of asList(u.serviceConfig.ReadWritePaths).flatMap((s) => s.split(/\s+/)).filter((s) => s.startsWith('/'))) out.push({ dir: d.replace(/^-/, ''), what: `${u.name}.service ReadWritePaths` });
  }
  return out;
}

/** Where a path inside container c lives on the host: under a bind mount's hostPath (bindMounts or
 * --bind flags), else under the container's root. */
type Ctr = Manifest['containers'][number];
function binds(c: Ctr): { src: string; dst: string; rw: boolean }[] {
  // hostPath null binds the same path (nixos-containers: --bind=MOUNTPOINT).
  const out = c.bindMounts.map((b) => ({ src: b.hostPath ?? b.mountPoint, dst: b.mountPoint, rw: !b.isReadOnly }));
  for (const f of c.extraFlags) {
    const b = /^--bind(-ro)?=([^:]+)(?::([^:]+))?/.exec(f);
    if (b) out.push({ src: b[2], dst: b[3] ?? b[2], rw: !b[1] });
  }
  return out.sort((a, b) => b.dst.length - a.dst.length);
}
function onHost(c: Ctr, root: string, dir: string): { dir: string; bound: boolean } {
  const b = binds(c).find((x) => under(dir, x.dst));
  return b ? { dir: b.src.replace(/\/$/, '') + dir.slice(b.dst.replace(/\/$/, '').length), bound: true } : { dir: `${root}/${c.name}${dir}`, bound: false };
}
/** A container's state as the host holds it: declared state directories and rw bind mounts. */
function containerState(c: Ctr, root: string): { dir: string; inner: string; bound: boolean; what: string }[] {
  return [
    ...statePaths(c.config).map((s) => ({ ...onHost(c, root, s.dir), inner: s.dir, what: `${s.what} of container ${c.name}` })),
    ...binds(c).filter((b) => b.rw).map((b) => ({ dir: b.src, inner: b.dst, bound: true, what: `rw bind mount ${b.dst} of container ${c.name}` })),
  ];
}

export function backupFindings(m: Manifest): Finding[] {
  const out: Finding[] = [];
  const root = m.system.containerStateDirectory;
  const hostState = statePaths(m.host);
  const ctrState = m.containers.flatMap((c) => containerState(c, root).map((s) => ({ c, s })));
  for (const j of m.host.borg) {
    const paths = j.paths ?? [];
    const misplaced: string[] = [];
    const hints: string[] = [];
    for (const p of paths) {
      if (under(p, root)) continue;
      const hostHas = hostState.some((s) => under(s.dir, p) || under(p, s.dir)) || ctrState.some(({ s }) => s.bound && (under(s.dir, p) || under(p, s.dir)));
      // Data a container keeps under its own root, named by its path inside the container.
      const inside = ctrState.filter(({ s }) => !s.bound && (under(s.inner, p) || under(p, s.inner)));
      if (inside.length && !hostHas) {
        misplaced.push(p);
        hints.push(...inside.map(({ c, s }) => `${s.dir} (${s.what.replace(/ of container .*/, '')} of container ${c.name})`));
      }
    }
    const path = optionPath(j.path, 'paths');
    // PostgreSQL must be in the archive (its dump when one is declared, else the data dir), and
    // at least one path must hold declared state: host-only or empty directories back up nothing.
    const pg = [
      ...m.containers.filter((c) => c.config.postgresql.enable).map((c) => ({ dir: onHost(c, root, c.config.postgresqlBackup.enable ? c.config.postgresqlBackup.location : c.config.postgresql.dataDir ?? '/var/lib/postgresql').dir, what: `PostgreSQL of container ${c.name}` })),
      ...(m.host.postgresql.enable ? [{ dir: m.host.postgresqlBackup.enable ? m.host.postgresqlBackup.location : m.host.postgresql.dataDir ?? '/var/lib/postgresql', what: 'PostgreSQL of the host' }] : []),
    ];
    const all = m.host.borg.flatMap((jj) => jj.paths ?? []);
    const missed = pg.filter((w) => !all.some((p) => under(w.dir, p)));
    const state = [...hostState, ...ctrState.map(({ s }) => ({ dir: s.dir, what: s.what }))];
    const holds = (ps: string[]) => ps.some((p) => (under(p, root) && p !== root ? true : under(root, p)) || state.some((s) => under(s.dir, p) || under(p, s.dir)));
    // A job of host files (/etc/nixos, keys) beside a job that holds the data is fine: the jobs are judged together.
    const dataJobs = m.host.borg.filter((jj) => jj !== j && holds(jj.paths ?? [])).map((jj) => jj.name);
    const holdsData = holds(paths) || dataJobs.length > 0;
    if (!misplaced.length && !missed.length && !holds(paths) && holdsData) {
      out.push({ subject: `borg job ${j.name}`, pass: true, optionPath: path, observed: paths, expected: 'paths where the data lives (in this job or another)',
        message: `borg job ${j.name} backs up host files (${paths.join(', ')}); the declared state is in job(s) ${dataJobs.join(', ')}` });
      continue;
    }
    if (!misplaced.length && (missed.length || !holdsData)) {
      const want = missed.length ? missed : state.slice(0, 6);
      out.push({ subject: `borg job ${j.name}`, pass: false, optionPath: path, observed: paths, expected: want.map((w) => w.dir),
        message: `${path} (${paths.join(', ') || 'empty'}) misses where the data lives${missed.length ? `: ${missed.map((w) => `${w.dir} (${w.what})`).join(', ')}` : ': every path is an empty or host-only directory'}. Back up ${want.map((w) => w.dir).join(', ')}${missed.length ? '' : ' …'} (a database dump from services.postgresqlBackup rather than the live data directory).` });
      continue;
    }
    out.push(misplaced.length
      ? { subject: `borg job ${j.name}`, pass: false, optionPath: path, observed: misplaced, expected: [...new Set(hints)],
          message: `${path} backs up ${misplaced.join(', ')} on the host, but that data lives inside containers: the archives hold empty or missing directories (and failOnWarnings fails the job). Back up ${[...new Set(hints)].join(', ')} instead, and a database dump (services.postgresqlBackup) rather than the live data directory.` }
      : { subject: `borg job ${j.name}`, pass: true, optionPath: path, observed: paths, expected: 'paths where the data lives', message: `borg job ${j.name} backs up ${paths.length} path(s) where the data lives` });
  }
  return out;
}

// A checklist item that requires backups: no job at all is a failure, not "nothing to check".
export function backupDeclaredFindings(m: Manifest): Finding[] {
  const jobs = m.host.borg;
  if (!jobs.length) {
    const dumps = sections(m).filter(({ node }) => node.postgresqlBackup.enable).map(({ where }) => where);
    return [{ subject: 'backups', pass: false, optionPath: 'services.borgbackup.jobs', observed: 'no borg job', expected: 'at least one services.borgbackup.jobs.<name>',
      message: `no backup job is declared (services.borgbackup.jobs is empty): nothing copies this node's data off it${dumps.length ? ` (services.postgresqlBackup in ${dumps.join(', ')} only writes dumps to the same disk)` : ''}. Declare a borg job for ${m.system.containerStateDirectory}/<container>/… state and the database dumps, with an off-node repository.` }];
  }
  return [{ subject: 'backups', pass: true, optionPath: 'services.borgbackup.jobs', observed: jobs.map((j) => j.name), expected: 'at least one services.borgbackup.jobs.<name>',
    message: `${jobs.length} borg job(s) declared: ${jobs.map((j) => j.name).join(', ')}` }];
}

export function auditFindings(m: Manifest): Finding[] {
  const s = m.host.security;
  const problems: string[] = [];
  if (s.audit.enable === false) problems.push(`${optionPath(s.audit.path, 'enable')} is false: the kernel audit trail is off`);
  else if (!s.audit.rules.length) problems.push(`${optionPath(s.audit.path, 'rules')} is empty: audit is on but watches nothing (add -w rules for secrets, /etc/nixos-containers, execve of privileged tools)`);
  if (!s.auditd.enable) problems.push(`${optionPath(s.auditd.path, 'enable')} is false: events only reach the journal; enable auditd for /var/log/audit`);
  const observed = { enable: s.audit.enable, rules: s.audit.rules.length, auditd: s.auditd.enable };
  return [problems.length
    ? { subject: 'audit', pass: false, optionPath: s.audit.path, observed, expected: { enable: true, rules: '≥ 1', auditd: true }, message: problems.join('; ') }
    : { subject: 'audit', pass: true, optionPath: s.audit.path, observed, expected: { enable: true, rules: '≥ 1', auditd: true }, message: `audit enabled with ${s.audit.rules.length} rule(s) and auditd` }];
}

export function apparmorFindings(m: Manifest): Finding[] {
  const a = m.host.security.apparmor;
  if (a.enable && !a.policies.length) {
    return [{ subject: 'apparmor', pass: false, optionPath: optionPath(a.path, 'policies'), observed: { enable: true, policies: 0 }, expected: 'policies loaded',
      message: `${optionPath(a.path, 'enable')} is true but ${optionPath(a.path, 'policies')} is empty: AppArmor confines nothing. Add policies for the exposed services, or do not claim AppArmor.` }];
  }
  return [{ subject: 'apparmor', pass: a.enable, skipped: !a.enable, optionPath: a.path, observed: { enable: a.enable, policies: a.policies.length }, expected: 'no empty AppArmor claim',
    message: a.enable ? `AppArmor loads ${a.policies.length} polic${a.policies.length === 1 ? 'y' : 'ies'}` : `not applicable: AppArmor is not enabled (${optionPath(a.path, 'enable')}), so nothing is claimed` }];
}

