#!/usr/bin/env bash
# The isolation facts of a node's containers (src/probes/isolation.ts), one round trip for all of
# them: the host's namespaces and TCP listeners (/proc/1), and per container leader its liveness,
# namespaces, uid_map, status (capabilities, NoNewPrivs), TCP listeners, the processes of its PID
# namespace in another network namespace and, when asked, the firewall in its network namespace. Each part goes behind a marker line with its exit code
# (src/probes/sections.ts splits it back). ctr_net comes from src/transport/container.ts.
# $1: the marker (sections.ts MARK); $2: the namespace kinds (ns.ts NS_KINDS, space-separated);
# then one IDX:LEADER:FW word per container (FW 1: read its inner firewall).
# uses: sections.sh (defines section(), which reads $mark)
# shellcheck disable=SC2034 # read by section() (sections.sh)
mark=$1
kinds=$2
shift 2

# Every namespace link of PID 1 and of each leader, read by ONE find (not a readlink per link):
# "PID KIND LINK" lines kept in NSL; ns_of prints "<kind> <link>" per wanted kind, "<kind> -" when unreadable.
nsdirs=(/proc/1/ns)
for c in "$@"; do IFS=: read -r _ leader _ <<< "$c"; nsdirs+=("/proc/$leader/ns"); done
declare -A NSL
while read -r d f l; do d=${d#/proc/}; NSL[${d%/ns} $f]=$l; done < <(find "${nsdirs[@]}" -mindepth 1 -maxdepth 1 -printf '%h %f %l\n' 2>/dev/null)
ns_of() {
  local n
  for n in $kinds; do printf '%s %s\n' "$n" "${NSL[$1 $n]:--}"; done
}
# Files are read by the shell, whole, with one `read -d ''` (no cat per file, no read per line: the
# node pays for every process), and their sections run in this shell (bsection: no fork each).
slurp() { local t=''; [ -r "$1" ] || return 1; IFS= read -r -d '' t < "$1"; printf '%s' "$t"; }
tcp_of() { slurp "/proc/$1/net/tcp"; [ -r "/proc/$1/net/tcp6" ] && slurp "/proc/$1/net/tcp6"; true; }
alive() { test -d "/proc/$1" && slurp "/proc/$1/comm"; }
# NixOS's firewall in the container's netns: iptables-save when it holds nixos-fw, else nft (one
# iptables-save, kept, instead of one to look and one to print).
fw_of() {
  local out
  if command -v iptables-save >/dev/null && out=$(ctr_net "$1" iptables-save 2>/dev/null) && [[ $out == *nixos-fw* ]]; then
    printf '%s\n' "$out"
  else
    ctr_net "$1" nft list ruleset
  fi
}

# The processes (and threads) of a leader's PID namespace whose network namespace is not the leader's:
# an `nsenter --pid --mount` into the container that kept another network (the host's) binds and
# connects there. `-ef` compares the ns links (builtin test: no process per PID or thread); a task
# whose links are gone (exiting) is skipped. Per process `P PID host|other COMM` (host: PID 1's
# netns), per thread of a process that is in `T PID TID host|other COMM`; at most 20, then MORE.
net_strays() {
  local d p t n=0 cm where
  for d in /proc/[0-9]*; do
    [ "$d/ns/pid" -ef "/proc/$1/ns/pid" ] || continue
    p=${d#/proc/}
    for t in "$d" "$d"/task/[0-9]*; do
      [ "$t" != "$d/task/$p" ] || continue
      [ "$t/ns/net" -ef "/proc/$1/ns/net" ] && continue
      [ -e "$t/ns/net" ] || continue
      where=other; [ "$t/ns/net" -ef /proc/1/ns/net ] && where=host
      n=$((n + 1)); [ "$n" -le 20 ] || { echo MORE; return 0; }
      cm=''; { read -r cm < "$d/comm"; } 2>/dev/null
      if [ "$t" = "$d" ]; then printf 'P %s %s %s\n' "$p" "$where" "${cm:-?}"; break; fi
      printf 'T %s %s %s %s\n' "$p" "${t##*/}" "$where" "${cm:-?}"
    done
  done
  return 0
}

bsection host.ns ns_of 1
bsection host.tcp tcp_of 1
for c in "$@"; do
  IFS=: read -r i leader fw <<< "$c"
  bsection "alive.$i" alive "$leader"
  bsection "ns.$i" ns_of "$leader"
  bsection "uidmap.$i" slurp "/proc/$leader/uid_map"
  bsection "status.$i" slurp "/proc/$leader/status"
  bsection "tcp.$i" tcp_of "$leader"
  bsection "netprocs.$i" net_strays "$leader"
  if [ "$fw" = 1 ]; then section "fw.$i" fw_of "$leader"; fi
done
