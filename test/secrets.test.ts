import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSecrets, SCAN_ROOTS, secretsScript } from '../src/probes/secrets.js';
import { evaluateSecrets, pubKeySha, secretsSuite, type SecretsExpect, type SecretsFacts } from '../suites/secrets.js';
import { LocalHost } from '../src/transport/local.js';
import { ParseError } from '../src/core/types.js';

// A node-like tree on this machine: the probe script runs for real (sh, grep, openssl), only the
// roots differ from a node's. Values are random per run, so the leak assertions cannot be faked.
let dir: string;
const rnd = () => execFileSync('openssl', ['rand', '-hex', '16']).toString().trim();
const JWT = rnd();
const API = rnd();
let spec: SecretsExpect;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'leafcert-secrets-'));
  for (const d of ['etc/alchemist', 'etc/nginx', 'keys']) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, 'etc/alchemist/secrets.env'), `# generated\nJWT_SECRET=${JWT}\nexport API_KEY="${API}"\nREDIS_PASSWORD=@REDIS_PASSWORD@\nGRAFANA_PASSWORD=your_grafana_password_here\nEMPTY=\n`);
  chmodSync(join(dir, 'etc/alchemist/secrets.env'), 0o640);
  writeFileSync(join(dir, 'etc/alchemist/config.toml'), `jwt = "${JWT}"\n`);
  chmodSync(join(dir, 'etc/alchemist/config.toml'), 0o644);
  writeFileSync(join(dir, 'etc/nginx/monitoring.htpasswd'), 'admin:{PLAIN}hunter22\n');
  chmodSync(join(dir, 'etc/nginx/monitoring.htpasswd'), 0o644);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'keys/intermediate.pem'), '-out', join(dir, 'keys/ca-cert.pem'), '-subj', '/CN=lab CA', '-days', '2', '-addext', 'basicConstraints=critical,CA:TRUE'], { stdio: 'ignore' });
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'keys/server-key.pem'), '-out', join(dir, 'keys/server.pem'), '-subj', '/CN=api', '-days', '2', '-addext', 'basicConstraints=critical,CA:FALSE'], { stdio: 'ignore' });
  spec = { files: [{ path: join(dir, 'etc/alchemist/secrets.env'), mode: '0640', owner: 'root', group: 'root' }, { path: join(dir, 'etc/alchemist/absent.env') }], keyPaths: [join(dir, 'keys')], scanRoots: [join(dir, 'etc')], discover: false };
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(s: SecretsExpect): Promise<{ facts: SecretsFacts; raw: string }> {
  const host = new LocalHost('local');
  const raw = (await host.exec(secretsScript(s.files ?? [], { caPaths: s.keyPaths, scanRoots: s.scanRoots, discover: s.discover }))).stdout;
  const facts = await secretsSuite.gather({ host, node: {} as any, identity: {}, options: { allowMutating: false, timeoutMs: 30_000, baseDir: dir }, progress() {} }, s);
  return { facts, raw };
}

describe('secrets probe (real script, local tree)', () => {
  it('fingerprints values on the node, classifies placeholders, finds the world-readable copy and the CA key; prints no value', async () => {
    const { facts, raw } = await run(spec);
    expect(raw).not.toContain(JWT);
    expect(raw).not.toContain(API);
    const f = facts.probe.files[0];
    expect(f).toMatchObject({ exists: true, mode: '0640', owner: 'root', group: 'root' });
    expect(f.values.map((v) => `${v.key}:${v.cls}`)).toEqual(['JWT_SECRET:ok', 'API_KEY:ok', 'REDIS_PASSWORD:at-name', 'GRAFANA_PASSWORD:your-here', 'EMPTY:empty']);
    const sha = execFileSync('sh', ['-c', `printf %s '${JWT}' | sha256sum`]).toString().slice(0, 8);
    expect(f.values[0]).toMatchObject({ sha, length: 32 });
    expect(facts.probe.files[1].exists).toBe(false);
    expect(facts.probe.leaks).toEqual([{ where: 'file', file: 0, key: 'JWT_SECRET', location: join(dir, 'etc/alchemist/config.toml') }]);
    expect(facts.probe.htpasswd).toMatchObject([{ plain: 1, mode: '0644' }]);
    expect(facts.probe.keys.length).toBe(2);

    const out = evaluateSecrets(facts, spec);
    const report = JSON.stringify(out);
    expect(report).not.toContain(JWT);
    expect(report).not.toContain(API);
    const get = (id: string, i = 0) => out.filter((o) => o.id === id)[i];
    expect(get('secrets.file-permissions')).toMatchObject({ status: 'pass' });
    expect(get('secrets.placeholder')).toMatchObject({ status: 'fail', message: 'REDIS_PASSWORD is @NAME@ placeholder; GRAFANA_PASSWORD is your_*_here placeholder; EMPTY is empty' });
    expect(get('secrets.exposure')).toMatchObject({ status: 'fail', message: expect.stringMatching(new RegExp(`JWT_SECRET \\(sha256:${sha} \\(32 chars\\)\\) in world-readable file .*config.toml`)) });
    expect(get('secrets.file-permissions', 1)).toMatchObject({ status: 'fail', message: expect.stringMatching(/does not exist/) });
    // The same missing file declared optional (EnvironmentFile=-PATH): skipped with the reason, not a finding.
    const opt = { ...spec, files: spec.files!.map((x, i) => (i === 1 ? { ...x, optional: true } : x)) };
    const outOpt = evaluateSecrets(facts, opt).filter((o) => o.subject === spec.files![1].path);
    expect(outOpt.map((o) => `${o.id}:${o.status}`)).toEqual(['secrets.file-permissions:skipped', 'secrets.placeholder:skipped']);
    expect(outOpt[0].message).toMatch(/^not applicable: .* is optional \(EnvironmentFile=-/);
    // Optional but present: judged as any other (the first file fails its placeholders either way).
    const opt0 = evaluateSecrets(facts, { ...spec, files: spec.files!.map((x, i) => (i === 0 ? { ...x, optional: true } : x)) });
    expect(opt0.find((o) => o.id === 'secrets.placeholder')!.status).toBe('fail');
    expect(get('secrets.htpasswd')).toMatchObject({ status: 'fail', message: expect.stringMatching(/1 \{PLAIN\} password\(s\), world-readable \(0644\)/) });
    // the CA key is not named like one: it is found by its public key matching the CA:TRUE certificate
    expect(get('secrets.ca-key')).toMatchObject({ status: 'fail', message: expect.stringMatching(/intermediate.pem \(public key matches CA certificate .*ca-cert.pem\)/) });
  });

  it('healthy tree: everything passes', async () => {
    writeFileSync(join(dir, 'etc/alchemist/secrets.env'), `JWT_SECRET=${JWT}\nAPI_KEY=${API}\n`);
    rmSync(join(dir, 'etc/alchemist/config.toml'));
    rmSync(join(dir, 'etc/nginx/monitoring.htpasswd'));
    rmSync(join(dir, 'keys/intermediate.pem'));
    const { facts } = await run(spec);
    const out = evaluateSecrets(facts, { ...spec, files: [spec.files![0]] });
    expect(out.map((o) => `${o.id}:${o.status}`)).toEqual(['secrets.file-permissions:pass', 'secrets.placeholder:pass', 'secrets.exposure:pass', 'secrets.htpasswd:pass', 'secrets.ca-key:pass']);
  });

  it('world-readable secrets file fails; a harness-side CA cert identifies a CA key on the node', async () => {
    chmodSync(join(dir, 'etc/alchemist/secrets.env'), 0o644);
    execFileSync('cp', [join(dir, 'keys/server-key.pem'), join(dir, 'keys/k.pem')]);
    const { facts } = await run({ ...spec, caCerts: ['keys/server.pem'] });
    const out = evaluateSecrets(facts, { ...spec, files: [spec.files![0]], caCerts: ['keys/server.pem'] });
    expect(out[0]).toMatchObject({ status: 'fail', severity: 'critical', message: expect.stringMatching(/mode 0644 \(expected 0640\); readable or writable by others/) });
    expect(out.find((o) => o.id === 'secrets.ca-key')).toMatchObject({ status: 'fail', message: expect.stringMatching(/matches CA certificate .*server.pem \(harness\)/) });
    expect(facts.caPubShas[0].pubSha).toBe(pubKeySha(readFileSync(join(dir, 'keys/server.pem'), 'utf8')));
    chmodSync(join(dir, 'etc/alchemist/secrets.env'), 0o640);
    rmSync(join(dir, 'keys/k.pem'));
  });
});

describe('secrets parser', () => {
  it('a truncated or garbled probe is a ParseError that never echoes the line', () => {
    expect(() => parseSecrets('S 0 missing\n', [{ path: '/x' }], 'p')).toThrow(/truncated/);
    try {
      parseSecrets('topsecretvalue\nEND\n', [{ path: '/x' }], 'p');
      throw new Error('no throw');
    } catch (e) {
      expect(e).toBeInstanceOf(ParseError);
      expect((e as Error).message).not.toContain('topsecretvalue');
    }
  });
  it('unreadable file: placeholder check is an error with the reason', () => {
    const probe = parseSecrets(`S 0 640 root alchemist 10 regular file\nR 0 cat: /x: Permission denied\nEND\n`, [{ path: '/x' }], 'p');
    const out = evaluateSecrets({ probe, caPubShas: [], caCertProblems: [], command: 'c' }, { files: [{ path: '/x' }], noCaKey: false, htpasswd: false, discover: false });
    expect(out.map((o) => o.status)).toEqual(['pass', 'error', 'skipped']);
    expect(out[1].message).toMatch(/Permission denied/);
  });
});

describe('raw secrets (a PEM key, as plan --from-nix emits for sslCertificateKey)', () => {
  it('a key is searched by its longest body line, not by its armour (which every key shares)', async () => {
    const d = mkdtempSync(join(tmpdir(), 'leafcert-raw-'));
    try {
      mkdirSync(join(d, 'etc'));
      execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', join(d, 'etc/key.pem')]);
      execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', join(d, 'etc/other.pem')]);
      chmodSync(join(d, 'etc/other.pem'), 0o644);
      const s: SecretsExpect = { files: [{ path: join(d, 'etc/key.pem'), format: 'raw', mode: '0600' }], scanRoots: [join(d, 'etc')], keyPaths: [join(d, 'none')], discover: false };
      chmodSync(join(d, 'etc/key.pem'), 0o600);
      let { facts } = await run(s);
      expect(facts.probe.files[0].values).toMatchObject([{ key: '-', cls: 'ok' }]);
      expect(facts.probe.leaks).toEqual([]);
      // a world-readable copy of the key is found
      writeFileSync(join(d, 'etc/copy.pem'), readFileSync(join(d, 'etc/key.pem')), { mode: 0o644 });
      ({ facts } = await run(s));
      expect(facts.probe.leaks.map((l) => l.location)).toEqual([join(d, 'etc/copy.pem')]);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});

describe('secret values never reach a command line on the node', () => {
  it('the probe hands values to grep as pattern files: a PATH-shimmed grep logs no value in its argv', async () => {
    const d = mkdtempSync(join(tmpdir(), 'leafcert-argv-'));
    try {
      for (const x of ['etc', 'shim', 'keys']) mkdirSync(join(d, x));
      const a = rnd();
      const b = rnd();
      writeFileSync(join(d, 'etc/secrets.env'), `A_SECRET=${a}\nB_SECRET="${b}"\n`, { mode: 0o640 });
      // a world-readable copy of one value, so the per-key pass (hits) runs too
      writeFileSync(join(d, 'etc/leak.conf'), `b = ${b}\n`, { mode: 0o644 });
      const log = join(d, 'argv.log');
      const realGrep = execFileSync('sh', ['-c', 'command -v grep']).toString().trim();
      writeFileSync(join(d, 'shim/grep'), `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\nexec ${realGrep} "$@"\n`, { mode: 0o755 });
      const script = secretsScript([{ path: join(d, 'etc/secrets.env') }], { scanRoots: [join(d, 'etc')], caPaths: [join(d, 'keys')], discover: false });
      const out = execFileSync('/bin/sh', ['-c', script], { env: { ...process.env, PATH: `${join(d, 'shim')}:${process.env.PATH}` } }).toString();
      const probe = parseSecrets(out, [{ path: join(d, 'etc/secrets.env') }], 'p');
      // the scan really ran through the shim and found the copy
      expect(probe.leaks).toEqual([{ where: 'file', file: 0, key: 'B_SECRET', location: join(d, 'etc/leak.conf') }]);
      const argv = readFileSync(log, 'utf8');
      // patterns come through a pipe: a process substitution, or a FIFO in the probe's scratch dir
      expect(argv).toMatch(/-laF -f (\/dev\/fd\/\d+|\/\S+\/leafcert\.[^/\s]+\/fp) /);
      expect(argv).toMatch(/^-aF -f (\/dev\/fd\/\d+|\/\S+\/leafcert\.[^/\s]+\/fp)$/m);
      expect(argv.includes(a)).toBe(false);
      expect(argv.includes(b)).toBe(false);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});

describe('secrets.ca-key without openssl on the node', () => {
  it('a private key found but no openssl to compare public keys: error, not pass', () => {
    const probe = parseSecrets(`K 600 - /etc/ssl/private/server.key\nO no-openssl\nEND\n`, [], 'p');
    const out = evaluateSecrets({ probe, caPubShas: [], caCertProblems: [], command: 'c' }, { files: [], htpasswd: false });
    expect(out.find((o) => o.id === 'secrets.ca-key')).toMatchObject({ status: 'error', message: expect.stringMatching(/cannot compare public keys without openssl on the node/) });
  });
  it('no private key at all: nothing to compare, pass', () => {
    const probe = parseSecrets(`O no-openssl\nEND\n`, [], 'p');
    const out = evaluateSecrets({ probe, caPubShas: [], caCertProblems: [], command: 'c' }, { files: [], htpasswd: false });
    expect(out.find((o) => o.id === 'secrets.ca-key')?.status).toBe('pass');
  });
});

describe('secrets schema: empty lists would search nowhere', () => {
  it('files, keyPaths, scanRoots, caCerts, consumers must not be empty', async () => {
    const { default: Ajv } = await import('ajv');
    const v = new Ajv({ strict: false }).compile(secretsSuite.schema as object);
    for (const bad of [{ files: [] }, { keyPaths: [] }, { scanRoots: [] }, { caCerts: [] }, { files: [{ path: '/etc/a.env', consumers: [] }] }]) expect(v(bad), JSON.stringify(bad)).toBe(false);
    expect(v({})).toBe(true); // CA key and htpasswd are checked by default
    expect(v({ files: [{ path: '/etc/a.env' }], keyPaths: ['/etc/ssl'] })).toBe(true);
  });
});

describe('beyond /etc: command lines, directories others cannot enter, files named like secrets', () => {
  it('a value in a process\'s command line is a leak (/proc/PID/cmdline is readable by every user); its removal passes', async () => {
    const { spawn } = await import('node:child_process');
    const p = spawn('sh', ['-c', 'sleep 60; :', 'worker', `--api-key=${API}`], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 200));
      const { facts } = await run(spec);
      expect(facts.probe.leaks).toContainEqual(expect.objectContaining({ where: 'cmdline', file: 0, key: 'API_KEY', pid: p.pid, comm: 'sh' }));
      const exp = evaluateSecrets(facts, spec).find((o) => o.id === 'secrets.exposure' && o.subject === spec.files![0].path)!;
      expect(exp.status).toBe('fail');
      expect(exp.message).toContain(`API_KEY (sha256:`);
      expect(exp.message).toContain(`in command line (world-readable /proc/PID/cmdline) of pid ${p.pid} (sh)`);
      expect(JSON.stringify(exp)).not.toContain(API);
    } finally {
      p.kill('SIGKILL');
    }
    await new Promise((r) => setTimeout(r, 100));
    expect((await run(spec)).facts.probe.leaks.filter((l) => l.where === 'cmdline')).toEqual([]);
  });

  it('a world-readable copy below a directory others cannot enter is no leak; a world-readable file named like a secret is found and judged', async () => {
    const d = mkdtempSync(join(tmpdir(), 'leafcert-named-'));
    try {
      const root = join(d, 'var/lib');
      for (const x of ['private/app', 'worker', 'open']) mkdirSync(join(root, x), { recursive: true });
      chmodSync(join(root, 'private'), 0o700);
      writeFileSync(join(root, 'private/app/copy.txt'), `jwt = "${JWT}"\n`, { mode: 0o644 });
      writeFileSync(join(root, 'worker/worker.env'), `DB_PASSWORD=${rnd()}\n`, { mode: 0o644 });
      writeFileSync(join(root, 'worker/db-secret'), `${rnd()}\n`, { mode: 0o600 });
      // configuration in an env file (no key names a secret) is not a secret file
      writeFileSync(join(root, 'worker/app.env'), `LISTEN=0.0.0.0:8081\nBOUNDING=cap_chown,cap_kill\n`, { mode: 0o644 });
      writeFileSync(join(root, 'open/notes.txt'), `api ${API}\n`, { mode: 0o644 });
      const s: SecretsExpect = { ...spec, scanRoots: [root], discover: true };
      const { facts } = await run(s);
      const leaks = facts.probe.leaks.filter((l) => l.where === 'file').map((l) => `${l.key} ${l.location}`);
      expect(leaks).toEqual([`API_KEY ${join(root, 'open/notes.txt')}`]);
      const named = facts.probe.files.filter((f) => f.discovered?.kind === 'named');
      // only files others can read (the 0600 one is no exposure), and env files only with a secret key
      expect(named.map((f) => f.path)).toEqual([join(root, 'worker/worker.env')]);
      const out = evaluateSecrets(facts, s);
      expect(out.find((o) => o.id === 'secrets.discovered-permissions' && o.subject === join(root, 'worker/worker.env'))).toMatchObject({ status: 'fail', severity: 'critical', message: expect.stringMatching(/\(named like a secret\): readable or writable by others \(mode 0644\)$/) });
      expect(out.find((o) => o.id === 'secrets.placeholder' && o.subject === join(root, 'worker/worker.env'))).toBeUndefined();
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});

describe('red team B: config env files, weak values, templates, big files', () => {
  const names = (ks: string[]) =>
    execFileSync('bash', ['-c', `source <(sed -n '/^SECRET_QUALIFIERS=/,/^}/p' src/probes/secret-discovery.sh); for k in "$@"; do secretname "$k" && echo "$k"; done; true`, 'x', ...ks]).toString().split('\n').filter(Boolean);

  it('a key names a secret when its secret word ends the name or is not followed by a qualifier (_PREFIX, _MIN_LENGTH, _TTL, _FILE …)', () => {
    const secret = ['JWT_SECRET', 'DB_PASSWORD', 'OPENAI_API_KEY', 'SECRET_KEY_BASE', 'REDIS_PASS', 'API_TOKEN', 'api_key', 'CLIENT_SECRETS', 'BORG_PASSPHRASE', 'BASIC_AUTH', 'KEYCLOAK_PASSWORD', 'PASSWORD_HASH'];
    const config = ['CACHE_KEY_PREFIX', 'PASSWORD_MIN_LENGTH', 'TOKEN_TTL_SECONDS', 'JWT_SECRET_FILE', 'API_KEY_HEADER', 'SESSION_TOKEN_EXPIRY', 'JWT_SECRET_ALGORITHM', 'PASSWORD_POLICY', 'API_KEY_ENABLED', 'SSH_KEY_PATH', 'TOKEN_URL', 'DB_PASSWORD_DIR', 'BORG_PASSCOMMAND', 'KEYBOARD_LAYOUT', 'OAUTH_CLIENT_ID', 'LOG_LEVEL', 'PASSWORD_ROTATION_DAYS', 'KEY_ID', 'ADMIN_USERNAME'];
    expect(names([...secret, ...config])).toEqual(secret);
  });

  it('a healthy config env file (CACHE_KEY_PREFIX=alchemist, PASSWORD_MIN_LENGTH=12) is no secret file; an env file with a secret is, and only its secret is searched', async () => {
    const d = mkdtempSync(join(tmpdir(), 'leafcert-appenv-'));
    try {
      const root = join(d, 'etc');
      mkdirSync(join(root, 'app'), { recursive: true });
      writeFileSync(join(root, 'app/app.env'), 'LOG_LEVEL=info\nCACHE_KEY_PREFIX=alchemist\nPASSWORD_MIN_LENGTH=12\nTOKEN_TTL_SECONDS=3600\n', { mode: 0o644 });
      // a word every config names (here: the hosts file) must not make a leak of a config value
      writeFileSync(join(root, 'hosts'), '10.0.0.1 alchemist-application-server\n', { mode: 0o644 });
      writeFileSync(join(root, 'app/worker.env'), `SERVICE_NAME=alchemist-application-server\nDB_PASSWORD=${rnd()}\n`, { mode: 0o644 });
      const s: SecretsExpect = { ...spec, files: [spec.files![0]], scanRoots: [root], discover: true };
      const { facts } = await run(s);
      const named = facts.probe.files.filter((f) => f.discovered?.kind === 'named').map((f) => f.path);
      expect(named).toEqual([join(root, 'app/worker.env')]);
      const out = evaluateSecrets(facts, s);
      expect(out.filter((o) => o.subject === join(root, 'app/app.env'))).toEqual([]);
      const w = facts.probe.files.find((f) => f.path === join(root, 'app/worker.env'))!;
      expect(w.unsearched).toEqual([{ key: 'SERVICE_NAME', why: 'config' }]);
      expect(out.find((o) => o.id === 'secrets.exposure' && o.subject === join(root, 'app/worker.env'))).toMatchObject({ status: 'pass', message: '1 value found nowhere others can read them' });
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('JWT_SECRET=secret fails secrets.placeholder as a known credential and is not searched (no made-up leaks); templates fail as placeholders', async () => {
    const d = mkdtempSync(join(tmpdir(), 'leafcert-weak-'));
    try {
      const root = join(d, 'etc');
      mkdirSync(root, { recursive: true });
      const f = join(root, 'secrets.env');
      writeFileSync(f, `JWT_SECRET=secret\nADMIN_PASSWORD=aaaaaaaaaaaaaaaa\nAPI_KEY=${API}\nPIN=x7Tq9\nA=\${JWT_SECRET}\nB={{ jwt_secret }}\nC=__JWT_SECRET__\nD=REPLACE-ME\nE=$JWT_SECRET\nF=%JWT_SECRET%\n`, { mode: 0o600 });
      writeFileSync(join(root, 'java.security'), '# the secret of a secret provider\nsecurerandom.source=file:/dev/random x7Tq9\n', { mode: 0o644 });
      const s: SecretsExpect = { ...spec, files: [{ path: f }], scanRoots: [root], discover: false };
      const { facts, raw } = await run(s);
      expect(raw).not.toMatch(/x7Tq9/);
      expect(facts.probe.files[0].values.map((v) => `${v.key}:${v.cls}`)).toEqual(['JWT_SECRET:weak', 'ADMIN_PASSWORD:weak', 'API_KEY:ok', 'PIN:ok', 'A:template', 'B:template', 'C:template', 'D:placeholder', 'E:template', 'F:template']);
      expect(facts.probe.leaks).toEqual([]);
      const out = evaluateSecrets(facts, s);
      const ph = out.find((o) => o.id === 'secrets.placeholder')!;
      expect(ph.status).toBe('fail');
      expect(ph.message).toMatch(/^JWT_SECRET is a well-known weak value \(a known credential[^;]*\); ADMIN_PASSWORD is a well-known weak value/);
      expect(ph.message).toMatch(/A is an unexpanded template/);
      const ex = out.find((o) => o.id === 'secrets.exposure')!;
      expect(ex.status).toBe('pass');
      expect(ex.message).toMatch(/^1 value found nowhere others can read them \(JWT_SECRET \(6 chars\): a well-known value \(see secrets.placeholder\), not searched; ADMIN_PASSWORD .*; PIN \(5 chars\): too short, not searched\)/);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('a world-readable file of 2 MiB or more is not searched, and the evidence names it', async () => {
    const d = mkdtempSync(join(tmpdir(), 'leafcert-big-'));
    try {
      const root = join(d, 'var/lib');
      mkdirSync(root, { recursive: true });
      writeFileSync(join(root, 'heap-dump.txt'), `${'a'.repeat(3_000_000)}\nJWT_SECRET=${JWT}\n`, { mode: 0o644 });
      const s: SecretsExpect = { ...spec, files: [spec.files![0]], scanRoots: [root], discover: false };
      const { facts } = await run(s);
      expect(facts.probe.scope.big).toEqual({ files: 1, cap: '2MiB', paths: [join(root, 'heap-dump.txt')] });
      const ex = evaluateSecrets(facts, s).find((o) => o.id === 'secrets.exposure')!;
      expect(ex.message).toMatch(/; 1 world-readable file\(s\) of 2MiB or more not searched$/);
      expect((ex.evidence.observed as any).searched.tooLarge).toBe(`1 world-readable file(s) of 2MiB or more not searched: ${join(root, 'heap-dump.txt')}`);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('S5: a POSIX ACL granting a user read on the secrets file (mode still 0640) fails secrets.file-permissions', async () => {
    const f = spec.files![0].path;
    const acl = (on: boolean) => execFileSync('python3', ['-c', on ? `import os,struct;U=0xffffffff;os.setxattr(${JSON.stringify(f)},'system.posix_acl_access',struct.pack('<I',2)+b''.join(struct.pack('<HHI',*e) for e in [(1,6,U),(2,4,65534),(4,4,U),(0x10,4,U),(0x20,0,U)]))` : `import os;os.removexattr(${JSON.stringify(f)},'system.posix_acl_access')`]);
    acl(true);
    try {
      const { facts } = await run({ ...spec, files: [spec.files![0]] });
      expect(facts.probe.files[0]).toMatchObject({ acl: true, mode: '0640' });
      const o = evaluateSecrets(facts, { ...spec, files: [spec.files![0]] }).find((x) => x.id === 'secrets.file-permissions')!;
      expect(o).toMatchObject({ status: 'fail', message: `${f}: has a POSIX ACL (named users or groups may read it whatever its mode shows: getfacl ${f})` });
    } finally {
      acl(false);
    }
    const { facts } = await run({ ...spec, files: [spec.files![0]] });
    expect(facts.probe.files[0].acl).toBeUndefined();
    expect(evaluateSecrets(facts, { ...spec, files: [spec.files![0]] }).find((x) => x.id === 'secrets.file-permissions')!.status).toBe('pass');
  });

  it('/var/www (the web root) is a scan root', () => {
    expect(SCAN_ROOTS).toContain('/var/www');
  });
});
