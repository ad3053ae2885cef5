"""The curator layout's nodes (lib/layouts/curator.py): exactly Curator's
nine keys in its order, stable across runs, refusals named."""

from __future__ import annotations

import json

from lib.layouts.curator import SPRING_PAYLOAD, CuratorLayout
from lib.model import DesiredState, PodInfo, ServiceDecl

POD = PodInfo(
    "shop", "orders-7f9c", "Running", True, False, "10.244.1.7", "", uid="u1",
    created="2025-11-29T21:00:00Z", ports=(("http", 8080), ("admin", 9090)),
)  # fmt: skip


def state(decl: ServiceDecl, pod: PodInfo = POD) -> DesiredState:
    return DesiredState(services={decl.name: {pod.pod_ip or ""}}, endpoints={decl.name: [(pod, decl)]})


def test_an_instance_is_the_nine_keys_of_curators_serializer_in_its_order():
    nodes, problems = CuratorLayout("/services").nodes(state(ServiceDecl("orders", "v1", {"port": 8080})))
    assert problems == []
    [(path, data)] = nodes.items()
    assert path == "/services/orders/orders-7f9c.shop"
    assert data == (
        b'{"name":"orders","id":"orders-7f9c.shop","address":"10.244.1.7","port":8080,"sslPort":null,'
        b'"payload":{"@class":"' + SPRING_PAYLOAD.encode() + b'","id":"orders-7f9c.shop","name":"orders",'
        b'"metadata":{"instance_status":"UP"}},"registrationTimeUTC":1764450000000,"serviceType":"STATIC",'
        b'"uriSpec":{"parts":[{"value":"scheme","variable":true},{"value":"://","variable":false},'
        b'{"value":"address","variable":true},{"value":":","variable":false},{"value":"port","variable":true}]}}'
    )


def test_named_ports_ssl_port_metadata_and_no_payload():
    decl = ServiceDecl("orders", None, {"port": "http", "sslPort": "admin", "metadata": {"zone": "a"}})
    doc = json.loads(next(iter(CuratorLayout("/s").nodes(state(decl))[0].values())))
    assert (doc["port"], doc["sslPort"]) == (8080, 9090)
    assert doc["payload"]["metadata"] == {"zone": "a", "instance_status": "UP"}
    bare = json.loads(next(iter(CuratorLayout("/s", None).nodes(state(decl))[0].values())))
    assert bare["payload"] is None and list(bare) == list(doc)


def test_the_same_pod_renders_the_same_bytes_every_time():
    decl = ServiceDecl("orders", None, {"port": 8080})
    assert CuratorLayout("/s").nodes(state(decl)) == CuratorLayout("/s").nodes(state(decl))


def test_entries_it_cannot_render_are_refused_naming_pod_service_and_field():
    layout = CuratorLayout("/s")
    for extra, needle in (
        ({}, 'no "port"'),
        ({"port": "grpc"}, "'grpc' names no container port"),
        ({"port": 70000}, "out of 1-65535"),
        ({"port": True}, "port number"),
        ({"port": 80, "sslPort": [1]}, "sslPort"),
        ({"port": 80, "metadata": {"a": 1}}, "metadata"),
    ):
        nodes, problems = layout.nodes(state(ServiceDecl("orders", None, extra)))
        assert nodes == {}, extra
        [problem] = problems
        assert problem.pod == "shop/orders-7f9c" and "'orders' (curator layout)" in problem.reason
        assert needle in problem.reason, (extra, problem.reason)


def test_what_a_curator_reader_could_not_parse():
    assert CuratorLayout.unreadable(b"not json") == "not a JSON object"
    assert CuratorLayout.unreadable(b'{"name":"a","payload":{"id":"x"}}') == 'its payload has no "@class"'
    assert CuratorLayout.unreadable(b'{"name":"a","id":"b","address":"c","port":1}') is None
