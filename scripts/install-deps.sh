#!/usr/bin/env bash
# Installs the Debian packages the lab, the demo and the tests need, only those missing.
# Idempotent: on a machine that has them all (and the cached systemd rootfs) it changes nothing and
# needs no network; the first rootfs build downloads from Debian's mirror.
# Package init scripts are kept from starting daemons on this host (the lab starts its own,
# inside network namespaces) by a temporary policy-rc.d, removed afterwards.
set -euo pipefail

# python3: test/nix-parse.test.ts checks the VM test scripts are valid Python (ast.parse).
# python3-junitparser: test/times.test.ts sums JUnit times as junitparser does (Debian python3).
# (package shellcheck) test/shellcheck.test.ts lints the probe scripts that run on nodes (src/probes/*.sh).
# strace: test/lab.test.ts traces a whole certification on a lab node (every program it starts there).
# chromium: test/html-browser.test.ts renders the HTML report headless (screenshot, print to PDF).
# debootstrap, systemd-container: `lab up --flavour systemd` boots a Debian rootfs with systemd-nspawn;
# the rootfs is built once below (scripts/build-rootfs.sh, cached under /var/cache/leafcert-lab).
PACKAGES="openssh-server openssh-client nginx-light nftables iptables borgbackup libxml2-utils iproute2 util-linux curl prometheus procps psmisc nix-bin postgresql openssl libcap2-bin python3 shellcheck chromium python3-junitparser debootstrap systemd-container strace"

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-deps: needs a Debian-like system with apt-get and dpkg-query" >&2
  exit 1
fi

missing=()
for p in $PACKAGES; do
  if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]; then
    missing+=("$p")
  fi
done

# The systemd lab node's rootfs (test/systemd.lab.test.ts): built once with progress lines, then
# reused (keyed by its package list). LEAFCERT_SKIP_ROOTFS=1 skips it. LEAFCERT_ROOTFS_BACKGROUND=1
# (.ci/run) builds it detached while the other tests run: `lab up --flavour systemd` waits for it.
rootfs() {
  [ -z "${LEAFCERT_SKIP_ROOTFS:-}" ] || return 0
  if [ "$(id -u)" -ne 0 ]; then echo "install-deps: not root: the systemd lab rootfs is not built (scripts/build-rootfs.sh needs root)"; return 0; fi
  local t=$SECONDS build
  build="$(cd "$(dirname "$0")" && pwd)/build-rootfs.sh"
  if [ -n "${LEAFCERT_ROOTFS_BACKGROUND:-}" ] && ! [ -e "$(bash "$build" --print-path)/.leafcert-rootfs-ok" ]; then
    local cache=${LEAFCERT_LAB_CACHE:-/var/cache/leafcert-lab}
    mkdir -p "$cache"
    # A build already running holds the lock; a second one would only wait on it.
    if flock -n "$cache/.build.lock" true; then
      setsid nohup bash "$build" > "$cache/build.log" 2>&1 < /dev/null &
      echo "install-deps: building the systemd lab rootfs in the background (progress: $cache/build.log)"
    else
      echo "install-deps: the systemd lab rootfs is being built (progress: $cache/build.log)"
    fi
    return 0
  fi
  bash "$(dirname "$0")/build-rootfs.sh" >/dev/null
  echo "install-deps: systemd lab rootfs ready ($((SECONDS - t)) s)"
}

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
  rootfs
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing ${missing[*]}; installing them needs root (run as root, or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
policy=/usr/sbin/policy-rc.d
had_policy=""
if [ -e "$policy" ]; then
  had_policy="$(mktemp)"
  cp -p "$policy" "$had_policy"
fi
restore() {
  if [ -n "$had_policy" ]; then mv -f "$had_policy" "$policy"; else rm -f "$policy"; fi
}
trap restore EXIT
printf '#!/bin/sh\n# leafcert install-deps: do not start daemons on the host\nexit 101\n' > "$policy"
chmod 755 "$policy"

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"
rootfs
