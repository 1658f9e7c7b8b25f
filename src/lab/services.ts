// Config files of the services inside a full node's containers: PostgreSQL (explicit tuning,
// no trust on TCP) and Prometheus (scrapes every container's /metrics, alert rules loaded).
import type { ContainerSpec } from './full.js';

/** Tuning set explicitly, scaled from the deployment's values to fit an 8G container on a shared CI box. */
export const PG_SETTINGS: Record<string, string | number> = {
  max_connections: 100,
  shared_buffers: '256MB',
  effective_cache_size: '1GB',
  maintenance_work_mem: '64MB',
  work_mem: '4MB',
  wal_buffers: '8MB',
  max_wal_size: '1GB',
  min_wal_size: '80MB',
  checkpoint_completion_target: 0.9,
  random_page_cost: 1.1,
  effective_io_concurrency: 200,
  default_statistics_target: 100,
  max_worker_processes: 4,
  max_parallel_workers: 2,
  max_parallel_workers_per_gather: 1,
  max_parallel_maintenance_workers: 1,
  password_encryption: 'scram-sha-256',
};

const pgValue = (v: string | number) => (typeof v === 'number' ? String(v) : `'${v}'`);

export function postgresqlConf(): string {
  return [
    '# leafcert lab: alchemist container PostgreSQL 15 (shape of services.postgresql.settings)',
    `listen_addresses = '127.0.0.1,10.233.1.2'`,
    'port = 5432',
    `unix_socket_directories = '/run/postgresql'`,
    `log_destination = 'stderr'`,
    `log_line_prefix = '[%p] '`,
    `hba_file = '/var/lib/postgresql/15/main/pg_hba.conf'`,
    ...Object.entries(PG_SETTINGS).map(([k, v]) => `${k} = ${pgValue(v)}`),
    '',
  ].join('\n');
}

export function pgHba(): string {
  return `# leafcert lab: local peer, TCP only with scram-sha-256 (never trust)
# TYPE  DATABASE  USER      ADDRESS         METHOD
local   all       postgres                  peer
local   all       all                       peer
host    all       all       127.0.0.1/32    scram-sha-256
host    all       all       ::1/128         scram-sha-256
host    all       all       10.233.0.0/16   scram-sha-256
`;
}

export function prometheusConfig(containers: ContainerSpec[]): string {
  const targets = containers
    .filter((c) => c.name !== 'monitoring')
    .map((c) => `          - '10.233.${c.n}.2:${c.ports[0]}'`)
    .join('\n');
  return `# leafcert lab: monitoring container Prometheus
global:
  scrape_interval: 5s
  evaluation_interval: 5s
rule_files:
  - /etc/prometheus/rules/*.yml
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ['127.0.0.1:9090']
  - job_name: alchemist
    static_configs:
      - targets:
${targets}
`;
}

export function prometheusRules(): string {
  return `groups:
  - name: alchemist
    rules:
      - alert: ExampleDown
        expr: up == 0
        for: 10s
        labels:
          severity: critical
        annotations:
          summary: "{{ $labels.instance }} of job {{ $labels.job }} is down"
      - alert: ServiceUnhealthy
        expr: lab_service_healthy == 0
        for: 10s
        labels:
          severity: warning
        annotations:
          summary: "{{ $labels.service }} reports itself unhealthy"
`;
}
