"""The per-pod layouts on the test bed, read by the real Curator x-discovery,
Spring Cloud Zookeeper and Dubbo clients: what they return follows the Ready pods
through scale-up, scale-down, an annotation change and a pod turning NotReady."""

from __future__ import annotations

import json

from helpers.common import eventually
from kazoo.client import KazooClient

ANNOTATION = json.dumps([{"serviceName": "orders", "port": 5000, "metadata": {"zone": "a"}}])


def layout_flags(zk_root: str) -> list[str]:
    return ["-layouts", "seed,curator", "-curator-path", f"{zk_root}/services"]


def addresses(instances: list[dict]) -> set[tuple[str, int]]:
    return {(i["address"], i["port"]) for i in instances}


def test_curator_and_spring_clients_see_the_ready_pods(
    job, cluster, core, namespace, zk_root, curator_reader, spring_reader
):
    base = f"{zk_root}/services"
    cluster.deploy("orders", 2, ANNOTATION)
    ips = cluster.wait_ready("app=orders", 2)
    assert job(*layout_flags(zk_root)).returncode == 0

    assert addresses(curator_reader.query(base, "orders")) == {(ip, 5000) for ip in ips}
    spring = spring_reader.instances(base, "orders")
    assert {(i["host"], i["port"]) for i in spring} == {(ip, 5000) for ip in ips}
    assert all(i["metadata"] == {"zone": "a", "instance_status": "UP"} for i in spring)
    assert all(i["uri"] == f"http://{i['host']}:5000" for i in spring)

    cluster.scale("orders", 3)
    ips = cluster.wait_ready("app=orders", 3)
    assert job(*layout_flags(zk_root)).returncode == 0
    assert addresses(curator_reader.query(base, "orders")) == {(ip, 5000) for ip in ips}

    cluster.scale("orders", 1)
    ips = cluster.wait_ready("app=orders", 1)
    assert job(*layout_flags(zk_root)).returncode == 0
    assert addresses(curator_reader.query(base, "orders")) == {(ip, 5000) for ip in ips}

    # A pod turning NotReady leaves the query (kwok keeps it Running).
    [pod] = cluster.pods("app=orders")
    conditions = [
        {"type": c.type, "status": "False" if c.type in ("Ready", "ContainersReady") else c.status}
        for c in pod.status.conditions
    ]
    core.patch_namespaced_pod_status(pod.metadata.name, namespace, {"status": {"conditions": conditions}})
    eventually("pod NotReady", lambda: not cluster.ready_ips("app=orders"))
    assert job(*layout_flags(zk_root)).returncode == 0
    assert curator_reader.query(base, "orders") == []


def test_an_annotation_change_moves_the_instances_and_the_loop_follows(
    loop, cluster, zk: KazooClient, zk_root, curator_reader
):
    base = f"{zk_root}/services"
    cluster.deploy("orders", 2, ANNOTATION)
    ips = cluster.wait_ready("app=orders", 2)
    loop(*layout_flags(zk_root))
    eventually("registered", lambda: addresses(curator_reader.query(base, "orders")) == {(ip, 5000) for ip in ips})

    cluster.set_annotation("orders", json.dumps([{"serviceName": "billing", "port": 6000}]))
    cluster.wait_for(
        "rolled",
        lambda: (
            all(
                (p.metadata.annotations or {}).get("rpc-service", "").find("billing") > 0
                for p in cluster.pods("app=orders")
            )
            and len(cluster.ready_ips("app=orders")) == 2
        ),
        timeout=120,
    )
    ips = cluster.ready_ips("app=orders")
    eventually(
        "billing registered",
        lambda: addresses(curator_reader.query(base, "billing")) == {(ip, 6000) for ip in ips},
        timeout=60,
    )
    eventually("orders gone", lambda: curator_reader.query(base, "orders") == [], timeout=60)


def test_dubbo_consumers_follow_a_deployment_through_the_loop_down_to_empty(loop, cluster, zk_root, dubbo_reader):
    root = f"{zk_root}/dubbo"
    entry = {"serviceName": "greeter", "version": "1.0.0", "port": 5000, "interface": "com.example.Greeter"}
    cluster.deploy("greeter", 2, json.dumps([entry]))
    ips = cluster.wait_ready("app=greeter", 2)
    subscription = dubbo_reader.subscribe(root, "com.example.Greeter", version="1.0.0")
    loop("-layouts", "seed,dubbo", "-dubbo-root", root)

    def providers() -> set[str]:
        return {u.split("?")[0] for u in subscription.latest() or [] if not u.startswith("empty://")}

    expected = {f"dubbo://{ip}:5000/com.example.Greeter" for ip in ips}
    eventually("both providers", lambda: providers() == expected, timeout=60)
    assert {u.split("?")[0] for u in dubbo_reader.lookup(root, "com.example.Greeter", version="1.0.0")} == expected

    cluster.scale("greeter", 0)
    eventually("empty://", lambda: (subscription.latest() or [""])[0].startswith("empty://"), timeout=60)
