// Secrets (checklist: secrets): the declared secret files exist with their mode and owner, hold
// real values (no placeholders), the values appear nowhere others can read them (world-readable
// files, /nix/store paths of units, unit Environment, other processes' environments, htpasswd),
// and no CA private key sits on the node. All matching happens on the node (src/probes/secrets.ts):
// evidence carries only `sha256:<8 hex>` and the length of a value, never the value.
import { readFileSync } from 'node:fs';
import { createHash, X509Certificate } from 'node:crypto';
import { isAbsolute, resolve } from 'node:path';
import type { Outcome, Suite, SuiteContext } from '../src/core/types.js';
import { parseSecrets, secretsScript, CA_KEY_PATHS, SCAN_ROOTS, type SecretsProbe } from '../src/probes/secrets.js';

export interface SecretFileExpect {
  path: string;
  /** Octal, e.g. "0640". Without it: not readable by others. */
  mode?: string;
  owner?: string;
  group?: string;
  /** env (KEY=VALUE lines, default) or raw (the whole file is one value). */
  format?: 'env' | 'raw';
  /** Process names (comm) allowed to hold these values in their environment, e.g. the app that uses them. */
  consumers?: string[];
}

export interface SecretsExpect {
  files?: SecretFileExpect[];
  /** Check that no CA private key is on the node (default true). */
  noCaKey?: boolean;
  /** CA certificate(s) on the harness side (relative to the inventory): a node key matching one is a CA key. */
  caCerts?: string[];
  /** Where to look for private keys (default: /etc/ssl, /etc/nginx, /var/lib/acme, /etc/alchemist, /root, ...). */
  keyPaths?: string[];
  /** Roots scanned for world-readable copies of secret values (default /etc; store paths of units are added on NixOS). */
  scanRoots?: string[];
  /** htpasswd files must not hold {PLAIN} passwords nor be world-readable (default true). */
  htpasswd?: boolean;
}

const absPath = { type: 'string', pattern: '^/' };
export const schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    files: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['path'],
        properties: {
          path: absPath,
          mode: { type: 'string', pattern: '^0?[0-7]{3}$' },
          owner: { type: 'string', minLength: 1 },
          group: { type: 'string', minLength: 1 },
          format: { enum: ['env', 'raw'] },
          consumers: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
        },
      },
    },
    noCaKey: { type: 'boolean' },
    // Empty lists would search nowhere (find with no path even searches the cwd): at least one.
    caCerts: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
    keyPaths: { type: 'array', minItems: 1, items: absPath },
    scanRoots: { type: 'array', minItems: 1, items: absPath },
    htpasswd: { type: 'boolean' },
  },
};

export interface SecretsFacts {
  probe: SecretsProbe;
  /** sha256 (16 hex) of the public keys of the harness-side CA certificates. */
  caPubShas: { path: string; pubSha: string }[];
  caCertProblems: string[];
  command: string;
}

/** Same fingerprint as the node script: sha256 of the DER SubjectPublicKeyInfo, first 16 hex. */
export function pubKeySha(certPem: string): string {
  const der = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex').slice(0, 16);
}

async function gather(ctx: SuiteContext, expect: SecretsExpect): Promise<SecretsFacts> {
  const files = expect.files ?? [];
  const script = secretsScript(files, { caPaths: expect.keyPaths, scanRoots: expect.scanRoots });
  // The node-side kill bound follows --timeout: the engine gives up on the gather then anyway.
  const r = await ctx.host.exec(script, { timeoutMs: ctx.options.timeoutMs });
  const command = `secrets probe (stat + values hashed on the node; grep -F over world-readable files under ${(expect.scanRoots ?? SCAN_ROOTS).join(', ')}, unit store paths, systemctl show -p Environment, /proc/*/environ; keys under ${(expect.keyPaths ?? CA_KEY_PATHS).join(', ')})`;
  const probe = parseSecrets(r.stdout, files, 'secrets probe');
  const caPubShas: SecretsFacts['caPubShas'] = [];
  const caCertProblems: string[] = [];
  for (const p of expect.caCerts ?? []) {
    const path = isAbsolute(p) ? p : resolve(ctx.options.baseDir, p);
    try {
      caPubShas.push({ path, pubSha: pubKeySha(readFileSync(path, 'utf8')) });
    } catch (e) {
      caCertProblems.push(`${path}: ${(e as Error).message}`);
    }
  }
  return { probe, caPubShas, caCertProblems, command };
}

// --- evaluate (pure) ---

const CHECK = {
  perms: 'secrets.file-permissions',
  placeholder: 'secrets.placeholder',
  exposure: 'secrets.exposure',
  htpasswd: 'secrets.htpasswd',
  caKey: 'secrets.ca-key',
} as const;

const fp = (v: { sha: string; length: number }) => `sha256:${v.sha} (${v.length} chars)`;
const CLASS_TEXT: Record<string, string> = { empty: 'empty', 'at-name': '@NAME@ placeholder', 'your-here': 'your_*_here placeholder', changeme: 'changeme placeholder', placeholder: 'placeholder' };

function evaluate(facts: SecretsFacts, expect: SecretsExpect): Outcome[] {
  const out: Outcome[] = [];
  const p = facts.probe;
  (expect.files ?? []).forEach((spec, i) => {
    const f = p.files[i];
    const subject = spec.path;
    const base = { subject, checklist: ['secrets'] };
    // permissions
    const pb = { ...base, id: CHECK.perms, title: 'Secret file exists with its mode and owner', severity: 'high' as const };
    const wantMode = spec.mode ? spec.mode.padStart(4, '0') : undefined;
    const expected = { mode: wantMode ?? 'not readable by others', owner: spec.owner, group: spec.group };
    if (!f.exists) {
      out.push({ ...pb, status: 'fail', message: `${spec.path} does not exist`, evidence: { expected, observed: 'missing', source: `stat ${spec.path}` } });
      out.push({ ...base, id: CHECK.placeholder, title: 'Secret values are real', severity: 'high', status: 'fail', message: `${spec.path} does not exist`, evidence: { expected: 'real values', observed: 'missing', source: `stat ${spec.path}` } });
      return;
    }
    const problems: string[] = [];
    if (f.type !== 'regular file') problems.push(`is a ${f.type}`);
    if (wantMode && f.mode !== wantMode) problems.push(`mode ${f.mode} (expected ${wantMode})`);
    const otherBits = parseInt(f.mode ?? '0', 8) & 0o007;
    if (otherBits) problems.push(`readable or writable by others (mode ${f.mode})`);
    if (spec.owner && f.owner !== spec.owner) problems.push(`owner ${f.owner} (expected ${spec.owner})`);
    if (spec.group && f.group !== spec.group) problems.push(`group ${f.group} (expected ${spec.group})`);
    out.push({
      ...pb,
      severity: otherBits ? 'critical' : 'high',
      status: problems.length ? 'fail' : 'pass',
      message: problems.length ? `${spec.path}: ${[...new Set(problems)].join('; ')}` : `${spec.path} ${f.mode} ${f.owner}:${f.group}`,
      evidence: { expected, observed: { mode: f.mode, owner: f.owner, group: f.group, type: f.type }, source: `stat -L -c '%a %U %G %s %F' ${spec.path}` },
    });
    // placeholders
    const hb = { ...base, id: CHECK.placeholder, title: 'Secret values are real', severity: 'high' as const };
    if (f.readError) {
      out.push({ ...hb, status: 'error', message: `cannot read ${spec.path}: ${f.readError}`, evidence: { expected: 'real values', observed: null, source: `cat ${spec.path}` } });
    } else if (!f.values.length) {
      out.push({ ...hb, status: 'fail', message: `${spec.path} holds no values${f.malformed ? ` (${f.malformed} line(s) without KEY=)` : ''}`, evidence: { expected: 'real values', observed: [], source: `read ${spec.path} on the node` } });
    } else {
      const bad = f.values.filter((v) => v.cls !== 'ok');
      out.push({
        ...hb,
        status: bad.length ? 'fail' : 'pass',
        message: bad.length ? `${bad.map((v) => `${v.key} is ${CLASS_TEXT[v.cls]}`).join('; ')}` : `${f.values.length} values, none empty or a placeholder`,
        evidence: { expected: 'no empty, @NAME@, your_*_here, changeme values', observed: f.values.map((v) => `${v.key}: ${fp(v)}${v.cls !== 'ok' ? ` ${v.cls}` : ''}`), source: `values read and fingerprinted on the node from ${spec.path}` },
      });
    }
    // exposure
    const consumers = new Set(spec.consumers ?? []);
    const leaks = p.leaks.filter((l) => l.file === i);
    const bad = leaks.filter((l) => !(l.where === 'environ' && l.comm && consumers.has(l.comm)));
    const allowed = leaks.filter((l) => !bad.includes(l));
    const scanned = f.values.filter((v) => v.cls === 'ok' && v.length >= 6);
    const where: Record<string, string> = { file: 'world-readable file', unit: 'unit Environment (systemctl show)', environ: 'environment of' };
    const byKey = (k: string) => f.values.find((v) => v.key === k);
    // A place the scan could not read says nothing either way: a found leak still fails, no leak is unknown.
    const unread = scanned.length ? p.problems.map((x) => x.reason) : [];
    out.push({
      ...base,
      id: CHECK.exposure,
      title: 'Secret values not readable elsewhere',
      severity: 'critical',
      status: bad.length ? 'fail' : unread.length ? 'error' : scanned.length ? 'pass' : 'skipped',
      message: bad.length
        ? bad.map((l) => `${l.key} (${byKey(l.key) ? fp(byKey(l.key)!) : '?'}) in ${where[l.where]} ${l.location}`).join('; ') + (unread.length ? ` (and unit environments unreadable: ${unread.join('; ')})` : '')
        : unread.length
          ? `cannot tell whether the values leak: unit environments unreadable: ${unread.join('; ')}`
          : scanned.length
          ? `${scanned.length} values found nowhere others can read them${allowed.length ? ` (held by declared consumers: ${[...new Set(allowed.map((l) => l.comm))].join(', ')})` : ''}`
          : 'no real value to look for (see secrets.placeholder)',
      evidence: {
        expected: { consumers: [...consumers] },
        observed: leaks.map((l) => ({ key: l.key, fingerprint: byKey(l.key) ? fp(byKey(l.key)!) : undefined, where: l.where, location: l.location, allowed: allowed.includes(l) })),
        source: facts.command,
      },
    });
  });
  if (expect.htpasswd !== false) {
    const bad = p.htpasswd.filter((h) => h.plain > 0 || (parseInt(h.mode, 8) & 0o004) !== 0 || h.path.startsWith('/nix/store/'));
    out.push({
      id: CHECK.htpasswd,
      title: 'htpasswd files hold no plain or world-readable passwords',
      subject: 'htpasswd',
      checklist: ['secrets'],
      severity: 'high',
      status: bad.length ? 'fail' : 'pass',
      message: bad.length
        ? bad.map((h) => `${h.path}: ${[h.plain ? `${h.plain} {PLAIN} password(s)` : '', parseInt(h.mode, 8) & 0o004 ? `world-readable (${h.mode})` : '', h.path.startsWith('/nix/store/') ? 'in the world-readable store' : ''].filter(Boolean).join(', ')}`).join('; ')
        : p.htpasswd.length
          ? `${p.htpasswd.length} htpasswd file(s), hashed and not world-readable`
          : 'no htpasswd files (named *htpasswd* or auth_basic_user_file) under /etc/nginx',
      evidence: { expected: 'hashed entries, mode without o+r, not in /nix/store', observed: p.htpasswd, source: "find /etc/nginx -name '*htpasswd*'; auth_basic_user_file" },
    });
  }
  if (expect.noCaKey !== false) {
    const caShas = new Map<string, string>();
    for (const c of p.certs) if (c.ca && c.pubSha !== '-') caShas.set(c.pubSha, c.path);
    for (const c of facts.caPubShas) caShas.set(c.pubSha, `${c.path} (harness)`);
    const named = /(^|[-_.])ca([-_.]?key)?\.(key|pem)$|(^|[-_.])ca[-_]key|cakey/i;
    const found = p.keys
      .map((k) => ({ k, why: caShas.has(k.pubSha) ? `public key matches CA certificate ${caShas.get(k.pubSha)}` : named.test(k.path.split('/').pop() ?? '') && !/(^|\/)(fullchain|chain|cert)/.test(k.path) ? 'named like a CA key' : undefined }))
      .filter((x) => x.why);
    // Without openssl a key's public half cannot be compared with the CA certificates: unsure, not pass.
    const noOpenssl = !p.openssl && p.keys.length > 0;
    const problems = [...facts.caCertProblems, ...(noOpenssl ? [`cannot compare public keys without openssl on the node (${p.keys.length} private key(s) found, matched by name only)`] : [])];
    out.push({
      id: CHECK.caKey,
      title: 'No CA private key on the node',
      subject: 'CA key',
      checklist: ['secrets', 'tls'],
      severity: 'critical',
      status: found.length ? 'fail' : problems.length ? 'error' : 'pass',
      message: found.length
        ? `CA private key on the node: ${found.map((x) => `${x.k.path} (${x.why})`).join('; ')}; anyone with root here can mint trusted certificates — keep it offline`
        : problems.length
          ? problems.join('; ')
          : `${p.keys.length} private key(s) found, none belongs to a CA`,
      evidence: { expected: 'no private key of a CA:TRUE certificate', observed: { keys: p.keys.map((k) => `${k.path} ${k.mode} pub:${k.pubSha}`), caCertificates: [...caShas.entries()].map(([s, path]) => `${path} pub:${s}`) }, source: facts.command },
    });
  }
  return out;
}

export const secretsSuite: Suite<SecretsExpect, SecretsFacts> = {
  name: 'secrets',
  key: 'secrets',
  schema,
  gather,
  evaluate: (facts, expect) => evaluate(facts, expect),
  checkIds: Object.values(CHECK),
};
export { evaluate as evaluateSecrets };
