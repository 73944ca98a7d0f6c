#!/usr/bin/env bash
# Stop the RT server that setup_rt.sh started for RT_STATE_DIR (default /tmp/feedback-rt), by its pid file
# only. TERM first (the Starlet master takes its workers down), KILL of its process group after a bound.
set -euo pipefail
STATE="${RT_STATE_DIR:-/tmp/feedback-rt}"
PIDFILE="$STATE/rt-server.pid"
WAIT="${RT_STOP_TIMEOUT:-15}"

if [ ! -f "$PIDFILE" ]; then
  echo "stop_rt: no pid file in $STATE, nothing to stop"
  exit 0
fi
pid="$(cat "$PIDFILE")"
# Only a process that is still our rt-server: a stale pid may have been reused by anything else.
if ! [[ "$pid" =~ ^[0-9]+$ ]] || ! ps -p "$pid" -o args= 2>/dev/null | grep -q 'rt-server'; then
  echo "stop_rt: pid $pid from $PIDFILE is not running rt-server, removing the stale pid file"
  rm -f "$PIDFILE"
  exit 0
fi

kill -TERM "$pid" 2>/dev/null || true
for _ in $(seq 1 $((WAIT * 10))); do
  ps -p "$pid" >/dev/null 2>&1 || break
  sleep 0.1
done
if ps -p "$pid" >/dev/null 2>&1; then
  echo "stop_rt: rt-server $pid still running after ${WAIT}s, killing its process group" >&2
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
fi
# The workers share the master's process group (setup_rt.sh starts it with setsid): reap stragglers.
if pgrep -g "$pid" >/dev/null 2>&1; then
  sleep 1
  kill -KILL -- "-$pid" 2>/dev/null || true
fi
rm -f "$PIDFILE"
echo "stop_rt: stopped rt-server $pid ($STATE)"
