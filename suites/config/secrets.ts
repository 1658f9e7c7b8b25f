// config.secret-in-store and config.placeholder: secrets written where others can read them (the
// world-readable Nix store, unit environments), and placeholder values nothing ever substitutes.
// Values are fingerprinted (./secret-values.ts), never echoed.
import { optionPath, sections, type Manifest } from '../../src/core/manifest.js';
import { prefix, type Finding } from './finding.js';
import { embeddedAssignments, embeddedSecrets, fingerprint, hasPrivateKeyBlock, inStore, isSecretName, placeholders, secretAssignments, urlPasswords } from './secret-values.js';

// One pass over every place a secret can hide; long because each place has its own sentence.
export function secretFindings(m: Manifest): Finding[] {
  const out: Finding[] = [];
  const bad = (subject: string, path: string, observed: unknown, message: string) => out.push({ subject, pass: false, optionPath: path, observed, expected: 'secret read from a file at run time', message });
  for (const { where, node } of sections(m)) {
    const p = prefix(where);
    for (const e of node.etc) {
      const lines = secretAssignments(e.text);
      const found = [...lines, ...embeddedAssignments(e.text).filter((a) => !lines.some((l) => l.key === a.key))].map((a) => `${a.key} = ${fingerprint(a.value)}`);
      if (hasPrivateKeyBlock(e.text)) found.push('a PEM private key');
      if (found.length) {
        bad(`${p}/etc/${e.name}`, optionPath(e.path, 'text'), found,
          `/etc/${e.name} comes from ${optionPath(e.path, 'text')}, which is copied into the world-readable /nix/store (mode ${e.mode} applies to the /etc copy only): ${found.length} secret(s). Deliver the file at run time instead (agenix/sops-nix, or a file under /var/lib or /run with mode 0600) and point services at it (EnvironmentFile, LoadCredential).`);
      }
    }
    for (const u of node.units) {
      const keys = Object.entries(u.environment).filter(([k, v]) => isSecretName(k) && v !== null && String(v) !== '');
      const embedded = Object.entries(u.environment).flatMap(([k, v]) => (typeof v === 'string' ? embeddedSecrets(v).map((s) => `${k}→${s}`) : []));
      const envList = ([] as unknown[]).concat(u.serviceConfig.Environment ?? []).map(String);
      const listed = envList.flatMap((line) => secretAssignments(line));
      const inUrls = [
        ...Object.entries(u.environment).flatMap(([k, v]) => (typeof v === 'string' ? urlPasswords(v).map((pw) => `${k} (password in a URL) = ${fingerprint(pw)}`) : [])),
        ...envList.flatMap((line) => urlPasswords(line).map((pw) => `password in a URL = ${fingerprint(pw)}`)),
      ];
      const found = [
        ...inUrls,
        ...keys.map(([k, v]) => `${k} = ${fingerprint(String(v))}`),
        ...embedded.map((k) => `${k} (inside a JSON value)`),
        ...listed.map((a) => `${a.key} = ${fingerprint(a.value)}`),
      ];
      if (found.length) {
        const path = keys.length || embedded.length || inUrls.some((x) => !x.startsWith('password in a URL')) ? optionPath(u.path, 'environment') : optionPath(u.path, 'serviceConfig', 'Environment');
        bad(`${p}${u.name}.service environment`, path, found,
          `${u.name}.service gets ${found.length} secret(s) through its environment (${path}): the unit file is in the /nix/store and \`systemctl show -p Environment\` shows them to any local user. Use serviceConfig.EnvironmentFile = "/run/secrets/…" or LoadCredential and read the value from a file.`);
      }
    }
    for (const u of node.units) {
      // A secret file given as a Nix path ("${./app.env}", ./app.env) is copied into the store.
      const files = [
        ...([] as unknown[]).concat(u.serviceConfig.EnvironmentFile ?? []).map((f) => ({ key: 'EnvironmentFile', file: String(f).replace(/^-/, '') })),
        ...([] as unknown[]).concat(u.serviceConfig.LoadCredential ?? []).map((x) => ({ key: 'LoadCredential', file: String(x).split(':').slice(1).join(':') })),
      ].filter((f) => inStore(f.file));
      for (const f of files) {
        const path = optionPath(u.path, 'serviceConfig', f.key);
        bad(`${p}${u.name}.service ${f.key} in the store`, path, f.file,
          `${path} reads ${f.file.replace(/^nix-path:/, '')} through the Nix store: evaluation copies the file into the world-readable /nix/store, secrets and all. Keep the file outside the store (agenix/sops-nix, /run/secrets/…) and give its path as a string.`);
      }
    }
    for (const v of node.nginx.virtualHosts) {
      const auth = [
        ...Object.entries(v.basicAuth).map(([user, pw]) => ({ path: optionPath(v.path, 'basicAuth'), user, pw })),
        ...v.locations.flatMap((l) => Object.entries(l.basicAuth).map(([user, pw]) => ({ path: optionPath(l.path, 'basicAuth'), user, pw }))),
      ];
      for (const a of auth) {
        bad(`${p}nginx ${v.name} basicAuth ${a.user}`, a.path, `${a.user}: ${fingerprint(a.pw)}`,
          `${a.path} writes "${a.user}:{PLAIN}…" into an htpasswd file in the world-readable /nix/store. Use basicAuthFile = "/var/lib/…/htpasswd" (created with htpasswd -B on the node).`);
      }
      if (inStore(v.sslCertificateKey)) {
        bad(`${p}nginx ${v.name} TLS key`, optionPath(v.path, 'sslCertificateKey'), v.sslCertificateKey,
          `${optionPath(v.path, 'sslCertificateKey')} is a Nix path or store path: the private key is copied into the world-readable /nix/store. Give a string path outside the store (e.g. "/var/lib/…/key.pem") or use enableACME.`);
      }
      if (inStore(v.basicAuthFile)) {
        bad(`${p}nginx ${v.name} basicAuthFile`, optionPath(v.path, 'basicAuthFile'), v.basicAuthFile,
          `${optionPath(v.path, 'basicAuthFile')} points into the /nix/store. Give a string path outside the store.`);
      }
    }
    for (const j of node.borg) {
      if (j.encryption.passphrase !== null) {
        bad(`${p}borg job ${j.name} passphrase`, optionPath(j.path, 'encryption', 'passphrase'), fingerprint(j.encryption.passphrase),
          `${optionPath(j.path, 'encryption', 'passphrase')} puts the repository passphrase in the unit environment and the borg-job-${j.name} wrapper in the /nix/store. Remove it and set encryption.passCommand = "cat /var/lib/…/borg-passphrase" (a root-only file).`);
      }
    }
    for (const r of node.redis) {
      if (!r.enable) continue;
      const inline = r.requirePass ?? (typeof r.settings.requirepass === 'string' ? r.settings.requirepass : null);
      if (inStore(r.requirePassFile)) {
        bad(`${p}redis ${r.name} password file`, optionPath(r.path, 'requirePassFile'), r.requirePassFile,
          `${optionPath(r.path, 'requirePassFile')} is a Nix path: the password file is copied into the world-readable /nix/store. Give a string path outside the store (e.g. "/run/secrets/redis-password").`);
      }
      if (inline !== null) {
        const path = r.requirePass !== null ? optionPath(r.path, 'requirePass') : optionPath(r.path, 'settings', 'requirepass');
        bad(`${p}redis ${r.name} password`, path, fingerprint(inline),
          `${path} writes the Redis password into redis.conf in the /nix/store. Use requirePassFile = "/run/secrets/redis-password".`);
      }
    }
    if (node.grafana.enable) {
      for (const key of ['admin_password', 'secret_key'] as const) {
        const v = node.grafana.settings.security[key];
        if (typeof v === 'string' && !/^\$__(file|env)\{/.test(v)) {
          const path = optionPath(node.grafana.path, 'settings', 'security', key);
          bad(`${p}grafana ${key}`, path, fingerprint(v),
            `${path} is written into grafana.ini in the /nix/store${v === 'admin' ? ' (and is the well-known default "admin")' : ''}. Use "$__file{/run/credentials/grafana.service/${key}}" with LoadCredential, or "$__file{/run/secrets/…}".`);
        }
      }
    }
  }
  return out;
}

// ── placeholders: walk every string, tracking the option path ────────────────────────────────
export function placeholderFindings(m: Manifest): Finding[] {
  const byPath = new Map<string, Set<string>>();
  const walk = (v: unknown, base: string, rel: string[]) => {
    if (typeof v === 'string') {
      const found = placeholders(v);
      if (found.length) {
        const path = optionPath(base, ...rel);
        const set = byPath.get(path) ?? new Set<string>();
        found.forEach((f) => set.add(f));
        byPath.set(path, set);
      }
    } else if (Array.isArray(v)) v.forEach((x) => walk(x, base, rel));
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      const own = typeof o.path === 'string' ? o.path : undefined;
      for (const [k, x] of Object.entries(o)) {
        if (k === 'path' || k === 'name' || k === 'generator') continue;
        if (own !== undefined) walk(x, own, [k]);
        else walk(x, base, [...rel, k]);
      }
    }
  };
  walk(m.host, '', []);
  m.containers.forEach((c) => walk(c, '', []));
  return [...byPath].map(([path, found]) => ({
    subject: path,
    pass: false,
    optionPath: path,
    observed: [...found],
    expected: 'a real value delivered at run time',
    message: `${path} still holds ${[...found].join(', ')}: nothing substitutes these at build or run time, so the literal placeholder is the credential (and it is in the /nix/store). Read the real value from a file at run time.`,
  }));
}

