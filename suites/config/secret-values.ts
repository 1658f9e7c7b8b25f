// Recognising secret-looking values in a manifest, and naming them in reports without echoing
// them: a report shows a fingerprint (sha256 prefix + length), never the value.
import { createHash } from 'node:crypto';

// The rule of secretname in src/probes/secret-discovery.sh (the node side), so a name means the same
// in a manifest and on a node: the last secret word (PASSWORD, PASSPHRASE, PASSWD, PASS, SECRET,
// TOKEN, KEY, CREDENTIAL, plural or numbered) ends the name or is followed by a part that is not a
// qualifier of a setting about the secret (JWT_SECRET, SECRET_KEY_BASE, OPENAI_API_KEY are secrets;
// CACHE_KEY_PREFIX, PASSWORD_MIN_LENGTH, JWT_SECRET_FILE, BORG_PASSCOMMAND are not); …_AUTH is one.
// camelCase keys (JSON) are split first: apiKey → API_KEY, jwtSecretFile → JWT_SECRET_FILE.
const QUALIFIERS = new Set('PREFIX SUFFIX LENGTH LEN MIN MAX TTL EXPIRY EXPIRES EXPIRE EXPIRATION LIFETIME AGE TIMEOUT ALGORITHM ALGORITHMS ALGO ALG HEADER NAME ID IDS ENABLED ENABLE DISABLED DISABLE REQUIRED COUNT SIZE BITS TYPE USER USERNAME POLICY ROTATION ROTATE DAYS HOURS MINUTES SECONDS SECS MS FILE FILES PATH DIR URL URI ENDPOINT COMMAND CMD VERSION FORMAT MODE LOCATION REGEX PATTERN COMPLEXITY STRENGTH RESET HISTORY RETRIES ATTEMPTS INTERVAL'.split(' '));

export function isSecretName(name: string): boolean {
  const k = name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/-/g, '_').toUpperCase();
  if (/(^|_)AUTH$/.test(k)) return true;
  const m = /^(.*)(PASSWORD|PASSPHRASE|PASSWD|PASS|SECRET|TOKEN|KEY|CREDENTIAL)(.*)$/.exec(k);
  if (!m) return false;
  let r = m[3];
  if (r === 'S' || r.startsWith('S_')) r = r.slice(1);
  const q = /^[0-9]*(_([A-Z0-9]*))?/.exec(r)!;
  if (q[0].length !== r.length && r[q[0].length] !== '_') return false;
  return !QUALIFIERS.has(q[2] ?? '.');
}

/** `sha256:3f2a…(12 hex) len 27`: lets two reports be compared without disclosing the value. */
export function fingerprint(value: string): string {
  return `sha256:${createHash('sha256').update(value).digest('hex').slice(0, 12)} (${value.length} chars)`;
}

/** KEY=VALUE lines (env files, systemd Environment=) whose key names a secret and whose value is set. */
export function secretAssignments(text: string): { key: string; value: string }[] {
  const out: { key: string; value: string }[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim().replace(/^export\s+/, '');
    if (!line || line.startsWith('#')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(line);
    if (m && isSecretName(m[1]) && m[2].replace(/^["']|["']$/g, '') !== '') out.push({ key: m[1], value: m[2] });
  }
  return out;
}

/** Secret-named keys inside a JSON/TOML-ish string value (`"api_key": "…"`), e.g. a JSON blob in an env var. */
export function embeddedSecrets(text: string): string[] {
  const keys = new Set<string>();
  const re = /"?([A-Za-z_][A-Za-z0-9_-]*)"?\s*[:=]\s*"([^"]+)"/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) if (isSecretName(m[1])) keys.add(m[1]);
  return [...keys];
}

/**
 * Secret-named keys with literal values inside a JSON/TOML/YAML-ish text (`"apiKey": "sk-…"`,
 * `api_key = "…"`): a config file written with builtins.toJSON. A value that refers to the secret
 * (a path, `$VAR`, `%d/…`, `@PLACEHOLDER@`) is not the secret.
 */
export function embeddedAssignments(text: string): { key: string; value: string }[] {
  const out: { key: string; value: string }[] = [];
  for (const m of text.matchAll(/"?([A-Za-z_][A-Za-z0-9_-]*)"?\s*[:=]\s*"([^"]+)"/g)) {
    if (isSecretName(m[1]) && !/^(?:[$%/]|@[A-Z0-9_]+@$)/.test(m[2])) out.push({ key: m[1], value: m[2] });
  }
  return out;
}

/** Passwords written into URLs (`postgres://user:PASSWORD@host`, `nats://user:TOKEN@host`); shell
 * or systemd variables and placeholders are not values. */
export function urlPasswords(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:([^@\s/]+)@/gi)) if (!/^[$%@]/.test(m[1])) out.push(m[1]);
  return out;
}

export function hasPrivateKeyBlock(text: string): boolean {
  return /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text);
}

/** Placeholders that were meant to be substituted and never were: they are known credentials. */
const PLACEHOLDERS = [/@[A-Z][A-Z0-9_]{2,}@/g, /\byour_[a-z0-9_]+_here\b/gi, /\b(?:CHANGE_?ME|REPLACE_?ME|FIXME)\b/gi, /<(?:password|secret|token|api[_-]?key)>/gi];

export function placeholders(text: string): string[] {
  const found = new Set<string>();
  for (const re of PLACEHOLDERS) for (const m of text.matchAll(re)) found.add(m[0]);
  return [...found];
}

/** A value that sits in the world-readable Nix store (or will, once evaluated). */
export function inStore(value: string | null | undefined): boolean {
  return typeof value === 'string' && (value.startsWith('/nix/store/') || value.startsWith('nix-path:'));
}
