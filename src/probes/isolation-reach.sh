#!/usr/bin/env bash
# Bounded connect attempts from inside containers (src/probes/isolation.ts): ONE process per
# container, entered into the network namespace of its leader (ctr_net, src/transport/container.ts),
# runs all of that container's attempts; the containers run side by side.
# An attempt the expectation declares (lane s: the path may be open, so it answers within a round
# trip either way) runs in the container's one lane, one after the other in one process; any other
# (lane p: a DROPped SYN blocks a connect) in a process of its own (bash /dev/tcp in a background
# subshell, a fork each, no exec). A fork costs the node more than a connect: on the lab's healthy
# node every attempt is declared, 1 process per container instead of 8.
# The deadline adapts to the path as nmap's does: MULT x the slowest answer seen so far (or the
# round-trip hint from the harness, whichever is larger), never under FLOOR nor over CEIL ms, from
# each attempt's start. An attempt still silent then is reported as a timeout (a DROPped SYN never
# answers; an open or a refusing port answers within a round trip); a lane attempt that times out
# ends its lane, and the lane's attempts not started are reported as 125 (not attempted: the
# harness tries them again, each in its own process).
# Prints "R ID RC" per attempt: 0 open, 1 refused (or unreachable), 124 timeout, 125 not attempted;
# then one "T LEADER MS WHY" line per container with the deadline it used.
# Arguments: HINT-MS FLOOR-MS CEIL-MS MULT, then per container: LEADER COUNT and COUNT x (ADDRESS
# PORT ID LANE).
hint=$1 floor=$2 ceil=$3 mult=$4
shift 4

# Runs inside the namespace (bash -c): $1..$4 as above, then ADDRESS PORT ID LANE quadruples.
# shellcheck disable=SC2016 # expanded by the inner bash
REACH='
tag=$1 hint=$2 floor=$3 ceil=$4 mult=$5; shift 5
n=$(( $# / 4 ))
{
  lane=()
  while [ $# -ge 4 ]; do
    if [ "$4" = s ]; then
      lane+=("$1" "$2" "$3"); echo "L $3"
    else
      ( t=${EPOCHREALTIME/./}; if exec 3<>"/dev/tcp/$1/$2"; then echo "R $3 0 $t"; else echo "R $3 1 $t"; fi ) 2>/dev/null &
      echo "P $3 $! ${EPOCHREALTIME/./}"
    fi
    shift 4
  done
  # The lane: each attempt says when it starts (its deadline counts from there), then its answer.
  [ ${#lane[@]} -eq 0 ] || ( set -- "${lane[@]}"
    while [ $# -ge 3 ]; do
      t=${EPOCHREALTIME/./}; echo "P $3 $BASHPID $t"
      if exec 3<>"/dev/tcp/$1/$2"; then echo "R $3 0 $t"; exec 3<&-; else echo "R $3 1 $t"; fi
      shift 3
    done ) 2>/dev/null &
} | {
  # The answers arrive on this pipe and read -t is the timer: no sleeper process. Each attempt
  # has its own deadline from its start (a loaded node may start the last ones late).
  declare -A pid_of at got inlane
  slow=$hint why="the round trip of the facts script, $hint ms"
  while :; do
    d=$(( slow * mult )); [ $d -lt $floor ] && d=$floor; [ $d -gt $ceil ] && d=$ceil
    now=${EPOCHREALTIME/./} wake=$(( ceil * 1000 )) left=0 over=''
    for a in "${!pid_of[@]}"; do
      [ -n "${got[$a]}" ] && continue
      e=$(( at[$a] + d * 1000 - now ))
      if [ $e -le 0 ]; then [ -n "${inlane[$a]}" ] && over=$a; continue; fi
      left=1; [ $e -lt $wake ] && wake=$e
    done
    # A lane attempt past its deadline blocks the rest of its lane: unless an answer is already
    # waiting in the pipe, it timed out; the lane ends and what it had not started is 125.
    if [ -n "$over" ] && ! read -r -t 0; then
      kill "${pid_of[$over]}" 2>/dev/null; got[$over]=124; echo "R $over 124"
      for a in "${!inlane[@]}"; do [ -z "${pid_of[$a]}" ] && { pid_of[$a]=0 got[$a]=125; echo "R $a 125"; }; done
      continue
    fi
    [ -n "$over" ] && left=1 wake=1
    [ ${#pid_of[@]} -lt $n ] && left=1
    [ $left = 1 ] || break
    printf -v w "%d.%06d" $(( wake / 1000000 )) $(( wake % 1000000 ))
    IFS=" " read -r -t "$w" k a b c
    rc=$?
    [ $rc -gt 128 ] && continue
    [ $rc = 0 ] || break
    case $k in
      L) inlane[$a]=1 ;;
      P) [ -n "${got[$a]}" ] || pid_of[$a]=$b at[$a]=$c ;;
      R) [ -n "${got[$a]}" ] && continue
         got[$a]=$b; echo "R $a $b"
         el=$(( (${EPOCHREALTIME/./} - c) / 1000 ))
         if [ $el -gt $slow ]; then slow=$el why="the slowest answer, $el ms"; fi ;;
    esac
  done
  # Still silent at its deadline: a timeout (the SYN was dropped); end the attempt.
  for a in "${!pid_of[@]}"; do
    [ -n "${got[$a]}" ] && continue
    kill "${pid_of[$a]}" 2>/dev/null; echo "R $a 124"
  done
  d=$(( slow * mult )); [ $d -lt $floor ] && d=$floor; [ $d -gt $ceil ] && d=$ceil
  echo "T $tag $d $mult x $why (floor $floor ms, ceiling $ceil ms)"
}
'

while [ $# -ge 2 ]; do
  leader=$1 count=$2
  shift 2
  args=("${@:1:count*4}")
  shift $((count * 4))
  ctr_net "$leader" bash -c "$REACH" reach "$leader" "$hint" "$floor" "$ceil" "$mult" "${args[@]}" &
done
wait
