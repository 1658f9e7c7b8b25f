// known_hosts as OpenSSH writes it: hashed entries produced by ssh-keygen -H itself.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendKnownHost, fingerprint, hostKeyName, hostsMatch, parseKnownHosts, readKnownHosts, verifyHostKey } from '../src/transport/knownhosts.js';
import { ParseError } from '../src/core/types.js';

let dir: string;
const keys: Record<string, { line: string; blob: Buffer; fp: string }> = {};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'leafcert-kh-'));
  for (const [name, type] of [['a', 'ed25519'], ['b', 'ed25519'], ['c', 'ecdsa']]) {
    execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-f', join(dir, name)]);
    const line = readFileSync(join(dir, `${name}.pub`), 'utf8').trim();
    const fp = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', join(dir, `${name}.pub`)], { encoding: 'utf8' }).split(' ')[1];
    keys[name] = { line, blob: Buffer.from(line.split(' ')[1], 'base64'), fp };
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const kt = (k: string) => keys[k].line.split(' ').slice(0, 2).join(' ');

describe('known_hosts', () => {
  it('fingerprints like ssh-keygen -l', () => {
    for (const k of Object.values(keys)) expect(fingerprint(k.blob)).toBe(k.fp);
  });

  it('plain, [host]:port, wildcard and negated patterns', () => {
    const entries = parseKnownHosts([
      '# comment', '',
      `10.250.0.2,leaf-1 ${kt('a')}`,
      `[10.250.0.3]:2222 ${kt('b')}`,
      `*.lab,!bad.lab ${kt('c')}`,
    ].join('\n'));
    expect(verifyHostKey(entries, hostKeyName('10.250.0.2', 22), keys.a.blob).ok).toBe(true);
    expect(verifyHostKey(entries, hostKeyName('leaf-1', 22), keys.a.blob).ok).toBe(true);
    expect(verifyHostKey(entries, hostKeyName('10.250.0.3', 2222), keys.b.blob).ok).toBe(true);
    expect(verifyHostKey(entries, hostKeyName('10.250.0.3', 22), keys.b.blob)).toEqual({ ok: false, reason: 'unknown' });
    expect(verifyHostKey(entries, 'x.lab', keys.c.blob).ok).toBe(true);
    expect(verifyHostKey(entries, 'bad.lab', keys.c.blob)).toEqual({ ok: false, reason: 'unknown' });
  });

  it('hashed entries written by ssh-keygen -H match; a different key of the same type is "changed"', () => {
    const f = join(dir, 'kh');
    writeFileSync(f, `10.250.0.2 ${kt('a')}\n[10.250.0.9]:2200 ${kt('c')}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', f], { stdio: 'ignore' });
    const text = readFileSync(f, 'utf8');
    expect(text).toMatch(/^\|1\|[^|]+\|[^ ]+ ssh-ed25519 /m);
    expect(text).not.toContain('10.250.0.2');
    const entries = readKnownHosts(f);
    expect(verifyHostKey(entries, '10.250.0.2', keys.a.blob).ok).toBe(true);
    expect(verifyHostKey(entries, '[10.250.0.9]:2200', keys.c.blob).ok).toBe(true);
    const changed = verifyHostKey(entries, '10.250.0.2', keys.b.blob);
    expect(changed.ok).toBe(false);
    expect(changed.ok === false && changed.reason).toBe('changed');
  });

  it('a host known only by another key type is not silently accepted', () => {
    const entries = parseKnownHosts(`h ${kt('c')}`);
    expect(verifyHostKey(entries, 'h', keys.a.blob)).toMatchObject({ ok: false, reason: 'changed' });
  });

  it('@revoked rejects the key everywhere, even for a host that lists it', () => {
    const entries = parseKnownHosts(`h ${kt('a')}\n@revoked * ${kt('a')}`);
    expect(verifyHostKey(entries, 'h', keys.a.blob)).toMatchObject({ ok: false, reason: 'revoked' });
  });

  it('appended entries are hashed and found again; ssh-keygen -F finds them too', () => {
    const f = join(dir, 'kh2');
    appendKnownHost(f, '[10.250.0.4]:22', keys.a.blob);
    appendKnownHost(f, '10.250.0.5', keys.b.blob);
    const entries = readKnownHosts(f);
    expect(hostsMatch(entries[0].hosts, '[10.250.0.4]:22')).toBe(true);
    expect(verifyHostKey(entries, '10.250.0.5', keys.b.blob).ok).toBe(true);
    expect(execFileSync('ssh-keygen', ['-F', '10.250.0.5', '-f', f], { encoding: 'utf8' })).toContain('ssh-ed25519');
  });

  it('malformed lines are ParseErrors naming the line', () => {
    expect(() => parseKnownHosts('host ssh-ed25519\n')).toThrow(ParseError);
    expect(() => parseKnownHosts(`\n@weird h ${kt('a')}`)).toThrow(/known_hosts:2: unknown marker/);
    expect(() => parseKnownHosts('h ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIA==')).toThrow(/not a valid ssh-rsa/);
  });

  it('a missing file means no known hosts (then every key is unknown)', () => {
    expect(readKnownHosts(join(dir, 'nope'))).toEqual([]);
  });
});

describe('known_hosts at fleet scale', () => {
  it('a pattern without wildcards matches case-insensitively and exactly; wildcards and negation still work after caching', async () => {
    const { hostsMatch } = await import('../src/transport/knownhosts.js');
    for (let i = 0; i < 2; i++) {
      expect(hostsMatch('Leaf-1.example', 'leaf-1.EXAMPLE')).toBe(true);
      expect(hostsMatch('leaf-1', 'leaf-10')).toBe(false);
      expect(hostsMatch('leaf-?,!leaf-3', 'leaf-2')).toBe(true);
      expect(hostsMatch('leaf-?,!leaf-3', 'leaf-3')).toBe(false);
      expect(hostsMatch('10.0.0.*', '10.0.0.7')).toBe(true);
      expect(hostsMatch('10.0.0.*', '10.0.1.7')).toBe(false);
    }
  });

  it('a file read again is parsed again only when its text changed (a replaced key of the same length included)', async () => {
    const { readKnownHosts } = await import('../src/transport/knownhosts.js');
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const f = join(mkdtempSync(join(tmpdir(), 'leafcert-kh-')), 'known_hosts');
    const blob = (b: number) => {
      const t = Buffer.from('ssh-ed25519');
      const k = Buffer.alloc(32, b);
      return Buffer.concat([Buffer.from([0, 0, 0, t.length]), t, Buffer.from([0, 0, 0, 32]), k]).toString('base64');
    };
    writeFileSync(f, `leaf-1 ssh-ed25519 ${blob(1)}\n`);
    const a = readKnownHosts(f);
    expect(readKnownHosts(f)).toBe(a);
    writeFileSync(f, `leaf-1 ssh-ed25519 ${blob(2)}\n`);
    const b = readKnownHosts(f);
    expect(b).not.toBe(a);
    expect(b[0].key.equals(a[0].key)).toBe(false);
  });
});
