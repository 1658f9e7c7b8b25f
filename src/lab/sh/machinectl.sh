#!/bin/bash
# Lab stand-in for systemd's machinectl on full lab nodes (installed as /usr/local/bin/machinectl):
# lab nodes have no systemd-machined, so the machines it would have registered are answered from
# the lab's own record of the container leaders (/run/leafcert-lab/containers.json, node PIDs).
# Covers what probes and nixos-container ask: `list [--no-legend] [--no-pager]` and
# `show NAME [-p PROP[,PROP]] [--value]` (Name, Class, Service, Leader, State).
set -eu
STATE=/run/leafcert-lab/containers.json

machines() { [ -r "$STATE" ] && grep -o '"[^"]*":{"leader":[0-9]*}' "$STATE" | sed 's/^"\([^"]*\)":{"leader":\([0-9]*\)}$/\1 \2/'; true; }

cmd=${1:-list}
[ $# -gt 0 ] && shift
legend=1 value=0 props='' name=''
while [ $# -gt 0 ]; do
  case $1 in
    --no-legend) legend=0 ;;
    --no-pager) ;;
    --value) value=1 ;;
    -p|--property) props="$props,$2"; shift ;;
    -p*) props="$props,${1#-p}" ;;
    --property=*) props="$props,${1#--property=}" ;;
    -*) echo "machinectl (lab stand-in): unsupported option $1" >&2; exit 1 ;;
    *) name=$1 ;;
  esac
  shift
done

case $cmd in
  list)
    [ "$legend" = 1 ] && printf '%-20s %-9s %-14s %-5s %-7s %s\n' MACHINE CLASS SERVICE OS VERSION ADDRESSES
    n=0
    while read -r m _; do
      [ -n "$m" ] || continue
      n=$((n + 1))
      addr=$(sed -n 's/^LOCAL_ADDRESS=//p' "/etc/nixos-containers/$m.conf" 2>/dev/null | sed 's,/.*,,')
      printf '%-20s %-9s %-14s %-5s %-7s %s\n' "$m" container systemd-nspawn nixos - "${addr:--}"
    done < <(machines)
    if [ "$legend" = 1 ]; then echo; echo "$n machines listed."; fi
    ;;
  show)
    [ -n "$name" ] || { echo 'machinectl (lab stand-in): show needs a machine name' >&2; exit 1; }
    leader=$(machines | awk -v m="$name" '$1 == m { print $2 }')
    [ -n "$leader" ] || { echo "Could not get path to machine: No machine '$name' known" >&2; exit 1; }
    for p in Name Class Service Leader State; do
      case $p in Name) v=$name ;; Class) v=container ;; Service) v=systemd-nspawn ;; Leader) v=$leader ;; State) v=running ;; esac
      if [ -n "$props" ] && ! printf '%s,' "$props" | grep -q ",$p,"; then continue; fi
      if [ "$value" = 1 ]; then echo "$v"; else echo "$p=$v"; fi
    done
    ;;
  *) echo "machinectl (lab stand-in): unsupported command $cmd" >&2; exit 1 ;;
esac
