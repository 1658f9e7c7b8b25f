// Health faults: the application behind nginx's /health (a backend on 127.0.0.1:8080 on light
// nodes, the API in the alchemist container on full nodes) is stopped or misconfigured; or nginx's
// port 80 answers itself instead of redirecting to https, or serves /health in clear beside it.
import { editNginxConf, restoreNginxConf } from './nginx.js';
import type { Fault, FaultContext } from './types.js';

const NAME = 'alchemist-api';
const CONF = `/etc/lab-backend/${NAME}.conf`;

/** Runs where the API runs: the node (light) or the alchemist container (full). */
const inApp = (ctx: FaultContext, cmd: string) =>
  ctx.node.flavour === 'full' ? ctx.containerExec('alchemist', cmd) : ctx.exec(cmd);

const setConf = (ctx: FaultContext, health: string, delayMs: number) =>
  inApp(ctx, `printf 'health=${health}\\ndelay_ms=${delayMs}\\n' > ${CONF}`);

function confFault(name: string, breaks: string, catches: string[], health: string, delayMs: number): Fault {
  return {
    name,
    area: 'health',
    breaks,
    catches,
    apply: (ctx) => setConf(ctx, health, delayMs).then(() => undefined),
    heal: (ctx) => setConf(ctx, 'ok', 0).then(() => undefined),
  };
}

export const faults: Fault[] = [
  {
    name: 'health-down',
    area: 'health',
    breaks: 'the API behind /health is stopped: nginx answers 502',
    catches: ['health.status', 'health.json'],
    async apply(ctx) {
      await inApp(ctx, `kill $(cat /run/lab-backend-${NAME}.pid) && for i in $(seq 1 50); do kill -0 $(cat /run/lab-backend-${NAME}.pid) 2>/dev/null || exit 0; sleep 0.05; done; exit 1`);
    },
    async heal(ctx) {
      const addr = ctx.node.flavour === 'full' ? '0.0.0.0' : '127.0.0.1';
      await inApp(ctx, `kill -0 $(cat /run/lab-backend-${NAME}.pid) 2>/dev/null || lab-backend-start ${NAME} ${addr} 8080`);
    },
  },
  confFault('health-500', 'the health endpoint answers 500', ['health.status', 'health.json'], 'error', 0),
  confFault('health-wrong-json', 'the health endpoint answers 200 with {"status":"degraded"}', ['health.json'], 'badjson', 0),
  confFault('health-slow', 'the health endpoint takes 2 s to answer (maxMs 500)', ['health.latency'], 'ok', 2000),
  {
    name: 'health-no-redirect',
    area: 'health',
    breaks: 'port 80 answers 200 itself instead of redirecting to https (301)',
    catches: ['health.redirect'],
    apply: (ctx) => editNginxConf(ctx, (conf) => conf.replace('return 301 https://$host$request_uri;', 'return 200 "plain http";')),
    heal: restoreNginxConf,
  },
  {
    name: 'health-plain-location',
    area: 'health',
    breaks: 'port 80 proxies /health to the API in clear (a location exempted from the redirect); / still redirects to https',
    catches: ['health.redirect'],
    apply: (ctx) => editNginxConf(ctx, (conf) => conf.replace('    location / { return 301 https://$host$request_uri; }',
      `    location /health { proxy_pass ${ctx.node.flavour === 'full' ? 'http://10.233.1.2:8080/health' : 'http://127.0.0.1:8080/health'}; }\n    location / { return 301 https://$host$request_uri; }`)),
    heal: restoreNginxConf,
  },
];
