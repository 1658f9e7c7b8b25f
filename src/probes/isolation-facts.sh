#!/usr/bin/env bash
# The isolation facts of a node's containers (src/probes/isolation.ts), one round trip for all of
# them: the host's namespaces and TCP listeners (/proc/1), and per container leader its liveness,
# namespaces, uid_map, status (capabilities, NoNewPrivs), TCP listeners and, when asked, the
# firewall in its network namespace. Each part goes behind a marker line with its exit code
# (src/probes/sections.ts splits it back). ctr_net comes from src/transport/container.ts.
# $1: the marker (sections.ts MARK); $2: the namespace kinds (ns.ts NS_KINDS, space-separated);
# then one IDX:LEADER:FW word per container (FW 1: read its inner firewall).
# uses: sections.sh (defines section(), which reads $mark)
# shellcheck disable=SC2034 # read by section() (sections.sh)
mark=$1
kinds=$2
shift 2

# "<kind> <readlink>" per namespace kind of PID; "<kind> -" when unreadable.
ns_of() {
  local n
  for n in $kinds; do printf '%s %s\n' "$n" "$(readlink "/proc/$1/ns/$n" 2>/dev/null || echo -)"; done
}
tcp_of() { cat "/proc/$1/net/tcp"; cat "/proc/$1/net/tcp6" 2>/dev/null; true; }
alive() { test -d "/proc/$1" && cat "/proc/$1/comm"; }
# NixOS's firewall in the container's netns: iptables-save when it holds nixos-fw, else nft.
fw_of() {
  if command -v iptables-save >/dev/null && ctr_net "$1" iptables-save 2>/dev/null | grep -q nixos-fw; then
    ctr_net "$1" iptables-save
  else
    ctr_net "$1" nft list ruleset
  fi
}

section host.ns ns_of 1
section host.tcp tcp_of 1
for c in "$@"; do
  IFS=: read -r i leader fw <<< "$c"
  section "alive.$i" alive "$leader"
  section "ns.$i" ns_of "$leader"
  section "uidmap.$i" cat "/proc/$leader/uid_map"
  section "status.$i" cat "/proc/$leader/status"
  section "tcp.$i" tcp_of "$leader"
  if [ "$fw" = 1 ]; then section "fw.$i" fw_of "$leader"; fi
done
