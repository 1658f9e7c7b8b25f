#!/usr/bin/env bash
# Shell functions that read the limits the kernel enforces on a process or unit from its cgroup
# (src/probes/cgroup.ts parses their output), prepended to the limits probe's script:
# `cg_files PID` prints `C <line>` for each /proc/PID/cgroup line, `F <file> <value>` for each
# limit file found (the cgroup's and every ancestor's), and `N <controller>` when a v1 controller
# is not mounted; `cg_unit_files CGROUP-PATH` the same for a unit's ControlGroup;
# `cg_inner_unit_files LEADER UNIT` for a unit inside a container (ctr_exec: src/transport/container.ts).
# Files are read with the shell's own `read` and paths cut with parameter expansion: no process per
# value (the node pays for every fork), only awk once for the mount table.
# Mount points of the controllers, read once: cgm_memory, cgm_cpu, cgm_pids (v1) and cgm_v2.
cgm_memory='' cgm_cpu='' cgm_pids='' cgm_v2=''
eval "$(awk '{for(i=7;i<=NF;i++) if($i=="-") break; if($(i+1)=="cgroup2" && !v2){print "cgm_v2=" $5; v2=1} else if($(i+1)=="cgroup"){n=split($(i+3),o,","); for(j=1;j<=n;j++) if(o[j]=="memory"||o[j]=="cpu"||o[j]=="pids") print "cgm_" o[j] "=" $5}}' /proc/self/mountinfo)"
cg_read() { # FILE: its first line in $cg_v ("" and false when unreadable); a last line without newline counts
  cg_v=''
  [ -r "$1" ] || return 1
  { IFS= read -r cg_v || [ -n "$cg_v" ]; } < "$1" 2>/dev/null
}
cg_walk() { # MOUNT PATH FILES...: the files of PATH and of every ancestor (limits nest: the smallest wins)
  m=$1; p=$2; shift 2
  while :; do
    d=$m$p; [ "$p" = / ] && d=$m
    for f in "$@"; do cg_read "$d/$f" && printf 'F %s %s\n' "$d/$f" "$cg_v"; done
    case "$p" in /|'') break;; esac
    p=${p%/*}; [ -n "$p" ] || p=/
  done
}
cg_line() { # one /proc/PID/cgroup line
  printf 'C %s\n' "$1"
  rest=${1#*:}; ctrls=${rest%%:*}; path=${rest#*:}
  if [ -z "$ctrls" ]; then
    [ -n "$cgm_v2" ] || return 0
    cg_walk "$cgm_v2" "$path" memory.max memory.high cpu.max pids.max
  else
    # POSIX sh too (the local transport runs /bin/sh): the comma list is cut with parameter
    # expansion, no arrays and no subshell.
    left=$ctrls,
    while [ -n "$left" ]; do
      c=${left%%,*}; left=${left#*,}
      case $c in
        memory) m=$cgm_memory fs="memory.limit_in_bytes";;
        cpu) m=$cgm_cpu fs="cpu.cfs_quota_us cpu.cfs_period_us";;
        pids) m=$cgm_pids fs="pids.max";;
        *) continue;;
      esac
      [ -n "$m" ] || { echo "N $c"; continue; }
      # The file names are split on purpose.
      # shellcheck disable=SC2086
      cg_walk "$m" "$path" $fs
    done
  fi
}
cg_files() { # PID
  [ -r "/proc/$1/cgroup" ] || { echo "no process $1"; return 1; }
  while IFS= read -r l; do cg_line "$l"; done < "/proc/$1/cgroup"
}
cg_has_memory_v2() { # does the v2 hierarchy have the memory controller?
  [ -n "$cgm_v2" ] && cg_read "$cgm_v2/cgroup.controllers" || return 1
  case " $cg_v " in *' memory '*) return 0;; esac
  return 1
}
cg_unit_files() { # CGROUP-PATH of a unit (systemctl show -p ControlGroup); same path in every hierarchy
  [ -n "$1" ] || { echo "no cgroup"; return 1; }
  if cg_has_memory_v2; then cg_line "0::$1"
  else for c in memory cpu pids; do cg_line "0:$c:$1"; done; fi
}
cg_inner_unit_files() { # LEADER UNIT: on the node, the container's root cgroup (the leader's, minus init.scope) + the unit's ControlGroup
  base='' mbase=''
  while IFS= read -r l; do
    case $l in
      0::*) base=${l#0::};;
      *) r=${l#*:}; case ,${r%%:*}, in *,memory,*) mbase=${r#*:};; esac;;
    esac
  done < "/proc/$1/cgroup"
  [ -n "$base" ] || base=$mbase
  base=${base%/init.scope}
  cg_unit_files "$base$(ctr_exec "$1" systemctl show --no-pager -p ControlGroup --value "$2")"
}
cg_under() { # PATH BASE: is PATH the cgroup BASE or below it?
  [ "$2" = / ] && return 0
  case $1 in "$2"|"$2"/*) return 0;; esac
  return 1
}
cg_outside() { # CGROUP-FILE: do its lines put the process outside the container's cgroup
  # (s_mem, s_cpu, s_v2 of cg_strays: its memory or cpu cgroup (v1), or v2 cgroup, not at or below them)?
  o=1
  while IFS= read -r l; do
    case $l in
      0::*) [ -z "$s_mem" ] && ! cg_under "${l#0::}" "$s_v2" && o=0;;
      *) r=${l#*:}; c=,${r%%:*},
         case $c in *,memory,*) cg_under "${r#*:}" "$s_mem" || o=0;; esac
         case $c in *,cpu,*) [ -n "$s_cpu" ] && ! cg_under "${r#*:}" "$s_cpu" && o=0;; esac;;
    esac
  done 2>/dev/null < "$1"
  return $o
}
cg_exiting() { # /proc/PID or /proc/PID/task/TID: is the task exiting (PF_EXITING, 0x4, in the flags
  # field of its stat), a zombie included, or gone? The kernel shows such a task in the ROOT cgroup of
  # every v1 hierarchy (proc_cgroup_show: "On traditional hierarchies, all zombie tasks show up as
  # belonging to the root cgroup"); v2 keeps its real one. So its v1 lines say nothing of where it ran.
  st=''
  { IFS= read -r st; } 2>/dev/null < "$1/stat" || return 0
  # After "PID (COMM)" (COMM may hold spaces and parentheses): " STATE PPID PGRP SESSION TTY TPGID FLAGS ...".
  st=${st##*')'}
  for _ in 1 2 3 4 5 6 7; do st=${st#* }; done
  st=${st%% *}
  case $st in ''|*[!0-9]*) return 1;; esac
  [ $((st & 4)) -ne 0 ]
}
cg_entered() { # PID LEADER: was PID entered from outside the leader's PID namespace (nsenter,
  # nixos-container run, a probe's psql)? Its ancestry leaves the namespace before it reaches the leader.
  [ "$1" != "$2" ] || return 1
  q=$1
  while :; do
    pp=''; while read -r k v; do [ "$k" = PPid: ] && { pp=$v; break; }; done 2>/dev/null < "/proc/$q/status"
    case $pp in ''|0|"$2") return 1;; esac
    [ "/proc/$pp/ns/pid" -ef "/proc/$2/ns/pid" ] || return 0
    q=$pp
  done
}
cg_strays() { # LEADER: the processes and threads of the leader's PID namespace (the container's)
  # whose memory or cpu cgroup (v1), or v2 cgroup, is not the container's (the leader's, minus
  # init.scope) or below it: a process moved out of the limited cgroup escapes its limits (processes
  # entered from outside the namespace, by nsenter and the like, are not the container's own and are
  # skipped). Per stray process `P PID COMM`, per stray thread of a process that is inside (v1
  # `echo TID > …/tasks` moves one thread) `T PID TID COMM`, then its cg_files lines; at most 20,
  # then `MORE`. `-ef` on /proc/PID/ns/pid compares namespaces (a builtin test: no process per PID);
  # every /proc/PID/task/TID/cgroup is read with `read` too (no process per thread).
  # An exiting task (a PostgreSQL backend whose client just left, a zombie) shows `/` in v1 whatever
  # its cgroup (cg_exiting): not judged by those lines; when its main thread exited but other threads
  # run on, a running thread's cgroup is judged instead.
  s_mem='' s_cpu='' s_v2='' s_n=0
  while IFS= read -r l; do
    case $l in
      0::*) s_v2=${l#0::};;
      *) r=${l#*:}; c=,${r%%:*},
         case $c in *,memory,*) s_mem=${r#*:};; esac
         case $c in *,cpu,*) s_cpu=${r#*:};; esac;;
    esac
  done < "/proc/$1/cgroup"
  s_mem=${s_mem%/init.scope} s_cpu=${s_cpu%/init.scope} s_v2=${s_v2%/init.scope}
  for d in /proc/[0-9]*; do
    p=${d#/proc/}
    [ "$d/ns/pid" -ef "/proc/$1/ns/pid" ] || continue
    # The process: its main thread's lines, or (main thread exiting) a running thread's.
    src=''
    if [ "$p" != "$1" ] && cg_outside "$d/cgroup"; then
      # Read after the cgroup lines: a task that was exiting when they were read still is (or is gone).
      src=$p
      if cg_exiting "$d"; then
        src=''
        for t in "$d"/task/[0-9]*; do
          [ "${t##*/}" != "$p" ] && ! cg_exiting "$t" && { src=$p/task/${t##*/}; break; }
        done
        if [ -n "$src" ]; then cg_outside "/proc/$src/cgroup" && ! cg_exiting "/proc/$src" || src=''; fi
      fi
    fi
    if [ -n "$src" ]; then
      cg_entered "$p" "$1" && continue
      s_n=$((s_n + 1)); [ "$s_n" -le 20 ] || { echo MORE; break; }
      cm=''; { read -r cm < "$d/comm"; } 2>/dev/null
      # A process that exits meanwhile is no stray.
      out=$(cg_files "$src") && printf 'P %s %s\n%s\n' "$p" "${cm:-?}" "$out"
      continue
    fi
    # The process is inside: each of its other threads (a live one outside is a stray thread).
    en=''
    for t in "$d"/task/[0-9]*; do
      tid=${t##*/}
      [ "$tid" != "$p" ] || continue
      cg_outside "$t/cgroup" || continue
      cg_exiting "$t" && continue
      [ -n "$en" ] || { en=0; cg_entered "$p" "$1" && en=1; }
      [ "$en" = 0 ] || break
      s_n=$((s_n + 1)); [ "$s_n" -le 20 ] || { echo MORE; break 2; }
      cm=''; { read -r cm < "$d/comm"; } 2>/dev/null
      out=$(cg_files "$p/task/$tid") && printf 'T %s %s %s\n%s\n' "$p" "$tid" "${cm:-?}" "$out"
    done
  done
  return 0
}
