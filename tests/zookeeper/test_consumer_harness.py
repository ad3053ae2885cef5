"""The real consumer libraries read the node formats written by hand: Apache
Curator x-discovery and Spring Cloud Zookeeper (``<base>/<name>/<id>`` JSON
nodes) and Apache Dubbo's interface-level registry (URL-encoded provider
nodes). These prove the harness (tests/helpers/consumers.py) and the formats
kube2zk is to write, independently of kube2zk's code."""

from __future__ import annotations

import json

import pytest
from helpers import eventually
from helpers.consumers import (
    SPRING_PAYLOAD,
    ConsumerError,
    CuratorReader,
    DubboReader,
    SpringReader,
    curator_node,
    dubbo_params,
    dubbo_provider_path,
    dubbo_url,
    java_url_encode,
)
from kazoo.client import KazooClient

GREETER = "com.example.Greeter"


def test_a_failed_request_answers_an_error_and_the_jvm_keeps_serving(curator_reader: CuratorReader):
    assert "unknown op" in curator_reader.request("no-such-op")["error"]
    assert curator_reader.call("ping") == {"ok": True}


def test_curator_registers_the_format_written_by_hand(curator_reader: CuratorReader, zk: KazooClient, zk_root: str):
    """An instance registered through Curator is the node curator_node writes,
    byte for byte, and Curator's query returns it."""
    base = f"{zk_root}/services"
    fields = {"payload": {"id": "pod-1", "name": "myapp", "metadata": {"instance_status": "UP"}}}
    curator_reader.register(base, "myapp", "pod-1", "10.1.2.3", 8080, registrationTimeUTC=1700000000000, **fields)
    try:
        written, stat = zk.get(f"{base}/myapp/pod-1")
        assert written == curator_node("myapp", "pod-1", "10.1.2.3", 8080, metadata={"instance_status": "UP"})
        assert not stat.ephemeralOwner  # STATIC: persistent
        [instance] = curator_reader.query(base, "myapp")
        assert instance["id"] == "pod-1"
        assert (instance["address"], instance["port"], instance["serviceType"]) == ("10.1.2.3", 8080, "STATIC")
    finally:
        curator_reader.unregister(base, "myapp", "pod-1")
    assert curator_reader.query(base, "myapp") == []


def test_curator_and_spring_read_hand_written_nodes(
    curator_reader: CuratorReader, spring_reader: SpringReader, zk: KazooClient, zk_root: str
):
    """Hand-written nodes, next to one Curator registered, are read by Curator
    (payload deserialized) and by Spring Cloud Zookeeper's DiscoveryClient."""
    base = f"{zk_root}/services"
    zk.create(
        f"{base}/myapp/pod-1", curator_node("myapp", "pod-1", "10.1.2.3", 8080, metadata={"zone": "a"}), makepath=True
    )
    zk.create(f"{base}/myapp/pod-2", curator_node("myapp", "pod-2", "10.1.2.4", 8080, ssl_port=8443))
    payload = {"id": "lib-1", "name": "myapp", "metadata": {}}
    curator_reader.register(base, "myapp", "lib-1", "10.1.2.5", 9090, payload=payload)
    try:
        by_id = {i["id"]: i for i in curator_reader.query(base, "myapp")}
        assert sorted(by_id) == ["lib-1", "pod-1", "pod-2"]
        one = by_id["pod-1"]
        assert one["payloadClass"] == SPRING_PAYLOAD
        assert one["payload"] == {"id": "pod-1", "name": "myapp", "metadata": {"zone": "a"}}
        assert (one["address"], one["port"], one["sslPort"]) == ("10.1.2.3", 8080, None)
        assert (one["serviceType"], one["registrationTimeUTC"], one["enabled"]) == ("STATIC", 1700000000000, True)
        assert one["uri"] == "http://10.1.2.3:8080"
        # {scheme} is https with an sslPort, but {port} stays the plain port (Curator's {ssl-port} is the other)
        assert by_id["pod-2"]["uri"] == "https://10.1.2.4:8080"

        spring = {i["instanceId"]: i for i in spring_reader.instances(base, "myapp")}
        assert sorted(spring) == ["lib-1", "pod-1", "pod-2"]
        assert spring["pod-1"] == {
            "serviceId": "myapp",
            "instanceId": "pod-1",
            "host": "10.1.2.3",
            "port": 8080,
            "uri": "http://10.1.2.3:8080",
            "secure": False,
            "scheme": None,
            "metadata": {"zone": "a"},
        }
        assert (spring["pod-2"]["port"], spring["pod-2"]["secure"]) == (8443, True)
        # Spring's uri is Curator's uriSpec: its port is the plain one although getPort() is the sslPort
        assert spring["pod-2"]["uri"] == "https://10.1.2.4:8080"
        assert spring_reader.services(base) == ["myapp"]
    finally:
        curator_reader.unregister(base, "myapp", "lib-1")


def test_one_unparsable_child_fails_the_whole_curator_query(
    curator_reader: CuratorReader, spring_reader: SpringReader, zk: KazooClient, zk_root: str
):
    base = f"{zk_root}/services"
    zk.create(f"{base}/myapp/pod-1", curator_node("myapp", "pod-1", "10.1.2.3", 8080), makepath=True)
    assert [i["id"] for i in curator_reader.query(base, "myapp")] == ["pod-1"]
    assert curator_reader.query(base, "missing") == []  # no directory: no instance, no error

    without_class = json.loads(curator_node("myapp", "pod-2", "10.1.2.4", 8080))
    del without_class["payload"]["@class"]
    for bad in (b"not json", json.dumps(without_class).encode()):
        zk.create(f"{base}/myapp/pod-2", bad)
        with pytest.raises(ConsumerError) as failed:
            curator_reader.query(base, "myapp")
        assert failed.value.answer["error"]
        with pytest.raises(ConsumerError):
            spring_reader.instances(base, "myapp")
        zk.delete(f"{base}/myapp/pod-2")
    assert [i["id"] for i in curator_reader.query(base, "myapp")] == ["pod-1"]


def provider_seen(url: str) -> tuple[str, dict[str, str]]:
    """A provider URL as a Dubbo 3 consumer keeps it (timestamp and pid dropped, check=false added)."""
    head, params = dubbo_params(url)
    return head, {k: v for k, v in params.items() if k not in ("timestamp", "pid")} | {"check": "false"}


def test_dubbo_reads_a_hand_written_provider(dubbo_reader: DubboReader, zk: KazooClient, zk_root: str):
    root = f"{zk_root}/dubbo"
    url = dubbo_url("10.1.2.3:20880", GREETER, version="1.0.0")
    assert url == (
        "dubbo://10.1.2.3:20880/com.example.Greeter?anyhost=true&application=a&category=providers&dynamic=false"
        "&interface=com.example.Greeter&methods=m&side=provider&timestamp=1&version=1.0.0"
    )
    zk.create(dubbo_provider_path(root, url), b"", makepath=True)

    [found] = dubbo_reader.lookup(root, GREETER, version="1.0.0")
    assert provider_seen(found) == provider_seen(url)
    assert dubbo_reader.lookup(root, GREETER, version="2.0.0") == []
    assert dubbo_reader.lookup(root, "com.example.Other", version="1.0.0") == []

    subscription = dubbo_reader.subscribe(root, GREETER, version="1.0.0")
    try:
        first = eventually("the first notification", subscription.latest, timeout=10)
        assert [provider_seen(u) for u in first] == [provider_seen(url)]
        zk.delete(dubbo_provider_path(root, url))
        emptied = eventually(
            "an empty:// notification",
            lambda: (latest := subscription.latest()) and latest[0].startswith("empty://") and latest,
            timeout=15,
        )
        [empty] = emptied
        assert dubbo_params(empty)[1]["category"] == "providers"
    finally:
        subscription.close()


def test_dubbo_lists_its_own_provider_next_to_a_hand_written_one(
    dubbo_reader: DubboReader, zk: KazooClient, zk_root: str
):
    root = f"{zk_root}/dubbo"
    by_hand = dubbo_url("10.1.2.3:20880", GREETER)
    by_dubbo = dubbo_url("10.1.2.4:20880", GREETER, methods="hello,bye")
    zk.create(dubbo_provider_path(root, by_hand), b"", makepath=True)
    dubbo_reader.register(root, by_dubbo)
    try:
        children = set(zk.get_children(f"{root}/{java_url_encode(GREETER)}/providers"))
        # Dubbo's own node is named as dubbo_provider_path names it, and is persistent (dynamic=false).
        assert children == {dubbo_provider_path(root, u).rsplit("/", 1)[1] for u in (by_hand, by_dubbo)}
        assert not zk.exists(dubbo_provider_path(root, by_dubbo)).ephemeralOwner
        found = dubbo_reader.lookup(root, GREETER, version="1.0.0")
        assert sorted(provider_seen(u) for u in found) == sorted(provider_seen(u) for u in (by_hand, by_dubbo))
    finally:
        dubbo_reader.unregister(root, by_dubbo)
    assert [provider_seen(u) for u in dubbo_reader.lookup(root, GREETER, version="1.0.0")] == [provider_seen(by_hand)]
