// The secrets suite's judgement, one pure function per check: facts + expectation → one outcome.
// Evidence carries only `sha256:<8 hex>` and the length of a value, never the value.
import type { Outcome } from '../../src/core/types.js';
import { outcome } from '../../src/core/checks.js';
import type { LeakFact, ScanScope, SecretFileFact, SecretsFacts } from '../../src/probes/secrets.js';
import { CHECKS } from './checks.js';

export interface SecretFileExpect {
  path: string;
  /** Octal, e.g. "0640". Without it: not readable by others. */
  mode?: string;
  owner?: string;
  group?: string;
  /** env (KEY=VALUE lines, default) or raw (the whole file is one value). */
  format?: 'env' | 'raw';
  /** Process names (comm) allowed to hold these values in their environment, e.g. the app that uses them. */
  consumers?: string[];
  /** Read only if present (systemd EnvironmentFile=-PATH): a missing file is skipped, not a finding. */
  optional?: boolean;
}

/** An optional file that is not there: nothing to judge, and said so. */
function optionalMissing(def: (typeof CHECKS)[keyof typeof CHECKS], spec: SecretFileExpect): Outcome {
  return outcome(def, spec.path, 'skipped', `not applicable: ${spec.path} is optional (EnvironmentFile=-${spec.path}) and not present`, { expected: 'present or absent (optional)', observed: 'missing', source: `stat ${spec.path}` });
}

export interface SecretsExpect {
  files?: SecretFileExpect[];
  /** Check that no CA private key is on the node (default true). */
  noCaKey?: boolean;
  /** CA certificate(s) on the harness side (relative to the inventory): a node key matching one is a CA key. */
  caCerts?: string[];
  /** Where to look for private keys (default: /etc/ssl, /etc/nginx, /var/lib/acme, /etc/alchemist, /root, ...). */
  keyPaths?: string[];
  /** Roots scanned for world-readable copies of secret values and world-readable files named like secrets (default /etc, /var/lib, /var/www, /srv, /home, /root, /run, /tmp, /var/tmp; store paths of units are added on NixOS). */
  scanRoots?: string[];
  /** htpasswd files must not hold {PLAIN} passwords nor be world-readable (default true). */
  htpasswd?: boolean;
  /** Find and check the secret files the node's services use without being listed (default true). */
  discover?: boolean;
}

const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;
const fp = (v: { sha: string; length: number }) => `sha256:${v.sha} (${v.length} chars)`;
const CLASS_TEXT: Record<string, string> = { empty: 'empty', 'at-name': '@NAME@ placeholder', 'your-here': 'your_*_here placeholder', changeme: 'changeme placeholder', placeholder: 'placeholder', template: 'an unexpanded template (${X}, {{ x }}, __X__, %X%)', weak: 'a well-known weak value (a known credential: the first guess of anyone who tries)' };

export function permsOutcome(spec: SecretFileExpect, f: SecretFileFact): Outcome {
  const wantMode = spec.mode ? spec.mode.padStart(4, '0') : undefined;
  const expected = { mode: wantMode ?? 'not readable by others', owner: spec.owner, group: spec.group };
  if (!f.exists && spec.optional) return optionalMissing(CHECKS['file-permissions'], spec);
  if (!f.exists) return outcome(CHECKS['file-permissions'], spec.path, 'fail', `${spec.path} does not exist`, { expected, observed: 'missing', source: `stat ${spec.path}` });
  const problems: string[] = [];
  if (f.type !== 'regular file') problems.push(`is a ${f.type}`);
  if (wantMode && f.mode !== wantMode) problems.push(`mode ${f.mode} (expected ${wantMode})`);
  const otherBits = parseInt(f.mode ?? '0', 8) & 0o007;
  if (otherBits) problems.push(`readable or writable by others (mode ${f.mode})`);
  if (f.acl) problems.push(`has a POSIX ACL (named users or groups may read it whatever its mode shows: getfacl ${f.path})`);
  if (spec.owner && f.owner !== spec.owner) problems.push(`owner ${f.owner} (expected ${spec.owner})`);
  if (spec.group && f.group !== spec.group) problems.push(`group ${f.group} (expected ${spec.group})`);
  return outcome(
    CHECKS['file-permissions'],
    spec.path,
    problems.length ? 'fail' : 'pass',
    problems.length ? `${spec.path}: ${[...new Set(problems)].join('; ')}` : `${spec.path} ${f.mode} ${f.owner}:${f.group}`,
    { expected, observed: { mode: f.mode, owner: f.owner, group: f.group, type: f.type, ...(f.acl ? { acl: true } : {}) }, source: `stat -L -c '%a %U %G %s %F' ${spec.path}; ls -ldLUb ${spec.path}` },
    { severity: otherBits ? 'critical' : 'high' },
  );
}

export function placeholderOutcome(spec: { path: string; optional?: boolean }, f: SecretFileFact): Outcome {
  const def = CHECKS.placeholder;
  if (!f.exists && spec.optional) return optionalMissing(def, spec);
  if (!f.exists) return outcome(def, spec.path, 'fail', `${spec.path} does not exist`, { expected: 'real values', observed: 'missing', source: `stat ${spec.path}` });
  if (f.readError) return outcome(def, spec.path, 'error', `cannot read ${spec.path}: ${f.readError}`, { expected: 'real values', observed: null, source: `cat ${spec.path}` });
  if (!f.values.length) return outcome(def, spec.path, 'fail', `${spec.path} holds no values${f.malformed ? ` (${f.malformed} line(s) without KEY=)` : ''}`, { expected: 'real values', observed: [], source: `read ${spec.path} on the node` });
  const bad = f.values.filter((v) => v.cls !== 'ok');
  return outcome(def, spec.path, bad.length ? 'fail' : 'pass', bad.length ? `${bad.map((v) => `${v.key === '-' ? 'the value' : v.key} is ${CLASS_TEXT[v.cls]}`).join('; ')}` : `${plural(f.values.length, 'value')}, none empty, a placeholder or a well-known value`, {
    expected: 'no empty, @NAME@, your_*_here, changeme, ${X}/{{ x }}/__X__ template or well-known (secret, admin, …) values',
    observed: f.values.map((v) => `${v.key}: ${fp(v)}${v.cls !== 'ok' ? ` ${v.cls}` : ''}`),
    source: `values read and fingerprinted on the node from ${spec.path}`,
  });
}

const WHERE: Record<string, string> = { file: 'world-readable file', log: 'log readable by non-root users', journal: 'the journal', core: 'core dump', unit: 'unit Environment (systemctl show)', environ: 'environment of', cmdline: 'command line (world-readable /proc/PID/cmdline) of' };
const UNREAD: Record<string, string> = { unit: 'unit environments unreadable', journal: 'journal unreadable', core: 'core dumps not searched' };

/** What the scan covered beyond the scan roots, with its bounds (evidence). */
function scopeText(s: ScanScope): Record<string, string> {
  const out: Record<string, string> = {};
  if (s.files !== undefined) out.files = `${s.files} world-readable file(s) under the scan roots and the units' store paths${s.skipped?.length ? ` (package databases not searched: ${s.skipped.join(', ')})` : ''}`;
  if (s.big?.files) out.tooLarge = `${s.big.files} world-readable file(s) of ${s.big.cap} or more not searched: ${s.big.paths.join(', ')}${s.big.files > s.big.paths.length ? ', …' : ''}`;
  if (s.logs) out.logs = `${s.logs.files} file(s) under /var/log readable by non-root users, each up to ${s.logs.cap}iB${s.logs.compressed + s.logs.overCap ? `; not read: ${s.logs.compressed} compressed, ${s.logs.overCap} over the cap (${s.logs.unread.join(', ')})` : ''}`;
  if (s.journal) out.journal = s.journal;
  if (s.cores) out.coreDumps = `${s.cores.files} core dump(s) (systemd-coredump, core_pattern, core files), each up to ${s.cores.cap}iB`;
  return out;
}

/** Processes that may hold a file's values: declared consumers (comm), or for a unit's EnvironmentFile that unit's processes. */
function allowedHolder(f: SecretFileFact, consumers: Set<string>, l: LeakFact): boolean {
  if (l.where !== 'environ') return false;
  if (l.comm && consumers.has(l.comm)) return true;
  const units = [...(f.discovered?.from ?? '').matchAll(/(\S+) EnvironmentFile/g)].map((m) => m[1]);
  return !!l.unit && units.includes(l.unit);
}

export function exposureOutcome(facts: SecretsFacts, spec: { path: string; consumers?: string[] }, i: number): Outcome {
  const p = facts.probe;
  const f = p.files[i];
  const consumers = new Set(spec.consumers ?? []);
  const leaks = p.leaks.filter((l) => l.file === i);
  const bad = leaks.filter((l) => !allowedHolder(f, consumers, l));
  const allowed = leaks.filter((l) => !bad.includes(l));
  const byKey = (k: string) => f.values.find((v) => v.key === k);
  const name = (k: string) => (k === '-' ? 'the value' : k);
  const unsearched = new Map<string, string>((f.unsearched ?? []).map((u) => [u.key, u.why]));
  const scanned = f.values.filter((v) => v.cls === 'ok' && !unsearched.has(v.key));
  // Values not searched, said so: a short or well-known value turns up by chance in unrelated files.
  const notSearched = f.values.filter((v) => v.cls === 'weak' || unsearched.get(v.key) === 'short').map((v) => `${name(v.key)} (${v.length} chars): ${v.cls === 'weak' ? 'a well-known value (see secrets.placeholder)' : 'too short'}, not searched`);
  const big = p.scope.big?.files ? `; ${p.scope.big.files} world-readable file(s) of ${p.scope.big.cap} or more not searched` : '';
  // A place the scan could not read says nothing either way: a found leak still fails, no leak is unknown.
  const unread = scanned.length ? [...new Set(p.problems.map((x) => x.where))].map((w) => `${UNREAD[w]}: ${p.problems.filter((x) => x.where === w).map((x) => x.reason).join('; ')}`) : [];
  const message = bad.length
    ? bad.map((l) => `${name(l.key)} (${byKey(l.key) ? fp(byKey(l.key)!) : '?'}) in ${WHERE[l.where]}${l.where === 'journal' ? '' : ` ${l.location}`}`).join('; ') + (unread.length ? ` (and ${unread.join('; ')})` : '')
    : unread.length
      ? `cannot tell whether the values leak: ${unread.join('; ')}`
      : scanned.length
        ? `${plural(scanned.length, 'value')} found nowhere others can read them${allowed.length ? ` (held by ${[...new Set(allowed.map((l) => (l.comm && consumers.has(l.comm) ? l.comm : l.unit)))].join(', ')}, which use them)` : ''}${notSearched.length ? ` (${notSearched.join('; ')})` : ''}${big}`
        : `no real value to look for${notSearched.length ? ` (${notSearched.join('; ')})` : ''} (see secrets.placeholder)`;
  return outcome(CHECKS.exposure, spec.path, bad.length ? 'fail' : unread.length ? 'error' : scanned.length ? 'pass' : 'skipped', message, {
    expected: { consumers: [...consumers], ...(f.discovered ? { from: f.discovered.from } : {}) },
    observed: { leaks: leaks.map((l) => ({ key: l.key, fingerprint: byKey(l.key) ? fp(byKey(l.key)!) : undefined, where: l.where, location: l.location, allowed: allowed.includes(l) })), searched: scopeText(p.scope), ...(notSearched.length ? { notSearched } : {}) },
    source: facts.command,
  });
}

export function htpasswdOutcome(facts: SecretsFacts): Outcome {
  const hs = facts.probe.htpasswd;
  const bad = hs.filter((h) => h.plain > 0 || (parseInt(h.mode, 8) & 0o004) !== 0 || h.path.startsWith('/nix/store/'));
  const message = bad.length
    ? bad.map((h) => `${h.path}: ${[h.plain ? `${h.plain} {PLAIN} password(s)` : '', parseInt(h.mode, 8) & 0o004 ? `world-readable (${h.mode})` : '', h.path.startsWith('/nix/store/') ? 'in the world-readable store' : ''].filter(Boolean).join(', ')}`).join('; ')
    : hs.length
      ? `${hs.length} htpasswd file(s), hashed and not world-readable`
      : 'no htpasswd files (named *htpasswd* or auth_basic_user_file) under /etc/nginx';
  return outcome(CHECKS.htpasswd, 'htpasswd', bad.length ? 'fail' : 'pass', message, { expected: 'hashed entries, mode without o+r, not in /nix/store', observed: hs, source: "find /etc/nginx -name '*htpasswd*'; auth_basic_user_file" });
}

const CA_KEY_NAME = /(^|[-_.])ca([-_.]?key)?\.(key|pem)$|(^|[-_.])ca[-_]key|cakey/i;

export function caKeyOutcome(facts: SecretsFacts): Outcome {
  const p = facts.probe;
  const caShas = new Map<string, string>();
  for (const c of p.certs) if (c.ca && c.pubSha !== '-') caShas.set(c.pubSha, c.path);
  for (const c of facts.caPubShas) caShas.set(c.pubSha, `${c.path} (harness)`);
  const found = p.keys
    .map((k) => ({ k, why: caShas.has(k.pubSha) ? `public key matches CA certificate ${caShas.get(k.pubSha)}` : CA_KEY_NAME.test(k.path.split('/').pop() ?? '') && !/(^|\/)(fullchain|chain|cert)/.test(k.path) ? 'named like a CA key' : undefined }))
    .filter((x) => x.why);
  // Without openssl a key's public half cannot be compared with the CA certificates: unsure, not pass.
  const noOpenssl = !p.openssl && p.keys.length > 0;
  const problems = [...facts.caCertProblems, ...(noOpenssl ? [`cannot compare public keys without openssl on the node (${p.keys.length} private key(s) found, matched by name only)`] : [])];
  const message = found.length
    ? `CA private key on the node: ${found.map((x) => `${x.k.path} (${x.why})`).join('; ')}; anyone with root here can mint trusted certificates — keep it offline`
    : problems.length
      ? problems.join('; ')
      : `${p.keys.length} private key(s) found, none belongs to a CA`;
  return outcome(CHECKS['ca-key'], 'CA key', found.length ? 'fail' : problems.length ? 'error' : 'pass', message, {
    expected: 'no private key of a CA:TRUE certificate',
    observed: { keys: p.keys.map((k) => `${k.path} ${k.mode} pub:${k.pubSha}`), caCertificates: [...caShas.entries()].map(([s, path]) => `${path} pub:${s}`) },
    source: facts.command,
  });
}

const KIND_TEXT: Record<string, string> = { nginx: 'nginx', sshd: 'sshd host key', acme: 'ACME', borg: 'borg job', 'environment-file': 'unit EnvironmentFile', credential: 'unit LoadCredential', agenix: 'agenix', sops: 'sops-nix', named: 'named like a secret' };

/** A discovered secret file: no bits for others, group bits only for the using service's group, owned by root or the service. */
export function discoveredPermsOutcome(f: SecretFileFact): Outcome {
  const d = f.discovered!;
  const expected = { others: 'no bits', group: d.kind === 'named' ? 'not judged (no known service)' : d.groups.length ? `bits only for ${d.groups.join(', ')}` : 'no bits', owner: d.owners.length ? d.owners.join(' or ') : 'any', usedBy: `${KIND_TEXT[d.kind]}: ${d.from}` };
  const mode = parseInt(f.mode ?? '0', 8);
  const problems: string[] = [];
  if (f.type !== 'regular file') problems.push(`is a ${f.type}`);
  if (mode & 0o007) problems.push(`readable or writable by others (mode ${f.mode})`);
  // A file found by its name has no known service: its group is not judged.
  if (d.kind !== 'named' && mode & 0o070 && f.group !== 'root' && !d.groups.includes(f.group ?? '')) problems.push(`group ${f.group} has access (mode ${f.mode}; ${d.groups.length ? `only ${d.groups.join(', ')} may` : 'no group may'})`);
  if (f.acl) problems.push(`has a POSIX ACL (named users or groups may read it whatever its mode shows: getfacl ${f.path})`);
  if (d.owners.length && !d.owners.includes(f.owner ?? '')) problems.push(`owner ${f.owner} (expected ${d.owners.join(' or ')})`);
  return outcome(
    CHECKS['discovered-permissions'],
    f.path,
    problems.length ? 'fail' : 'pass',
    problems.length ? `${f.path} (${KIND_TEXT[d.kind]}): ${problems.join('; ')}` : `${f.path} ${f.mode} ${f.owner}:${f.group} (${KIND_TEXT[d.kind]})`,
    { expected, observed: { mode: f.mode, owner: f.owner, group: f.group, type: f.type, ...(f.acl ? { acl: true } : {}) }, source: `found as ${d.from}; stat -L -c '%a %U %G %s %F' ${f.path}; ls -ldLUb ${f.path}` },
    { severity: mode & 0o007 ? 'critical' : 'high' },
  );
}

/** Discovery ran and found nothing to check: say so, once. */
export function nothingDiscovered(): Outcome {
  return outcome(CHECKS['discovered-permissions'], 'discovered', 'skipped', 'no secret file found in the configuration of nginx, sshd, ACME, borg jobs, units, agenix or sops on this node', { expected: 'secret files the services use', observed: [], source: 'secrets probe discovery' });
}
