#!/usr/bin/env bash
# The firewall probe (src/probes/firewall.ts), one round trip: the NixOS firewall as iptables-save,
# ip6tables-save and `nft -j` print it, and the listening TCP sockets (context for port evidence).
# Each command's stdout goes behind a marker line, then its exit code, then its stderr on its own
# (src/probes/sections.ts splits it back), so a warning on stderr never corrupts what a parser reads.
# $1: the marker (sections.ts MARK).
mark=$1

section() {
  local name=$1 err rc
  shift
  echo "$mark $name"
  # stdout streams through fd 3; stderr is captured. The newline before the rc marker keeps it on
  # its own line when the output lacks a final newline (splitSections strips it again).
  { err=$( { "$@"; } 2>&1 1>&3 3>&-); rc=$?; } 3>&1
  printf '\n%s-rc %s %s\n' "$mark" "$name" "$rc"
  if [ -n "$err" ]; then printf '%s-stderr %s\n%s\n%s-stderr-end %s\n' "$mark" "$name" "$err" "$mark" "$name"; fi
}

section iptables-save iptables-save
section ip6tables-save ip6tables-save
section nft nft -j list ruleset
section ss ss -Hltn
