"""The per-pod layouts (curator, dubbo) against a real ZooKeeper, in process: an instance node
per serving pod, no-op runs that write nothing, instances that go with their
pods, records per service folder, and others' children left alone."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from helpers.common import eventually
from helpers.consumers import dubbo_params, dubbo_url
from kazoo.client import KazooClient

from lib.app import reconciler
from lib.desired.index import PodIndex
from lib.model import DesiredState, Paths, PodInfo
from lib.settings import load_settings
from lib.sync import Reconciler
from lib.zk.registry import Registry


@pytest.fixture
def root(bare_zk: KazooClient) -> Iterator[str]:
    path = f"/curator-{uuid.uuid4().hex[:10]}"
    yield path
    bare_zk.delete(path, recursive=True)


def sync(zk: KazooClient, root: str, *args: str) -> Reconciler:
    flags = ["-zkpath", f"{root}/rpc_v2", "--owner-root", f"{root}/kube2zk", "-curator-path", f"{root}/services"]
    settings = load_settings([*flags, "-layouts", "seed,curator", *args], {})
    paths = Paths(settings.sync.zk_path, settings.sync.owner_root, settings.sync.owner_id)
    return reconciler(settings, Registry(zk, paths, timeout=10), None)


def desired(pods: list[PodInfo]) -> DesiredState:
    index = PodIndex()
    problems = index.load(pods)
    state = index.desired(endpoints=True)
    state.problems = problems
    return state


def pod(name: str, ip: str, annotation: str = '[{"serviceName": "orders", "port": 8080}]') -> PodInfo:
    return PodInfo("shop", name, "Running", True, False, ip, annotation, created="2025-11-29T21:00:00Z")


def test_instances_follow_the_pods_and_a_no_op_run_writes_nothing(bare_zk: KazooClient, root: str):
    zk, folder = bare_zk, f"{root}/services/orders"
    report = sync(zk, root).run(desired([pod("a", "10.0.0.1"), pod("b", "10.0.0.2")]))
    assert report.created == 3 and not report.failed  # two instances and the seed node
    assert sorted(zk.get_children(folder)) == ["a.shop", "b.shop"]
    assert json.loads(zk.get(f"{folder}/a.shop")[0])["address"] == "10.0.0.1"
    versions = {c: zk.exists(f"{folder}/{c}").mzxid for c in zk.get_children(folder)}

    again = sync(zk, root).run(desired([pod("a", "10.0.0.1"), pod("b", "10.0.0.2")]))
    assert (again.created, again.updated, again.deleted, again.unchanged) == (0, 0, 0, 3)
    assert {c: zk.exists(f"{folder}/{c}").mzxid for c in zk.get_children(folder)} == versions

    gone = sync(zk, root).run(desired([pod("a", "10.0.0.1")]))
    assert gone.deleted == 1 and zk.get_children(folder) == ["a.shop"]
    # An incremental sync of the service, as --loop makes, after the last pod went.
    last = sync(zk, root).run(desired([]), only=["orders"])
    assert last.deleted == 2 and zk.get_children(folder) == []


def test_others_children_are_left_alone_and_unparsable_ones_reported(bare_zk: KazooClient, root: str):
    zk, folder = bare_zk, f"{root}/services/orders"
    zk.create(f"{folder}/theirs", b'{"name":"orders","id":"theirs","address":"10.9.9.9","port":1}', makepath=True)
    zk.create(f"{folder}/broken", b"not json")

    report = sync(zk, root).run(desired([pod("a", "10.0.0.1")]))

    assert sorted(zk.get_children(folder)) == ["a.shop", "broken", "theirs"]
    assert list(report.unreadable) == [f"{folder}/broken"]
    sync(zk, root).run(desired([]), only=["orders"])
    assert sorted(zk.get_children(folder)) == ["broken", "theirs"]


def test_an_entry_without_a_port_is_refused_for_curator_and_still_registered_for_seed(bare_zk: KazooClient, root: str):
    report = sync(bare_zk, root).run(desired([pod("a", "10.0.0.1", '[{"serviceName": "orders"}]')]))
    assert [p.pod for p in report.problems] == ["shop/a"] and 'no "port"' in report.problems[0].reason
    assert not bare_zk.exists(f"{root}/services/orders/a.shop")
    assert json.loads(bare_zk.get(f"{root}/rpc_v2/orders")[0])["servers"] == ["10.0.0.1"]


def test_real_clients_read_kube2zk_instances_beside_one_curator_registered_itself(
    bare_zk: KazooClient, root: str, curator_reader, spring_reader
):
    base = f"{root}/services"
    curator_reader.register(base, "orders", "by-hand", "10.9.9.9", 7000)
    secure = '[{"serviceName": "orders", "port": 8080, "sslPort": 8443, "metadata": {"zone": "a"}}]'
    sync(bare_zk, root).run(desired([pod("a", "10.0.0.1"), pod("b", "10.0.0.2", secure)]))

    instances = {i["id"]: i for i in curator_reader.query(base, "orders")}
    assert set(instances) == {"a.shop", "b.shop", "by-hand"}
    assert (instances["a.shop"]["address"], instances["a.shop"]["port"]) == ("10.0.0.1", 8080)
    assert instances["b.shop"]["uri"] == "https://10.0.0.2:8443"
    spring = {i["instanceId"]: i for i in spring_reader.instances(base, "orders")}
    assert (spring["a.shop"]["host"], spring["a.shop"]["port"], spring["a.shop"]["uri"]) == (
        "10.0.0.1", 8080, "http://10.0.0.1:8080",
    )  # fmt: skip
    assert spring["b.shop"]["port"] == 8443 and spring["b.shop"]["metadata"] == {"zone": "a", "instance_status": "UP"}

    sync(bare_zk, root).run(desired([]), only=["orders"])
    assert [i["id"] for i in curator_reader.query(base, "orders")] == ["by-hand"]


def greeter(name: str, ip: str, version: str = "1.0.0", **extra: str) -> PodInfo:
    entry = {"serviceName": "greeter", "version": version, "port": 20880, "interface": "com.example.Greeter", **extra}
    return pod(name, ip, json.dumps([entry]))


def test_dubbo_consumers_find_exactly_the_providers_of_their_version_and_see_them_go(
    bare_zk: KazooClient, root: str, dubbo_reader
):
    droot = f"{root}/dubbo"
    flags = ("-layouts", "seed,dubbo", "-dubbo-root", droot)
    by_hand = dubbo_url("10.9.9.9:20880", "com.example.Greeter", version="1.0.0")
    dubbo_reader.register(droot, by_hand)
    subscription = dubbo_reader.subscribe(droot, "com.example.Greeter", version="1.0.0")
    others = [f"{droot}/com.example.Greeter/{kind}/x" for kind in ("configurators", "routers", "consumers")]
    for path in others:
        bare_zk.create(path, b"theirs", makepath=True)
    loop = sync(bare_zk, root, *flags)  # one reconciler, as --loop keeps
    pods = [greeter("a", "10.0.0.1"), greeter("b", "10.0.0.2", "2.0.0"), greeter("c", "10.0.0.3", group="blue")]
    loop.run(desired(pods))

    hosts = {dubbo_params(u)[0] for u in dubbo_reader.lookup(droot, "com.example.Greeter", version="1.0.0")}
    assert hosts == {"dubbo://10.0.0.1:20880/com.example.Greeter", "dubbo://10.9.9.9:20880/com.example.Greeter"}
    v2 = dubbo_reader.lookup(droot, "com.example.Greeter", version="2.0.0")
    assert [dubbo_params(u)[0] for u in v2] == ["dubbo://10.0.0.2:20880/com.example.Greeter"]
    blue = dubbo_reader.lookup(droot, "com.example.Greeter", version="1.0.0", group="blue")
    assert [dubbo_params(u)[0] for u in blue] == ["dubbo://10.0.0.3:20880/com.example.Greeter"]

    # The service's pods go: kube2zk's providers go, the one Dubbo registered stays.
    loop.run(desired([]), only=["greeter"])
    eventually(
        "only the provider Dubbo registered left",
        lambda: (
            [dubbo_params(u)[0] for u in subscription.latest() or []] == ["dubbo://10.9.9.9:20880/com.example.Greeter"]
        ),
    )
    dubbo_reader.unregister(droot, by_hand)
    eventually("empty:// once no provider is left", lambda: (subscription.latest() or [""])[0].startswith("empty://"))
    assert all(bare_zk.get(path)[0] == b"theirs" for path in others)
