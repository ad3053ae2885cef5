#!/usr/bin/env bash
# The original README's walk-through on the local test bed: apply the two
# sample Deployments, run kube2zk once, and show what ZooKeeper holds; then
# scale one Deployment down and run again.
set -euo pipefail
cd "$(dirname "$0")/.."
. .testbed/env
NS=kube2zk-demo
PY=.venv/bin/python

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

show_zk() {
  "$PY" - "$ZK_HOSTS" <<'PYCODE'
import sys
from kazoo.client import KazooClient
zk = KazooClient(hosts=sys.argv[1]); zk.start(timeout=15)
children = sorted(zk.get_children("/rpc_v2")) if zk.exists("/rpc_v2") else []
print(f"[zk: {sys.argv[1]}] ls /rpc_v2\n{children}")
for name in children:
    data, stat = zk.get(f"/rpc_v2/{name}")
    print(f"\n[zk: {sys.argv[1]}] get /rpc_v2/{name}\n{data.decode()}\ndataVersion = {stat.version}")
zk.stop()
PYCODE
}

step "kubectl apply -f k8s/test-rpc-service.yaml (namespace $NS)"
kubectl create namespace "$NS" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl -n "$NS" apply -f k8s/test-rpc-service.yaml
kubectl -n "$NS" scale deployment test-service-2 --replicas=3 >/dev/null
kubectl -n "$NS" rollout status deployment/test-service-1 --timeout=120s
kubectl -n "$NS" rollout status deployment/test-service-2 --timeout=120s
kubectl -n "$NS" get pods -l rpc-service=true -o wide

step "python kube2zk_job.py -zkservers $ZK_HOSTS -namespace $NS"
"$PY" kube2zk_job.py -zkservers "$ZK_HOSTS" -namespace "$NS"
show_zk

step "kubectl scale deployment test-service-2 --replicas=0, then run again"
kubectl -n "$NS" scale deployment test-service-2 --replicas=0
kubectl -n "$NS" wait --for=delete pod -l app=test-service-2 --timeout=120s 2>/dev/null || true
"$PY" kube2zk_job.py -zkservers "$ZK_HOSTS" -namespace "$NS"
show_zk

step "status: who holds what in ZooKeeper (reads only)"
"$PY" kube2zk_job.py status -zkservers "$ZK_HOSTS" || true

step "-mockregistry: what would be written, without touching ZooKeeper"
"$PY" kube2zk_job.py -mockregistry -namespace "$NS"
printf '\nThe bed keeps running; stop it with: make testbed-down\n'
