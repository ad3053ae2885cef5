#!/usr/bin/env bash
# Stops the Kubernetes bed started by k8s-up.sh: SIGTERM to every component
# recorded in STATE_DIR/pids (clients, then the API server, then etcd), SIGKILL
# to what is left after ~10s, then checks
# by pid that none survived and removes the bed's state (certificates, etcd
# data, kubeconfig, k8s.env, pid files). Logs are removed too unless KEEP_LOGS=1.
# Safe to run when nothing is running.
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
. "$(dirname "$0")/common.sh"

K8S_DIR="$STATE_DIR/k8s"
LOG_DIR="$STATE_DIR/logs"
COMPONENTS=(kwok kube-scheduler kube-controller-manager kube-apiserver etcd)

[ -d "$STATE_DIR" ] || exit 0
if [ -z "${_KUBE2ZK_K8S_LOCK_HELD:-}" ]; then  # set when k8s-up.sh (holding the lock) calls us
  exec 9>"$STATE_DIR/k8s.lock"
  flock 9
fi


alive() {  # alive NAME...: those still running, as "name:pid" words
  local c pid
  for c in "$@"; do
    if pid=$(pid_of "$c"); then echo "$c:$pid"; fi
  done
}

# stop NAME...: SIGTERM, up to 10s grace, then SIGKILL; fail if any survives.
stop() {
  local running entry deadline
  running=$(alive "$@")
  [ -n "$running" ] || return 0
  for entry in $running; do kill -TERM "${entry#*:}" 2>/dev/null || true; done
  deadline=$((SECONDS + 10))
  while [ -n "$(alive "$@")" ] && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
  running=$(alive "$@")
  if [ -n "$running" ]; then
    log "still running after 10s, sending SIGKILL: $(echo "$running" | tr '\n' ' ')"
    for entry in $running; do kill -KILL "${entry#*:}" 2>/dev/null || true; done
    deadline=$((SECONDS + 5))
    while [ -n "$(alive "$@")" ] && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
  fi
  running=$(alive "$@")
  [ -z "$running" ] || die "could not stop: $(echo "$running" | tr '\n' ' ')"
}

running=$(alive "${COMPONENTS[@]}")
if [ -n "$running" ]; then
  log "stopping the Kubernetes bed: $(echo "$running" | tr '\n' ' ')"
  # In order: the API server's graceful shutdown needs etcd, so etcd goes last.
  stop kwok kube-scheduler kube-controller-manager
  stop kube-apiserver
  stop etcd
fi

rm -rf "$K8S_DIR"
rm -f "$STATE_DIR/kubeconfig" "$STATE_DIR/k8s.env" "$STATE_DIR/k8s.env.tmp"
for c in "${COMPONENTS[@]}"; do
  rm -f "$PID_DIR/$c.pid" "$PID_DIR/$c.pid.tmp"
  [ "${KEEP_LOGS:-0}" = 1 ] || rm -f "$LOG_DIR/$c.log"
done
