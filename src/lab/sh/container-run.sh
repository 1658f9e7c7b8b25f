#!/bin/bash
# Services of a lab container (runs as its PID 1 after the capability drop), then reaps orphans.
# Installed in the node as /usr/local/lib/lab-container-run.sh. Args: NAME LOCAL_ADDRESS
set -euo pipefail
trap 'exit 0' TERM INT
name=$1 addr=$2
PG=/usr/lib/postgresql/15/bin

start_postgres() {
  local data=/var/lib/postgresql/15/main
  mkdir -p /run/postgresql /var/lib/postgresql/15
  chown postgres:postgres /run/postgresql /var/lib/postgresql /var/lib/postgresql/15
  if [ ! -e "$data/PG_VERSION" ]; then
    (cd / && setpriv --reuid postgres --regid postgres --init-groups -- "$PG/initdb" -D "$data" \
      --auth-local=peer --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null)
    cp /var/lib/nixos-containers/alchemist/postgresql.conf "$data/postgresql.conf"
    cp /var/lib/nixos-containers/alchemist/pg_hba.conf "$data/pg_hba.conf"
    chown postgres:postgres "$data/postgresql.conf" "$data/pg_hba.conf"
    fresh=1
  fi
  (cd / && setpriv --reuid postgres --regid postgres --init-groups -- "$PG/pg_ctl" -D "$data" -l /run/postgresql/postgresql.log -w -t 60 start >/dev/null)
  if [ "${fresh:-0}" = 1 ]; then
    pw=$(sed -n 's/^POSTGRES_PASSWORD=//p' /etc/alchemist/secrets.env)
    (cd / && setpriv --reuid postgres --regid postgres --init-groups -- "$PG/psql" -XqAt -v ON_ERROR_STOP=1 <<SQL
CREATE ROLE alchemist LOGIN PASSWORD '$pw';
CREATE DATABASE alchemist OWNER alchemist;
SQL
    )
  fi
}

case $name in
  alchemist)
    start_postgres
    lab-backend-start alchemist-api 0.0.0.0 8080 ;;
  monitoring)
    chown -R prometheus:prometheus /var/lib/prometheus
    setsid setpriv --reuid prometheus --regid prometheus --init-groups -- prometheus \
      --config.file=/etc/prometheus/prometheus.yml --storage.tsdb.path=/var/lib/prometheus/metrics2 \
      --storage.tsdb.retention.time=1h --web.listen-address=0.0.0.0:9090 --web.enable-lifecycle \
      </dev/null >>/var/log/prometheus-monitoring.log 2>&1 &
    echo $! > /run/prometheus.pid
    ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' -m 2 http://127.0.0.1:9090/-/ready)" = 200 ]; }
    for _ in $(seq 1 600); do
      ready && break
      sleep 0.05
    done
    ready || { tail -5 /var/log/prometheus-monitoring.log >&2; exit 1; } ;;
  *)
    lab-backend-start "$name" 0.0.0.0 "$LAB_PORT" ;;
esac
echo "READY $name"
while :; do
  sleep 86400 &
  wait $! || true
done
