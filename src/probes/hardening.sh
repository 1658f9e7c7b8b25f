#!/usr/bin/env bash
# The hardening probe (src/probes/hardening.ts), one round trip: sshd's effective configuration
# (sshd -T), kernel parameters read from /proc/sys in this process's namespaces, PID 1 and the
# container check (whose kernel the global parameters are), and ONE bounded filesystem scan for
# world-writable and setuid/setgid files with its cost. Each part goes behind a marker line with
# its exit code and stderr (src/probes/sections.ts splits it back).
# $1: the marker; $2: kernel parameter names (space-separated); $3: scan roots; $4: pruned paths;
# $5: scan time limit in seconds; $6: paths where only setuid/setgid files are looked for (temp dirs:
# sticky and world-writable by design, but a setuid copy of a shell planted there is still root).
# Sticky world-writable directories are printed too: the suite judges where they are the norm.
# uses: sections.sh (defines section() and bsection(), which read $mark)
# shellcheck disable=SC2034 # read by section() (sections.sh)
mark=$1
keys=$2
roots=$3
prunes=$4
limit=$5
suidonly=${6:-}

virt() { systemd-detect-virt --container 2>/dev/null || { if [ -d /run/systemd/system ]; then echo none; else echo unknown; fi; }; }

# NixOS runs sshd from the store with -f /etc/ssh/sshd_config; -T prints what it would run with.
sshd_t() {
  local s
  s=$(command -v sshd || { [ -x /run/current-system/sw/bin/sshd ] && echo /run/current-system/sw/bin/sshd; } || { [ -x /usr/sbin/sshd ] && echo /usr/sbin/sshd; })
  if [ -z "$s" ]; then echo 'sshd not found'; return 127; fi
  echo "#sshd $s"
  "$s" -T -f /etc/ssh/sshd_config || return
  # sshd -T prints what a connection matching no Match block gets: each block's own settings follow
  # as "#match CRITERIA" and "#set keyword value" lines (Includes expanded in place).
  sshd_inc /etc/ssh/sshd_config 0 | awk '{ sub(/^[ \t]+/, ""); if ($0 == "" || $0 ~ /^#/) next
    if (!match($0, /^[A-Za-z0-9]+/)) next; k = tolower(substr($0, 1, RLENGTH)); v = substr($0, RLENGTH + 1)
    sub(/^[ \t]*=?[ \t]*/, "", v); sub(/[ \t\r]+$/, "", v); gsub(/"/, "", v)
    if (k == "match") { print "#match " v; m = 1; next } if (m && v != "") print "#set " k " " v }'
  return 0
}
# FILE DEPTH: the lines of an sshd configuration, Include directives expanded in place (relative
# paths under /etc/ssh, globs as sshd expands them), at most 8 levels deep. Builtins only.
sshd_inc() {
  local l k r g f
  [ "$2" -lt 8 ] || return 0
  [ -r "$1" ] || return 0
  while IFS= read -r l || [ -n "$l" ]; do
    r=${l#"${l%%[![:space:]]*}"}; k=${r%%[[:space:]=]*}
    if [ "${k,,}" = include ]; then
      r=${r#"$k"}
      # The value is a list of globs: split and expanded on purpose.
      # shellcheck disable=SC2086
      for g in $r; do case $g in /*) ;; *) g=/etc/ssh/$g;; esac; for f in $g; do [ -f "$f" ] && sshd_inc "$f" $(($2 + 1)); done; done
    else printf '%s\n' "$l"; fi
  done < "$1"
}

# Roots that exist and are not symlinks; a root on the same filesystem as a root above it is
# already covered by that one (-xdev stops only at other filesystems). One stat for all of them.
scan_roots() {
  local r o dev seen=" " cand=()
  for r in $roots; do [ -d "$r" ] && [ ! -L "$r" ] && cand+=("$r"); done
  [ ${#cand[@]} -gt 0 ] || return 0
  while read -r dev r; do
    for o in $seen; do
      case $r in "${o%%@*}"/*) [ "${o##*@}" = "$dev" ] && continue 2 ;; esac
    done
    seen="$seen$r@$dev "
    echo "$r"
  done < <(stat -c '%d %n' -- "${cand[@]}")
}

# One find over the roots: regular files writable by others, directories writable by others,
# setuid/setgid files; below the setuid-only paths only setuid/setgid files. Niced; bounded by
# $limit; NUL-terminated records.
scan() {
  local t0 t1 rc args=() sargs=() p fmt='%m %U %G %y\t%p\0'
  mapfile -t rs < <(scan_roots)
  for p in $prunes; do args+=(-path "$p" -o); done
  for p in $suidonly; do sargs+=(-path "$p" -o -path "$p/*" -o); done
  echo "#roots ${rs[*]}"
  t0=${EPOCHREALTIME/./}
  timeout "$limit" nice -n 10 find "${rs[@]}" -xdev \( "${args[@]}" -false \) -prune -o \
    \( "${sargs[@]}" -false \) \( -type f \( -perm -4000 -o -perm -2000 \) -printf "$fmt" -o -true \) -o \
    \( -type f \( -perm -0002 -o -perm -4000 -o -perm -2000 \) -o -type d -perm -0002 \) -printf "$fmt"
  rc=$?
  t1=${EPOCHREALTIME/./}
  printf '\n#cost elapsedMs=%s rc=%s\n' $(((t1 - t0) / 1000)) "$rc"
  # CPU time of the scan: the second line of `times` (this shell's children), user and system.
  echo '#times'
  times
  return "$rc"
}

pid1() { local c; read -r c < /proc/1/comm && printf '%s\n' "$c"; }
bsection pid1 pid1
section virt virt
section sshd sshd_t
# shellcheck disable=SC2086 # parameter names are words: split on purpose
section sysctl sysctl_lines $keys
section scan scan
