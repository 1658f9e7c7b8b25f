// Secrets, inspected ON the node so that no secret value ever leaves it: the probe script reads
// each secret file — the declared ones and those the node's services use (discovered from their
// configuration: secret-discovery.sh) — and prints per value only its key, length, the first 8 hex
// of its sha256 and a placeholder class; it then looks for the values (grep -F on the node) in
// places others can read — world-readable files under /etc and in store paths referenced by units,
// logs under /var/log readable by non-root users, the journal, core dumps, unit Environment
// (systemctl show), /proc/<pid>/environ — and lists htpasswd files and private keys (with the
// fingerprint of their public key, to match CA certificates). Values live only in shell variables of
// the (bash) script and reach grep, awk and sha256sum through pipes: never in argv, never in a file,
// so no kill, timeout or dropped connection can leave one on the node's disk. Its scratch (public
// things only) is RAM-backed and removed by traps, or swept by the next run (./scratch.ts).
// The script is secrets.sh; gatherSecrets runs it (one round trip) and reads the harness-side CA
// certificates, so the suite only judges.
import { readFileSync } from 'node:fs';
import { createHash, X509Certificate } from 'node:crypto';
import { isAbsolute, resolve } from 'node:path';
import { probeScript, scriptCommand } from '../core/script.js';
import { ParseError, type Host } from '../core/types.js';
import { scratchSh } from './scratch.js';

export interface SecretFileSpec {
  path: string;
  format?: 'env' | 'raw';
}

export const CA_KEY_PATHS = ['/etc/ssl', '/etc/nginx', '/var/lib/acme', '/etc/alchemist', '/root', '/etc/pki', '/etc/secrets'];
// Where services and people put files: configuration, service state, homes, runtime and temp dirs.
// /var/www: the web root nginx serves static sites from (a copy there is served to the world).
export const SCAN_ROOTS = ['/etc', '/var/lib', '/var/www', '/srv', '/home', '/root', '/run', '/tmp', '/var/tmp'];

/**
 * Placeholder classes, decided on the node (lowercased value): see classify() in the script.
 * template: an unexpanded ${X}, $X, {{ x }}, __X__, %X%; weak: a well-known value (secret, admin, …).
 */
export type ValueClass = 'ok' | 'empty' | 'at-name' | 'your-here' | 'changeme' | 'placeholder' | 'template' | 'weak';
const V_LINE = /^V (\d+) (\S+) (\d+) ([0-9a-f]{8}) (ok|empty|at-name|your-here|changeme|placeholder|template|weak)$/;

/** Where the probe looks and what it reads: the secrets expectation satisfies it. */
export interface SecretsTarget {
  files?: SecretFileSpec[];
  /** Harness-side CA certificates (relative to `baseDir`). */
  caCerts?: string[];
  keyPaths?: string[];
  scanRoots?: string[];
  /** Also find the secret files the node's services use (default true). */
  discover?: boolean;
}

const SCRIPT = probeScript('secrets.sh');

/**
 * The command that runs secrets.sh on the node, its scratch prelude in front (./scratch.ts). Paths
 * go as arguments ($1 …: the scan roots, the key directories, then format and path of each file);
 * bash for arrays and process substitution; exec, so the transport's TERM reaches its traps.
 */
export function secretsScript(files: SecretFileSpec[], opts: { caPaths?: string[]; scanRoots?: string[]; discover?: boolean } = {}): string {
  const roots = opts.scanRoots ?? SCAN_ROOTS;
  const caPaths = opts.caPaths ?? CA_KEY_PATHS;
  const args = [roots.length, ...roots, caPaths.length, ...caPaths, opts.discover === false ? 0 : 1, ...files.flatMap((f) => [f.format ?? 'env', f.path])];
  return `exec ${scriptCommand(`${scratchSh('S')}\n${SCRIPT}`, args)}`;
}

export interface SecretValueFact {
  key: string;
  length: number;
  /** First 8 hex of sha256(value). */
  sha: string;
  cls: ValueClass;
}

/** Which service's configuration names a discovered secret file, and who may read it. */
export interface DiscoveredFact {
  kind: 'nginx' | 'sshd' | 'acme' | 'borg' | 'environment-file' | 'credential' | 'agenix' | 'sops' | 'named';
  /** Owners that may own it; empty: any owner. */
  owners: string[];
  /** Groups that may have group bits on it (the using service's); empty: none. */
  groups: string[];
  /** Where it was found, e.g. "nginx ssl_certificate_key (/etc/nginx/nginx.conf)". */
  from: string;
}

export interface SecretFileFact {
  path: string;
  format?: 'env' | 'raw';
  /** Set on the files the probe found itself (they follow the declared ones). */
  discovered?: DiscoveredFact;
  exists: boolean;
  mode?: string;
  owner?: string;
  group?: string;
  size?: number;
  type?: string;
  /** It has a POSIX ACL (ls's +): users or groups beyond owner and group may read it, whatever its mode shows. */
  acl?: boolean;
  readError?: string;
  values: SecretValueFact[];
  /** Values not searched for leaks: too short to tell a copy from chance (short), or a configuration key of a file found by its name (config). */
  unsearched?: { key: string; why: 'short' | 'config' }[];
  malformed: number;
}

export interface LeakFact {
  where: 'file' | 'log' | 'journal' | 'core' | 'unit' | 'environ' | 'cmdline';
  file: number;
  key: string;
  /** File path, unit id, "journal", or "pid N (comm)". */
  location: string;
  pid?: number;
  comm?: string;
  /** The unit (cgroup) of the process holding it. */
  unit?: string;
}

/** What the leak scan covered beyond the scan roots (evidence: its bounds). */
export interface ScanScope {
  logs?: { files: number; compressed: number; overCap: number; cap: string; unread: string[] };
  /** "searched N" or why not. */
  journal?: string;
  cores?: { files: number; cap: string };
  /** World-readable files searched under the scan roots and in the units' store paths. */
  files?: number;
  /** Package-manager databases present and not searched. */
  skipped?: string[];
  /** World-readable files under the scan roots too big to search (their number, the cap, the first 20). */
  big?: { files: number; cap: string; paths: string[] };
}

export interface SecretsProbe {
  files: SecretFileFact[];
  leaks: LeakFact[];
  htpasswd: { path: string; mode: string; plain: number; lines: number }[];
  keys: { path: string; mode: string; pubSha: string }[];
  certs: { path: string; ca: boolean; pubSha: string }[];
  openssl: boolean;
  /** Places the leak scan could not read (unit environments that were not systemctl show's output, a journal or core dump it could not read). */
  problems: { where: 'unit' | 'journal' | 'core'; reason: string }[];
  scope: ScanScope;
}

const KINDS = ['nginx', 'sshd', 'acme', 'borg', 'environment-file', 'credential', 'agenix', 'sops', 'named'];
const list = (s: string) => [...new Set(s.split(',').filter((x) => x && x !== '-' && x !== '*'))];

export function parseSecrets(text: string, specs: SecretFileSpec[], source: string): SecretsProbe {
  if (!/^END$/m.test(text)) throw new ParseError(source, 'probe output is truncated (no END marker)', text.slice(-300));
  const files: SecretFileFact[] = specs.map((s) => ({ path: s.path, format: s.format ?? 'env', exists: false, values: [], malformed: 0 }));
  const out: SecretsProbe = { files, leaks: [], htpasswd: [], keys: [], certs: [], openssl: true, problems: [], scope: {} };
  const file = (i: string) => {
    const f = files[Number(i)];
    if (!f) throw new ParseError(source, `refers to secret file #${i}, which was not asked for`);
    return f;
  };
  const at = (i: string) => (file(i), Number(i));
  for (const [n, line] of text.split('\n').entries()) {
    if (!line || line === 'END') continue;
    let m: RegExpExecArray | null;
    if ((m = /^D (\d+) (\S+) (\S+) (\S+) (env|raw) (\/.*)$/.exec(line)) && KINDS.includes(m[2]) && Number(m[1]) === files.length) {
      files.push({ path: m[6], format: m[5] as 'env' | 'raw', exists: false, values: [], malformed: 0, discovered: { kind: m[2] as DiscoveredFact['kind'], owners: m[3].split(',').includes('*') ? [] : list(m[3]), groups: list(m[4]), from: '' } });
    } else if ((m = /^W (\d+) (.+)$/.exec(line)) && file(m[1]).discovered) file(m[1]).discovered!.from = m[2];
    else if ((m = /^S (\d+) missing$/.exec(line))) file(m[1]).exists = false;
    else if ((m = /^S (\d+) (\d+) (\S+) (\S+) (\d+) (.+)$/.exec(line))) Object.assign(file(m[1]), { exists: true, mode: m[2].padStart(4, '0'), owner: m[3], group: m[4], size: Number(m[5]), type: m[6] });
    else if ((m = /^A (\d+)$/.exec(line))) file(m[1]).acl = true;
    else if ((m = /^R (\d+) (.*)$/.exec(line))) file(m[1]).readError = m[2].trim() || 'unreadable';
    else if ((m = V_LINE.exec(line))) file(m[1]).values.push({ key: m[2], length: Number(m[3]), sha: m[4], cls: m[5] as ValueClass });
    else if ((m = /^Q (\d+) (.+) (short|config)$/.exec(line))) (file(m[1]).unsearched ??= []).push({ key: m[2], why: m[3] as 'short' | 'config' });
    else if ((m = /^X (\d+) /.exec(line))) file(m[1]).malformed++;
    else if ((m = /^L (file|log|journal|core|unit) (\d+) (\S+) (.+)$/.exec(line))) out.leaks.push({ where: m[1] as LeakFact['where'], file: at(m[2]), key: m[3], location: m[4] });
    else if ((m = /^L (environ|cmdline) (\d+) (\S+) (\d+) (\S+) ?(.*)$/.exec(line))) out.leaks.push({ where: m[1] as 'environ' | 'cmdline', file: at(m[2]), key: m[3], location: `pid ${m[4]} (${m[6]})`, pid: Number(m[4]), comm: m[6], ...(m[5] !== '-' ? { unit: m[5] } : {}) });
    else if ((m = /^I logs (\d+) (\d+) (\d+) (\S+)$/.exec(line))) out.scope.logs = { files: Number(m[1]), compressed: Number(m[2]), overCap: Number(m[3]), cap: m[4], unread: [] };
    else if ((m = /^I log-unread (.+)$/.exec(line)) && out.scope.logs) out.scope.logs.unread.push(m[1]);
    else if ((m = /^I journal searched (\d+)$/.exec(line))) out.scope.journal = `the newest ${m[1]} messages (journalctl -o cat)`;
    else if ((m = /^I journal none (\S+) (journalctl|no-journalctl)$/.exec(line))) out.scope.journal = m[1] === 'systemd' ? 'not searched: no journalctl on the node' : `not searched: PID 1 is ${m[1]}, not systemd (no journal)`;
    else if ((m = /^I files (\d+)$/.exec(line))) out.scope.files = Number(m[1]);
    else if ((m = /^I skipped (\/\S+)$/.exec(line))) (out.scope.skipped ??= []).push(m[1]);
    else if ((m = /^I big (\d+) (\S+)$/.exec(line))) out.scope.big = { files: Number(m[1]), cap: m[2], paths: [] };
    else if ((m = /^I big-file (.+)$/.exec(line)) && out.scope.big) out.scope.big.paths.push(m[1]);
    else if ((m = /^I cores (\d+) (\S+)$/.exec(line))) out.scope.cores = { files: Number(m[1]), cap: m[2] };
    else if ((m = /^H (\d+) (\d+) (\d+) (.+)$/.exec(line))) out.htpasswd.push({ mode: m[1].padStart(4, '0'), plain: Number(m[2]), lines: Number(m[3]), path: m[4] });
    else if ((m = /^K (\d+) (\S+) (.+)$/.exec(line))) out.keys.push({ mode: m[1].padStart(4, '0'), pubSha: m[2], path: m[3] });
    else if ((m = /^C (\d+) (\S+) (.+)$/.exec(line))) out.certs.push({ ca: m[1] !== '0', pubSha: m[2], path: m[3] });
    else if (line === 'O no-openssl') out.openssl = false;
    else if ((m = /^P (unit|journal|core) (.+)$/.exec(line))) out.problems.push({ where: m[1] as 'unit' | 'journal' | 'core', reason: m[2] });
    // Never echo the line: the probe guarantees no values in its output, a garbled line might not.
    else throw new ParseError(source, `line ${n + 1} of the probe output has an unexpected shape`);
  }
  return out;
}

export interface SecretsFacts {
  probe: SecretsProbe;
  /** sha256 (16 hex) of the public keys of the harness-side CA certificates. */
  caPubShas: { path: string; pubSha: string }[];
  caCertProblems: string[];
  command: string;
}

/** Same fingerprint as the node script: sha256 of the base64 body of the SubjectPublicKeyInfo PEM, first 16 hex. */
export function pubKeySha(certPem: string): string {
  const pem = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const body = pem.split('\n').filter((l) => l && !l.startsWith('-----')).join('');
  return createHash('sha256').update(body).digest('hex').slice(0, 16);
}

/**
 * One round trip: secrets.sh on the node (killed at `timeoutMs`, the run's --timeout: the engine
 * gives up on the gather then anyway), parsed strictly; plus the public keys of the harness-side CA
 * certificates (`caCerts`, relative to `baseDir`), read here, never on the node.
 */
export async function gatherSecrets(host: Host, target: SecretsTarget, opts: { timeoutMs: number; baseDir: string }): Promise<SecretsFacts> {
  const files = target.files ?? [];
  const script = secretsScript(files, { caPaths: target.keyPaths, scanRoots: target.scanRoots, discover: target.discover });
  const r = await host.exec(script, { timeoutMs: opts.timeoutMs });
  const command = `secrets probe (${target.discover === false ? '' : 'secret files of nginx, sshd, ACME, borg jobs, units, agenix/sops and files named like secrets found on the node; '}stat + values hashed on the node; grep -F over world-readable files under ${(target.scanRoots ?? SCAN_ROOTS).join(', ')}, unit store paths, logs under /var/log readable by non-root users, the journal, core dumps, systemctl show -p Environment, /proc/*/environ, /proc/*/cmdline; keys under ${(target.keyPaths ?? CA_KEY_PATHS).join(', ')})`;
  const probe = parseSecrets(r.stdout, files, 'secrets probe');
  const caPubShas: SecretsFacts['caPubShas'] = [];
  const caCertProblems: string[] = [];
  for (const p of target.caCerts ?? []) {
    const path = isAbsolute(p) ? p : resolve(opts.baseDir, p);
    try {
      caPubShas.push({ path, pubSha: pubKeySha(readFileSync(path, 'utf8')) });
    } catch (e) {
      caCertProblems.push(`${path}: ${(e as Error).message}`);
    }
  }
  return { probe, caPubShas, caCertProblems, command };
}
