"""The protobuf pod list without a server: fields kube2zk does not declare are
skipped, the page's token and version are read, and what is not a Kubernetes
protobuf body fails the list. (That the field numbers are the API server's
is tested against the real one: tests/kubernetes/test_pod_protobuf.py.)"""

from __future__ import annotations

import json

import pytest

from lib.kube import protobuf
from lib.kube.client import Body
from lib.kube.pods import PodSource, SourceError
from lib.model import ANNOTATION, LABEL


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number: int, value: bytes | str | int) -> bytes:
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    data = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(data)) + data


def entry(key: str, value: str) -> bytes:
    return field(1, key) + field(2, value)


def pod(name: str, ip: str, *, ready: bool = True, extra: bytes = b"") -> bytes:
    meta = (
        field(1, name)
        + field(2, "generate-")  # generateName: not declared, skipped
        + field(3, "shop")
        + field(5, f"uid-{name}")
        + field(8, field(1, 1764450000))
        + field(11, entry(LABEL, "true"))
        + field(12, entry("kubectl.kubernetes.io/last-applied-configuration", "{" * 5000))
        + field(12, entry(ANNOTATION, '[{"serviceName":"orders"}]'))
        + field(17, b"\x0a\x03abc")  # managedFields: skipped
    )
    spec = field(2, field(1, "app") + field(6, field(1, "rpc") + field(3, 20880) + field(4, "TCP"))) + field(10, "node")
    condition = field(1, "Ready") + field(2, "True" if ready else "False")
    status = field(1, "Running") + field(2, condition) + field(5, "10.0.0.1") + field(6, ip) + extra
    return field(1, meta) + field(2, spec) + field(3, status)


def body(*pods: bytes, token: str = "", version: str = "42") -> bytes:
    list_meta = field(2, version) + (field(3, token) if token else b"")
    raw = field(1, list_meta) + b"".join(field(2, p) for p in pods)
    unknown = field(1, field(1, "v1") + field(2, "PodList")) + field(2, raw) + field(4, protobuf.CONTENT_TYPE)
    return protobuf.MAGIC + unknown


def test_a_page_reads_the_declared_fields_and_skips_the_rest():
    pods, version, token = protobuf.decode_page(body(pod("a", "10.1.0.1"), pod("b", "", ready=False), token="t2"))
    assert (version, token) == ("42", "t2")
    a, b = pods
    assert (a.namespace, a.name, a.uid, a.phase, a.pod_ip, a.ready) == (
        "shop",
        "a",
        "uid-a",
        "Running",
        "10.1.0.1",
        True,
    )
    assert a.annotation == '[{"serviceName":"orders"}]' and a.has_label and not a.deleting
    assert a.created == "2025-11-29T21:00:00Z" and a.ports == (("rpc", 20880),)
    assert b.pod_ip is None and not b.ready


def test_the_last_page_has_no_token():
    assert protobuf.decode_page(body(pod("a", "10.1.0.1")))[2] is None


def test_a_deletion_timestamp_marks_the_pod_deleting():
    deleting = field(1, field(1, "a") + field(9, field(1, 1764450000)))
    assert protobuf.decode_page(body(deleting))[0][0].deleting


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b'{"kind":"PodList"}', "no k8s"),
        (protobuf.MAGIC + b"\x12\xff", "malformed"),
        (body(field(1, b"\x0a\xff\xff")), "malformed"),
    ],
)
def test_what_is_not_a_pod_list_fails_the_list(data, why):
    source = PodSource.__new__(PodSource)
    source.kube, source.namespace, source.page_size, source.timeout = (
        Answers(Body(data, protobuf.CONTENT_TYPE)),
        "",
        500,
        5.0,
    )
    with pytest.raises(SourceError, match=why):
        source.list()


def test_a_field_of_another_wire_type_reads_as_not_set():
    """As every protobuf parser does: it is an unknown field."""
    assert protobuf.decode_page(body(field(3, field(6, 7))))[0][0].pod_ip is None


def test_a_json_answer_is_read_as_json():
    page = {
        "metadata": {"resourceVersion": "7"},
        "items": [{"metadata": {"name": "a"}, "status": {"podIP": "10.0.0.9"}}],
    }
    source = PodSource.__new__(PodSource)
    answers = Answers(Body(json.dumps(page).encode(), "application/json"))
    source.kube, source.namespace, source.page_size, source.timeout = answers, "", 500, 5.0
    listed = source.list()
    assert [p.pod_ip for p in listed.pods] == ["10.0.0.9"] and listed.resource_version == "7"
    assert answers.accepts == [f"{protobuf.CONTENT_TYPE}, application/json"]


def test_an_error_status_in_protobuf_gives_its_message_and_reason():
    status = field(3, "pods is forbidden: no") + field(4, "Forbidden") + field(6, 403)
    unknown = protobuf.MAGIC + field(2, status)
    assert protobuf.status_fields(unknown) == {
        "kind": "Status",
        "message": "pods is forbidden: no",
        "reason": "Forbidden",
    }
    assert protobuf.status_fields(b"plain text") == {}


class Answers:
    def __init__(self, *answers: Body):
        self.answers = list(answers)
        self.accepts: list[str] = []

    def get(self, path: str, query: object, timeout: object = None, accept: str = "") -> Body:
        self.accepts.append(accept)
        return self.answers.pop(0)


def test_any_ready_condition_that_is_true_makes_the_pod_ready_as_in_json():
    conditions = field(2, field(1, "Ready") + field(2, "False")) + field(2, field(1, "Ready") + field(2, "True"))
    assert protobuf.decode_page(body(field(3, conditions)))[0][0].ready
