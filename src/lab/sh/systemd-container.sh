#!/bin/bash
# container@NAME.service of a systemd lab node (installed as /usr/local/lib/leafcert-lab/systemd-container.sh).
#   start NAME  ExecStart: joins the lab's v1 memory/cpu cgroups of the unit (nspawn mounts the v1
#               controllers read-only and systemd cannot write them; the lab binds these dirs in
#               writable), then becomes `unshare --fork`, whose child is the container's leader
#               (as nspawn is under NixOS's container@NAME: MainPID's child is the leader).
#   post NAME   ExecStartPost: plugs ve-NAME into the leader, records it, waits for its ports.
#   stoppost NAME  ExecStopPost: forgets the leader.
# Per-container settings: /etc/leafcert-lab/containers/NAME.env (N PORTS FW_PORTS BOUNDING MEMCG CPUCG).
set -euo pipefail
cmd=$1 name=$2
# shellcheck disable=SC1090
. "/etc/leafcert-lab/containers/$name.env"
JSON=/run/leafcert-lab/containers.json
addr=10.233.$N.2

record() { # NAME LEADER|-: the machinectl stand-in's record (containers.json), under a lock
  mkdir -p /run/leafcert-lab
  exec 9>/run/leafcert-lab/containers.lock
  flock 9
  [ -s "$JSON" ] || echo '{}' > "$JSON"
  sed -i "s/\"$1\":{\"leader\":[0-9]*},\{0,1\}//; s/,}\$/}/" "$JSON"
  [ "$2" = - ] || sed -i "s/}\$/,\"$1\":{\"leader\":$2}}/; s/{,/{/" "$JSON"
  flock -u 9
}

case $cmd in
  start)
    echo $$ > "$MEMCG/cgroup.procs"
    echo $$ > "$CPUCG/cgroup.procs"
    mkdir -p "/var/lib/nixos-containers/$name"
    LAB_PORT=${PORTS%%,*} LAB_FW_PORTS=${FW_PORTS//,/ } exec unshare --net --pid --fork --mount --uts --ipc --cgroup --mount-proc --propagation private \
      bash /usr/local/lib/leafcert-lab/container-init.sh "$name" "$addr" "$BOUNDING"
    ;;
  post)
    leader=
    # MAINPID is this script's `start` until it has exec'd unshare: only unshare's child is the leader.
    for _ in $(seq 1 500); do
      if [ "$(cat "/proc/$MAINPID/comm" 2>/dev/null)" = unshare ]; then
        leader=$(awk '{print $1}' "/proc/$MAINPID/task/$MAINPID/children" 2>/dev/null || true)
        [ -n "$leader" ] && break
      fi
      sleep 0.01
    done
    [ -n "$leader" ] || { echo "container $name: no leader under unshare $MAINPID" >&2; exit 1; }
    if [ ${#name} -le 12 ]; then ifname=ve-$name; else ifname=ve-${name:0:8}$(printf %s "$name" | md5sum | cut -c1-4); fi
    ip link del "$ifname" 2>/dev/null || true
    ip link add "$ifname" type veth peer name eth0 netns "$leader"
    [ "$ifname" = "ve-$name" ] || ip link property add dev "$ifname" altname "ve-$name"
    ip addr add "10.233.$N.1/32" dev "$ifname"
    ip link set "$ifname" up
    ip route add "10.233.$N.2/32" dev "$ifname"
    nsenter -t "$leader" -n sh -c "ip link set lo up && ip addr add $addr/32 dev eth0 && ip link set eth0 up && ip route add 10.233.$N.1/32 dev eth0 && ip route add default via 10.233.$N.1 dev eth0"
    record "$name" "$leader"
    # Active only once every declared port listens (PostgreSQL's initdb and Prometheus dominate).
    for _ in $(seq 1 1200); do
      l=$(nsenter -t "$leader" -n ss -ltnH 2>/dev/null || true)
      ok=1
      for p in ${PORTS//,/ }; do grep -q ":$p " <<< "$l" || ok=0; done
      [ "$ok" = 1 ] && exit 0
      kill -0 "$leader" 2>/dev/null || { echo "container $name: leader $leader died" >&2; exit 1; }
      sleep 0.1
    done
    echo "container $name: ports $PORTS not listening after 120 s" >&2
    exit 1
    ;;
  stoppost)
    record "$name" -
    ;;
  *) echo "usage: systemd-container.sh start|post|stoppost NAME" >&2; exit 2 ;;
esac
