// Monitoring faults on a full node: a scraped service stops listening (its Prometheus target goes
// down), a target is deleted from prometheus.yml (no longer scraped at all), an alert rule disappears from the rules file and Prometheus reloads it (SIGHUP), a broken
// rules file is deployed and the reload fails (the earlier rules keep running), or
// Prometheus itself is stopped; the rules file is edited (a rule removed) without a reload; a service reports itself unhealthy, so the ServiceUnhealthy alert fires. Apply and heal wait until Prometheus itself reports the change
// (or, stopped, until its port refuses), so a check right after sees it.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { Fault, FaultContext } from './types.js';

const PROM = 'http://10.233.5.2:9090';
const TARGET = { container: 'alchemist-graph', port: 6333, instance: '10.233.2.2:6333' };
const RULES_FILE = '/var/lib/nixos-containers/monitoring/etc/prometheus/rules/alchemist.rules.yml';
const CONFIG_FILE = '/var/lib/nixos-containers/monitoring/etc/prometheus/prometheus.yml';
const RULE = 'ServiceUnhealthy';
/** The workflow backend's health flag (lab-backend exports it as lab_service_healthy, which ServiceUnhealthy watches). */
const WORKFLOW_CONF = '/etc/lab-backend/alchemist-workflow.conf';

/** Poll the Prometheus API from inside the node until `test` (a grep -E on the JSON) holds, or give up. */
async function waitFor(ctx: FaultContext, path: string, grep: string, want: boolean, what: string): Promise<void> {
  const cond = `curl -s --max-time 2 ${PROM}${path} | grep -Eq '${grep}'`;
  await ctx.exec(
    `for i in $(seq 1 150); do if ${want ? '' : '! '}${cond}; then exit 0; fi; sleep 0.2; done; echo 'timed out waiting for Prometheus: ${what}' >&2; exit 1`,
  );
}

const targetRe = (health: 'up' | 'down') => `"instance":"${TARGET.instance}"[^}]*\\}[^}]*"health":"${health}"`;

export const faults: Fault[] = [
  {
    name: 'monitoring-target-down',
    area: 'monitoring',
    breaks: `the metrics listener of ${TARGET.container} (${TARGET.instance}) is stopped, so its Prometheus target is down`,
    catches: ['monitoring.targets-up'],
    needs: 'full',
    async apply(ctx) {
      const pid = `/run/lab-backend-${TARGET.container}.pid`;
      await ctx.containerExec(TARGET.container, `kill $(cat ${pid}) && for i in $(seq 1 50); do kill -0 $(cat ${pid}) 2>/dev/null || exit 0; sleep 0.05; done; exit 1`);
      await waitFor(ctx, '/api/v1/targets', targetRe('down'), true, `${TARGET.instance} down`);
    },
    async heal(ctx) {
      await ctx.containerExec(TARGET.container, `kill -0 $(cat /run/lab-backend-${TARGET.container}.pid) 2>/dev/null || lab-backend-start ${TARGET.container} 0.0.0.0 ${TARGET.port}`);
      await waitFor(ctx, '/api/v1/targets', targetRe('up'), true, `${TARGET.instance} up`);
    },
  },
  {
    name: 'monitoring-target-removed',
    area: 'monitoring',
    breaks: `the target ${TARGET.instance} is deleted from prometheus.yml and Prometheus reloaded: it is no longer scraped at all, so no target is down and the job still has others`,
    catches: ['monitoring.targets-up'],
    needs: 'full',
    async apply(ctx) {
      const orig = (await ctx.readFile(CONFIG_FILE)).toString('utf8');
      writeFileSync(join(ctx.scratch, 'prometheus.yml'), orig);
      const doc = parse(orig) as { scrape_configs: { static_configs: { targets: string[] }[] }[] };
      for (const j of doc.scrape_configs) for (const sc of j.static_configs) sc.targets = sc.targets.filter((t) => t !== TARGET.instance);
      await ctx.writeFile(CONFIG_FILE, stringify(doc));
      await ctx.containerExec('monitoring', 'kill -HUP $(cat /run/prometheus.pid)');
      await waitFor(ctx, '/api/v1/targets?state=active', `"instance":"${TARGET.instance}"`, false, `${TARGET.instance} dropped`);
    },
    async heal(ctx) {
      await ctx.writeFile(CONFIG_FILE, readFileSync(join(ctx.scratch, 'prometheus.yml')));
      await ctx.containerExec('monitoring', 'kill -HUP $(cat /run/prometheus.pid)');
      await waitFor(ctx, '/api/v1/targets?state=active', targetRe('up'), true, `${TARGET.instance} scraped and up`);
    },
  },
  {
    name: 'monitoring-rule-missing',
    area: 'monitoring',
    breaks: `the alert rule ${RULE} is removed from the rules file and Prometheus reloaded (SIGHUP)`,
    catches: ['monitoring.rules-loaded'],
    needs: 'full',
    async apply(ctx) {
      const orig = (await ctx.readFile(RULES_FILE)).toString('utf8');
      writeFileSync(join(ctx.scratch, 'rules.yml'), orig);
      const doc = parse(orig) as { groups: { rules: { alert?: string }[] }[] };
      for (const g of doc.groups) g.rules = g.rules.filter((r) => r.alert !== RULE);
      await ctx.writeFile(RULES_FILE, stringify(doc));
      await ctx.containerExec('monitoring', 'kill -HUP $(cat /run/prometheus.pid)');
      await waitFor(ctx, '/api/v1/rules', `"name":"${RULE}"`, false, `${RULE} unloaded`);
    },
    async heal(ctx) {
      await ctx.writeFile(RULES_FILE, readFileSync(join(ctx.scratch, 'rules.yml')));
      await ctx.containerExec('monitoring', 'kill -HUP $(cat /run/prometheus.pid)');
      await waitFor(ctx, '/api/v1/rules', `"name":"${RULE}"`, true, `${RULE} loaded`);
    },
  },
  {
    name: 'monitoring-reload-failed',
    area: 'monitoring',
    breaks: `a broken rules file is deployed (${RULES_FILE} no longer parses) and Prometheus reloaded: the reload fails, the earlier rules keep running, the next restart would not come up`,
    catches: ['monitoring.prometheus-ready'],
    needs: 'full',
    async apply(ctx) {
      const orig = (await ctx.readFile(RULES_FILE)).toString('utf8');
      writeFileSync(join(ctx.scratch, 'rules.yml'), orig);
      await ctx.writeFile(RULES_FILE, `${orig}groups: [\n`);
      await ctx.containerExec('monitoring', 'kill -HUP $(cat /run/prometheus.pid)');
      await waitFor(ctx, '/api/v1/status/runtimeinfo', '"reloadConfigSuccess":false', true, 'reload failed');
    },
    async heal(ctx) {
      await ctx.writeFile(RULES_FILE, readFileSync(join(ctx.scratch, 'rules.yml')));
      await ctx.containerExec('monitoring', 'kill -HUP $(cat /run/prometheus.pid)');
      await waitFor(ctx, '/api/v1/status/runtimeinfo', '"reloadConfigSuccess":true', true, 'reload succeeded');
    },
  },
  {
    name: 'monitoring-prometheus-stopped',
    area: 'monitoring',
    breaks: 'Prometheus in the monitoring container is stopped (SIGTERM), so nothing answers on 10.233.5.2:9090',
    catches: ['monitoring.prometheus-ready'],
    needs: 'full',
    async apply(ctx) {
      await ctx.containerExec('monitoring', 'p=$(cat /run/prometheus.pid); kill "$p"; for i in $(seq 1 200); do kill -0 "$p" 2>/dev/null || exit 0; sleep 0.05; done; echo "prometheus $p did not stop" >&2; exit 1');
      await ctx.exec(`for i in $(seq 1 100); do curl -s -o /dev/null --max-time 1 ${PROM}/-/ready || exit 0; sleep 0.1; done; echo 'port 9090 still answers' >&2; exit 1`);
    },
    async heal(ctx) {
      // As the container's init starts it (src/lab/sh/container-run.sh); the same data dir, so the
      // TSDB is reopened, not rebuilt.
      await ctx.containerExec('monitoring', [
        'kill -0 "$(cat /run/prometheus.pid)" 2>/dev/null && exit 0',
        'chown -R prometheus:prometheus /var/lib/prometheus',
        'setsid setpriv --reuid prometheus --regid prometheus --init-groups -- prometheus \\',
        '  --config.file=/etc/prometheus/prometheus.yml --storage.tsdb.path=/var/lib/prometheus/metrics2 \\',
        '  --storage.tsdb.retention.time=1h --web.listen-address=0.0.0.0:9090 --web.enable-lifecycle \\',
        '  </dev/null >>/var/log/prometheus-monitoring.log 2>&1 &',
        'echo $! > /run/prometheus.pid',
      ].join('\n'));
      await waitFor(ctx, '/-/ready', 'Ready', true, 'ready after restart');
      // Every target scraped again (5 s interval): none still unknown or down, at least one up.
      await ctx.exec(
        `for i in $(seq 1 300); do t=$(curl -s --max-time 2 ${PROM}/api/v1/targets?state=active); ` +
          `if echo "$t" | grep -q '"health":"up"' && ! echo "$t" | grep -Eq '"health":"(unknown|down)"'; then exit 0; fi; sleep 0.2; done; ` +
          `echo 'timed out waiting for Prometheus: first scrape after restart' >&2; exit 1`,
      );
    },
  },
  {
    name: 'monitoring-alert-firing',
    area: 'monitoring',
    breaks: `alchemist-workflow reports itself unhealthy, so the ${RULE} alert fires (and nobody looks)`,
    catches: ['monitoring.alerts-firing'],
    needs: 'full',
    async apply(ctx) {
      await ctx.exec(`sed -i 's/^health=ok$/health=error/' ${WORKFLOW_CONF}`);
      await waitFor(ctx, '/api/v1/alerts', '"state":"firing"', true, `${RULE} firing`);
    },
    async heal(ctx) {
      await ctx.exec(`sed -i 's/^health=error$/health=ok/' ${WORKFLOW_CONF}`);
      await waitFor(ctx, '/api/v1/alerts', '"state":"(firing|pending)"', false, `${RULE} resolved`);
    },
  },
  {
    name: 'monitoring-rules-edited-unreloaded',
    area: 'monitoring',
    breaks: `the alert rule ${RULE} is removed from the rules file but Prometheus is not reloaded: it runs rules that are no longer deployed, and the next reload drops ${RULE}`,
    catches: ['monitoring.rules-loaded'],
    needs: 'full',
    async apply(ctx) {
      // The original, with its mtime, kept on the node (root-only): healing puts both back.
      await ctx.exec(`cp -p ${RULES_FILE} /root/leafcert-fault-rules.yml`);
      const doc = parse((await ctx.readFile(RULES_FILE)).toString('utf8')) as { groups: { rules: { alert?: string }[] }[] };
      for (const g of doc.groups) g.rules = g.rules.filter((r) => r.alert !== RULE);
      await ctx.writeFile(RULES_FILE, stringify(doc));
    },
    heal: async (ctx) => void (await ctx.exec(`[ -f /root/leafcert-fault-rules.yml ] && cp -p /root/leafcert-fault-rules.yml ${RULES_FILE} && rm /root/leafcert-fault-rules.yml; true`)),
  },
];
