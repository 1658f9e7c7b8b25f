#!/usr/bin/env bash
# The container locator (src/probes/containers.ts), one round trip: the nixos-containers a node
# has, from what NixOS writes and runs — the per-container config files, machinectl's leaders, and
# container@NAME's nspawn child as a fallback. Each part goes behind a marker line with its exit
# code (src/probes/sections.ts splits it back). $1: the marker (sections.ts MARK).
# uses: sections.sh (defines section(), which reads $mark)
# shellcheck disable=SC2034 # read by section() (sections.sh)
mark=$1

# Both NixOS conf dirs; /etc/containers also holds podman's files, so keep only NixOS-shaped ones.
# Each file is read once with the shell's own $(<) (no grep/basename/cat per file) and printed as
# one section "conf.NAME": "#path FILE" then its text.
nl=$'\n'
confs() {
  local f t n
  for f in /etc/nixos-containers/*.conf /etc/containers/*.conf; do
    [ -f "$f" ] || continue
    { t=$(<"$f"); } 2>/dev/null || continue
    [[ "$nl$t" =~ $nl(SYSTEM_PATH|AUTO_START|PRIVATE_NETWORK)= ]] || continue
    n=${f##*/}
    section "conf.${n%.conf}" printf '#path %s\n%s\n' "$f" "$t"
  done
}

# machined knows every nspawn machine: "NAME LEADER" per running container (LEADER empty when it
# has none). Asked whenever machinectl is installed: on NixOS it always is, with systemd as PID 1.
# Two machinectl calls whatever the number of containers: `list`, then one `show` of every machine
# (a block of Name=/Leader= lines per machine, blank-line separated); should that one fail (a
# machine gone between the two calls), one `show` per machine as before.
leaders() {
  command -v machinectl >/dev/null || { echo 'no machinectl'; return 3; }
  local ms=() m out k n='' l='' have='' c=0 res=''
  while read -r m _; do [ -n "$m" ] && ms+=("$m"); done < <(machinectl list --no-legend --no-pager 2>/dev/null)
  [ ${#ms[@]} -gt 0 ] || return 0
  if out=$(machinectl show "${ms[@]}" -p Name -p Leader 2>/dev/null); then
    out+=$'\n\n'
    while IFS= read -r k; do
      case $k in
        '') [ -n "$have" ] && res+="$n $l"$'\n' && c=$((c + 1)); n='' l='' have='' ;;
        Name=*) n=${k#Name=} have=1 ;;
        Leader=*) l=${k#Leader=} ;;
        # Anything but the two properties asked for is passed on, for the parser to reject.
        *) res+="$k"$'\n' ;;
      esac
    done <<<"$out"
    # Every listed machine answered (else one show each, below).
    if [ "$c" = ${#ms[@]} ]; then printf '%s' "$res"; return 0; fi
  fi
  for m in "${ms[@]}"; do
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

confs
section machinectl leaders
section units units
