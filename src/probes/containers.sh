#!/usr/bin/env bash
# The container locator (src/probes/containers.ts), one round trip: the nixos-containers a node
# has, from what NixOS writes and runs — the per-container config files, machinectl's leaders, and
# container@NAME's nspawn child as a fallback. Each part goes behind a marker line with its exit
# code (src/probes/sections.ts splits it back). $1: the marker (sections.ts MARK).
# uses: sections.sh (defines section(), which reads $mark)
# shellcheck disable=SC2034 # read by section() (sections.sh)
mark=$1

# Both NixOS conf dirs; /etc/containers also holds podman's files, so keep only NixOS-shaped ones.
confs() {
  for f in /etc/nixos-containers/*.conf /etc/containers/*.conf; do
    [ -f "$f" ] && grep -Eq '^(SYSTEM_PATH|AUTO_START|PRIVATE_NETWORK)=' "$f" && echo "$f"
  done
}

# A conf file as one section (its stderr kept in the text, as a parser would see a broken file).
conf() { echo "#path $1"; cat "$1" 2>&1; }

# machined knows every nspawn machine: "NAME LEADER" per running container (LEADER empty when it
# has none). Asked whenever machinectl is installed: on NixOS it always is, with systemd as PID 1.
leaders() {
  command -v machinectl >/dev/null || { echo 'no machinectl'; return 3; }
  machinectl list --no-legend --no-pager 2>/dev/null | while read -r m _; do
    printf '%s %s\n' "$m" "$(machinectl show "$m" -p Leader --value 2>/dev/null)"
  done
}

# Fallback when machined does not know a container: container@NAME's main process is
# systemd-nspawn; the container's leader is its child.
units() {
  [ -d /run/systemd/system ] || return 3
  local f n m c
  for f in /etc/nixos-containers/*.conf /etc/containers/*.conf; do
    [ -f "$f" ] || continue
    n=$(basename "$f" .conf)
    m=$(systemctl show -p MainPID --value "container@$n.service" 2>/dev/null)
    if [ -z "$m" ] || [ "$m" = 0 ]; then continue; fi
    c=$(awk '{print $1}' "/proc/$m/task/$m/children" 2>/dev/null)
    [ -n "$c" ] && printf '%s %s\n' "$n" "$c"
  done
  true
}

confs | while read -r f; do section "conf.$(basename "$f" .conf)" conf "$f"; done
section machinectl leaders
section units units
