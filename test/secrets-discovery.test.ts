// The secret files a node's services use, found without being listed (src/probes/secret-discovery.sh):
// the real probe script runs here with fake tools early on PATH standing in for the node's — sshd -T
// naming a host key, a borg-job-* wrapper whose BORG_PASSCOMMAND cats a file, systemctl show with a
// unit's EnvironmentFile and LoadCredential — and the files in a temporary tree. Each is judged for
// its mode, its placeholders, and its values are searched for like the declared ones'.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSecrets } from '../src/probes/secrets.js';
import { evaluateSecrets, secretsSuite, type SecretsExpect } from '../suites/secrets.js';
import { LocalHost } from '../src/transport/local.js';
import { ParseError, type ExecOptions, type Host, type Outcome } from '../src/core/types.js';

const rnd = () => execFileSync('openssl', ['rand', '-hex', '16']).toString().trim();
let dir: string;
let oldPath: string | undefined;
const host = new LocalHost('discovery');
/** The probe believes systemd is PID 1 (the fake systemctl answers). */
const withSystemd: Host = Object.assign(Object.create(host), { exec: (c: string, o?: ExecOptions) => host.exec(c.replaceAll('[ -d /run/systemd/system ]', 'true'), o) });
const PASS = rnd();
const CRED = rnd();
const p = (f: string) => join(dir, f);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'leafcert-discovery-'));
  for (const d of ['shim', 'etc', 'keys']) mkdirSync(p(d));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', p('ssh_host_ed25519_key')]);
  writeFileSync(p('borg-pass'), `${PASS}\n`, { mode: 0o644 });
  writeFileSync(p('app.env'), 'TOKEN=changeme\nDB_URL=postgres://app@db/app\n', { mode: 0o600 });
  writeFileSync(p('cred'), CRED, { mode: 0o600 });
  // a world-readable copy of the credential under the scan root
  writeFileSync(p('etc/app.conf'), `token = ${CRED}\n`, { mode: 0o644 });
  writeFileSync(p('shim/sshd'), `#!/bin/sh\n[ "$1" = -T ] && printf 'port 22\\nhostkey %s\\nhostkey %s\\n' '${p('ssh_host_ed25519_key')}' '${p('ssh_host_rsa_key')}'\n`, { mode: 0o755 });
  writeFileSync(p('shim/borg-job-test'), `#!/bin/sh\nexport BORG_REPO=/var/lib/borgbackup/test\nexport BORG_PASSCOMMAND='cat ${p('borg-pass')}'\nexec borg "$@"\n`, { mode: 0o755 });
  writeFileSync(p('shim/systemctl'), `#!/bin/sh\nprintf 'Id=app.service\\nEnvironment=LANG=C\\nEnvironmentFiles=%s (ignore_errors=no)\\nLoadCredential=token:%s\\nUser=root\\nGroup=root\\n\\nId=other.service\\nEnvironment=\\n' '${p('app.env')}' '${p('cred')}'\n`, { mode: 0o755 });
  oldPath = process.env.PATH;
  process.env.PATH = `${p('shim')}:${process.env.PATH}`;
});
afterAll(() => {
  process.env.PATH = oldPath;
  rmSync(dir, { recursive: true, force: true });
});

const spec = (): SecretsExpect => ({ scanRoots: [p('etc')], keyPaths: [p('keys')], htpasswd: false, noCaKey: false });
const ctx = (h: Host) => ({ host: h, node: {} as any, identity: {}, options: { allowMutating: false, timeoutMs: 60_000, baseDir: dir }, progress() {} });
const mine = (out: Outcome[]) => out.filter((o) => o.subject.startsWith(dir));
const get = (out: Outcome[], id: string, f: string) => out.find((o) => o.id === `secrets.${id}` && o.subject === p(f));

describe('secret files the node uses, found without being listed', () => {
  it('sshd host key, borg passphrase file, EnvironmentFile and LoadCredential source: found, judged, their values searched; no value in the output', async () => {
    const facts = await secretsSuite.gather(ctx(withSystemd), spec());
    const d = facts.probe.files.filter((f) => f.path.startsWith(dir));
    expect(d.map((f) => `${f.discovered?.kind} ${f.path.slice(dir.length + 1)}`).sort()).toEqual(['borg borg-pass', 'credential cred', 'environment-file app.env', 'sshd ssh_host_ed25519_key']);
    expect(d.find((f) => f.path === p('app.env'))?.discovered).toMatchObject({ owners: ['root'], groups: ['root'], from: 'app.service EnvironmentFile' });
    const out = evaluateSecrets(facts, spec());
    expect(JSON.stringify(out)).not.toContain(PASS);
    expect(JSON.stringify(out)).not.toContain(CRED);
    // mode: the borg passphrase is world-readable (critical), the rest are 0600
    expect(get(out, 'discovered-permissions', 'borg-pass')).toMatchObject({ status: 'fail', severity: 'critical', message: expect.stringMatching(/\(borg job\): readable or writable by others \(mode 0644\)/) });
    for (const f of ['ssh_host_ed25519_key', 'app.env', 'cred']) expect(get(out, 'discovered-permissions', f)?.status, f).toBe('pass');
    // placeholders in a discovered EnvironmentFile
    expect(get(out, 'placeholder', 'app.env')).toMatchObject({ status: 'fail', message: 'TOKEN is changeme placeholder' });
    // the credential's value in a world-readable file; the passphrase's own file is not a copy of it
    expect(get(out, 'exposure', 'cred')).toMatchObject({ status: 'fail', message: expect.stringMatching(new RegExp(`^the value \\(sha256:[0-9a-f]{8} \\(32 chars\\)\\) in world-readable file ${p('etc/app.conf')}$`)) });
    expect(get(out, 'exposure', 'borg-pass')?.status).toBe('pass');
    expect(get(out, 'exposure', 'ssh_host_ed25519_key')?.status).toBe('pass');
    expect(mine(out).filter((o) => o.subject.endsWith('ssh_host_rsa_key'))).toEqual([]); // sshd -T's default that does not exist
  });

  it('a declared file is judged as declared (its mode and group), not again as discovered', async () => {
    const s = { ...spec(), files: [{ path: p('borg-pass'), format: 'raw' as const, mode: '0644' }] };
    const out = evaluateSecrets(await secretsSuite.gather(ctx(withSystemd), s), s);
    expect(get(out, 'file-permissions', 'borg-pass')?.status).toBe('fail'); // o+r is never fine
    expect(get(out, 'discovered-permissions', 'borg-pass')).toBeUndefined();
    expect(out.filter((o) => o.id === 'secrets.exposure' && o.subject === p('borg-pass')).length).toBe(1);
  });

  it('discover: false finds nothing', async () => {
    const s = { ...spec(), discover: false };
    const out = evaluateSecrets(await secretsSuite.gather(ctx(withSystemd), s), s);
    expect(out.filter((o) => o.id === 'secrets.discovered-permissions')).toEqual([]);
  });
});

describe('discovered files: judging and parsing', () => {
  const probe = (lines: string) => parseSecrets(`${lines}\nEND\n`, [], 'p');
  it('group bits only for the using service (or root); owner root or the service user', () => {
    const pr = probe(['D 0 nginx root,nginx nginx raw /k1', 'W 0 nginx ssl_certificate_key (/etc/nginx/nginx.conf)', 'S 0 640 root nginx 10 regular file', 'D 1 nginx root,nginx nginx raw /k2', 'S 1 640 root www 10 regular file', 'D 2 sshd root - raw /k3', 'S 2 600 sshd root 10 regular file', 'D 3 sops * - raw /k4', 'S 3 440 alice root 10 regular file'].join('\n'));
    const out = evaluateSecrets({ probe: pr, caPubShas: [], caCertProblems: [], command: 'c' }, { htpasswd: false, noCaKey: false }).filter((o) => o.id === 'secrets.discovered-permissions');
    expect(out.map((o) => `${o.subject} ${o.status}`)).toEqual(['/k1 pass', '/k2 fail', '/k3 fail', '/k4 pass']);
    expect(out[1].message).toMatch(/group www has access \(mode 0640; only nginx may\)/);
    expect(out[2].message).toMatch(/owner sshd \(expected root\)/);
  });
  it("a unit's own EnvironmentFile values in that unit's processes are allowed; elsewhere they fail", () => {
    const pr = probe(['D 0 environment-file root,app app env /run/app.env', 'W 0 app.service EnvironmentFile', 'S 0 640 root app 10 regular file', 'V 0 TOKEN 32 0123abcd ok', 'L environ 0 TOKEN 41 app.service app', 'L environ 0 TOKEN 42 - sleep'].join('\n'));
    const o = evaluateSecrets({ probe: pr, caPubShas: [], caCertProblems: [], command: 'c' }, { htpasswd: false, noCaKey: false }).find((x) => x.id === 'secrets.exposure')!;
    expect(o).toMatchObject({ status: 'fail', message: 'TOKEN (sha256:0123abcd (32 chars)) in environment of pid 42 (sleep)' });
  });
  it('logs, journal and core dumps: leaks name the place, unreadable ones make it an error', () => {
    const base = ['S 0 640 root root 10 regular file', 'V 0 TOKEN 32 0123abcd ok'];
    const parse = (extra: string[]) => parseSecrets([...base, ...extra, 'END'].join('\n'), [{ path: '/x' }], 'p');
    const judge = (extra: string[]) => evaluateSecrets({ probe: parse(extra), caPubShas: [], caCertProblems: [], command: 'c' }, { files: [{ path: '/x' }], htpasswd: false, noCaKey: false, discover: false }).find((x) => x.id === 'secrets.exposure')!;
    expect(judge(['L journal 0 TOKEN journal']).message).toBe('TOKEN (sha256:0123abcd (32 chars)) in the journal');
    expect(judge(['L core 0 TOKEN /var/lib/systemd/coredump/core.app.0.x.1.1']).message).toMatch(/in core dump \/var\/lib\/systemd\/coredump\/core.app/);
    expect(judge(['P journal journalctl -o cat exited 1'])).toMatchObject({ status: 'error', message: 'cannot tell whether the values leak: journal unreadable: journalctl -o cat exited 1' });
    expect(judge(['P core /core.12 is compressed and the node has no zstdcat'])).toMatchObject({ status: 'error', message: expect.stringMatching(/core dumps not searched: \/core.12 is compressed/) });
    const ok = judge(['I skipped /var/lib/dpkg', 'I files 412', 'I logs 3 1 0 64M', 'I log-unread /var/log/old.log.gz', 'I journal none bash no-journalctl', 'I cores 0 256M']);
    expect(ok.status).toBe('pass');
    expect((ok.evidence.observed as any).searched).toEqual({
      files: "412 world-readable file(s) under the scan roots and the units' store paths (package databases not searched: /var/lib/dpkg)",
      logs: '3 file(s) under /var/log readable by non-root users, each up to 64MiB; not read: 1 compressed, 0 over the cap (/var/log/old.log.gz)',
      journal: 'not searched: PID 1 is bash, not systemd (no journal)',
      coreDumps: '0 core dump(s) (systemd-coredump, core_pattern, core files), each up to 256MiB',
    });
  });
  it('a D line out of order or of an unknown kind is garbled output: ParseError', () => {
    expect(() => probe('D 1 nginx root nginx raw /k')).toThrow(ParseError);
    expect(() => probe('D 0 telnet root - raw /k')).toThrow(ParseError);
  });
});

describe('hashing through FIFOs', () => {
  it('every value gets its own sha256 (one sha256sum for all), equal to sha256sum of the value', async () => {
    const vals = Array.from({ length: 12 }, () => rnd());
    writeFileSync(p('many.env'), vals.map((v, i) => `K${i}=${v}`).join('\n') + '\nEMPTY=\n', { mode: 0o600 });
    const s: SecretsExpect = { files: [{ path: p('many.env') }], scanRoots: [p('keys')], keyPaths: [p('keys')], discover: false, htpasswd: false, noCaKey: false };
    const facts = await secretsSuite.gather(ctx(host), s);
    const sha = (v: string) => execFileSync('sha256sum', { input: v }).toString().slice(0, 8);
    expect(facts.probe.files[0].values.map((v) => v.sha)).toEqual([...vals.map(sha), sha('')]);
    expect(readFileSync(p('many.env'), 'utf8')).toContain(vals[0]); // untouched
  });
});
