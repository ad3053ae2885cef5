"""Several installations (clusters) contributing to one service: two
namespaces and two owner ids stand for two clusters sharing one ZooKeeper.

The seed node lists the union of both sides; either side's changes only move
its share; concurrent changes never lose a server; a killed installation
keeps its servers unless reaping is configured; migration from the original
daemon with two installations; the ``status`` command."""

from __future__ import annotations

import contextlib
import json
import signal
import threading
import uuid
from collections.abc import Iterator

import pytest
from helpers.common import eventually
from helpers.job import job_env, run_job, scope_flags
from helpers.kube import Cluster, create_namespace
from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError
from kubernetes import client

from lib.model import Paths, RecordState
from lib.plan.shares import contribution, vouches_for

SERVICE = "test-rpc-server-1"  # declared by the helpers' default annotation


@pytest.fixture
def west(core: client.CoreV1Api, apps: client.AppsV1Api) -> Iterator[Cluster]:
    """The second cluster: a namespace of its own."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    create_namespace(core, name)
    yield Cluster(core, apps, name)
    with contextlib.suppress(client.ApiException):
        core.delete_namespace(name, grace_period_seconds=0)


def servers(zk: KazooClient, zk_root: str, service: str = SERVICE) -> list[str]:
    try:
        return json.loads(zk.get(f"{zk_root}/rpc_v2/{service}")[0])["servers"]
    except NoNodeError:
        return []


def consistent_union(zk: KazooClient, zk_root: str) -> tuple[list[str], list[str]] | None:
    """(the node's servers, the union of the contributions recorded for it),
    read so that both belong to the same node version; None when the node
    changed while reading (or is absent)."""
    path = f"{zk_root}/rpc_v2/{SERVICE}"
    paths = Paths(f"{zk_root}/rpc_v2", f"{zk_root}/kube2zk", "x")
    try:
        data, stat = zk.get(path)
    except NoNodeError:
        return None
    listed = json.loads(data)["servers"]
    union: set[str] = set()
    for owner in zk.get_children(paths.owners_root):
        try:
            record, rstat = zk.get(paths.record(path, owner))
        except NoNodeError:
            continue
        state = RecordState(record, rstat.czxid)
        if vouches_for(state) == stat.czxid:
            union |= set(contribution(state, listed))
    if zk.exists(path) is None or zk.exists(path).version != stat.version:
        return None
    return sorted(listed), sorted(union)


def numeric(ips: set[str]) -> list[str]:
    """The order the seed layout lists servers in."""
    return sorted(ips, key=lambda ip: tuple(int(p) for p in ip.split(".")))


def owner_flags(owner: str, namespace: str) -> list[str]:
    return ["-owner-id", owner, "-namespace", namespace]


def test_two_loops_list_the_union_and_concurrent_changes_never_lose_a_server(
    loop, cluster, west, zk: KazooClient, zk_root
):
    cluster.deploy("svc", 2)
    west.deploy("svc", 2)
    loop(*owner_flags("east", cluster.namespace))
    loop(*owner_flags("west", west.namespace))
    both = cluster.wait_ready("app=svc", 2) | west.wait_ready("app=svc", 2)
    eventually("the union", lambda: sorted(servers(zk, zk_root)) == sorted(both))

    # Scaling one side moves only its share.
    west.scale("svc", 1)
    west_ips = west.wait_ready("app=svc", 1)
    east_ips = cluster.ready_ips("app=svc")
    eventually("west's share shrank", lambda: sorted(servers(zk, zk_root)) == sorted(east_ips | west_ips))

    # Both sides change at once, round after round, while a reader checks
    # every consistent snapshot: the node lists exactly what the records say.
    snapshots: list[tuple[list[str], list[str]]] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            seen = consistent_union(zk, zk_root)
            if seen is not None:
                snapshots.append(seen)

    reader = threading.Thread(target=watch, daemon=True)
    reader.start()
    try:
        for east_n, west_n in [(4, 3), (1, 4), (3, 1), (2, 2), (5, 3), (2, 1)]:
            cluster.scale("svc", east_n)
            west.scale("svc", west_n)
            east_ips = cluster.wait_ready("app=svc", east_n)
            west_ips = west.wait_ready("app=svc", west_n)
            want = sorted(east_ips | west_ips)
            eventually(f"union of {east_n}+{west_n}", lambda want=want: sorted(servers(zk, zk_root)) == want)
    finally:
        stop.set()
        reader.join(5)
    assert len(snapshots) > 10
    bad = [s for s in snapshots if s[0] != s[1]]
    assert not bad, f"node and records disagreed: {bad[:3]}"


def test_a_killed_installation_keeps_its_servers_until_reaped(loop, cluster, west, zk: KazooClient, zk_root):
    cluster.deploy("svc", 2)
    west.deploy("svc", 1)
    east = loop(*owner_flags("east", cluster.namespace))
    west_loop = loop(*owner_flags("west", west.namespace), "-syncperiod", "2s", "-owner-stale-after", "2s")
    east_ips, west_ips = cluster.wait_ready("app=svc", 2), west.wait_ready("app=svc", 1)
    eventually("the union", lambda: sorted(servers(zk, zk_root)) == sorted(east_ips | west_ips))

    east.proc.send_signal(signal.SIGKILL)
    east.proc.wait(10)
    # West keeps syncing (full syncs every 2s); east's servers stay, and
    # once east's session is gone west's log calls it stale.
    eventually("east reported stale", lambda: "owner east is stale" in west_loop.log(), timeout=60)
    assert west_loop.metric("kube2zk_owners_stale") == 1.0
    assert sorted(servers(zk, zk_root)) == sorted(east_ips | west_ips)

    # With reaping configured, a west writer removes east's share.
    west_loop.stop()
    reaper = loop(*owner_flags("west", west.namespace), "-syncperiod", "2s", "-reap-owners-after", "1s")
    eventually("east reaped", lambda: sorted(servers(zk, zk_root)) == sorted(west_ips), timeout=60)
    assert "removed the contributions of stopped owner east" in reaper.log()


def test_a_one_shot_run_of_one_owner_beside_a_loop_of_another(job, loop, cluster, west, zk: KazooClient, zk_root):
    cluster.deploy("svc", 1)
    west.deploy("svc", 1)
    loop(*owner_flags("west", west.namespace))
    west.wait_ready("app=svc", 1)
    for east_n, west_n in [(2, 3), (3, 1), (1, 2)]:
        cluster.scale("svc", east_n)
        west.scale("svc", west_n)
        east_ips = cluster.wait_ready("app=svc", east_n)
        assert job(*owner_flags("east", cluster.namespace)).returncode == 0
        west_ips = west.wait_ready("app=svc", west_n)
        want = sorted(east_ips | west_ips)
        eventually("the union", lambda want=want: sorted(servers(zk, zk_root)) == want)


def test_migration_from_the_original_with_two_installations(job, cluster, west, zk: KazooClient, zk_root):
    path = f"{zk_root}/rpc_v2/{SERVICE}"
    zk.create(path, b'{"config":["keepalive 64"],"servers":["10.9.9.9"]}', makepath=True)
    cluster.deploy("svc", 2)
    west.deploy("svc", 1)
    east_ips, west_ips = cluster.wait_ready("app=svc", 2), west.wait_ready("app=svc", 1)

    # Without -adopt nobody takes the original's node.
    proc = job(*owner_flags("west", west.namespace))
    assert proc.returncode == 7 and "not owned by kube2zk" in proc.stderr
    # The first installation adopts it; the second joins without -adopt.
    assert job(*owner_flags("east", cluster.namespace), "-adopt").returncode == 0
    assert json.loads(zk.get(path)[0]) == {"config": ["keepalive 64"], "servers": numeric(east_ips)}
    proc = job(*owner_flags("west", west.namespace))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(zk.get(path)[0]) == {"config": ["keepalive 64"], "servers": numeric(east_ips | west_ips)}
    # Running both again writes nothing.
    for owner, side in (("east", cluster), ("west", west)):
        proc = job(*owner_flags(owner, side.namespace))
        assert proc.returncode == 0 and "updated 0" in proc.stderr and "created 0" in proc.stderr


def test_status_shows_each_owners_share_and_calls_attention_to_a_stale_owner(
    job, cluster, west, zk: KazooClient, zk_root, testbed_env
):
    cluster.deploy("svc", 2)
    west.deploy("svc", 1)
    east_ips, west_ips = cluster.wait_ready("app=svc", 2), west.wait_ready("app=svc", 1)
    assert job(*owner_flags("east", cluster.namespace)).returncode == 0
    assert job(*owner_flags("west", west.namespace)).returncode == 0
    flags = scope_flags(cluster.namespace, testbed_env["ZK_HOSTS"], zk_root)

    proc = run_job(["status", *flags, "-output", "json"], job_env(testbed_env))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert {o["owner"]: o["exit"] for o in doc["owners"]} == {"east": 0, "west": 0}
    [svc] = [s for s in doc["services"] if s["service"] == SERVICE]
    assert svc["owners"] == {"east": sorted(east_ips), "west": sorted(west_ips)}
    assert sorted(svc["servers"]) == sorted(east_ips | west_ips) and doc["attention"] == []

    text = run_job(["status", *flags], job_env(testbed_env))
    assert text.returncode == 0
    assert f"seed {SERVICE} [" in text.stdout and f"west: {', '.join(sorted(west_ips))}" in text.stdout

    # West has not synced for longer than -owner-stale-after: attention, exit 1.
    proc = run_job(["status", *flags, "-owner-stale-after", "1ns"], job_env(testbed_env))
    assert proc.returncode == 1
    assert "attention: owner east is stale" in proc.stdout and "attention: owner west is stale" in proc.stdout

    # A declared service shadowed by a node nobody owns: exit 7 once an owner reports it.
    zk.create(f"{zk_root}/rpc_v2/shadowed", b"x")
    west.deploy("shadow", 1, json.dumps([{"serviceName": "shadowed"}]))
    west.wait_ready("app=shadow", 1)
    assert job(*owner_flags("west", west.namespace)).returncode == 7
    proc = run_job(["status", *flags, "-output", "json"], job_env(testbed_env))
    assert proc.returncode == 7
    assert any("shadowed" in a and "west" in a for a in json.loads(proc.stdout)["attention"])


def test_the_reap_command_removes_a_stopped_owners_share_but_never_a_live_ones(
    job, loop, scoped, cluster, west, zk: KazooClient, zk_root
):
    def reap(*args: str):
        flags, env = scoped()
        return run_job(["reap", *args, *flags, *owner_flags("west", west.namespace)], env)

    cluster.deploy("svc", 2)
    west.deploy("svc", 1)
    east_ips, west_ips = cluster.wait_ready("app=svc", 2), west.wait_ready("app=svc", 1)
    east = loop(*owner_flags("east", cluster.namespace))
    assert job(*owner_flags("west", west.namespace)).returncode == 0
    eventually("the union", lambda: sorted(servers(zk, zk_root)) == sorted(east_ips | west_ips))

    proc = reap()
    assert proc.returncode == 2 and "name the owner" in proc.stderr
    proc = reap("west")
    assert proc.returncode == 2 and "this installation's own -owner-id" in proc.stderr
    proc = reap("east")
    assert proc.returncode == 1 and "not reaping owner east: a writer of it holds its lock" in proc.stderr
    assert sorted(servers(zk, zk_root)) == sorted(east_ips | west_ips)

    assert east.stop() == 0  # a clean stop releases the lock at once
    proc = reap("east")
    assert proc.returncode == 0, proc.stderr
    assert "removed the contributions of stopped owner east from 2 nodes" in proc.stderr
    assert sorted(servers(zk, zk_root)) == sorted(west_ips)


def test_per_instance_layouts_each_owner_writes_its_own_instances_and_curator_sees_both(
    job, cluster, west, zk: KazooClient, zk_root, curator_reader
):
    annotation = json.dumps([{"serviceName": "orders", "port": 5000}])
    cluster.deploy("orders", 2, annotation)
    west.deploy("orders", 1, annotation)
    east_ips, west_ips = cluster.wait_ready("app=orders", 2), west.wait_ready("app=orders", 1)
    layouts = ["-layouts", "seed,curator", "-curator-path", f"{zk_root}/services"]
    for owner, side in (("east", cluster), ("west", west)):
        proc = job(*layouts, *owner_flags(owner, side.namespace))
        assert proc.returncode == 0, proc.stderr

    found = curator_reader.query(f"{zk_root}/services", "orders")
    assert {i["address"] for i in found} == east_ips | west_ips
    assert {i["id"].rsplit(".", 1)[1] for i in found} == {"east", "west"}

    # West's pods go: only west's instances leave, east's stay.
    west.scale("orders", 0)
    west.wait_ready("app=orders", 0)
    assert job(*layouts, *owner_flags("west", west.namespace)).returncode == 0
    assert {i["address"] for i in curator_reader.query(f"{zk_root}/services", "orders")} == east_ips
