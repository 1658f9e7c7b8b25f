#!/bin/bash
# Lab stand-in for NixOS's nixos-container (list, status, show-ip, run): finds the leader with
# machinectl (the lab's stand-in, machinectl.sh) and nsenters it, as the real tool does.
set -eu
leader() { machinectl show "$1" -p Leader --value 2>/dev/null || true; }
case ${1:-} in
  list) ls /etc/nixos-containers | sed 's/\.conf$//' ;;
  status) l=$(leader "$2"); if [ -n "$l" ] && kill -0 "$l" 2>/dev/null; then echo up; else echo down; fi ;;
  show-ip) sed -n 's/^LOCAL_ADDRESS=//p' "/etc/nixos-containers/$2.conf" ;;
  run) name=$2; shift 2; [ "${1:-}" = -- ] && shift; l=$(leader "$name"); [ -n "$l" ] || { echo "no container $name" >&2; exit 1; }
       exec nsenter -t "$l" -m -u -i -n -p -- "$@" ;;
  *) echo "usage: nixos-container list|status NAME|show-ip NAME|run NAME -- CMD" >&2; exit 1 ;;
esac
