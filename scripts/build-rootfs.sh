#!/usr/bin/env bash
# Builds (once) the Debian rootfs that `leafcert lab up --flavour systemd` boots with systemd-nspawn,
# cached under /var/cache/leafcert-lab/rootfs-<key>, key = sha256 of the suite and package list, so
# a changed list builds a new rootfs and an unchanged one is reused without network.
# Prints the rootfs path on stdout (last line); progress on stderr.
# Usage: build-rootfs.sh [--print-path]   (--print-path: only print where it would be, build nothing)
set -euo pipefail

SUITE=bookworm
MIRROR=${LEAFCERT_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# What the node runs as its own services (systemd units), not the host's binaries.
PACKAGES="systemd systemd-sysv dbus openssh-server nginx-light borgbackup openssl curl iproute2 iptables nftables procps gawk psmisc libcap2-bin perl ca-certificates postgresql-15 prometheus"
CACHE=${LEAFCERT_LAB_CACHE:-/var/cache/leafcert-lab}
KEY=$(printf '%s\n' "v1" "$SUITE" "$PACKAGES" | sha256sum | cut -c1-12)
ROOTFS=$CACHE/rootfs-$KEY

if [ "${1:-}" = --print-path ]; then echo "$ROOTFS"; exit 0; fi
if [ -e "$ROOTFS/.leafcert-rootfs-ok" ]; then
  echo "build-rootfs: cached $ROOTFS" >&2
  echo "$ROOTFS"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then echo "build-rootfs: needs root (debootstrap)" >&2; exit 1; fi
command -v debootstrap >/dev/null || { echo "build-rootfs: debootstrap missing: apt-get install debootstrap (or bash scripts/install-deps.sh)" >&2; exit 2; }

mkdir -p "$CACHE"
exec 9>"$CACHE/.build.lock"
if ! flock -n 9; then
  echo "build-rootfs: another build is running (progress: $CACHE/build.log); waiting for it" >&2
  flock 9
fi
[ -e "$ROOTFS/.leafcert-rootfs-ok" ] && { echo "$ROOTFS"; exit 0; }  # built while we waited
tmp=$CACHE/.tmp-rootfs-$KEY
rm -rf "$tmp"
start=$(date +%s)
echo "build-rootfs: debootstrap $SUITE into $ROOTFS (once; about 1-3 min)" >&2
# debootstrap's own I:/W: lines are the progress; prefix them with the elapsed seconds.
if ! debootstrap --variant=minbase --include="${PACKAGES// /,}" "$SUITE" "$tmp" "$MIRROR" 2>&1 \
    | while IFS= read -r line; do
        # one line per phase and every 25th package, not one per package
        case $line in
          *' base system'*|*' packages'*) ;;
          I:\ Retrieving\ *|I:\ Validating\ *|I:\ Extracting\ *|I:\ Unpacking\ *|I:\ Configuring\ *)
            n=$((${n:-0} + 1)); [ $((n % 25)) -eq 0 ] || continue ;;
        esac
        echo "build-rootfs: [$(( $(date +%s) - start ))s] $line" >&2
      done; then
  echo "build-rootfs: debootstrap failed (see $tmp/debootstrap/debootstrap.log)" >&2
  exit 1
fi
[ -x "$tmp/usr/lib/systemd/systemd" ] || { echo "build-rootfs: debootstrap left no systemd in $tmp" >&2; exit 1; }
# The packages' own units would start Debian's daemons with Debian's configs; the lab writes its
# own units under NixOS's names per node, so the packaged ones are masked here.
for u in ssh.service ssh.socket nginx.service postgresql.service postgresql@15-main.service prometheus.service \
         getty@.service console-getty.service systemd-networkd.service systemd-resolved.service \
         apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer man-db.timer dpkg-db-backup.timer; do
  ln -sfn /dev/null "$tmp/etc/systemd/system/$u"
done
rm -f "$tmp"/etc/ssh/ssh_host_*  # per node keys are written at lab up
apt_clean() { rm -rf "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/lib/apt/lists/*; }
apt_clean
printf '%s\n' "$PACKAGES" > "$tmp/.leafcert-packages"
touch "$tmp/.leafcert-rootfs-ok"
mv "$tmp" "$ROOTFS"
echo "build-rootfs: built $ROOTFS in $(( $(date +%s) - start ))s ($(du -sh "$ROOTFS" | cut -f1))" >&2
echo "$ROOTFS"
