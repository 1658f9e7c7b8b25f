// monitoring suite against a full lab node (Prometheus in the `monitoring` container, reached
// through the node's ssh connection): healthy passes, each monitoring fault fails its check and
// heals, Grafana (not in the lab) is skipped, an HTML answer on the Prometheus port is an error.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type TestLab } from './helpers/lab.js';
import type { Result } from '../src/core/types.js';
import { resultOf, runChecks, statusOf } from './helpers/ops.js';

const NODE = 'leaf-1';
const CHECKS = ['monitoring.prometheus-ready', 'monitoring.targets-up', 'monitoring.rules-loaded', 'monitoring.alerts-firing'];
let lab: TestLab;

/** Prometheus starts before its first scrape: wait until every target has a verdict. */
async function prometheusSettled(): Promise<void> {
  for (let i = 0; i < 150; i++) {
    const r = await lab.exec(NODE, 'curl -s --max-time 2 http://10.233.5.2:9090/api/v1/targets');
    try {
      const t = JSON.parse(r.stdout).data.activeTargets as { health: string }[];
      if (t.length && t.every((x) => x.health === 'up')) return;
    } catch {
      /* not ready */
    }
    await new Promise((res) => setTimeout(res, 200));
  }
  throw new Error('Prometheus in the lab never had every target up');
}

/** With `fault` applied, the suite's results go to `broken`; healed, every check passes again. */
async function faultHeals(fault: string, broken: (results: Result[]) => void): Promise<void> {
  await lab.fault(NODE, fault);
  try {
    broken((await runChecks(lab, ['monitoring'])).results);
  } finally {
    await lab.heal(NODE, fault);
  }
  const { results } = await runChecks(lab, ['monitoring']);
  for (const id of CHECKS) expect(statusOf(results, id), `${id}: ${resultOf(results, id).message}`).toBe('pass');
}

describe('monitoring on a full lab node', { timeout: 120_000 }, () => {
  beforeAll(async () => {
    lab = await startLab({ name: 'monitoring', flavour: 'full' });
    await prometheusSettled();
  });
  afterAll(async () => {
    await lab?.down();
  });

  it('passes on the healthy node; Grafana is not expected and is skipped', async () => {
    const { results } = await runChecks(lab, ['monitoring']);
    for (const id of CHECKS) expect(statusOf(results, id), `${id}: ${resultOf(results, id).message}`).toBe('pass');
    expect(statusOf(results, 'monitoring.grafana-health')).toBe('skipped');
    expect(resultOf(results, 'monitoring.prometheus-ready').evidence.source).toMatch(/via ssh root@/);
  });

  it('monitoring-target-down fails monitoring.targets-up naming the target, and heals', async () => {
    await faultHeals('monitoring-target-down', (results) => {
      const r = resultOf(results, 'monitoring.targets-up');
      expect(r.status).toBe('fail');
      expect(r.message).toMatch(/alchemist\/10\.233\.2\.2:6333 is down \(.*(refused|reset)/);
      expect(statusOf(results, 'monitoring.rules-loaded')).toBe('pass');
    });
  });

  it('monitoring-target-removed (deleted from prometheus.yml, so never down) fails monitoring.targets-up naming it, and heals', async () => {
    await faultHeals('monitoring-target-removed', (results) => {
      const r = resultOf(results, 'monitoring.targets-up');
      expect(r.status).toBe('fail');
      expect(r.message).toMatch(/not scraped at all .*alchemist\/10\.233\.2\.2:6333/);
      expect(r.message).not.toMatch(/is down/);
      expect(statusOf(results, 'monitoring.prometheus-ready')).toBe('pass');
    });
  });

  it('monitoring-rule-missing fails monitoring.rules-loaded naming the rule, and heals', async () => {
    await faultHeals('monitoring-rule-missing', (results) => {
      const r = resultOf(results, 'monitoring.rules-loaded');
      expect(r.status).toBe('fail');
      expect(r.message).toBe('missing: ServiceUnhealthy');
      expect(statusOf(results, 'monitoring.targets-up')).toBe('pass');
    });
  });

  it('monitoring-reload-failed fails monitoring.prometheus-ready (the earlier rules still loaded), and heals', async () => {
    await faultHeals('monitoring-reload-failed', (results) => {
      const r = resultOf(results, 'monitoring.prometheus-ready');
      expect(r.status, r.message).toBe('fail');
      expect(r.message).toMatch(/runs an earlier configuration: its last configuration reload \(.*\) failed/);
      // what runs is still whole: only the reload status tells
      expect(statusOf(results, 'monitoring.rules-loaded')).toBe('pass');
      expect(statusOf(results, 'monitoring.targets-up')).toBe('pass');
    });
  });

  it('monitoring-prometheus-stopped fails monitoring.prometheus-ready (nothing listens), and heals', async () => {
    await faultHeals('monitoring-prometheus-stopped', (results) => {
      const r = resultOf(results, 'monitoring.prometheus-ready');
      expect(r.status, r.message).toBe('fail');
      expect(r.message).toMatch(/nothing listens on 10\.233\.5\.2:9090/);
      // Targets and rules cannot be read from a stopped Prometheus: unknown, never a pass.
      expect(statusOf(results, 'monitoring.targets-up')).toBe('error');
      expect(statusOf(results, 'monitoring.rules-loaded')).toBe('error');
    });
  });

  it('monitoring-alert-firing (a service reports itself unhealthy, ServiceUnhealthy fires) fails monitoring.alerts-firing naming the alert and its labels, and heals', async () => {
    await faultHeals('monitoring-alert-firing', (results) => {
      const r = resultOf(results, 'monitoring.alerts-firing');
      expect(r.status, r.message).toBe('fail');
      expect(r.message).toMatch(/^1 alert\(s\) firing: ServiceUnhealthy\{.*service="alchemist-workflow".*severity="warning"\}/);
      for (const id of ['monitoring.prometheus-ready', 'monitoring.targets-up', 'monitoring.rules-loaded']) expect(statusOf(results, id)).toBe('pass');
    });
  });

  it('monitoring-rules-edited-unreloaded (the rule still runs, the file no longer has it) fails monitoring.rules-loaded naming the file, and heals', async () => {
    await faultHeals('monitoring-rules-edited-unreloaded', (results) => {
      const r = resultOf(results, 'monitoring.rules-loaded');
      expect(r.status, r.message).toBe('fail');
      expect(r.message).toMatch(/^\/etc\/prometheus\/rules\/alchemist.rules.yml changed .*, after Prometheus last loaded its configuration/);
      expect(statusOf(results, 'monitoring.prometheus-ready')).toBe('pass');
    });
  });

  it('bad input: a port that answers HTML instead of the API is an error with the reason', async () => {
    // nginx on the node answers the monitoring vhost over HTTP with a redirect page (text/html).
    const { results } = await runChecks(lab, ['monitoring'], [], (e) => {
      e.monitoring.prometheus = { address: '127.0.0.1', port: 80 };
    });
    for (const id of CHECKS) {
      const r = resultOf(results, id);
      expect(r.status, `${id}: ${r.message}`).toBe('error');
      expect(r.message).toMatch(/HTML/);
    }
  });
});
