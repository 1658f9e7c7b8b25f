#!/usr/bin/env bash
# The renewal probe (src/probes/renewal.ts), one round trip: the node's clock, PID 1, the ACME
# renewal timers with their last trigger (when systemd runs), and each self-managed certificate.
# Each command's stdout goes behind a marker line, then its exit code, then its stderr on its own
# (src/probes/sections.ts splits it back), so a warning on stderr never corrupts what a parser reads.
# $1: the marker (sections.ts MARK); the other arguments: certificate paths (sections cert0, cert1, …).
# uses: sections.sh (defines section() and fsection(), which read $mark)
# shellcheck disable=SC2034 # read by section() (sections.sh)
mark=$1
shift

# security.acme's timers (acme-renew-<cert>.timer, older NixOS acme-<cert>.timer); exit 3: no systemd.
acme_timers() {
  local t
  if [ -d /run/systemd/system ]; then
    t=$(systemctl list-units --type=timer --all --no-legend --plain --no-pager 'acme*' | awk '{print $1}')
    # shellcheck disable=SC2086  # unit names, one word each: split on purpose
    [ -z "$t" ] || systemctl show --no-pager --timestamp=unix -p Id,LoadState,ActiveState,LastTriggerUSec $t
  else
    echo 'no systemd'
    exit 3
  fi
}

clock() { printf '%(%s)T\n' -1; }
bsection clock clock
fsection pid1 /proc/1/comm
section acme acme_timers
i=0
for cert in "$@"; do
  fsection "cert$i" "$cert"
  i=$((i + 1))
done
