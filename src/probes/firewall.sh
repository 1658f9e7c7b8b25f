#!/usr/bin/env bash
# The firewall probe (src/probes/firewall.ts), one round trip: the NixOS firewall as iptables-save,
# ip6tables-save and `nft -j` print it, and the listening TCP sockets (context for port evidence).
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
xsection ss ss -Hltn
