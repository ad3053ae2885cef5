"""Taking over from the original daemon and living beside other writers:
config lines kept, services not owned, children someone else created."""

from __future__ import annotations

import json

from helpers.common import eventually
from kazoo.client import KazooClient

ORIGINAL = b'{"config":["keepalive 64","zone tuned 1M"],"servers":["10.9.9.9"]}'


def node(zk: KazooClient, path: str) -> dict:
    return json.loads(zk.get(path)[0])


def test_adopt_and_later_updates_keep_the_nodes_config_lines(job, cluster, zk: KazooClient, zk_root):
    base = f"{zk_root}/rpc_v2"
    zk.create(f"{base}/test-rpc-server-1", ORIGINAL, makepath=True)
    cluster.deploy("seed", 2)
    ips = cluster.wait_ready("app=seed", 2)

    assert job("--adopt").returncode == 0
    assert node(zk, f"{base}/test-rpc-server-1") == {
        "config": ["keepalive 64", "zone tuned 1M"],
        "servers": sorted(ips),
    }

    cluster.scale("seed", 3)
    ips = cluster.wait_ready("app=seed", 3)
    assert job().returncode == 0
    assert node(zk, f"{base}/test-rpc-server-1")["config"] == ["keepalive 64", "zone tuned 1M"]
    # New nodes get -node-config; -enforce-node-config overwrites existing ones.
    assert node(zk, f"{base}/test-rpc-server-2")["config"][-1] == "keepalive 32"
    assert job("--enforce-node-config", "--node-config", '["keepalive 8"]').returncode == 0
    assert node(zk, f"{base}/test-rpc-server-1") == {
        "config": ["keepalive 8"],
        "servers": sorted(ips, key=lambda ip: tuple(int(p) for p in ip.split("."))),
    }


def test_a_declared_service_with_an_unowned_node_fails_the_run_with_exit_7(
    job, loop, cluster, zk: KazooClient, zk_root
):
    base = f"{zk_root}/rpc_v2"
    zk.create(f"{base}/test-rpc-server-1", b"hand-made", makepath=True)
    cluster.deploy("seed", 1)
    cluster.wait_ready("app=seed", 1)

    proc = job()

    assert proc.returncode == 7, proc.stderr
    assert "test-rpc-server-1 is not owned by kube2zk" in proc.stderr
    assert zk.get(f"{base}/test-rpc-server-1")[0] == b"hand-made"
    assert json.loads(zk.get(f"{base}/test-rpc-server-2")[0])["servers"]
    # --loop says so in a metric and a reminder.
    proc = loop()
    eventually("not-owned metric", lambda: proc.metric("kube2zk_services_not_owned") == 1.0, timeout=60)
    assert "run once with -adopt" in proc.log()
    proc.stop()
    assert job("--adopt").returncode == 0


def test_a_node_someone_put_children_under_is_reported_and_not_retried(job, cluster, zk: KazooClient, zk_root):
    base = f"{zk_root}/rpc_v2"
    cluster.deploy("seed", 1)
    cluster.wait_ready("app=seed", 1)
    assert job().returncode == 0
    zk.create(f"{base}/test-rpc-server-1/child", b"")
    cluster.delete("seed")
    cluster.wait_for("pods gone", lambda: not cluster.pods("app=seed"))

    proc = job()

    assert proc.returncode == 1, proc.stderr
    assert "someone created children under it" in proc.stderr
    assert "conflict" not in proc.stderr
    assert zk.exists(f"{base}/test-rpc-server-1/child")
    assert not zk.exists(f"{base}/test-rpc-server-2")
