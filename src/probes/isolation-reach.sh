#!/usr/bin/env bash
# Bounded connect attempts from inside containers (src/probes/isolation.ts), all in parallel: each
# runs in the network namespace of a container's leader (ctr_net, src/transport/container.ts) and
# lasts at most 1 s. Prints "R ID RC" per attempt: 0 open, 1 refused, 124 timeout, else an error.
# Arguments: LEADER ADDRESS PORT ID, four words per attempt.
try_c() { ctr_net "$1" timeout 1 bash -c "exec 3<>/dev/tcp/$2/$3" >/dev/null 2>&1; echo "R $4 $?"; }

# Groups of 64 keep the process count on the node modest.
n=0
while [ $# -ge 4 ]; do
  try_c "$1" "$2" "$3" "$4" &
  shift 4
  n=$((n + 1))
  if [ $((n % 64)) = 0 ]; then wait; fi
done
wait
