// `leafcert lab up` on a machine without the lab's packages (issue 12, item 10): one line naming
// the packages and scripts/install-deps.sh, exit 2, nothing built. The check is pointed at a tree
// that lacks them (LEAFCERT_LAB_ROOT), so nothing is uninstalled.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fsExists, missingMessage, missingRequirements, REQUIREMENTS, type Exists } from '../src/lab/deps.js';
import { up } from '../src/lab/lab.js';
import { LabError } from '../src/lab/proc.js';
import { labId } from '../src/lab/state.js';

const isRoot = process.getuid?.() === 0;
const PRIVATE = mkdtempSync(join(tmpdir(), 'leafcert-hostile-lab-build-'));
const BIN = join(PRIVATE, 'dist/src/cli.js');
const STATE = resolve('.lab-test-hostile-lab');

beforeAll(() => {
  const built = spawnSync(resolve('node_modules/.bin/tsc'), ['-p', 'tsconfig.json', '--outDir', join(PRIVATE, 'dist')], { encoding: 'utf8' });
  if (!existsSync(BIN)) throw new Error(`build failed: ${built.stdout}${built.stderr}`);
  copyFileSync('package.json', join(PRIVATE, 'package.json'));
  symlinkSync(resolve('node_modules'), join(PRIVATE, 'node_modules'));
  symlinkSync(resolve('src'), join(PRIVATE, 'src'));
  symlinkSync(resolve('scripts'), join(PRIVATE, 'scripts'));
  rmSync(STATE, { recursive: true, force: true });
}, 120_000);
afterAll(() => {
  rmSync(PRIVATE, { recursive: true, force: true });
  rmSync(STATE, { recursive: true, force: true });
});

/** A file tree with every program and file the lab needs, except those of `without` packages. */
function fakeRoot(without: string[]): string {
  const root = mkdtempSync(join(tmpdir(), 'leafcert-fake-root-'));
  for (const r of REQUIREMENTS) {
    if (without.includes(r.pkg)) continue;
    const p = join(root, r.need.startsWith('/') ? r.need : join('/usr/bin', r.need));
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, '#!/bin/sh\n');
    if (!r.file) chmodSync(p, 0o755);
  }
  return root;
}

/** Nothing of a lab in STATE: no state dir, no netns or veth of its id, no subnet lock it owns. */
function nothingBuilt() {
  expect(existsSync(STATE)).toBe(false);
  const id = labId(STATE);
  expect(spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout).not.toContain(`lc-${id}-`);
  expect(spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout).not.toContain(`lc${id}n`);
  const locks = '/run/leafcert-lab/blocks';
  if (existsSync(locks))
    for (const b of readdirSync(locks)) {
      const owner = join(locks, b, 'owner');
      if (existsSync(owner)) expect(readFileSync(owner, 'utf8').trim()).not.toBe(STATE);
    }
}

describe('lab requirements', () => {
  it('every package named is one scripts/install-deps.sh installs', () => {
    const installs = /^PACKAGES="([^"]*)"/m.exec(readFileSync('scripts/install-deps.sh', 'utf8'))![1].split(/\s+/);
    for (const r of REQUIREMENTS) expect(installs, r.need).toContain(r.pkg);
  });

  it('on this machine (packages installed by the test setup) nothing is missing, for every shape', () => {
    for (const flavour of ['full', 'light'] as const)
      for (const firewall of ['iptables', 'nftables'] as const) expect(missingRequirements({ flavour, firewall }).map((r) => r.need)).toEqual([]);
  });

  it('an injected lookup without borg and nft: the full nftables lab lacks borgbackup and nftables; the light iptables one lacks nothing', () => {
    const exists: Exists = (p) => !p.endsWith('/borg') && !p.endsWith('/nft');
    expect(missingRequirements({ flavour: 'full', firewall: 'nftables' }, exists).map((r) => r.pkg)).toEqual(['nftables', 'borgbackup']);
    expect(missingRequirements({ flavour: 'light', firewall: 'iptables' }, exists)).toEqual([]);
  });

  it('the message is one line: each package with what of it is missing, and the install command', () => {
    const msg = missingMessage({ flavour: 'full', firewall: 'iptables' }, REQUIREMENTS.filter((r) => r.pkg === 'postgresql' || r.pkg === 'borgbackup'));
    expect(msg).not.toContain('\n');
    expect(msg).toBe(
      'a full lab with the iptables firewall needs packages that are not installed: borgbackup (borg), postgresql (/usr/lib/postgresql/15/bin/initdb, ' +
        '/usr/lib/postgresql/15/bin/pg_ctl, /usr/lib/postgresql/15/bin/psql, /usr/lib/postgresql/15/bin/pg_dump). ' +
        'Install them with `bash scripts/install-deps.sh` (as root), then run `leafcert lab up` again; nothing was built',
    );
  });
});

describe.skipIf(!isRoot)('lab up without the packages', () => {
  it('up() throws LabError exit 2 before creating anything', async () => {
    const root = fakeRoot(['openssh-server']);
    try {
      const e = await up({ state: STATE, nodes: 1, flavour: 'light', firewall: 'iptables', exists: fsExists(root) }).catch((x) => x);
      expect(e).toBeInstanceOf(LabError);
      expect((e as LabError).exitCode).toBe(2);
      expect((e as LabError).message).toMatch(/needs packages that are not installed: openssh-server \(\/usr\/sbin\/sshd\)\. Install them with `bash scripts\/install-deps\.sh`/);
      nothingBuilt();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('`leafcert lab up --flavour full` with borg, PostgreSQL and nft missing: exit 2, one line, nothing built (it was a node init log and a half-built lab)', () => {
    const root = fakeRoot(['borgbackup', 'postgresql', 'nftables']);
    try {
      const r = spawnSync(process.execPath, [BIN, 'lab', 'up', '--state', STATE, '--flavour', 'full', '--firewall', 'nftables'], {
        cwd: PRIVATE,
        encoding: 'utf8',
        env: { ...process.env, LEAFCERT_LAB_ROOT: root },
        timeout: 60_000,
      });
      expect(r.status, r.stderr).toBe(2);
      expect(r.stdout).toBe('');
      const lines = r.stderr.replace(/\n$/, '').split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toBe(
        'leafcert lab: a full lab with the nftables firewall needs packages that are not installed: nftables (nft), borgbackup (borg), ' +
          'postgresql (/usr/lib/postgresql/15/bin/initdb, /usr/lib/postgresql/15/bin/pg_ctl, /usr/lib/postgresql/15/bin/psql, /usr/lib/postgresql/15/bin/pg_dump). ' +
          'Install them with `bash scripts/install-deps.sh` (as root), then run `leafcert lab up` again; nothing was built',
      );
      nothingBuilt();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('the fake root with everything present passes the check (the lookup reads the tree under the root)', () => {
    const root = fakeRoot([]);
    try {
      expect(missingRequirements({ flavour: 'full', firewall: 'nftables' }, fsExists(root))).toEqual([]);
      expect(missingRequirements({ flavour: 'light', firewall: 'iptables' }, fsExists(join(root, 'nowhere'))).length).toBeGreaterThan(0);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
