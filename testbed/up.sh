#!/usr/bin/env bash
# Brings the whole test bed up (idempotent: a running bed is reused) and writes
# $STATE_DIR/env for tests and the demo to source.
set -euo pipefail
. "$(dirname "$0")/common.sh"

started=$(date +%s)
bash "$TESTBED_DIR/install.sh"
bash "$TESTBED_DIR/build.sh"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

mkdir -p "$STATE_DIR"
if bash "$TESTBED_DIR/zookeeper.sh" status main 2>/dev/null; then
  zk_port=$(cat "$STATE_DIR/zk-main/port")
else
  zk_port=${TESTBED_ZK_PORT:-2181}
  port_free "$zk_port" || zk_port=$(free_port)
  bash "$TESTBED_DIR/zookeeper.sh" start main "$zk_port"
fi
bash "$TESTBED_DIR/k8s-up.sh"

{
  cat "$STATE_DIR/k8s.env"
  echo "export ZK_HOSTS=127.0.0.1:$zk_port"
} >"$STATE_DIR/env.tmp"
mv "$STATE_DIR/env.tmp" "$STATE_DIR/env"
log "test bed up in $(( $(date +%s) - started ))s; environment: $STATE_DIR/env"
