// Secrets faults: the secrets file made world-readable, a value replaced by its template
// placeholder, a secret value copied into a world-readable config file or written into a readable
// log, a plain-text htpasswd, the lab CA's private key left on the node under an innocent name
// (found by its public key), and two secret files the node's services use (nginx's TLS key, the
// borg job's passphrase file) made world-readable: found without being listed. Beyond /etc: a
// secret copied into a service's state dir, a hand-deployed env file others can read, a secret
// passed on a command line. Red team B: a weak value (JWT_SECRET=secret), an unexpanded template
// (${JWT_SECRET}), a copy in the web root /var/www, a POSIX ACL letting nobody read the secrets file.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Fault } from './types.js';

const FILE = '/etc/alchemist/secrets.env';
const LEAK = '/etc/alchemist/app.toml';
const HTPASSWD = '/etc/nginx/monitoring.htpasswd';
const CA_COPY = '/etc/nginx/ssl/api.alchemist.local/old-key.pem';
const LOG = '/var/log/alchemist/app.log';
const TLS_KEY = '/etc/nginx/ssl/api.alchemist.local/key.pem';
const BORG_PASS = '/etc/borg/passphrase';
const STATE_LEAK = '/var/lib/alchemist-worker/config.txt';
const WORKER_ENV = '/etc/alchemist-worker/worker.env';
const CMDLINE_PID = '/run/leafcert-fault-cmdline.pid';
const WEB_LEAK = '/var/www/alchemist/config.js';
/** Replaces JWT_SECRET's value in the secrets file (the original kept on the node, root-only). */
const setJwt = (v: string) => `cp -p ${FILE} ${FILE}.leafcert-fault && sed -i 's/^JWT_SECRET=.*/JWT_SECRET=${v}/' ${FILE}`;
const restoreFile = `[ -f ${FILE}.leafcert-fault ] && cat ${FILE}.leafcert-fault > ${FILE} && rm ${FILE}.leafcert-fault; true`;

export const faults: Fault[] = [
  {
    name: 'secrets-world-readable',
    area: 'secrets',
    breaks: `${FILE} is readable by every user (mode 0644)`,
    catches: ['secrets.file-permissions'],
    needs: 'full',
    apply: async (ctx) => void (await ctx.exec(`chmod 0644 ${FILE}`)),
    heal: async (ctx) => void (await ctx.exec(`chmod 0640 ${FILE}`)),
  },
  {
    name: 'secrets-placeholder',
    area: 'secrets',
    breaks: `JWT_SECRET in ${FILE} is the template placeholder @JWT_SECRET@`,
    catches: ['secrets.placeholder'],
    needs: 'full',
    // The original stays on the node (root-only copy), never in the harness's scratch dir.
    apply: async (ctx) => void (await ctx.exec(`cp -p ${FILE} ${FILE}.leafcert-fault && sed -i 's/^JWT_SECRET=.*/JWT_SECRET=@JWT_SECRET@/' ${FILE}`)),
    heal: async (ctx) => void (await ctx.exec(`[ -f ${FILE}.leafcert-fault ] && cat ${FILE}.leafcert-fault > ${FILE} && rm ${FILE}.leafcert-fault; true`)),
  },
  {
    name: 'secrets-leaked-file',
    area: 'secrets',
    breaks: `the JWT secret is copied into world-readable ${LEAK}`,
    catches: ['secrets.exposure'],
    needs: 'full',
    apply: async (ctx) => void (await ctx.exec(`umask 022; printf '[auth]\\njwt_secret = "%s"\\n' "$(sed -n 's/^JWT_SECRET=//p' ${FILE})" > ${LEAK}`)),
    heal: async (ctx) => void (await ctx.exec(`rm -f ${LEAK}`)),
  },
  {
    name: 'secrets-environ',
    area: 'secrets',
    breaks: 'a service runs with the JWT secret in its environment (as a unit Environment= puts it there), and it is not a declared consumer',
    catches: ['secrets.exposure'],
    needs: 'full',
    apply: async (ctx) => void (await ctx.exec(`JWT_SECRET="$(sed -n 's/^JWT_SECRET=//p' ${FILE})" setsid sleep 86400 </dev/null >/dev/null 2>&1 & echo $! > /run/leafcert-fault-environ.pid`)),
    heal: async (ctx) => void (await ctx.exec(`[ -f /run/leafcert-fault-environ.pid ] && kill $(cat /run/leafcert-fault-environ.pid) 2>/dev/null; rm -f /run/leafcert-fault-environ.pid; true`)),
  },
  {
    name: 'secrets-htpasswd-plain',
    area: 'secrets',
    breaks: `nginx basic auth file ${HTPASSWD} holds a {PLAIN} password and is world-readable (as NixOS basicAuth writes it to the store)`,
    catches: ['secrets.htpasswd'],
    needs: 'full',
    apply: async (ctx) => void (await ctx.writeFile(HTPASSWD, 'monitoring:{PLAIN}monitoring-lab-password\n', 0o644)),
    heal: async (ctx) => void (await ctx.exec(`rm -f ${HTPASSWD}`)),
  },
  {
    name: 'secrets-ca-key',
    area: 'secrets',
    breaks: `the lab CA's private key is on the node (${CA_COPY})`,
    catches: ['secrets.ca-key'],
    needs: 'full',
    async apply(ctx) {
      await ctx.writeFile(CA_COPY, readFileSync(join(ctx.lab.state, 'ca.key')), 0o600);
    },
    heal: async (ctx) => void (await ctx.exec(`rm -f ${CA_COPY}`)),
  },
  {
    name: 'secrets-in-log',
    area: 'secrets',
    breaks: `the JWT secret is written into ${LOG}, a log every user can read (as a service logging its configuration at debug level)`,
    catches: ['secrets.exposure'],
    needs: 'full',
    apply: async (ctx) => void (await ctx.exec(`mkdir -p ${LOG.replace(/\/[^/]+$/, '')} && umask 022 && printf '%s level=debug msg="loaded config" jwt_secret=%s\\n' "$(date -u +%FT%TZ)" "$(sed -n 's/^JWT_SECRET=//p' ${FILE})" >> ${LOG}`)),
    heal: async (ctx) => void (await ctx.exec(`rm -rf ${LOG.replace(/\/[^/]+$/, '')}`)),
  },
  {
    name: 'secrets-tls-key-readable',
    area: 'secrets',
    breaks: `nginx's TLS private key ${TLS_KEY} (its ssl_certificate_key, not listed in the inventory) is readable by every user (mode 0644)`,
    catches: ['secrets.discovered-permissions'],
    needs: 'full',
    apply: async (ctx) => void (await ctx.exec(`chmod 0644 ${TLS_KEY}`)),
    heal: async (ctx) => void (await ctx.exec(`chmod 0640 ${TLS_KEY}`)),
  },
  {
    name: 'secrets-borg-passphrase-readable',
    area: 'secrets',
    breaks: `the borg job's passphrase file ${BORG_PASS} (its BORG_PASSCOMMAND reads it; not listed in the inventory) is readable by every user (mode 0644)`,
    catches: ['secrets.discovered-permissions'],
    needs: 'full',
    apply: async (ctx) => void (await ctx.exec(`chmod 0644 ${BORG_PASS}`)),
    heal: async (ctx) => void (await ctx.exec(`chmod 0600 ${BORG_PASS}`)),
  },
  {
    name: 'secrets-leaked-state-dir',
    area: 'secrets',
    breaks: `the JWT secret is copied into world-readable ${STATE_LEAK} (a service's state dir under /var/lib, not /etc)`,
    catches: ['secrets.exposure'],
    needs: 'full',
    apply: async (ctx) => void (await ctx.exec(`umask 022; mkdir -p ${STATE_LEAK.replace(/\/[^/]+$/, '')} && printf 'jwt_secret = %s\\n' "$(sed -n 's/^JWT_SECRET=//p' ${FILE})" > ${STATE_LEAK}`)),
    heal: async (ctx) => void (await ctx.exec(`rm -rf ${STATE_LEAK.replace(/\/[^/]+$/, '')}`)),
  },
  {
    name: 'secrets-unlisted-env-readable',
    area: 'secrets',
    breaks: `a hand-deployed secrets file ${WORKER_ENV} (its own values, named in no inventory or service configuration) is readable by every user (mode 0644)`,
    catches: ['secrets.discovered-permissions'],
    needs: 'full',
    apply: async (ctx) => void (await ctx.exec(`umask 022; mkdir -p ${WORKER_ENV.replace(/\/[^/]+$/, '')} && printf 'WORKER_DB_PASSWORD=%s\\nS3_SECRET_KEY=%s\\n' "$(head -c 16 /dev/urandom | sha256sum | cut -c1-32)" "$(head -c 16 /dev/urandom | sha256sum | cut -c1-32)" > ${WORKER_ENV}`)),
    heal: async (ctx) => void (await ctx.exec(`rm -rf ${WORKER_ENV.replace(/\/[^/]+$/, '')}`)),
  },
  {
    name: 'secrets-cmdline',
    area: 'secrets',
    breaks: 'a process runs with the API key as a command-line argument (--api-key=VALUE): /proc/PID/cmdline is readable by every user',
    catches: ['secrets.exposure'],
    needs: 'full',
    apply: async (ctx) => void (await ctx.exec(`setsid sh -c 'sleep 86400; :' alchemist-worker --api-key="$(sed -n 's/^API_KEY=//p' ${FILE})" </dev/null >/dev/null 2>&1 & echo $! > ${CMDLINE_PID}`)),
    heal: async (ctx) => void (await ctx.exec(`[ -f ${CMDLINE_PID} ] && pkill -P "$(cat ${CMDLINE_PID})" sleep; [ -f ${CMDLINE_PID} ] && kill "$(cat ${CMDLINE_PID})" 2>/dev/null; rm -f ${CMDLINE_PID}; true`)),
  },
  {
    name: 'secrets-weak-value',
    area: 'secrets',
    breaks: `JWT_SECRET in ${FILE} is "secret", a well-known value anyone guesses first`,
    catches: ['secrets.placeholder'],
    needs: 'full',
    apply: async (ctx) => void (await ctx.exec(setJwt('secret'))),
    heal: async (ctx) => void (await ctx.exec(restoreFile)),
  },
  {
    name: 'secrets-template-unexpanded',
    area: 'secrets',
    breaks: `JWT_SECRET in ${FILE} is the unexpanded template \${JWT_SECRET} (envsubst never ran)`,
    catches: ['secrets.placeholder'],
    needs: 'full',
    apply: async (ctx) => void (await ctx.exec(setJwt('\\${JWT_SECRET}'))),
    heal: async (ctx) => void (await ctx.exec(restoreFile)),
  },
  {
    name: 'secrets-leaked-webroot',
    area: 'secrets',
    breaks: `the JWT secret is baked into ${WEB_LEAK}, a static file of the web root nginx serves to anyone`,
    catches: ['secrets.exposure'],
    needs: 'full',
    // The node's /var/www is the host's directory: a tmpfs over it in the node's own mount namespace.
    apply: async (ctx) => void (await ctx.exec(`mount -t tmpfs -o mode=755 leafcert-fault /var/www && mkdir -p ${WEB_LEAK.replace(/\/[^/]+$/, '')} && umask 022 && printf 'window.JWT_SECRET = "%s";\\n' "$(sed -n 's/^JWT_SECRET=//p' ${FILE})" > ${WEB_LEAK}`)),
    heal: async (ctx) => void (await ctx.exec(`while grep -q '^leafcert-fault /var/www ' /proc/self/mounts; do umount /var/www || break; done; true`)),
  },
  {
    name: 'secrets-acl-reader',
    area: 'secrets',
    breaks: `a POSIX ACL (user:nobody:r) lets nobody read ${FILE}, whose mode still reads 0640 (setfacl -m u:nobody:r)`,
    catches: ['secrets.file-permissions'],
    needs: 'full',
    // The lab's rootfs has no setfacl: the ACL's xattr is written from the host, through the node's root.
    apply: async (ctx) => void (await ctx.hostExec(`python3 -c "import os,struct,sys;U=0xffffffff;os.setxattr(sys.argv[1],'system.posix_acl_access',struct.pack('<I',2)+b''.join(struct.pack('<HHI',*e) for e in [(1,6,U),(2,4,65534),(4,4,U),(0x10,4,U),(0x20,0,U)]))" /proc/${ctx.node.initPid}/root${FILE}`)),
    heal: async (ctx) => void (await ctx.hostExec(`python3 -c "import os,sys
try: os.removexattr(sys.argv[1],'system.posix_acl_access')
except OSError: pass" /proc/${ctx.node.initPid}/root${FILE}`)),
  },
];
