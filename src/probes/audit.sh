#!/usr/bin/env bash
# The audit probe (src/probes/audit.ts), one round trip: kernel audit (auditctl -s, -l), the NixOS
# rule-loading unit and auditd (systemctl show), AppArmor (/sys, aa-status --json), plus PID 1 and
# the container check that say whether the kernel's state is this node's own. Each command's stdout
# goes behind a marker line, then its exit code, then its stderr on its own (src/probes/sections.ts
# splits it back), so a warning on stderr never corrupts what a parser reads.
# $1: the marker (sections.ts MARK); the other arguments: the units to show (AUDIT_UNITS).
# uses: sections.sh (defines section() and fsection(), which read $mark)
# shellcheck disable=SC2034 # read by section() (sections.sh)
mark=$1
shift

# auditctl: on PATH, in the system profile, or wherever NixOS's rule loader runs it from.
A=$(command -v auditctl || { [ -x /run/current-system/sw/bin/auditctl ] && echo /run/current-system/sw/bin/auditctl; } ||
  systemctl cat audit-rules-nixos.service audit.service 2>/dev/null | grep -o '/nix/store/[^ ]*/bin/auditctl' | head -n1)

virt() { systemd-detect-virt --container 2>/dev/null || { if [ -d /run/systemd/system ]; then echo none; else echo unknown; fi; }; }
auditctl_path() { if [ -n "$A" ]; then echo "$A"; else echo "auditctl not found"; exit 127; fi; }
audit_status() { [ -n "$A" ] && "$A" -s; }
audit_rules() { [ -n "$A" ] && "$A" -l; }
units() { if [ -d /run/systemd/system ]; then systemctl show --no-pager -p Id,LoadState,ActiveState,SubState,Result,ExecMainStatus "$@"; else echo 'no systemd'; exit 3; fi; }
aa_status() { if command -v aa-status >/dev/null; then aa-status --json; elif command -v apparmor_status >/dev/null; then apparmor_status --json; else echo "aa-status not found"; exit 127; fi; }

fsection pid1 /proc/1/comm
section virt virt
section auditctl auditctl_path
section status audit_status
section rules audit_rules
section units units "$@"
fsection cmdline /proc/cmdline
fsection aa-enabled /sys/module/apparmor/parameters/enabled
fsection lsm /sys/kernel/security/lsm
section aa-status aa_status
