#!/bin/bash
# Lab stand-in for systemd's machinectl on full lab nodes (installed as /usr/local/bin/machinectl):
# lab nodes have no systemd-machined, so the machines it would have registered are answered from
# the lab's own record of the container leaders (/run/leafcert-lab/containers.json, node PIDs).
# Covers what probes and nixos-container ask: `list [--no-legend] [--no-pager]` and
# `show NAME... [-p PROP[,PROP]] [--value]` (Name, Class, Service, Leader, State; several machines
# print blank-line separated blocks, and the first unknown one ends it with an error, as systemd's).
# Written with the shell's own builtins (no grep/sed/awk per call): the real machinectl is one
# compiled process, and a stand-in that forks a pipeline per call would weigh on the node CPU the
# bench measures as though the probes spent it.
set -eu
STATE=/run/leafcert-lab/containers.json

# "NAME LEADER" per machine, from containers.json's "NAME":{"leader":PID} entries.
machines() {
  [ -r "$STATE" ] || return 0
  local j re='"([^"]*)":\{"leader":([0-9]*)\}'
  j=$(<"$STATE")
  while [[ $j =~ $re ]]; do
    printf '%s %s\n' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
    j=${j#*"${BASH_REMATCH[0]}"}
  done
}

cmd=${1:-list}
[ $# -gt 0 ] && shift
legend=1 value=0 props='' names=()
while [ $# -gt 0 ]; do
  case $1 in
    --no-legend) legend=0 ;;
    --no-pager) ;;
    --value) value=1 ;;
    -p|--property) props="$props,$2"; shift ;;
    -p*) props="$props,${1#-p}" ;;
    --property=*) props="$props,${1#--property=}" ;;
    -*) echo "machinectl (lab stand-in): unsupported option $1" >&2; exit 1 ;;
    *) names+=("$1") ;;
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
      addr=''
      if [ -r "/etc/nixos-containers/$m.conf" ]; then
        while IFS= read -r line; do case $line in LOCAL_ADDRESS=*) addr=${line#LOCAL_ADDRESS=}; addr=${addr%%/*} ;; esac; done <"/etc/nixos-containers/$m.conf"
      fi
      printf '%-20s %-9s %-14s %-5s %-7s %s\n' "$m" container systemd-nspawn nixos - "${addr:--}"
    done < <(machines)
    if [ "$legend" = 1 ]; then echo; echo "$n machines listed."; fi
    ;;
  show)
    [ ${#names[@]} -gt 0 ] || { echo 'machinectl (lab stand-in): show needs a machine name' >&2; exit 1; }
    known=$(machines)
    first=1
    for name in "${names[@]}"; do
      leader=''
      while read -r m l; do [ "$m" = "$name" ] && leader=$l; done <<<"$known"
      [ -n "$leader" ] || { echo "Could not get path to machine: No machine '$name' known" >&2; exit 1; }
      [ "$first" = 1 ] || echo
      first=0
      for p in Name Class Service Leader State; do
        case $p in Name) v=$name ;; Class) v=container ;; Service) v=systemd-nspawn ;; Leader) v=$leader ;; State) v=running ;; esac
        if [ -n "$props" ]; then case "$props," in *",$p,"*) ;; *) continue ;; esac; fi
        if [ "$value" = 1 ]; then echo "$v"; else echo "$p=$v"; fi
      done
    done
    ;;
  *) echo "machinectl (lab stand-in): unsupported command $cmd" >&2; exit 1 ;;
esac
