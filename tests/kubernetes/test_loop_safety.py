"""--loop under faults a single service or a slow outage can cause: the
deletion budget over a window, one unwritable node, held deletions that stay
visible, services no kube2zk owns."""

from __future__ import annotations

import json
import time

from helpers.common import eventually
from kazoo.client import KazooClient
from kazoo.security import READ_ACL_UNSAFE
from kubernetes import client


def bare_pod(name: str, services: list[str]) -> dict:
    annotation = json.dumps([{"serviceName": s} for s in services])
    return {
        "metadata": {
            "name": name,
            "labels": {"rpc-service": "true", "app": name},
            "annotations": {"rpc-service": annotation},
        },
        "spec": {"containers": [{"name": "c", "image": "zhaohuabing/simple-http-server"}]},
    }


def children(zk: KazooClient, path: str) -> list[str]:
    return zk.get_children(path) if zk.exists(path) else []


def test_loop_deletion_budget_bounds_deletions_over_a_window_not_per_batch(
    loop, core: client.CoreV1Api, namespace, zk: KazooClient, zk_root
):
    """20 single-pod services failing four at a time every 0.4 s: a one-shot
    run would hold all 20; the loop deletes no more than the budget."""
    base = f"{zk_root}/rpc_v2"
    for i in range(20):
        core.create_namespaced_pod(namespace, bare_pod(f"p{i:02d}", [f"svc-{i:02d}"]))
    proc = loop()
    eventually("20 services registered", lambda: len(children(zk, base)) == 20, timeout=90)

    for start in range(0, 20, 4):
        for i in range(start, start + 4):
            core.delete_namespaced_pod(f"p{i:02d}", namespace, grace_period_seconds=0)
        time.sleep(0.4)

    eventually(
        # every one of the 20 deletions processed: deleted + held = 20
        "the loop holds what the budget does not allow",
        lambda: proc.metric("kube2zk_deletions_held") == len(children(zk, base)),
        timeout=60,
    )
    time.sleep(2)
    remaining = children(zk, base)
    assert len(remaining) >= 15, remaining  # the budget is max(5, 10% of 20)
    assert proc.metric("kube2zk_deletions_held") == len(remaining)

    # An unrelated change is reconciled; what is held stays held and visible.
    core.create_namespaced_pod(namespace, bare_pod("other", ["unrelated"]))
    eventually("unrelated registered", lambda: "unrelated" in children(zk, base), timeout=60)
    assert proc.metric("kube2zk_deletions_held") == len(remaining)
    assert len(children(zk, base)) == len(remaining) + 1


def test_one_unwritable_node_backs_off_alone_and_never_drives_full_syncs(loop, cluster, zk: KazooClient, zk_root):
    base = f"{zk_root}/rpc_v2"
    cluster.deploy("stuck", 1, '[{"serviceName": "stuck"}]')
    cluster.deploy("free", 1, '[{"serviceName": "free"}]')
    cluster.wait_ready("rpc-service=true", 2)
    proc = loop()
    eventually("both registered", lambda: sorted(children(zk, base)) == ["free", "stuck"], timeout=60)
    full = 'kube2zk_sync_duration_seconds_count{kind="full"}'
    eventually("first full sync counted", lambda: proc.metric(full) == 1.0)

    zk.set_acls(f"{base}/stuck", READ_ACL_UNSAFE)  # an administrator makes it read-only
    cluster.scale("stuck", 2)
    eventually(
        "the write of stuck failed",
        lambda: (proc.metric('kube2zk_zookeeper_operations_total{op="write",result="error"}') or 0) >= 1,
        timeout=60,
    )
    time.sleep(5)

    assert proc.metric(full) == 1.0  # no re-list, no full sync
    failures = proc.metric('kube2zk_zookeeper_operations_total{op="write",result="error"}')
    assert failures is not None and failures <= 6  # 0.5, 1, 2, 4 s apart
    assert proc.metric("kube2zk_services_failing") == 1.0

    cluster.scale("free", 2)
    ips = cluster.wait_ready("app=free", 2)
    eventually(
        "the other service still follows its pods",
        lambda: set(json.loads(zk.get(f"{base}/free")[0])["servers"]) == ips,
        timeout=30,
    )
