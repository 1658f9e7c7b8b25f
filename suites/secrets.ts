// Secrets (checklist: secrets): the declared secret files exist with their mode and owner, hold
// real values (no placeholders); the secret files the node's services use (nginx keys, sshd host
// keys, ACME keys, borg passphrases, units' EnvironmentFile/LoadCredential sources, agenix/sops
// outputs) are found on the node and readable only by their service; the values of both appear
// nowhere others can read them (world-readable files, /nix/store paths of units, logs, the journal,
// core dumps, unit Environment, other processes' environments and command lines, htpasswd), and no CA private key
// sits on the node. All matching happens on the node (src/probes/secrets.ts, secrets.sh;
// gatherSecrets): evidence carries only `sha256:<8 hex>` and the length of a value, never the
// value. The checks are in secrets/checks.ts, their judges in secrets/judge.ts.
import type { Outcome, Suite, SuiteContext } from '../src/core/types.js';
import { optionPath, type Cite, type Manifest } from '../src/core/manifest.js';
import { gatherSecrets, pubKeySha, type SecretsFacts } from '../src/probes/secrets.js';
import { CHECKS } from './secrets/checks.js';
import { caKeyOutcome, discoveredPermsOutcome, exposureOutcome, htpasswdOutcome, nothingDiscovered, permsOutcome, placeholderOutcome, type SecretsExpect } from './secrets/judge.js';

export { pubKeySha, type SecretsFacts };
export type { SecretFileExpect, SecretsExpect } from './secrets/judge.js';

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
          optional: { type: 'boolean' },
        },
      },
    },
    noCaKey: { type: 'boolean' },
    // Empty lists would search nowhere (find with no path even searches the cwd): at least one.
    caCerts: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
    keyPaths: { type: 'array', minItems: 1, items: absPath },
    scanRoots: { type: 'array', minItems: 1, items: absPath },
    htpasswd: { type: 'boolean' },
    discover: { type: 'boolean' },
  },
};

async function gather(ctx: SuiteContext, expect: SecretsExpect): Promise<SecretsFacts> {
  return gatherSecrets(ctx.host, expect, { timeoutMs: ctx.options.timeoutMs, baseDir: ctx.options.baseDir });
}

function evaluate(facts: SecretsFacts, expect: SecretsExpect): Outcome[] {
  const out: Outcome[] = [];
  const files = facts.probe.files;
  (expect.files ?? []).forEach((spec, i) => {
    const f = files[i];
    out.push(permsOutcome(spec, f), placeholderOutcome(spec, f));
    // A missing file: nothing to look for (as before: no exposure result for it).
    if (f.exists) out.push(exposureOutcome(facts, spec, i));
  });
  // The files the services use, found on the node (they follow the declared ones).
  const found = files.map((f, i) => ({ f, i })).filter((x) => x.f.discovered && x.f.exists);
  // A file found only by its name may be a template: its values are not judged as placeholders.
  for (const { f, i } of found) out.push(discoveredPermsOutcome(f), ...(f.discovered!.kind === 'named' ? [] : [placeholderOutcome(f, f)]), exposureOutcome(facts, f, i));
  if (expect.discover !== false && !found.length) out.push(nothingDiscovered());
  if (expect.htpasswd !== false) out.push(htpasswdOutcome(facts));
  if (expect.noCaKey !== false) out.push(caKeyOutcome(facts));
  return out;
}

// --- plan (leafcert plan --from-nix) ---

/** The host files the configuration reads secrets from (they must not be world-readable). */
export function fromManifest(m: Manifest, cite: Cite): SecretsExpect | undefined {
  const host = m.host;
  const files: { path: string; format: 'env' | 'raw'; from: string; optional?: boolean }[] = [];
  const add = (path: string | null | undefined, format: 'env' | 'raw', from: string, optional = false) => {
    if (path && path.startsWith('/') && !files.some((f) => f.path === path)) files.push({ path, format, from, ...(optional ? { optional } : {}) });
  };
  for (const v of host.nginx.enable ? host.nginx.virtualHosts : []) {
    add(v.sslCertificateKey, 'raw', optionPath(v.path, 'sslCertificateKey'));
    add(v.basicAuthFile, 'raw', optionPath(v.path, 'basicAuthFile'));
  }
  for (const j of host.borg) add(/^cat\s+(\/\S+)$/.exec(j.encryption.passCommand ?? '')?.[1], 'raw', optionPath(j.path, 'encryption', 'passCommand'));
  for (const u of host.units.filter((x) => !x.name.startsWith('container@'))) {
    // "-PATH": systemd reads it only if it exists.
    for (const f of ([] as unknown[]).concat(u.serviceConfig.EnvironmentFile ?? []).map(String)) add(f.replace(/^-/, ''), 'env', optionPath(u.path, 'serviceConfig', 'EnvironmentFile'), f.startsWith('-'));
    // LoadCredential=ID:PATH: the source file on the host (a relative or %-specifier path is not a host file).
    for (const c of ([] as unknown[]).concat(u.serviceConfig.LoadCredential ?? []).map(String)) {
      const src = c.slice(c.indexOf(':') + 1);
      if (c.includes(':') && src.startsWith('/')) add(src, 'raw', optionPath(u.path, 'serviceConfig', 'LoadCredential'));
    }
  }
  if (!files.length) return undefined;
  files.forEach((f, i) => cite(['secrets', 'files', i, 'path'], f.from));
  return { files: files.map(({ path, format, optional }) => ({ path, format, ...(optional ? { optional } : {}) })) };
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
