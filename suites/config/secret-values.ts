// Recognising secret-looking values in a manifest, and naming them in reports without echoing
// them: a report shows a fingerprint (sha256 prefix + length), never the value.
import { createHash } from 'node:crypto';

/** Variable / key names that carry credentials. `_FILE`/`_PATH`/`_DIR` names point at a file: fine… */
const SECRET_NAME = /(PASS(WORD|WD|PHRASE)?|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIALS?|REQUIREPASS)/i;
// …and names of commands that fetch the secret (BORG_PASSCOMMAND) are not secrets either.
const FILE_NAME = /(_FILE|_PATH|_DIR|_FILES|FILE|COMMAND|_CMD)$/i;

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name) && !FILE_NAME.test(name);
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
