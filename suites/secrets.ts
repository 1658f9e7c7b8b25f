// Secrets (checklist: secrets): the declared secret files exist with their mode and owner, hold
// real values (no placeholders), the values appear nowhere others can read them (world-readable
// files, /nix/store paths of units, unit Environment, other processes' environments, htpasswd),
// and no CA private key sits on the node. All matching happens on the node (src/probes/secrets.ts,
// secrets.sh; gatherSecrets): evidence carries only `sha256:<8 hex>` and the length of a value,
// never the value. This file judges.
import type { Outcome, Suite, SuiteContext } from '../src/core/types.js';
import { defineChecks, outcome } from '../src/core/checks.js';
import { optionPath, type Cite, type Manifest } from '../src/core/manifest.js';
import { gatherSecrets, pubKeySha, type SecretFileFact, type SecretsFacts } from '../src/probes/secrets.js';

export { pubKeySha, type SecretsFacts };

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

// In the order of the suite's results (and of today's checkIds).
const CHECKS = defineChecks('secrets', {
  'file-permissions': {
    title: 'Secret file exists with its mode and owner',
    severity: 'high',
    checklist: ['secrets'],
    description: 'Each declared secret file exists, is a regular file with the declared mode, owner and group, and is never readable or writable by others (critical when it is).',
    fix: 'Create the file with its mode and owner (systemd.tmpfiles.rules, or the secret manager that writes it: sops-nix/agenix `mode`, `owner`, `group`); never leave o+r.',
  },
  placeholder: {
    title: 'Secret values are real',
    severity: 'high',
    checklist: ['secrets'],
    description: 'No value of a secret file is empty, an @NAME@ substitution, your_*_here, changeme or another placeholder; values are read and classified on the node, only fingerprints leave it. An unreadable file is an error.',
    fix: 'Write the real value into the secret file (or the secret manager that deploys it) and restart the service that reads it.',
  },
  exposure: {
    title: 'Secret values not readable elsewhere',
    severity: 'critical',
    checklist: ['secrets'],
    description: "No secret value appears in a world-readable file under the scan roots, a store file a unit references, a unit's Environment or another process's environment (except declared consumers); unreadable unit environments make it an error.",
    fix: 'Pass secrets by file (systemd.services.<name>.serviceConfig.EnvironmentFile or LoadCredential), never through environment, serviceConfig.Environment or a Nix string that lands in /nix/store; rotate a value that leaked.',
  },
  htpasswd: {
    title: 'htpasswd files hold no plain or world-readable passwords',
    severity: 'high',
    checklist: ['secrets'],
    description: 'htpasswd files (named so, or named by auth_basic_user_file) hold hashed entries only, are not world-readable and are not in /nix/store.',
    fix: 'Use services.nginx.virtualHosts.<name>.basicAuthFile with a file of hashed entries (htpasswd -B) outside the store, mode 0640; not basicAuth (it lands in the store).',
  },
  'ca-key': {
    title: 'No CA private key on the node',
    severity: 'critical',
    checklist: ['secrets', 'tls'],
    description: 'No private key under the key paths belongs to a CA: its public key matches no CA:TRUE certificate (on the node or in caCerts) and it is not named like a CA key; without openssl to compare, found keys make it an error.',
    fix: 'Keep the CA key offline: remove it from the node and deploy only the issued certificate and its own key (services.nginx.virtualHosts.<name>.sslCertificate / sslCertificateKey).',
  },
});

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

async function gather(ctx: SuiteContext, expect: SecretsExpect): Promise<SecretsFacts> {
  return gatherSecrets(ctx.host, expect, { timeoutMs: ctx.options.timeoutMs, baseDir: ctx.options.baseDir });
}

// --- evaluate (pure) ---

const fp = (v: { sha: string; length: number }) => `sha256:${v.sha} (${v.length} chars)`;
const CLASS_TEXT: Record<string, string> = { empty: 'empty', 'at-name': '@NAME@ placeholder', 'your-here': 'your_*_here placeholder', changeme: 'changeme placeholder', placeholder: 'placeholder' };

function permsOutcome(spec: SecretFileExpect, f: SecretFileFact): Outcome {
  const wantMode = spec.mode ? spec.mode.padStart(4, '0') : undefined;
  const expected = { mode: wantMode ?? 'not readable by others', owner: spec.owner, group: spec.group };
  if (!f.exists) return outcome(CHECKS['file-permissions'], spec.path, 'fail', `${spec.path} does not exist`, { expected, observed: 'missing', source: `stat ${spec.path}` });
  const problems: string[] = [];
  if (f.type !== 'regular file') problems.push(`is a ${f.type}`);
  if (wantMode && f.mode !== wantMode) problems.push(`mode ${f.mode} (expected ${wantMode})`);
  const otherBits = parseInt(f.mode ?? '0', 8) & 0o007;
  if (otherBits) problems.push(`readable or writable by others (mode ${f.mode})`);
  if (spec.owner && f.owner !== spec.owner) problems.push(`owner ${f.owner} (expected ${spec.owner})`);
  if (spec.group && f.group !== spec.group) problems.push(`group ${f.group} (expected ${spec.group})`);
  return outcome(
    CHECKS['file-permissions'],
    spec.path,
    problems.length ? 'fail' : 'pass',
    problems.length ? `${spec.path}: ${[...new Set(problems)].join('; ')}` : `${spec.path} ${f.mode} ${f.owner}:${f.group}`,
    { expected, observed: { mode: f.mode, owner: f.owner, group: f.group, type: f.type }, source: `stat -L -c '%a %U %G %s %F' ${spec.path}` },
    { severity: otherBits ? 'critical' : 'high' },
  );
}

function placeholderOutcome(spec: SecretFileExpect, f: SecretFileFact): Outcome {
  const def = CHECKS.placeholder;
  if (!f.exists) return outcome(def, spec.path, 'fail', `${spec.path} does not exist`, { expected: 'real values', observed: 'missing', source: `stat ${spec.path}` });
  if (f.readError) return outcome(def, spec.path, 'error', `cannot read ${spec.path}: ${f.readError}`, { expected: 'real values', observed: null, source: `cat ${spec.path}` });
  if (!f.values.length) return outcome(def, spec.path, 'fail', `${spec.path} holds no values${f.malformed ? ` (${f.malformed} line(s) without KEY=)` : ''}`, { expected: 'real values', observed: [], source: `read ${spec.path} on the node` });
  const bad = f.values.filter((v) => v.cls !== 'ok');
  return outcome(def, spec.path, bad.length ? 'fail' : 'pass', bad.length ? `${bad.map((v) => `${v.key} is ${CLASS_TEXT[v.cls]}`).join('; ')}` : `${f.values.length} values, none empty or a placeholder`, {
    expected: 'no empty, @NAME@, your_*_here, changeme values',
    observed: f.values.map((v) => `${v.key}: ${fp(v)}${v.cls !== 'ok' ? ` ${v.cls}` : ''}`),
    source: `values read and fingerprinted on the node from ${spec.path}`,
  });
}

const WHERE: Record<string, string> = { file: 'world-readable file', unit: 'unit Environment (systemctl show)', environ: 'environment of' };

function exposureOutcome(facts: SecretsFacts, spec: SecretFileExpect, i: number): Outcome {
  const p = facts.probe;
  const f = p.files[i];
  const consumers = new Set(spec.consumers ?? []);
  const leaks = p.leaks.filter((l) => l.file === i);
  const bad = leaks.filter((l) => !(l.where === 'environ' && l.comm && consumers.has(l.comm)));
  const allowed = leaks.filter((l) => !bad.includes(l));
  const scanned = f.values.filter((v) => v.cls === 'ok' && v.length >= 6);
  const byKey = (k: string) => f.values.find((v) => v.key === k);
  // A place the scan could not read says nothing either way: a found leak still fails, no leak is unknown.
  const unread = scanned.length ? p.problems.map((x) => x.reason) : [];
  const message = bad.length
    ? bad.map((l) => `${l.key} (${byKey(l.key) ? fp(byKey(l.key)!) : '?'}) in ${WHERE[l.where]} ${l.location}`).join('; ') + (unread.length ? ` (and unit environments unreadable: ${unread.join('; ')})` : '')
    : unread.length
      ? `cannot tell whether the values leak: unit environments unreadable: ${unread.join('; ')}`
      : scanned.length
        ? `${scanned.length} values found nowhere others can read them${allowed.length ? ` (held by declared consumers: ${[...new Set(allowed.map((l) => l.comm))].join(', ')})` : ''}`
        : 'no real value to look for (see secrets.placeholder)';
  return outcome(CHECKS.exposure, spec.path, bad.length ? 'fail' : unread.length ? 'error' : scanned.length ? 'pass' : 'skipped', message, {
    expected: { consumers: [...consumers] },
    observed: leaks.map((l) => ({ key: l.key, fingerprint: byKey(l.key) ? fp(byKey(l.key)!) : undefined, where: l.where, location: l.location, allowed: allowed.includes(l) })),
    source: facts.command,
  });
}

function htpasswdOutcome(facts: SecretsFacts): Outcome {
  const hs = facts.probe.htpasswd;
  const bad = hs.filter((h) => h.plain > 0 || (parseInt(h.mode, 8) & 0o004) !== 0 || h.path.startsWith('/nix/store/'));
  const message = bad.length
    ? bad.map((h) => `${h.path}: ${[h.plain ? `${h.plain} {PLAIN} password(s)` : '', parseInt(h.mode, 8) & 0o004 ? `world-readable (${h.mode})` : '', h.path.startsWith('/nix/store/') ? 'in the world-readable store' : ''].filter(Boolean).join(', ')}`).join('; ')
    : hs.length
      ? `${hs.length} htpasswd file(s), hashed and not world-readable`
      : 'no htpasswd files (named *htpasswd* or auth_basic_user_file) under /etc/nginx';
  return outcome(CHECKS.htpasswd, 'htpasswd', bad.length ? 'fail' : 'pass', message, { expected: 'hashed entries, mode without o+r, not in /nix/store', observed: hs, source: "find /etc/nginx -name '*htpasswd*'; auth_basic_user_file" });
}

const CA_KEY_NAME = /(^|[-_.])ca([-_.]?key)?\.(key|pem)$|(^|[-_.])ca[-_]key|cakey/i;

function caKeyOutcome(facts: SecretsFacts): Outcome {
  const p = facts.probe;
  const caShas = new Map<string, string>();
  for (const c of p.certs) if (c.ca && c.pubSha !== '-') caShas.set(c.pubSha, c.path);
  for (const c of facts.caPubShas) caShas.set(c.pubSha, `${c.path} (harness)`);
  const found = p.keys
    .map((k) => ({ k, why: caShas.has(k.pubSha) ? `public key matches CA certificate ${caShas.get(k.pubSha)}` : CA_KEY_NAME.test(k.path.split('/').pop() ?? '') && !/(^|\/)(fullchain|chain|cert)/.test(k.path) ? 'named like a CA key' : undefined }))
    .filter((x) => x.why);
  // Without openssl a key's public half cannot be compared with the CA certificates: unsure, not pass.
  const noOpenssl = !p.openssl && p.keys.length > 0;
  const problems = [...facts.caCertProblems, ...(noOpenssl ? [`cannot compare public keys without openssl on the node (${p.keys.length} private key(s) found, matched by name only)`] : [])];
  const message = found.length
    ? `CA private key on the node: ${found.map((x) => `${x.k.path} (${x.why})`).join('; ')}; anyone with root here can mint trusted certificates — keep it offline`
    : problems.length
      ? problems.join('; ')
      : `${p.keys.length} private key(s) found, none belongs to a CA`;
  return outcome(CHECKS['ca-key'], 'CA key', found.length ? 'fail' : problems.length ? 'error' : 'pass', message, {
    expected: 'no private key of a CA:TRUE certificate',
    observed: { keys: p.keys.map((k) => `${k.path} ${k.mode} pub:${k.pubSha}`), caCertificates: [...caShas.entries()].map(([s, path]) => `${path} pub:${s}`) },
    source: facts.command,
  });
}

function evaluate(facts: SecretsFacts, expect: SecretsExpect): Outcome[] {
  const out: Outcome[] = [];
  (expect.files ?? []).forEach((spec, i) => {
    const f = facts.probe.files[i];
    out.push(permsOutcome(spec, f), placeholderOutcome(spec, f));
    // A missing file: nothing to look for (as before: no exposure result for it).
    if (f.exists) out.push(exposureOutcome(facts, spec, i));
  });
  if (expect.htpasswd !== false) out.push(htpasswdOutcome(facts));
  if (expect.noCaKey !== false) out.push(caKeyOutcome(facts));
  return out;
}

// --- plan (leafcert plan --from-nix) ---

/** The host files the configuration reads secrets from (they must not be world-readable). */
export function fromManifest(m: Manifest, cite: Cite): SecretsExpect | undefined {
  const host = m.host;
  const files: { path: string; format: 'env' | 'raw'; from: string }[] = [];
  const add = (path: string | null | undefined, format: 'env' | 'raw', from: string) => {
    if (path && path.startsWith('/') && !files.some((f) => f.path === path)) files.push({ path, format, from });
  };
  for (const v of host.nginx.enable ? host.nginx.virtualHosts : []) {
    add(v.sslCertificateKey, 'raw', optionPath(v.path, 'sslCertificateKey'));
    add(v.basicAuthFile, 'raw', optionPath(v.path, 'basicAuthFile'));
  }
  for (const j of host.borg) add(/^cat\s+(\/\S+)$/.exec(j.encryption.passCommand ?? '')?.[1], 'raw', optionPath(j.path, 'encryption', 'passCommand'));
  for (const u of host.units.filter((x) => !x.name.startsWith('container@'))) {
    for (const f of ([] as unknown[]).concat(u.serviceConfig.EnvironmentFile ?? []).map(String)) add(f.replace(/^-/, ''), 'env', optionPath(u.path, 'serviceConfig', 'EnvironmentFile'));
  }
  if (!files.length) return undefined;
  files.forEach((f, i) => cite(['secrets', 'files', i, 'path'], f.from));
  return { files: files.map(({ path, format }) => ({ path, format })) };
}

export const secretsSuite: Suite<SecretsExpect, SecretsFacts> = {
  name: 'secrets',
  key: 'secrets',
  schema,
  gather,
  evaluate: (facts, expect) => evaluate(facts, expect),
  checkIds: Object.values(CHECKS).map((c) => c.id),
  checks: Object.values(CHECKS),
  fromManifest,
};
export { evaluate as evaluateSecrets };
