#!/bin/bash
# PID 1 of a lab node. Started by the lab inside the node's netns with fresh pid/mount/uts/ipc
# namespaces. Builds the node's private view of the filesystem (overlays over /etc, /var/lib and
# /usr/local whose upper dirs live in NODE_DIR, private /run, /tmp, /var/log, /root), hides the
# lab state dir, starts the light services, prints READY, then reaps orphans until TERM.
# Env: NODE_DIR STATE_DIR PKG_ROOT NODE_HOSTNAME NODE_ADDRESS FLAVOUR FIREWALL
set -euo pipefail
[ -n "${LAB_TRACE:-}" ] && { PS4='+ $(date +%s.%N) '; set -x; }
trap 'exit 0' TERM INT

hostname "$NODE_HOSTNAME"
for d in etc varlib usrlocal; do mkdir -p "$NODE_DIR/$d/upper" "$NODE_DIR/$d/work"; done
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$NODE_DIR/etc/upper,workdir=$NODE_DIR/etc/work" /etc
mount -t overlay overlay -o "lowerdir=/var/lib,upperdir=$NODE_DIR/varlib/upper,workdir=$NODE_DIR/varlib/work" /var/lib
mount -t overlay overlay -o "lowerdir=/usr/local,upperdir=$NODE_DIR/usrlocal/upper,workdir=$NODE_DIR/usrlocal/work" /usr/local
mkdir -p "$NODE_DIR/root"
mount --bind "$NODE_DIR/root" /root
mount -t tmpfs -o mode=0755,size=64m tmpfs /run
mount -t tmpfs -o mode=1777,size=256m tmpfs /tmp
mount -t tmpfs -o mode=0755,size=64m tmpfs /var/log
# The lab state (CA key, client key, other nodes) must not be visible on the node.
# Nor the leafcert checkout (other labs keep their state dirs in it).
for d in "$STATE_DIR" "$PKG_ROOT"; do
  if [ -d "$d" ]; then mount -t tmpfs -o mode=0700,size=1m tmpfs "$d"; fi
done

echo "$NODE_HOSTNAME" > /etc/hostname
printf '127.0.0.1 localhost\n%s %s\n127.0.0.1 api.alchemist.local monitoring.alchemist.local\n' \
  "$NODE_ADDRESS" "$NODE_HOSTNAME" > /etc/hosts
mkdir -p /run/leafcert-lab /run/sshd /var/log/nginx /run/nginx
chmod 0755 /run/sshd

# Only the node's own host key: hide the host machine's keys from the node.
for k in /etc/ssh/ssh_host_*_key /etc/ssh/ssh_host_*_key.pub; do
  case $k in */ssh_host_ed25519_key|*/ssh_host_ed25519_key.pub) ;; *) rm -f "$k" ;; esac
done
/usr/sbin/sshd -f /etc/ssh/sshd_config

getent group nginx >/dev/null || groupadd -r nginx
getent passwd nginx >/dev/null || useradd -r -M -d /var/empty -s /usr/sbin/nologin -g nginx nginx
chown -R root:nginx /etc/nginx/ssl
chmod -R g+rX,o-rwx /etc/nginx/ssl

# boot.kernel.sysctl as the example NixOS module declares it (hardening and the guide's tuning),
# as systemd-sysctl applies it: only what lives in the node's own network namespace.
sysctl -q -w net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.default.rp_filter=1 \
  net.ipv4.conf.all.accept_redirects=0 net.ipv4.conf.default.accept_redirects=0 \
  net.ipv4.conf.all.secure_redirects=0 net.ipv4.conf.default.secure_redirects=0 \
  net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.default.send_redirects=0 \
  net.ipv4.conf.all.accept_source_route=0 net.ipv4.conf.default.accept_source_route=0 \
  net.ipv4.conf.all.log_martians=1 net.ipv4.conf.default.log_martians=1 \
  net.ipv4.tcp_syncookies=1 net.ipv4.tcp_rfc1337=1 \
  net.ipv4.icmp_echo_ignore_broadcasts=1 net.ipv4.icmp_ignore_bogus_error_responses=1 \
  net.core.somaxconn=65535 net.ipv4.tcp_max_syn_backlog=65535
if [ -d /proc/sys/net/ipv6 ]; then
  sysctl -q -w net.ipv6.conf.all.accept_redirects=0 net.ipv6.conf.default.accept_redirects=0 \
    net.ipv6.conf.all.accept_source_route=0 net.ipv6.conf.default.accept_source_route=0
fi

FW_TCP_PORTS="22 80 443" bash /etc/leafcert-lab/firewall-start.sh

if [ "$FLAVOUR" = light ]; then
  /usr/local/sbin/lab-backend-start alchemist-api 127.0.0.1 8080
else
  sysctl -q -w net.ipv4.ip_forward=1
fi
nginx -c /etc/nginx/nginx.conf

echo READY
while :; do
  sleep 86400 &
  wait $! || true
done
