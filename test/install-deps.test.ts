// scripts/install-deps.sh: idempotent, and clear when it cannot do its job.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const isRoot = process.getuid?.() === 0;
const packages = /^PACKAGES="([^"]*)"/m.exec(readFileSync('scripts/install-deps.sh', 'utf8'))![1].split(/\s+/);
const missing = packages.filter(
  (p) => spawnSync('dpkg-query', ['-W', '-f=${Status}', p], { encoding: 'utf8' }).stdout !== 'install ok installed',
);

describe.skipIf(!isRoot)('install-deps.sh', () => {
  // .ci/run has already run it; a test must not install packages itself.
  it.skipIf(missing.length > 0)('a second run changes nothing: every package present, policy-rc.d as it was', () => {
    // Some images ship a policy-rc.d of their own: whatever was there must be there unchanged.
    const policy = '/usr/sbin/policy-rc.d';
    const before = existsSync(policy) ? readFileSync(policy, 'utf8') : null;
    const r = spawnSync('bash', ['scripts/install-deps.sh'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const [first, ...rest] = r.stdout.trim().split('\n');
    expect(first).toBe('install-deps: all packages present');
    // and the systemd lab rootfs: cached (ready in seconds, 0 or 1 on a busy machine; a rebuild would
    // take minutes), being built, or not built without root
    expect(rest.join('\n')).toMatch(/^(install-deps: systemd lab rootfs ready \(\d s\)|install-deps: the systemd lab rootfs is being built .*|install-deps: not root: .*)?$/);
    expect(existsSync(policy) ? readFileSync(policy, 'utf8') : null).toBe(before);
  });

  it('as another user with a package missing: one clear line naming it, exit 1, nothing touched', () => {
    const dir = mkdtempSync(join(tmpdir(), 'leafcert-install-deps-'));
    chmodSync(dir, 0o755);
    const copy = join(dir, 'install-deps.sh');
    writeFileSync(copy, readFileSync('scripts/install-deps.sh', 'utf8').replace(/^PACKAGES="/m, 'PACKAGES="leafcert-no-such-package '));
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'bash', copy], { encoding: 'utf8' });
    rmSync(dir, { recursive: true, force: true });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(
      'install-deps: missing leafcert-no-such-package; installing them needs root (run as root, or: sudo apt-get install leafcert-no-such-package)',
    );
  });
});
