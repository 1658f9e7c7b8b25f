#!/usr/bin/env bash
# The firewall probe (src/probes/firewall.ts), one round trip: the NixOS firewall as iptables-save,
# ip6tables-save and `nft -j` print it, and the listening TCP sockets (context for port evidence).
# Each command's stdout goes behind a marker line, then its exit code, then its stderr on its own
# (src/probes/sections.ts splits it back), so a warning on stderr never corrupts what a parser reads.
# $1: the marker (sections.ts MARK).
# uses: sections.sh (defines section(), which reads $mark)
# shellcheck disable=SC2034 # read by section() (sections.sh)
mark=$1

section iptables-save iptables-save
section ip6tables-save ip6tables-save
section nft nft -j list ruleset
section ss ss -Hltn
