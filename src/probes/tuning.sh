#!/usr/bin/env bash
# The tuning probe (src/probes/tuning.ts), one round trip: declared kernel parameters read from
# /proc/sys in the node's network namespace and in each named container's, PID 1 and the container
# check (whose kernel the global ones are), and for each declared unit its LimitNOFILE as systemd
# holds it with its main process's open-files limit (/proc/PID/limits).
# $1: the marker; $2: host parameter names (space-separated); $3: lines "NAME LEADER KEY..." for
# containers; $4: unit names.
# uses: sections.sh (defines section() and fsection(), which read $mark)
# shellcheck disable=SC2034 # read by section() (sections.sh)
mark=$1
keys=$2
ctrs=$3
units=$4

virt() { systemd-detect-virt --container 2>/dev/null || { if [ -d /run/systemd/system ]; then echo none; else echo unknown; fi; }; }

# The kernel parameters as a container's network namespace has them (its leader's, as ctr_net
# enters it): /proc/sys/net is the opener's namespace's, so sysctl_lines (sections.sh) runs in one
# bash inside it, one process per container (not one nsenter and cat per parameter).
ctr_keys() {
  local leader=$1
  shift
  [ -e "/proc/$leader/ns/net" ] || { echo "leader $leader is gone"; return 2; }
  nsenter --net="/proc/$leader/ns/net" bash -c "$SYSCTL_LINES_SH"'
sysctl_lines "$@"' ctr_keys "$@"
}

nofile() {
  [ -d /run/systemd/system ] || { echo 'no systemd'; return 3; }
  # shellcheck disable=SC2086 # unit names are words
  systemctl show --no-pager -p Id,LoadState,ActiveState,LimitNOFILE,LimitNOFILESoft,MainPID $units
}

# Each running main process's "Max open files" line, as "#pid PID" then the line.
limits() {
  [ -d /run/systemd/system ] || { echo 'no systemd'; return 3; }
  local u p
  for u in $units; do
    p=$(systemctl show -p MainPID --value "$u" 2>/dev/null)
    if [ -z "$p" ] || [ "$p" = 0 ]; then continue; fi
    echo "#pid $u $p"
    grep '^Max open files' "/proc/$p/limits" 2>/dev/null || echo "!gone"
  done
  true
}

fsection pid1 /proc/1/comm
section virt virt
# shellcheck disable=SC2086 # parameter names are words: split on purpose
section sysctl sysctl_lines $keys
# The function's text for the bash ctr_keys starts in each container's namespace: taken once here,
# not in each section's subshell.
[ -z "$ctrs" ] || SYSCTL_LINES_SH=$(declare -f sysctl_lines)
while read -r name leader rest; do
  [ -n "$name" ] || continue
  # shellcheck disable=SC2086 # parameter names are words
  section "ctr.$name" ctr_keys "$leader" $rest
done <<< "$ctrs"
if [ -n "$units" ]; then
  section nofile nofile
  section limits limits
fi
