import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { IDENTITY_SCRIPT, gatherIdentity, parseIdentity, parseOsRelease } from '../src/probes/identity.js';
import { LocalHost } from '../src/transport/local.js';
import { ParseError } from '../src/core/types.js';

describe('identity probe', () => {
  it('reads a NixOS node: pretty name, BUILD_ID, system store path, clock', () => {
    const id = parseIdentity(readFileSync(new URL('../fixtures/identity/nixos-24.11.out', import.meta.url), 'utf8'));
    expect(id).toEqual({
      hostname: 'leaf-paris-1',
      os: 'NixOS 24.11 (Vicuna)',
      nixosVersion: '24.11.20250123.035f8c0',
      currentSystem: '/nix/store/8k3wx5b7a1nhxq3ygz5p1n1s0yq5vy6r-nixos-system-leaf-paris-1-24.11.20250123.035f8c0',
      kernel: '6.6.72',
      clock: new Date(1790000000 * 1000).toISOString(),
      machineId: '0b3c9a1e5d7f4e2a8c6b9d0e1f2a3b4c',
    });
  });

  it('a non-NixOS host has no nixosVersion and no current-system; one exec', async () => {
    const h = new LocalHost('here');
    const id = await gatherIdentity(h);
    expect(h.roundTrips).toBe(1);
    expect(id.hostname).toBeTruthy();
    expect(id.kernel).toBeTruthy();
    expect(Math.abs(Date.parse(id.clock!) - Date.now())).toBeLessThan(5000);
    expect(IDENTITY_SCRIPT.split('@@leafcert-rc').length - 1).toBe(6);
  });

  it('reads every part with bash builtins: no external program is needed (a fleet pays per fork)', () => {
    // PATH points nowhere: any section that needed a program would fail with 127.
    const out = execFileSync('/usr/bin/env', ['-i', 'PATH=/nonexistent', '/bin/bash', '-c', IDENTITY_SCRIPT], { encoding: 'utf8' });
    const id = parseIdentity(out);
    expect(id.hostname).toBe(readFileSync('/proc/sys/kernel/hostname', 'utf8').trim());
    expect(id.kernel).toBe(readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim());
    expect(id.os).toBeTruthy();
    expect(Math.abs(Date.parse(id.clock!) - Date.now())).toBeLessThan(5000);
    for (const part of ['hostname', 'os-release', 'kernel', 'clock', 'machine-id']) expect(out).toContain(`@@leafcert-rc ${part} 0`);
  });

  it('os-release quoting', () => {
    expect(parseOsRelease('PRETTY_NAME="A \\"b\\""\nID=nixos\n# c\nX=\'y z\'')).toEqual({ PRETTY_NAME: 'A "b"', ID: 'nixos', X: 'y z' });
  });

  it('garbled output is a ParseError', () => {
    expect(() => parseIdentity('Permission denied\n')).toThrow(ParseError);
  });
});
