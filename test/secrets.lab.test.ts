// Secrets against a full lab node over real SSH: healthy → every check passes; each secrets fault →
// its check fails; heal → pass. The node's own secret files (nginx's TLS key, sshd's host key, the
// borg passphrase) are found without being listed, also with an empty secrets expectation. Bad
// input: a missing and an unreadable secrets file. And the point of the suite's design: no report
// the run writes contains a secret value of the lab.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { secretsSuite } from '../suites/secrets.js';
import type { Result } from '../src/core/types.js';
import { insideSuiteLab } from './helpers/suite-lab.js';

const TLS_KEY = '/etc/nginx/ssl/api.alchemist.local/key.pem';
const HOST_KEY = '/etc/ssh/ssh_host_ed25519_key';
const BORG_PASS = '/etc/borg/passphrase';

describe('secrets on a full lab node', { timeout: 180_000 }, () => {
  const found = (rs: Result[], id: string, subject: string) => rs.find((r) => r.id === id && r.subject === subject);
  const t = insideSuiteLab({
    name: 'secrets',
    suite: secretsSuite,
    roundTrips: 1,
    roundTripsTitle: 'round trips: 1 exec for the whole suite',
    healthy: (own) => {
      // discovered without being listed, each judged (and its value searched for)
      for (const path of [TLS_KEY, HOST_KEY, BORG_PASS]) {
        expect(found(own, 'secrets.discovered-permissions', path)?.status, path).toBe('pass');
        expect(found(own, 'secrets.exposure', path)?.status, path).toBe('pass');
      }
      const ev = found(own, 'secrets.exposure', '/etc/alchemist/secrets.env')!.evidence.observed as any;
      expect(ev.searched.logs).toMatch(/^\d+ file\(s\) under \/var\/log readable by non-root users, each up to 64MiB/);
      expect(Number(ev.searched.logs.split(' ')[0])).toBeGreaterThan(0); // the healthy node has readable logs, without secrets
      expect(ev.searched.journal).toMatch(/not searched: PID 1 is \S+, not systemd/);
      // the lab's Debian tree has a package database, skipped and named (NixOS has none)
      expect(ev.searched.files).toMatch(/^\d+ world-readable file\(s\) under the scan roots .*\(package databases not searched: \/var\/lib\/dpkg/);
      expect(Number(ev.searched.files.split(' ')[0])).toBeGreaterThan(50);
      expect(ev.searched.coreDumps).toMatch(/each up to 256MiB/);
    },
    detail: {
      'secrets-in-log': (rs) => expect(found(rs, 'secrets.exposure', '/etc/alchemist/secrets.env')?.message).toMatch(/^JWT_SECRET \(sha256:[0-9a-f]{8} \(48 chars\)\) in log readable by non-root users \/var\/log\/alchemist\/app.log$/),
      'secrets-tls-key-readable': (rs) => {
        expect(found(rs, 'secrets.discovered-permissions', TLS_KEY)).toMatchObject({ status: 'fail', severity: 'critical', message: expect.stringMatching(/\(nginx\): readable or writable by others \(mode 0644\)/) });
        expect(found(rs, 'secrets.discovered-permissions', HOST_KEY)?.status).toBe('pass');
      },
      // beyond /etc: a service's state dir, a file named like a secret that nothing lists, a command line
      'secrets-leaked-state-dir': (rs) => expect(found(rs, 'secrets.exposure', '/etc/alchemist/secrets.env')?.message).toMatch(/^JWT_SECRET \(sha256:[0-9a-f]{8} \(48 chars\)\) in world-readable file \/var\/lib\/alchemist-worker\/config.txt$/),
      'secrets-unlisted-env-readable': (rs) => {
        expect(found(rs, 'secrets.discovered-permissions', '/etc/alchemist-worker/worker.env')).toMatchObject({ status: 'fail', severity: 'critical', message: expect.stringMatching(/\(named like a secret\): readable or writable by others \(mode 0644\)/) });
        // a template is not judged for placeholders: only its mode and its values' exposure
        expect(found(rs, 'secrets.placeholder', '/etc/alchemist-worker/worker.env')).toBeUndefined();
        expect(found(rs, 'secrets.exposure', '/etc/alchemist-worker/worker.env')?.status).toBe('pass');
      },
      'secrets-cmdline': (rs) => expect(found(rs, 'secrets.exposure', '/etc/alchemist/secrets.env')?.message).toMatch(/^API_KEY \(sha256:[0-9a-f]{8} \(48 chars\)\) in command line \(world-readable \/proc\/PID\/cmdline\) of pid \d+ \(sh\)$/),
      // red team B: a weak value fails as a known credential and is not searched (no made-up leaks in ld.so.cache …)
      'secrets-weak-value': (rs) => {
        expect(found(rs, 'secrets.placeholder', '/etc/alchemist/secrets.env')?.message).toMatch(/^JWT_SECRET is a well-known weak value/);
        expect(found(rs, 'secrets.exposure', '/etc/alchemist/secrets.env')).toMatchObject({ status: 'pass', message: expect.stringMatching(/^4 values found nowhere others can read them \(JWT_SECRET \(6 chars\): a well-known value \(see secrets.placeholder\), not searched\)/) });
      },
      'secrets-template-unexpanded': (rs) => expect(found(rs, 'secrets.placeholder', '/etc/alchemist/secrets.env')?.message).toMatch(/^JWT_SECRET is an unexpanded template/),
      'secrets-leaked-webroot': (rs) => expect(found(rs, 'secrets.exposure', '/etc/alchemist/secrets.env')?.message).toMatch(/^JWT_SECRET \(sha256:[0-9a-f]{8} \(48 chars\)\) in world-readable file \/var\/www\/alchemist\/config.js$/),
      'secrets-acl-reader': (rs) => expect(found(rs, 'secrets.file-permissions', '/etc/alchemist/secrets.env')?.message).toMatch(/^\/etc\/alchemist\/secrets.env: has a POSIX ACL/),
      'secrets-borg-passphrase-readable': (rs) => expect(found(rs, 'secrets.discovered-permissions', BORG_PASS)).toMatchObject({ status: 'fail', message: expect.stringMatching(/\(borg job\): readable or writable by others \(mode 0644\)/) }),
    },
  });
  const { inventory, run } = t;

  it('a missing and an unreadable secrets file: fail / error with a plain reason', async () => {
    const file = inventory('secrets-bad', (exp) => {
      exp.secrets.files = [{ path: '/etc/alchemist/absent.env' }, { path: '/etc/alchemist' }];
      for (const k of ['containers', 'limits', 'postgres']) delete exp[k];
    });
    const { results, stdout } = await run(file);
    const get = (id: string, subject: string) => results.find((r) => r.id === id && r.subject === subject)!;
    expect(get('secrets.file-permissions', '/etc/alchemist/absent.env')).toMatchObject({ status: 'fail', message: '/etc/alchemist/absent.env does not exist' });
    expect(get('secrets.placeholder', '/etc/alchemist/absent.env').status).toBe('fail');
    expect(get('secrets.file-permissions', '/etc/alchemist')).toMatchObject({ status: 'fail', message: expect.stringMatching(/is a directory/) });
    expect(get('secrets.placeholder', '/etc/alchemist')).toMatchObject({ status: 'error', message: expect.stringMatching(/cannot read \/etc\/alchemist: .*Is a directory/) });
    expect(stdout).not.toMatch(/at .*\.js:\d+/);
  });

  it('an empty secrets expectation still checks the secret files the node uses; discover: false turns that off', async () => {
    const { results } = await run(inventory('secrets-empty', (exp) => {
      exp.secrets = {};
      for (const k of ['containers', 'limits', 'postgres']) delete exp[k];
    }));
    expect(results.filter((r) => r.id === 'secrets.discovered-permissions').map((r) => `${r.subject} ${r.status}`).sort()).toEqual([BORG_PASS, HOST_KEY, TLS_KEY].sort().map((p) => `${p} pass`));
    await t.lab.fault('leaf-1', 'secrets-borg-passphrase-readable');
    try {
      const off = await run(inventory('secrets-nodiscover', (exp) => {
        exp.secrets = { discover: false };
        for (const k of ['containers', 'limits', 'postgres']) delete exp[k];
      }));
      expect(off.results.filter((r) => r.suite === 'secrets').map((r) => r.id)).toEqual(['secrets.htpasswd', 'secrets.ca-key']);
    } finally {
      await t.lab.heal('leaf-1', 'secrets-borg-passphrase-readable');
    }
  });

  it('a healthy configuration env file (CACHE_KEY_PREFIX=alchemist, PASSWORD_MIN_LENGTH=12) world-readable is no secret file (red team B S10)', async () => {
    await t.lab.exec('leaf-1', `printf 'LOG_LEVEL=info\\nCACHE_KEY_PREFIX=alchemist\\nPASSWORD_MIN_LENGTH=12\\nTOKEN_TTL_SECONDS=3600\\n' > /etc/alchemist/app.env && chmod 0644 /etc/alchemist/app.env`);
    try {
      const { results } = await run(t.inv);
      expect(results.filter((r) => r.suite === 'secrets' && r.status !== 'pass' && r.status !== 'skipped').map((r) => `${r.id} ${r.subject}: ${r.message}`)).toEqual([]);
      expect(results.filter((r) => r.subject === '/etc/alchemist/app.env')).toEqual([]);
    } finally {
      await t.lab.exec('leaf-1', 'rm -f /etc/alchemist/app.env');
    }
  });

  it('no report the run writes (JUnit, TAP, JSON, console) contains a secret value of the lab', async () => {
    const env = await t.lab.exec('leaf-1', 'cat /etc/alchemist/secrets.env');
    const values = env.stdout.split('\n').map((l) => l.replace(/^[A-Z_]+=/, '').trim()).filter((v) => v.length >= 8);
    expect(values.length).toBe(5);
    const caKey = readFileSync(join(dirname(t.lab.inventory), 'ca.key'), 'utf8').split('\n').filter((l) => l && !l.startsWith('-----'));
    // the node's own secrets, found without being listed: neither their values nor key lines in a report
    const own = (await t.lab.exec('leaf-1', `cat ${BORG_PASS} ${TLS_KEY} ${HOST_KEY}`)).stdout.split('\n').filter((l) => l.length >= 16 && !l.startsWith('-----'));
    expect(own.length).toBeGreaterThan(3);
    values.push(...own);
    // Findings that talk about the values: a leaked copy, a plain htpasswd, the CA key on the node.
    for (const f of ['secrets-leaked-file', 'secrets-htpasswd-plain', 'secrets-ca-key', 'secrets-in-log', 'secrets-tls-key-readable']) await t.lab.fault('leaf-1', f);
    try {
      const dir = dirname(t.inv);
      const reports = { junit: join(dir, 'grep.junit.xml'), tap: join(dir, 'grep.tap'), json: join(dir, 'grep.json') };
      const r = await t.lab.leafcert(['run', '--inventory', t.inv, '--junit', reports.junit, '--tap', reports.tap, '--json', reports.json]);
      if (r.code !== 1) console.log(r.stdout, r.stderr);
      expect(r.code).toBe(1);
      const texts = { ...Object.fromEntries(Object.entries(reports).map(([k, p]) => [k, readFileSync(p, 'utf8')])), console: r.stdout + r.stderr };
      const json = JSON.parse(texts.json);
      expect(json.results.find((x: Result) => x.id === 'secrets.exposure').status).toBe('fail');
      expect(json.results.find((x: Result) => x.id === 'secrets.ca-key').status).toBe('fail');
      for (const [name, text] of Object.entries(texts)) {
        expect(text.length, name).toBeGreaterThan(0);
        for (const v of values) expect(text.includes(v), `${name} contains a secret value`).toBe(false);
        for (const line of caKey) expect(text.includes(line), `${name} contains CA key material`).toBe(false);
      }
      // What the reports do carry instead: the fingerprint of the leaked value.
      expect(texts.json).toMatch(/JWT_SECRET \(sha256:[0-9a-f]{8} \(48 chars\)\)/);
    } finally {
      await t.lab.heal('leaf-1');
    }
  });
});
