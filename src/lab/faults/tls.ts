// TLS faults: nginx on the node gets a different certificate, protocol setting or listen line and
// is reloaded; heal puts the saved originals back and reloads.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CERT_DIR, HSTS_LINE, NGINX_CIPHERS, nginxConf } from '../config.js';
import { issueCert, TLS_NAMES, type CertOptions } from '../pki.js';
import { editNginxConf, reloadNginx, restoreNginxConf } from './nginx.js';
import type { Fault, FaultContext } from './types.js';

const DAY = 86400_000;
const CERT = `${CERT_DIR}/fullchain.pem`;
/** Where tls-served-elsewhere puts the certificate nginx is pointed at (the renewal-checked file stays). */
const OTHER_DIR = '/etc/nginx/ssl/api-2026';
const KEY = `${CERT_DIR}/key.pem`;

async function save(ctx: FaultContext): Promise<void> {
  for (const [f, n] of [[CERT, 'cert.pem'], [KEY, 'key.pem'], ['/etc/nginx/nginx.conf', 'nginx.conf']] as const)
    if (!existsSync(join(ctx.scratch, n))) writeFileSync(join(ctx.scratch, n), await ctx.readFile(f), { mode: 0o600 });
}

async function restore(ctx: FaultContext): Promise<void> {
  await ctx.writeFile(CERT, readFileSync(join(ctx.scratch, 'cert.pem')));
  await ctx.writeFile(KEY, readFileSync(join(ctx.scratch, 'key.pem')), 0o640);
  await ctx.writeFile('/etc/nginx/nginx.conf', readFileSync(join(ctx.scratch, 'nginx.conf')));
  await reloadNginx(ctx);
}

function certFault(name: string, breaks: string, catches: string[], opts: (ctx: FaultContext) => Partial<CertOptions>, weakCiphers = false): Fault {
  return {
    name,
    area: 'tls',
    breaks,
    catches,
    async apply(ctx) {
      await save(ctx);
      const { key, cert } = await issueCert(ctx.lab.state, { dns: TLS_NAMES, ips: [ctx.node.address], ...opts(ctx) });
      await ctx.writeFile(CERT, cert);
      await ctx.writeFile(KEY, key, 0o640);
      // OpenSSL 3 at the default security level refuses to load a 1024-bit key: lower it as an admin would.
      if (weakCiphers) await ctx.writeFile('/etc/nginx/nginx.conf', nginxConf({ flavour: ctx.node.flavour, ciphers: 'DEFAULT:@SECLEVEL=0' }));
      await reloadNginx(ctx);
    },
    heal: restore,
  };
}

export const faults: Fault[] = [
  certFault('tls-expired', 'the served certificate expired yesterday', ['tls.not-expired', 'tls.min-days-left', 'tls.chain'],
    () => ({ notBefore: new Date(Date.now() - 90 * DAY), notAfter: new Date(Date.now() - DAY) })),
  certFault('tls-not-yet-valid', 'the served certificate becomes valid only in 10 days', ['tls.not-yet-valid', 'tls.chain'],
    () => ({ notBefore: new Date(Date.now() + 10 * DAY), notAfter: new Date(Date.now() + 100 * DAY) })),
  certFault('tls-expiring-soon', 'the served certificate expires in 10 days (less than minDaysLeft 21)', ['tls.min-days-left'],
    () => ({ notAfter: new Date(Date.now() + 10 * DAY) })),
  certFault('tls-intermediate-expiring', 'the served chain\'s intermediate CA expires in 5 days (the leaf has 90): the chain stops verifying then', ['tls.min-days-left'],
    () => ({ intermediate: { notAfter: new Date(Date.now() + 5 * DAY) } })),
  certFault('tls-wrong-san', 'the served certificate names neither api.alchemist.local nor monitoring.alchemist.local', ['tls.hostname'],
    () => ({ dns: ['wrong.alchemist.local'], ips: [], cn: 'wrong.alchemist.local' })),
  certFault('tls-self-signed', 'the served certificate is self-signed, not issued by the lab CA', ['tls.chain'],
    () => ({ selfSigned: true })),
  certFault('tls-weak-key', 'the served certificate has a 1024-bit RSA key', ['tls.key-strength'],
    () => ({ key: 'rsa1024' }), true),
  {
    name: 'tls-old-protocol',
    area: 'tls',
    breaks: 'nginx accepts TLS 1.0 and 1.1 handshakes',
    catches: ['tls.min-protocol'],
    async apply(ctx) {
      await save(ctx);
      await ctx.writeFile('/etc/nginx/nginx.conf', nginxConf({
        flavour: ctx.node.flavour, protocols: 'TLSv1 TLSv1.1 TLSv1.2 TLSv1.3', ciphers: 'DEFAULT:@SECLEVEL=0' }));
      await reloadNginx(ctx);
    },
    heal: restore,
  },
  {
    name: 'tls-weak-ciphers',
    area: 'tls',
    breaks: 'nginx speaks TLS 1.2 only and agrees to unencrypted (NULL) and anonymous (aNULL) suites beside a CBC-SHA1 one (ssl_ciphers … @SECLEVEL=0)',
    catches: ['tls.ciphers'],
    apply: (ctx) => editNginxConf(ctx, (conf) => conf
      .replace(`ssl_ciphers ${NGINX_CIPHERS};`, 'ssl_ciphers "ECDHE-ECDSA-NULL-SHA:AECDH-NULL-SHA:ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0";')
      .replace('ssl_protocols TLSv1.2 TLSv1.3;', 'ssl_protocols TLSv1.2;')),
    heal: restoreNginxConf,
  },
  {
    name: 'tls-no-handshake',
    area: 'tls',
    breaks: 'nginx serves plain HTTP on 443 (`listen 443` without `ssl`): no TLS handshake',
    catches: ['tls.handshake'],
    apply: (ctx) => editNginxConf(ctx, (conf) => conf.replaceAll(':443 ssl', ':443')),
    heal: restoreNginxConf,
  },
  {
    name: 'tls-hsts-missing',
    area: 'tls',
    breaks: 'the HTTPS virtual hosts send no Strict-Transport-Security header (the add_header line is gone)',
    catches: ['tls.hsts'],
    apply: (ctx) => editNginxConf(ctx, (conf) => conf.replaceAll(`${HSTS_LINE}\n`, '')),
    heal: restoreNginxConf,
  },
  {
    name: 'tls-served-elsewhere',
    area: 'tls',
    breaks: 'nginx serves a new 25-day certificate from another directory; the file the renewal expectation names (90 days) is no longer served',
    catches: ['checklist.tls-renewal'],
    // The checklist suite (its renewal expectation) is planned on full nodes only.
    needs: 'full',
    async apply(ctx) {
      const { key, cert } = await issueCert(ctx.lab.state, { dns: TLS_NAMES, ips: [ctx.node.address], notAfter: new Date(Date.now() + 25 * DAY) });
      await ctx.exec(`mkdir -p ${OTHER_DIR}`);
      await ctx.writeFile(`${OTHER_DIR}/fullchain.pem`, cert);
      await ctx.writeFile(`${OTHER_DIR}/key.pem`, key, 0o600);
      await editNginxConf(ctx, (conf) => conf.replaceAll(`${CERT_DIR}/`, `${OTHER_DIR}/`));
    },
    async heal(ctx) {
      await restoreNginxConf(ctx);
      await ctx.exec(`rm -rf ${OTHER_DIR}`);
    },
  },
];
