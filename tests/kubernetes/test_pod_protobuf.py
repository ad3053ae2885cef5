"""The pod list in protobuf reads exactly as the same list in JSON, on the
real API server: the field numbers of lib/kube/protobuf.py are checked
against what kube-apiserver really sends, for pods in every state a sync
tells apart."""

from __future__ import annotations

import time

import pytest
from kubernetes import client

from lib.kube import protobuf
from lib.kube.client import JSON, KubeApi, api_client, pods_path
from lib.kube.pods import LABEL_SELECTOR, LIST_ACCEPT, PodSource
from lib.model import ANNOTATION, LABEL

KWOK_NODE = "kwok-node-1"
BIG = "x" * 40_000  # a last-applied-configuration sized annotation, skipped by the schema


def pod(name: str, *, node: str | None = KWOK_NODE, annotations: dict[str, str] | None = None, **meta: object) -> dict:
    """A labelled pod with two containers, named and unnamed ports; bound to
    ``node``, or (None) left for a scheduler that finds no node for it."""
    containers = [
        {"name": "app", "image": "registry.invalid/app:1", "ports": [{"name": "rpc", "containerPort": 20880}]},
        {
            "name": "side",
            "image": "registry.invalid/side:1",
            "ports": [{"containerPort": 9000}, {"name": "metrics", "containerPort": 9100, "protocol": "UDP"}],
        },
    ]
    spec: dict[str, object] = {"containers": containers, "tolerations": [{"operator": "Exists"}]}
    if node:
        spec["nodeName"] = node
    else:
        spec["nodeSelector"] = {"kube2zk.test/no-such-node": "true"}
    return {
        "metadata": {
            "name": name,
            "labels": {LABEL: "true", "app": "proto"},
            "annotations": annotations if annotations is not None else {ANNOTATION: '[{"serviceName":"s"}]'},
            **meta,
        },
        "spec": spec,
    }


@pytest.fixture
def shapes(core: client.CoreV1Api, namespace: str) -> list[str]:
    bodies = [
        pod("ready"),
        pod("unicode", annotations={ANNOTATION: '[{"serviceName":"ünï-çødé","version":"ß"}]', "big": BIG}),
        pod("no-annotation", annotations={}),
        pod("pending", node=None),  # no node fits: Pending, no IP, not Ready
        pod("deleting", finalizers=["kube2zk.test/hold"]),
    ]
    for body in bodies:
        core.create_namespaced_pod(namespace, body)
    deadline = time.monotonic() + 60
    while True:
        items = {p.metadata.name: p for p in core.list_namespaced_pod(namespace).items}
        ready = [n for n, p in items.items() if p.status.pod_ip]
        if sorted(ready) == ["deleting", "no-annotation", "ready", "unicode"]:
            break
        assert time.monotonic() < deadline, f"pods not running after 60s: {sorted(ready)}"
        time.sleep(0.3)
    core.delete_namespaced_pod("deleting", namespace)  # held by its finalizer: deletionTimestamp set
    yield [b["metadata"]["name"] for b in bodies]
    core.patch_namespaced_pod("deleting", namespace, {"metadata": {"finalizers": None}})


def listed(kubeconfig: str, namespace: str, accept: str, page_size: int = 2) -> tuple[list, set[str]]:
    source = PodSource(api_client(kubeconfig), namespace, page_size=page_size)
    seen: set[str] = set()
    real = source.kube.get

    def get(*args: object, **kwargs: object):  # the content types the server answered with
        kwargs["accept"] = accept
        body = real(*args, **kwargs)  # type: ignore[arg-type]
        seen.add(body.content_type)
        return body

    source.kube.get = get  # type: ignore[method-assign]
    return source.list().pods, seen


def test_protobuf_and_json_lists_read_the_same_pods(testbed_env, namespace, shapes):
    proto, proto_types = listed(testbed_env["KUBECONFIG"], namespace, LIST_ACCEPT)
    plain, plain_types = listed(testbed_env["KUBECONFIG"], namespace, JSON)

    assert proto_types == {protobuf.CONTENT_TYPE} and plain_types == {JSON}
    assert sorted(p.name for p in proto) == sorted(shapes)
    assert sorted(proto, key=lambda p: p.name) == sorted(plain, key=lambda p: p.name)
    by_name = {p.name: p for p in proto}
    assert by_name["ready"].ready and by_name["ready"].ports == (("rpc", 20880), ("metrics", 9100))
    assert by_name["unicode"].annotation == '[{"serviceName":"ünï-çødé","version":"ß"}]'
    assert by_name["no-annotation"].annotation is None
    assert by_name["pending"].pod_ip is None and not by_name["pending"].ready
    assert by_name["deleting"].deleting and not by_name["ready"].deleting
    assert all(p.created.endswith("Z") and p.uid for p in proto)


def test_the_product_asks_for_protobuf_and_gets_it(testbed_env, namespace, shapes):
    kube = KubeApi(api_client(testbed_env["KUBECONFIG"]))
    body = kube.get(pods_path(namespace), [("labelSelector", LABEL_SELECTOR)], accept=LIST_ACCEPT)
    assert body.content_type == protobuf.CONTENT_TYPE and body.data.startswith(protobuf.MAGIC)


def test_an_error_answered_in_protobuf_keeps_the_servers_message(testbed_env, namespace):
    """A bad continue token: the API server answers 400 with a Status in protobuf."""
    kube = KubeApi(api_client(testbed_env["KUBECONFIG"]))
    with pytest.raises(client.ApiException) as caught:
        kube.get(pods_path(namespace), [("limit", 1), ("continue", "not-a-token")], accept=LIST_ACCEPT)
    assert caught.value.status == 400
    assert caught.value.headers is not None and protobuf.CONTENT_TYPE in caught.value.headers.get("Content-Type", "")
    assert "continue" in (caught.value.body or "")


def test_a_one_shot_run_registers_from_the_protobuf_list(job, shapes, zk, zk_root):
    proc = job()
    assert proc.returncode == 0, proc.stderr
    assert sorted(zk.get_children(f"{zk_root}/rpc_v2")) == ["s", "ünï-çødé"]
