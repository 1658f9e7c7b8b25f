// The lab's own CA and the node certificates, via the openssl CLI. `openssl ca` (not `x509 -req`)
// because faults need arbitrary validity windows (expired, not yet valid).
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { run } from './proc.js';

export const TLS_NAMES = ['api.alchemist.local', 'monitoring.alchemist.local'];

export async function ensureCa(state: string, id: string): Promise<void> {
  const key = join(state, 'ca.key');
  const cert = join(state, 'ca.pem');
  if (existsSync(key) && existsSync(cert)) return;
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', key, '-out', cert, '-days', '3650', '-subj', `/O=leafcert lab/CN=leafcert lab CA ${id}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], { check: true });
}

export interface CertOptions {
  /** DNS names and IPs for subjectAltName. */
  dns: string[];
  ips: string[];
  cn?: string;
  /** openssl date form YYYYMMDDHHMMSSZ, or a Date. */
  notBefore?: Date;
  notAfter?: Date;
  /** 'ec' (P-256, default) or 'rsa1024' (weak key fault). */
  key?: 'ec' | 'rsa1024' | 'rsa2048';
  /** Sign with its own key instead of the lab CA. */
  selfSigned?: boolean;
  /** Sign with an intermediate CA (issued by the lab CA, valid until this date); the cert returned is leaf + intermediate. */
  intermediate?: { notAfter: Date };
}

const asn1 = (d: Date) => d.toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z');

/** Issues a server certificate; returns PEM key and cert. */
export async function issueCert(state: string, o: CertOptions): Promise<{ key: string; cert: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'leafcert-pki-'));
  try {
    const keyArgs = o.key === 'rsa1024' ? ['-newkey', 'rsa:1024'] : o.key === 'rsa2048' ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
    const san = [...o.dns.map((d) => `DNS:${d}`), ...o.ips.map((i) => `IP:${i}`)].join(',');
    writeFileSync(join(dir, 'ext.cnf'), [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      ...(san ? [`subjectAltName=${san}`] : []),
    ].join('\n') + '\n');
    writeFileSync(join(dir, 'index.txt'), '');
    writeFileSync(join(dir, 'ca.cnf'), `[ca]\ndefault_ca=lab\n[lab]\ndir=${dir}\ndatabase=${dir}/index.txt\nnew_certs_dir=${dir}\nrand_serial=yes\ndefault_md=sha256\npolicy=any\nunique_subject=no\n[any]\ncommonName=supplied\norganizationName=optional\n`);
    const cn = o.cn ?? o.dns[0] ?? 'leafcert-lab';
    await run('openssl', ['req', '-new', ...keyArgs, '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'req.csr'),
      '-subj', `/O=leafcert lab/CN=${cn}`], { check: true });
    const notBefore = o.notBefore ?? new Date(Date.now() - 3600_000);
    const notAfter = o.notAfter ?? new Date(Date.now() + 90 * 86400_000);
    if (o.intermediate) {
      writeFileSync(join(dir, 'int.cnf'), 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n');
      await run('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'int.key'), '-out', join(dir, 'int.csr'),
        '-subj', '/O=leafcert lab/CN=leafcert lab intermediate'], { check: true });
      await run('openssl', ['ca', '-batch', '-notext', '-config', join(dir, 'ca.cnf'), '-cert', join(state, 'ca.pem'), '-keyfile', join(state, 'ca.key'), '-in', join(dir, 'int.csr'),
        '-out', join(dir, 'int.pem'), '-startdate', asn1(new Date(Date.now() - 3600_000)), '-enddate', asn1(o.intermediate.notAfter), '-extfile', join(dir, 'int.cnf')], { check: true });
    }
    const signer = o.selfSigned
      ? ['-selfsign', '-keyfile', join(dir, 'key.pem')]
      : o.intermediate
        ? ['-cert', join(dir, 'int.pem'), '-keyfile', join(dir, 'int.key')]
        : ['-cert', join(state, 'ca.pem'), '-keyfile', join(state, 'ca.key')];
    await run('openssl', ['ca', '-batch', '-notext', '-config', join(dir, 'ca.cnf'), ...signer, '-in', join(dir, 'req.csr'),
      '-out', join(dir, 'cert.pem'), '-startdate', asn1(notBefore), '-enddate', asn1(notAfter), '-extfile', join(dir, 'ext.cnf')], { check: true });
    const cert = readFileSync(join(dir, 'cert.pem'), 'utf8') + (o.intermediate ? readFileSync(join(dir, 'int.pem'), 'utf8') : '');
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
