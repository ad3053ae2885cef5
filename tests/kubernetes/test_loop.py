"""--loop on the real test bed: watch-driven updates, drift repair, one writer
at a time, faults, shutdown, metrics and Events."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from helpers import REPO, Cluster, LoopProcess, bed_script, eventually, free_port, read_node, zookeeper
from helpers.kube import hold_mass_deletion
from kazoo.client import KazooClient
from kubernetes import client

SERVICE = "test-rpc-server-1"


def servers(zk: KazooClient, zk_root: str, service: str = SERVICE) -> set[str] | None:
    node = read_node(zk, f"{zk_root}/rpc_v2/{service}")
    return None if node is None else set(node["servers"])


def converged(
    zk: KazooClient, zk_root: str, cluster: Cluster, selector: str = "rpc-service=true", service: str = SERVICE
) -> bool:
    want = cluster.ready_ips(selector)
    return bool(want) and servers(zk, zk_root, service) == want


def test_scale_and_annotation_edits_arrive_without_a_full_sync(loop, cluster, zk, zk_root):
    proc = loop()  # -syncperiod stays 1h: only the watch can bring these changes
    cluster.deploy("svc", 2)
    cluster.wait_ready("app=svc", 2)
    eventually("2 servers registered", lambda: converged(zk, zk_root, cluster))

    cluster.scale("svc", 4)
    cluster.wait_ready("app=svc", 4)
    eventually("scale-up registered", lambda: converged(zk, zk_root, cluster))

    cluster.scale("svc", 1)
    cluster.wait_ready("app=svc", 1)
    eventually("scale-down registered", lambda: converged(zk, zk_root, cluster))

    cluster.set_annotation("svc", '[{"serviceName": "test-rpc-server-2"}]')
    eventually("dropped service removed", lambda: servers(zk, zk_root) is None, timeout=60)
    eventually("new service registered", lambda: converged(zk, zk_root, cluster, service="test-rpc-server-2"))
    assert proc.metric("kube2zk_sync_duration_seconds_count") is not None
    _status, text = proc.get("/metrics")
    full = [line for line in text.splitlines() if line.startswith('kube2zk_sync_duration_seconds_count{kind="full"}')]
    assert full == ['kube2zk_sync_duration_seconds_count{kind="full"} 1.0'], full


def test_full_sync_repairs_nodes_deleted_or_edited_by_others(loop, cluster, zk: KazooClient, zk_root):
    loop("-syncperiod", "2s")
    cluster.deploy("svc", 2)
    cluster.wait_ready("app=svc", 2)
    eventually("registered", lambda: converged(zk, zk_root, cluster))
    eventually("second service", lambda: converged(zk, zk_root, cluster, service="test-rpc-server-2"))

    zk.delete(f"{zk_root}/rpc_v2/{SERVICE}")
    zk.set(f"{zk_root}/rpc_v2/test-rpc-server-2", b'{"config":[],"servers":["6.6.6.6"]}')

    eventually("deleted node restored", lambda: converged(zk, zk_root, cluster), timeout=20)
    eventually("edited node repaired", lambda: converged(zk, zk_root, cluster, service="test-rpc-server-2"), timeout=20)


def test_zookeeper_outage_reports_not_ready_and_converges_after_restart(loop, cluster, zk_root, testbed_env):
    name = f"outage-{os.getpid()}-{zk_root[3:]}"
    port = free_port()
    zookeeper("start", name, str(port))
    try:
        own = KazooClient(hosts=f"127.0.0.1:{port}")
        own.start(timeout=15)
        proc = loop("--zk-timeout", "4s", zk_hosts=f"127.0.0.1:{port}")
        cluster.deploy("svc", 2)
        cluster.wait_ready("app=svc", 2)
        eventually("registered", lambda: converged(own, zk_root, cluster))
        eventually("ready", lambda: proc.get("/readyz")[0] == 200)

        zookeeper("halt", name)
        eventually("not ready while ZooKeeper is down", lambda: proc.get("/readyz")[0] == 503, timeout=20)
        cluster.scale("svc", 3)
        cluster.wait_ready("app=svc", 3)
        assert proc.proc.poll() is None, "the loop must keep running while ZooKeeper is down"
        assert proc.get("/healthz")[0] == 200

        zookeeper("resume", name)
        eventually("converged after the restart", lambda: converged(own, zk_root, cluster), timeout=60)
        eventually("ready again", lambda: proc.get("/readyz")[0] == 200, timeout=30)
        own.stop()
    finally:
        zookeeper("stop", name)


def test_two_loops_one_writer_and_takeover_after_kill_9(loop, cluster, zk: KazooClient, zk_root):
    first = loop("--zk-timeout", "4s")
    eventually("first is leader", lambda: first.metric("kube2zk_leader") == 1.0)
    second = loop("--zk-timeout", "4s")
    eventually("second is up as standby", lambda: second.get("/readyz")[0] == 200)
    assert second.metric("kube2zk_leader") == 0.0

    cluster.deploy("svc", 2)
    cluster.wait_ready("app=svc", 2)
    eventually("registered", lambda: converged(zk, zk_root, cluster))
    assert first.metric("kube2zk_zookeeper_operations_total") >= 2
    assert second.metric("kube2zk_zookeeper_operations_total") is None  # never wrote anything
    lock = f"{zk_root}/kube2zk/owners/default/lock"
    assert len(zk.get_children(lock)) == 2  # one holder, one waiter

    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait()
    eventually("standby took over", lambda: second.metric("kube2zk_leader") == 1.0, timeout=30)
    cluster.scale("svc", 3)
    cluster.wait_ready("app=svc", 3)
    eventually("new leader converges", lambda: converged(zk, zk_root, cluster))


def test_sigterm_exits_0_quickly_and_releases_the_lock(loop, cluster, zk: KazooClient, zk_root):
    proc: LoopProcess = loop()
    eventually("leader", lambda: proc.metric("kube2zk_leader") == 1.0)
    lock = f"{zk_root}/kube2zk/owners/default/lock"
    assert len(zk.get_children(lock)) == 1

    proc.proc.send_signal(signal.SIGTERM)
    code = proc.proc.wait(timeout=10)

    assert code == 0, proc.log()
    assert zk.get_children(lock) == []


def test_metrics_and_health_endpoints_report_the_state(loop, cluster, zk, zk_root):
    proc = loop()
    cluster.deploy("svc", 3)
    cluster.deploy("broken", 1, "{not json")
    cluster.wait_ready("app=svc", 3)
    eventually("registered", lambda: converged(zk, zk_root, cluster, "app=svc"))

    assert proc.get("/healthz")[0] == 200
    # Ready once the first full sync has ended; its writes land before it
    # posts the invalid annotation's Event, so converged can come first.
    eventually("ready", lambda: proc.get("/readyz")[0] == 200)
    eventually("gauges", lambda: proc.metric("kube2zk_servers_registered") == 6.0)
    assert proc.metric("kube2zk_services_registered") == 2.0
    assert proc.metric("kube2zk_leader") == 1.0
    eventually("invalid annotation counted", lambda: proc.metric("kube2zk_invalid_annotations") == 1.0)
    assert proc.metric("kube2zk_last_successful_sync_timestamp_seconds") > 0
    assert proc.metric('kube2zk_zookeeper_operations_total{op="create",result="ok"}') == 2.0
    assert proc.get("/nope")[0] == 404


def test_invalid_annotation_gets_one_event_per_pod_and_annotation(loop, cluster, core, namespace, zk_root):
    proc = loop("-syncperiod", "1s")
    cluster.deploy("broken", 1, '[{"serviceName": "../escape"}]')
    cluster.wait_ready("app=broken", 1)
    pod = cluster.pods("app=broken")[0].metadata.name

    def events() -> list[client.CoreV1Event]:
        return [
            e
            for e in core.list_namespaced_event(namespace).items
            if e.involved_object.name == pod and e.reason == "InvalidRPCServiceAnnotation"
        ]

    found = eventually("an Event on the pod", events)
    assert "../escape" in found[0].message
    # Several full syncs later there is still exactly one.
    eventually(
        "more full syncs",
        lambda: (proc.metric('kube2zk_sync_duration_seconds_count{kind="full"}') or 0) >= 4,
        timeout=30,
    )
    assert len(events()) == 1


def test_api_server_restart_later_changes_still_arrive(loop, cluster, zk, zk_root, testbed_env):
    proc = loop()
    cluster.deploy("svc", 2)
    cluster.wait_ready("app=svc", 2)
    eventually("registered", lambda: converged(zk, zk_root, cluster))

    restart = bed_script("k8s-restart.sh", "kube-apiserver", timeout=180)
    assert restart.returncode == 0, restart.stderr

    cluster.scale("svc", 3)
    cluster.wait_ready("app=svc", 3)
    eventually("change after the restart registered", lambda: converged(zk, zk_root, cluster), timeout=60)
    assert proc.proc.poll() is None
    assert Path(proc.log_path).exists()


def test_loop_holds_a_mass_deletion_and_reports_it_in_a_metric(loop, cluster, zk: KazooClient, zk_root):
    proc = loop()
    hold_mass_deletion(cluster, zk, f"{zk_root}/rpc_v2", proc.metric)
    assert len(zk.get_children(f"{zk_root}/rpc_v2")) == 12
    assert "holding 12 deletions" in proc.log()


def test_loop_runs_with_exactly_the_rbac_of_its_manifest(loop, cluster, core, namespace, manifest_account, zk, zk_root):
    """k8s/kube2zk.yaml's account may list and watch pods and create Events."""
    kubeconfig = manifest_account(REPO / "k8s" / "kube2zk.yaml")
    proc = loop("--kubeconfig", kubeconfig, "-syncperiod", "2s")
    cluster.deploy("svc", 2)
    cluster.deploy("broken", 1, "[{}]")
    cluster.wait_ready("app=svc", 2)
    eventually("registered through the watch", lambda: converged(zk, zk_root, cluster, "app=svc"), timeout=60)
    cluster.scale("svc", 3)
    cluster.wait_ready("app=svc", 3)
    eventually("watched change registered", lambda: converged(zk, zk_root, cluster, "app=svc"), timeout=60)
    eventually(
        "an Event on the broken pod",
        lambda: [e for e in core.list_namespaced_event(namespace).items if e.reason == "InvalidRPCServiceAnnotation"],
    )
    assert "403" not in proc.log()


def test_one_shot_run_gives_up_with_exit_5_while_a_loop_holds_the_lock(loop, job, zk_root):
    proc = loop()
    eventually("loop is leader", lambda: proc.metric("kube2zk_leader") == 1.0)

    blocked = job("--lock-timeout", "1s")

    assert blocked.returncode == 5, blocked.stderr
    assert "holds the writer lock" in blocked.stderr


def test_rolling_update_writes_each_service_far_fewer_times_than_pods_change(
    loop, cluster, apps, namespace, zk, zk_root
):
    replicas = 30
    loop()
    cluster.deploy("roll", replicas)
    cluster.wait_ready("app=roll", replicas, timeout=120)
    eventually("registered", lambda: converged(zk, zk_root, cluster, "app=roll"), timeout=60)
    version = zk.get(f"{zk_root}/rpc_v2/{SERVICE}")[1].version

    patch = {"spec": {"template": {"metadata": {"annotations": {"rev": "2"}}}}}
    apps.patch_namespaced_deployment("roll", namespace, patch)

    def rolled() -> bool:
        pods = cluster.pods("app=roll")
        return len(pods) == replicas and all(
            (p.metadata.annotations or {}).get("rev") == "2" and p.status.phase == "Running" for p in pods
        )

    cluster.wait_for("rollout", rolled, timeout=180)
    eventually("converged after the rollout", lambda: converged(zk, zk_root, cluster, "app=roll"), timeout=60)
    writes = zk.get(f"{zk_root}/rpc_v2/{SERVICE}")[1].version - version
    # Every one of the 30 pods was added and removed; the node is written in bursts.
    assert 1 <= writes < replicas, writes
