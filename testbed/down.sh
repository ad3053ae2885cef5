#!/usr/bin/env bash
# Stops every process of the test bed and removes its temporary state.
set -euo pipefail
. "$(dirname "$0")/common.sh"

bash "$TESTBED_DIR/k8s-down.sh"
for dir in "$STATE_DIR"/zk-*; do
  [ -d "$dir" ] && bash "$TESTBED_DIR/zookeeper.sh" stop "${dir##*/zk-}"
done
rm -f "$STATE_DIR/env"
log "test bed down"
