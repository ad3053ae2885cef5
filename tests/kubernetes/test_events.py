"""Events on pods with an invalid annotation, against the real API server."""

from __future__ import annotations

from kubernetes import client

# Pod names are DNS subdomains of up to 253 characters. The Event's name keeps
# the first 228 characters of the pod's, so these two have their cut fall
# right after a '.' and right after a '-'.
CUT_AFTER_DOT = "a" * 63 + "." + "b" * 63 + "." + "c" * 63 + "." + "d" * 35 + "." + "e" * 25
CUT_AFTER_DASH = "f" * 227 + "-" + "g" * 25


def bare_pod(core: client.CoreV1Api, namespace: str, name: str, annotation: str) -> str:
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"rpc-service": "true"}, "annotations": {"rpc-service": annotation}},
        "spec": {"containers": [{"name": "server", "image": "zhaohuabing/simple-http-server"}]},
    }
    return core.create_namespaced_pod(namespace, body).metadata.uid


def invalid_annotation_events(core: client.CoreV1Api, namespace: str) -> list[client.CoreV1Event]:
    return [e for e in core.list_namespaced_event(namespace).items if e.reason == "InvalidRPCServiceAnnotation"]


def test_pod_with_the_longest_name_gets_its_event(job, core, namespace):
    assert len(CUT_AFTER_DOT) == len(CUT_AFTER_DASH) == 253
    uids = {name: bare_pod(core, namespace, name, "{not json") for name in (CUT_AFTER_DOT, CUT_AFTER_DASH)}

    proc = job()

    assert proc.returncode == 0, proc.stderr
    assert "creating Event" not in proc.stderr
    events = invalid_annotation_events(core, namespace)
    assert {e.involved_object.name: e.involved_object.uid for e in events} == uids
    for event in events:
        # The core/v1 endpoint stores longer names, but events.k8s.io/v1 rejects them.
        assert len(event.metadata.name) <= 253
        assert event.type == "Warning"
        assert "not valid JSON" in event.message

    # The next run finds the same Events already there and adds none.
    assert job().returncode == 0
    assert sorted(e.metadata.name for e in invalid_annotation_events(core, namespace)) == sorted(
        e.metadata.name for e in events
    )
