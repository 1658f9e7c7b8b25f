#!/bin/bash
# Installed on nodes as /usr/local/sbin/lab-backend-start NAME ADDR PORT: starts the lab's tiny
# HTTP service in the background, pid in /run/lab-backend-NAME.pid, config /etc/lab-backend/NAME.conf.
set -eu
name=$1 addr=$2 port=$3
mkdir -p /etc/lab-backend
[ -e "/etc/lab-backend/$name.conf" ] || printf 'health=ok\ndelay_ms=0\n' > "/etc/lab-backend/$name.conf"
setsid /usr/local/lib/lab-backend.pl "$name" "$addr" "$port" "/etc/lab-backend/$name.conf" \
  </dev/null >>"/run/lab-backend-$name.log" 2>&1 &
echo $! > "/run/lab-backend-$name.pid"
# wait until it listens, so callers can rely on it
for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/$( [ "$addr" = 0.0.0.0 ] && echo 127.0.0.1 || echo "$addr")/$port") 2>/dev/null; then exit 0; fi
  sleep 0.02
done
echo "lab-backend $name did not listen on $addr:$port" >&2
exit 1
