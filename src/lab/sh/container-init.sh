#!/bin/bash
# PID 1 of a lab container (inside a full node), started under `unshare --net --pid --mount --uts
# --ipc --cgroup` in the container's cgroups. Phase 1 (still with CAP_SYS_ADMIN): hostname,
# private /run and /tmp, binds of the container's state dir from /var/lib/nixos-containers/NAME,
# wait for the node to plug eth0 in. Phase 2: drop CAP_SYS_ADMIN from the bounding set, set
# no_new_privs, and become container-run.sh (services + reaper).
# Env LAB_FW_PORTS (non-empty): start NixOS's firewall in the container's netns allowing these TCP
# ports, as a NixOS container's own networking.firewall does.
# Args: NAME LOCAL_ADDRESS SETPRIV_BOUNDING
set -euo pipefail
name=$1 addr=$2 bounding=$3
root=/var/lib/nixos-containers/$name
hostname "$name"
mount -t tmpfs -o mode=0755,size=32m tmpfs /run
mount -t tmpfs -o mode=1777,size=64m tmpfs /tmp
case $name in
  alchemist)
    mkdir -p "$root/var/lib/postgresql" "$root/var/lib/alchemist"
    mount --bind "$root/var/lib/postgresql" /var/lib/postgresql
    mount --bind "$root/var/lib/alchemist" /var/lib/alchemist ;;
  monitoring)
    mkdir -p "$root/etc/prometheus" "$root/var/lib/prometheus"
    mount --bind "$root/etc/prometheus" /etc/prometheus
    mount --bind "$root/var/lib/prometheus" /var/lib/prometheus ;;
esac
for _ in $(seq 1 500); do
  ip -o -4 addr show dev eth0 2>/dev/null | grep -q "inet $addr/" && break
  sleep 0.01
done
ip -o -4 addr show dev eth0 | grep -q "inet $addr/" || { echo "container $name: eth0 never got $addr" >&2; exit 1; }
if [ -n "${LAB_FW_PORTS:-}" ]; then FW_TCP_PORTS="$LAB_FW_PORTS" bash /etc/leafcert-lab/firewall-start.sh; fi
exec setpriv --bounding-set="$bounding" --no-new-privs -- bash /usr/local/lib/lab-container-run.sh "$name" "$addr"
