#!/bin/bash
# Turns a running light node into a full Alchemist leaf node. Runs inside the node (nsenter -a).
# Env: LAB_SH (this dir), BOUNDING (setpriv bounding set), CONTAINERS (lines
# "NAME N PORTS MEMCG CPUCG MEMORYMAX CPUQUOTA FWPORTS"; FWPORTS: the TCP ports of the container's
# own firewall, "-" = none). Prints "CONTAINER NAME LEADER_NODE_PID" lines.
set -euo pipefail
cp "$LAB_SH/container-run.sh" /usr/local/lib/lab-container-run.sh
cp "$LAB_SH/nixos-container.sh" /usr/local/bin/nixos-container
# NixOS has machinectl (systemd-machined registers every nspawn container): the stand-in answers
# from the lab's record of the leaders, so probes read what NixOS has and nothing of the lab.
cp "$LAB_SH/machinectl.sh" /usr/local/bin/machinectl
chmod 0755 /usr/local/lib/lab-container-run.sh /usr/local/bin/nixos-container /usr/local/bin/machinectl

# --- secrets: real random values, readable by root and group alchemist only
getent group alchemist >/dev/null || groupadd -r alchemist
mkdir -p /etc/alchemist /var/lib/alchemist /var/log/containers /run/leafcert-lab
chmod 0755 /etc/alchemist
rnd() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
umask 027
cat > /etc/alchemist/secrets.env <<SECRETS
POSTGRES_PASSWORD=$(rnd)
JWT_SECRET=$(rnd)
API_KEY=$(rnd)
NATS_TOKEN=$(rnd)
REDIS_PASSWORD=$(rnd)
SECRETS
umask 022
chown root:alchemist /etc/alchemist/secrets.env
chmod 0640 /etc/alchemist/secrets.env
printf '[alchemist]\nlisten = "0.0.0.0:8080"\ndatabase = "postgresql://alchemist@10.233.1.2:5432/alchemist"\n' > /etc/alchemist/config.toml
echo "leafcert lab data of $(hostname)" > /var/lib/alchemist/README
head -c 65536 /dev/urandom > /var/lib/alchemist/state.bin

# --- containers
# NAME.containers as NixOS writes it; bare NAME too, because containers share the node's /etc and
# resolve their own hostname (Prometheus stalls 10 s on a DNS timeout otherwise).
grep -q '10.233.1.2 alchemist.containers' /etc/hosts || cat >> /etc/hosts <<HOSTS
10.233.1.2 alchemist.containers alchemist
10.233.2.2 alchemist-graph.containers alchemist-graph
10.233.3.2 alchemist-workflow.containers alchemist-workflow
10.233.4.2 alchemist-agent.containers alchemist-agent
10.233.5.2 monitoring.containers monitoring
HOSTS
json="{"
while read -r name n ports memcg cpucg memmax cpuquota fwports; do
  [ -n "$name" ] || continue
  root=/var/lib/nixos-containers/$name
  mkdir -p "$root" /etc/nixos-containers
  cat > "/etc/nixos-containers/$name.conf" <<CONF
SYSTEM_PATH=/nix/var/nix/profiles/per-container/$name/system
PRIVATE_NETWORK=1
HOST_BRIDGE=
HOST_PORT=
HOST_ADDRESS=10.233.$n.1
LOCAL_ADDRESS=10.233.$n.2
PRIVATE_USERS=no
INTERFACES=""
MACVLANS=""
AUTO_START=1
EXTRA_NSPAWN_FLAGS="--drop-capability=CAP_SYS_ADMIN"
CONF
  port=${ports%%,*}
  fw=${fwports:--}; [ "$fw" = - ] && fw= || fw=${fw//,/ }
  (
    echo $BASHPID > "$memcg/cgroup.procs"
    echo $BASHPID > "$cpucg/cgroup.procs"
    LAB_PORT=$port LAB_FW_PORTS="$fw" exec setsid unshare --net --pid --fork --mount --uts --ipc --cgroup --mount-proc --propagation private \
      bash "$LAB_SH/container-init.sh" "$name" "10.233.$n.2" "$BOUNDING"
  ) </dev/null >"/var/log/containers/$name.log" 2>&1 &
  outer=$!
  leader=
  for _ in $(seq 1 200); do
    leader=$(cat "/proc/$outer/task/$outer/children" 2>/dev/null | awk '{print $1}')
    [ -n "$leader" ] && break
    sleep 0.01
  done
  [ -n "$leader" ] || { echo "container $name did not start: $(cat /var/log/containers/$name.log)" >&2; exit 1; }
  if [ ${#name} -le 12 ]; then ifname=ve-$name; else ifname=ve-${name:0:8}$(printf %s "$name" | md5sum | cut -c1-4); fi
  ip link add "$ifname" type veth peer name eth0 netns "$leader"
  [ "$ifname" = "ve-$name" ] || ip link property add dev "$ifname" altname "ve-$name"
  ip addr add "10.233.$n.1/32" dev "$ifname"
  ip link set "$ifname" up
  ip route add "10.233.$n.2/32" dev "$ifname"
  nsenter -t "$leader" -n sh -c "ip link set lo up && ip addr add 10.233.$n.2/32 dev eth0 && ip link set eth0 up && ip route add 10.233.$n.1/32 dev eth0 && ip route add default via 10.233.$n.1 dev eth0"
  echo "CONTAINER $name $leader"
  json="$json\"$name\":{\"leader\":$leader},"
done <<< "$CONTAINERS"
echo "${json%,}}" > /run/leafcert-lab/containers.json

# wait until every container reports READY (postgres initdb dominates)
for name in $(awk '{print $1}' <<< "$CONTAINERS"); do
  leader=$(sed -n "s/.*\"$name\":{\"leader\":\([0-9]*\)}.*/\1/p" /run/leafcert-lab/containers.json)
  for _ in $(seq 1 1200); do
    grep -q "^READY $name" "/var/log/containers/$name.log" && break
    kill -0 "$leader" 2>/dev/null || break
    sleep 0.05
  done
  grep -q "^READY $name" "/var/log/containers/$name.log" || { echo "container $name not ready:"; tail -20 "/var/log/containers/$name.log"; exit 1; } >&2
done

# Prometheus answers before its first scrapes: wait (bounded) until every target was scraped up,
# so a check right after `lab up` sees the healthy state.
for _ in $(seq 1 60); do
  t=$(curl -s -m 2 http://10.233.5.2:9090/api/v1/targets?state=active || true)
  [ "$(grep -o '"health":"up"' <<< "$t" | wc -l)" -ge 5 ] && break
  sleep 0.25
done

# --- borg: repokey repo, NixOS-named wrapper, root-only passphrase, one archive now
mkdir -p /etc/borg /var/lib/borgbackup /usr/local/sbin
( umask 077; rnd > /etc/borg/passphrase )
cat > /usr/local/bin/borg-job-alchemist <<'WRAP'
#!/bin/sh
# as NixOS's services.borgbackup.jobs.alchemist wrapper: borg with the job's repo and passphrase
export BORG_REPO=/var/lib/borgbackup/alchemist
export BORG_PASSCOMMAND='cat /etc/borg/passphrase'
export BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
exec borg "$@"
WRAP
cat > /usr/local/sbin/borgbackup-job-alchemist <<'JOB'
#!/bin/sh
# what borgbackup-job-alchemist.service runs: DB dump into the data path, then an archive
set -e
mkdir -p /var/lib/alchemist/backup
nixos-container run alchemist -- setpriv --reuid postgres --regid postgres --init-groups -- sh -c 'cd / && /usr/lib/postgresql/15/bin/pg_dump -Fp alchemist' > /var/lib/alchemist/backup/alchemist.sql
borg-job-alchemist create --compression auto,lz4 "::$(hostname)-alchemist-$(date +%Y-%m-%dT%H:%M:%S)" /var/lib/alchemist /etc/alchemist
JOB
chmod 0755 /usr/local/bin/borg-job-alchemist /usr/local/sbin/borgbackup-job-alchemist
[ -e /var/lib/borgbackup/alchemist/config ] || borg-job-alchemist init --encryption=repokey >/dev/null
/usr/local/sbin/borgbackup-job-alchemist
echo FULL-READY
