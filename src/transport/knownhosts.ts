// OpenSSH known_hosts, read and written the way ssh(1) does: plain and hashed (`|1|salt|hash`)
// host patterns, `[host]:port` for non-22 ports, wildcards and negation, and the @revoked marker.
// @cert-authority lines are kept but never match a plain host key (we do not verify certificates).
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ParseError } from '../core/types.js';

export interface KnownHostEntry {
  marker?: 'revoked' | 'cert-authority';
  /** Raw host field (comma list of patterns, or one `|1|salt|hash`). */
  hosts: string;
  keyType: string;
  /** Public key blob (SSH wire format). */
  key: Buffer;
  line: number;
}

/** Parse a known_hosts file's text. Blank lines and comments are skipped; a malformed line is a ParseError. */
export function parseKnownHosts(text: string, source = 'known_hosts'): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry['marker'];
    if (fields[0].startsWith('@')) {
      const m = fields.shift()!;
      if (m === '@revoked') marker = 'revoked';
      else if (m === '@cert-authority') marker = 'cert-authority';
      else throw new ParseError(`${source}:${i + 1}`, `unknown marker ${m}`, line);
    }
    if (fields.length < 3) throw new ParseError(`${source}:${i + 1}`, 'expected "hosts keytype base64-key"', line);
    const [hosts, keyType, b64] = fields;
    const key = Buffer.from(b64, 'base64');
    if (key.length === 0 || keyBlobType(key) !== keyType) {
      throw new ParseError(`${source}:${i + 1}`, `key is not a valid ${keyType} public key`, line);
    }
    entries.push({ marker, hosts, keyType, key, line: i + 1 });
  });
  return entries;
}

/** The algorithm name inside an SSH public key blob (its first string). */
export function keyBlobType(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || 4 + len > blob.length) return undefined;
  return blob.subarray(4, 4 + len).toString('latin1');
}

/** OpenSSH's `SHA256:...` fingerprint (unpadded base64). */
export function fingerprint(blob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

/** The name ssh(1) looks up: `host` on port 22, else `[host]:port`. */
export function hostKeyName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

// Every node of a run looks its name up in the whole file: a fleet's known_hosts has a line per
// node, so each pattern's expression is made once (and a pattern without wildcards is compared).
const globs = new Map<string, RegExp>();
function globMatch(pattern: string, name: string): boolean {
  if (!/[*?]/.test(pattern)) return pattern.toLowerCase() === name.toLowerCase();
  let re = globs.get(pattern);
  if (!re) {
    re = new RegExp('^' + pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$', 'i');
    if (globs.size >= 4096) globs.clear();
    globs.set(pattern, re);
  }
  return re.test(name);
}

/** Does an entry's host field match `name` (as produced by hostKeyName)? Negated patterns veto. */
export function hostsMatch(hosts: string, name: string): boolean {
  if (hosts.startsWith('|1|')) {
    const [, , salt, hash] = hosts.split('|');
    if (!salt || !hash) return false;
    const mac = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
    return mac === hash;
  }
  let matched = false;
  for (const p of hosts.split(',')) {
    if (p.startsWith('!')) {
      if (globMatch(p.slice(1), name)) return false;
    } else if (globMatch(p, name)) matched = true;
  }
  return matched;
}

export type HostKeyVerdict =
  | { ok: true; entry: KnownHostEntry }
  | { ok: false; reason: 'unknown' }
  | { ok: false; reason: 'changed'; known: KnownHostEntry[] }
  | { ok: false; reason: 'revoked'; entry: KnownHostEntry };

/**
 * Judge a presented key: revoked beats everything; a matching entry of the same key → ok; entries
 * for the host with the same key type but another key → changed; none of that type → unknown.
 * (ssh2 is offered only the known key types first, so a known host presents a comparable key.)
 */
export function verifyHostKey(entries: KnownHostEntry[], name: string, key: Buffer): HostKeyVerdict {
  const type = keyBlobType(key);
  const revoked = entries.find((e) => e.marker === 'revoked' && e.key.equals(key));
  if (revoked) return { ok: false, reason: 'revoked', entry: revoked };
  const forHost = entries.filter((e) => !e.marker && hostsMatch(e.hosts, name));
  const same = forHost.find((e) => e.key.equals(key));
  if (same) return { ok: true, entry: same };
  const sameType = forHost.filter((e) => e.keyType === type);
  if (sameType.length) return { ok: false, reason: 'changed', known: sameType };
  // A host known only by other key types is still "changed" as far as we are concerned:
  // accepting a new type silently would defeat pinning.
  if (forHost.length) return { ok: false, reason: 'changed', known: forHost };
  return { ok: false, reason: 'unknown' };
}

/** Key types known for a host, to steer ssh2's host key negotiation toward them. */
export function knownKeyTypes(entries: KnownHostEntry[], name: string): string[] {
  return [...new Set(entries.filter((e) => !e.marker && hostsMatch(e.hosts, name)).map((e) => e.keyType))];
}

// Parsed once per file content: every node of a run reads the same file (a line per node in a
// fleet), and an entry appended meanwhile (acceptNewHostKey) or a key replaced changes the text.
const parsedFiles = new Map<string, { text: string; entries: KnownHostEntry[] }>();
export function readKnownHosts(path: string): KnownHostEntry[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  const hit = parsedFiles.get(path);
  if (hit?.text === text) return hit.entries;
  const entries = parseKnownHosts(text, path);
  parsedFiles.set(path, { text, entries });
  return entries;
}

/** Append a hashed entry (as `HashKnownHosts yes` would). */
export function appendKnownHost(path: string, name: string, key: Buffer): string {
  const salt = randomBytes(20);
  const hash = createHmac('sha1', salt).update(name).digest('base64');
  const line = `|1|${salt.toString('base64')}|${hash} ${keyBlobType(key)} ${key.toString('base64')}\n`;
  mkdirSync(dirname(path), { recursive: true });
  appendFileSync(path, line, { mode: 0o600 });
  return line;
}
