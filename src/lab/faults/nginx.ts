// nginx on a lab node, for the faults that change its config (tls, health): edit nginx.conf,
// reload and wait for the new workers; heal puts the saved original back.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CERT_DIR } from '../config.js';
import type { FaultContext } from './types.js';

export const NGINX_CONF = '/etc/nginx/nginx.conf';
const SAVED = 'nginx.conf';

export async function reloadNginx(ctx: FaultContext): Promise<void> {
  // reload is asynchronous: wait until none of the old workers is left, so the next request or
  // handshake is served with the new certificate/config.
  await ctx.exec(`chown root:nginx ${CERT_DIR}/*.pem && chmod 0640 ${CERT_DIR}/key.pem && nginx -t -q -c ${NGINX_CONF}
master=$(cat /run/nginx.pid)
old=$(pgrep -P "$master" | sort)
nginx -s reload -c ${NGINX_CONF}
for i in $(seq 1 200); do
  now=$(pgrep -P "$master" | sort)
  if [ -n "$now" ] && [ -z "$(comm -12 <(echo "$old") <(echo "$now"))" ]; then exit 0; fi
  sleep 0.05
done
echo "nginx did not finish reloading" >&2; exit 1`);
}

/** Saves nginx.conf into the fault's scratch (once), then applies `edit` to the live file and reloads. */
export async function editNginxConf(ctx: FaultContext, edit: (conf: string) => string): Promise<void> {
  const current = (await ctx.readFile(NGINX_CONF)).toString('utf8');
  if (!existsSync(join(ctx.scratch, SAVED))) writeFileSync(join(ctx.scratch, SAVED), current, { mode: 0o600 });
  const next = edit(current);
  if (next === current) throw new Error(`${ctx.node.name}: ${NGINX_CONF} does not have the lab's shape (the edit changed nothing)`);
  await ctx.writeFile(NGINX_CONF, next);
  await reloadNginx(ctx);
}

export async function restoreNginxConf(ctx: FaultContext): Promise<void> {
  await ctx.writeFile(NGINX_CONF, readFileSync(join(ctx.scratch, SAVED)));
  await reloadNginx(ctx);
}
