#!/usr/bin/env bash
# Restarts one component of a running bed with the same command line (for
# fault tests), e.g. `k8s-restart.sh kube-apiserver`; waits until the API
# server answers /readyz again.
set -euo pipefail
. "$(dirname "$0")/common.sh"

name=${1:?usage: k8s-restart.sh COMPONENT}
pid_file="$STATE_DIR/pids/$name.pid"
pid=$(cat "$pid_file" 2>/dev/null) || die "$name is not running (no $pid_file)"
[ -r "/proc/$pid/cmdline" ] || die "$name (pid $pid) is not running"
mapfile -d '' argv <"/proc/$pid/cmdline"

kill "$pid"
for _ in $(seq 1 100); do
  state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$pid/status" 2>/dev/null || true)
  case "$state" in '' | Z | X) break ;; esac
  sleep 0.1
done
kill -9 "$pid" 2>/dev/null || true

# shellcheck disable=SC2016
setsid -f bash -c 'echo $$ >"$0.tmp" && mv "$0.tmp" "$0" && exec "$@"' \
  "$pid_file" "${argv[@]}" </dev/null >>"$STATE_DIR/logs/$name.log" 2>&1
. "$STATE_DIR/k8s/ports.env"
for _ in $(seq 1 600); do
  if [ "$(curl -fsS --max-time 2 --cacert "$STATE_DIR/k8s/pki/ca.crt" --cert "$STATE_DIR/k8s/pki/admin.crt" \
        --key "$STATE_DIR/k8s/pki/admin.key" "https://127.0.0.1:$API_PORT/readyz" 2>/dev/null)" = ok ]; then
    log "$name restarted"
    exit 0
  fi
  sleep 0.2
done
die "$name did not come back; log: $STATE_DIR/logs/$name.log"
