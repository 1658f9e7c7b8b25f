#!/usr/bin/env bash
# The firewall probe (src/probes/firewall.ts), one round trip: the NixOS firewall as iptables-save,
# ip6tables-save and `nft -j` print it, the node's IPv6 addresses, and the listening TCP sockets
# (context for port evidence).
# Each command's stdout goes behind a marker line, then its exit code, then its stderr on its own
# (src/probes/sections.ts splits it back), so a warning on stderr never corrupts what a parser reads.
# $1: the marker (sections.ts MARK).
# uses: sections.sh (defines xsection(), which reads $mark)
# shellcheck disable=SC2034 # read by xsection() (sections.sh)
mark=$1

# One fork per command (xsection): this round trip runs on every node of a fleet.
xsection iptables-save iptables-save
xsection ip6tables-save ip6tables-save
xsection nft nft -j list ruleset
# IPv6 addresses per interface (no file: IPv6 is not in the kernel): whether a missing IPv6 filter
# table leaves an IPv6 path open. Read by the shell, no process.
fsection if_inet6 /proc/net/if_inet6

# Listening sockets: the shell reads /proc/net/tcp and tcp6 itself and keeps the LISTEN (0A) lines,
# no process at all; a node with long tables (thousands of connections) gets ss, which filters in
# the kernel, since a shell loop over every line would cost it more than ss's fork.
T4=() T6=()
[ -r /proc/net/tcp ] && mapfile -t T4 < /proc/net/tcp
[ -r /proc/net/tcp6 ] && mapfile -t T6 < /proc/net/tcp6
listen_() {
  local l
  if [ ${#T4[@]} = 0 ]; then echo "/proc/net/tcp not readable" >&2; return 1; fi
  for l in "${T4[@]:1}" "${T6[@]:1}"; do
    [[ $l == *' 0A '* ]] && printf '%s\n' "$l"
  done
  return 0
}
# LEAFCERT_LISTEN_MAX: tests lower the bound to take the ss branch.
if [ $((${#T4[@]} + ${#T6[@]})) -le "${LEAFCERT_LISTEN_MAX:-1024}" ]; then
  bsection listen listen_
else
  xsection ss ss -Hltn
fi
