"""The msgspec decode of list pages and watch events gives exactly what the
plain-dict reading of the same JSON gave (kept here as the reference model),
for any shape the API server may send: absent, null and unknown fields,
unicode, several containers and ports, conditions in any order. Wrong types
and broken JSON fail the list or the watch as a SourceError."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lib.kube.client import Body
from lib.kube.pods import Gone, PodSource, SourceError
from lib.kube.schema import decode_pod
from lib.model import ANNOTATION, LABEL, LABEL_VALUE, PodInfo

# -- the reference model: pods read as plain dicts, as before msgspec ----------------


def reference_pod_info(obj: dict[str, Any]) -> PodInfo:
    meta = obj.get("metadata") or {}
    status = obj.get("status") or {}
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or ())
    labels = meta.get("labels") or {}
    return PodInfo(
        namespace=meta.get("namespace", ""),
        name=meta.get("name", ""),
        phase=status.get("phase"),
        ready=ready,
        deleting=bool(meta.get("deletionTimestamp")),
        pod_ip=status.get("podIP") or None,
        annotation=(meta.get("annotations") or {}).get(ANNOTATION),
        has_label=labels.get(LABEL) == LABEL_VALUE,
        uid=meta.get("uid", ""),
        created=meta.get("creationTimestamp") or "",
        ports=reference_named_ports((obj.get("spec") or {}).get("containers") or ()),
    )


def reference_named_ports(containers: Any) -> tuple[tuple[str, int], ...]:
    named = []
    for container in containers:
        for port in (container or {}).get("ports") or ():
            if port.get("name") and isinstance(port.get("containerPort"), int):
                named.append((port["name"], port["containerPort"]))
    return tuple(named)


# -- generated pods --------------------------------------------------------------------

ABSENT = object()
text = st.text(max_size=12)  # any unicode, surrogates excluded (JSON text is UTF-8)
json_scalars = (
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False, allow_infinity=False) | text
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=6,
)


def obj(required: dict[str, st.SearchStrategy[Any]], known: set[str]) -> st.SearchStrategy[dict[str, Any]]:
    """A JSON object with these fields (a strategy drawing ABSENT leaves the
    field out) plus unknown fields, in any order."""

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        fields = [(k, draw(v)) for k, v in required.items()]
        extra = draw(st.dictionaries(text.filter(lambda k: k not in known), json_values, max_size=2))
        items = [(k, v) for k, v in fields if v is not ABSENT] + list(extra.items())
        order = draw(st.permutations(items))
        return dict(order)

    return build()


def maybe(strategy: st.SearchStrategy[Any], null: bool = True) -> st.SearchStrategy[Any]:
    """The field absent, null (when the old reading tolerated null) or set."""
    return st.just(ABSENT) | (st.none() if null else st.nothing()) | strategy


def string_map(special: str, values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        out = draw(st.dictionaries(text, st.none() | text, max_size=3))
        value = draw(maybe(values))
        if value is not ABSENT:
            out[special] = value
        return out

    return build()


ports = st.lists(
    obj(
        {
            "name": maybe(st.sampled_from(["http", "grpc", ""]) | text),
            "containerPort": maybe(st.integers(-(2**31), 2**31)),
            "protocol": maybe(st.sampled_from(["TCP", "UDP"])),
        },
        {"name", "containerPort", "protocol"},
    ),
    max_size=3,
)
containers = st.lists(
    st.none() | obj({"name": maybe(text), "ports": maybe(ports)}, {"name", "ports"}),
    max_size=3,
)
conditions = st.lists(
    obj(
        {
            "type": maybe(st.sampled_from(["Ready", "ContainersReady", "PodScheduled", "ready"]) | text),
            "status": maybe(st.sampled_from(["True", "False", "Unknown", "true"]) | text),
        },
        {"type", "status"},
    ),
    max_size=4,
)
metadata = obj(
    {
        # null namespace/name/uid: see test_null_identity_fields_read_as_empty
        "namespace": maybe(text, null=False),
        "name": maybe(text, null=False),
        "uid": maybe(text, null=False),
        "creationTimestamp": maybe(text),
        "deletionTimestamp": maybe(st.sampled_from(["", "2024-01-01T00:00:00Z"]) | text),
        "resourceVersion": maybe(st.integers(0, 10**9).map(str)),
        "labels": maybe(string_map(LABEL, st.sampled_from([LABEL_VALUE, "false", "True", ""]) | text)),
        "annotations": maybe(string_map(ANNOTATION, text | st.just('[{"serviceName": "s"}]'))),
    },
    {"namespace", "name", "uid", "creationTimestamp", "deletionTimestamp", "resourceVersion", "labels", "annotations"},
)
pods = obj(
    {
        "metadata": maybe(metadata),
        "spec": maybe(obj({"containers": maybe(containers)}, {"containers"})),
        "status": maybe(
            obj(
                {
                    "phase": maybe(st.sampled_from(["Pending", "Running", "Succeeded", "Failed", "Unknown"]) | text),
                    "podIP": maybe(st.sampled_from(["", "10.0.0.1", "fd00::1"]) | text),
                    "conditions": maybe(conditions),
                },
                {"phase", "podIP", "conditions"},
            )
        ),
    },
    {"metadata", "spec", "status"},
)


def dumps(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode()


# -- fakes of the API server's raw answers ---------------------------------------------------


class Pages:
    """Answers list requests with the given raw pages, in order."""

    def __init__(self, *pages: bytes):
        self.pages = list(pages)
        self.tokens: list[object] = []

    def get(self, path: str, query: list[tuple[str, object]], timeout: object = None, accept: str = "") -> Body:
        self.tokens.append(dict(query).get("continue"))
        return Body(self.pages.pop(0), "application/json")


class Stream:
    def __init__(self, body: bytes):
        self.body = body
        self.closed = False

    def stream(self, amt: object = None, decode_content: object = None) -> Any:
        yield from (self.body[i : i + 7] for i in range(0, len(self.body), 7))  # split mid-line

    def close(self) -> None:
        self.closed = True

    def release_conn(self) -> None:
        pass


class Watch:
    def __init__(self, body: bytes):
        self.resp = Stream(body)

    def request(self, *args: object, **kwargs: object) -> Stream:
        return self.resp


def source(kube: object) -> PodSource:
    src = PodSource.__new__(PodSource)
    src.kube, src.namespace, src.page_size, src.timeout = kube, "", 500, 5.0  # type: ignore[assignment]
    return src


def page(items: list[Any], token: str | None = None, version: str = "42") -> bytes:
    return dumps({"kind": "PodList", "metadata": {"continue": token, "resourceVersion": version}, "items": items})


# -- the decode equals the reference ----------------------------------------------------------


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pods)
def test_one_pod_decodes_as_the_dict_reading_did(pod):
    assert decode_pod(dumps(pod)) == reference_pod_info(pod)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(pods, max_size=5), st.lists(pods, max_size=5))
def test_list_pages_decode_as_the_dict_reading_did(first, second):
    kube = Pages(page(first, token="next"), page(second, version="43"))
    got = list(source(kube).pages())
    assert got == [([reference_pod_info(p) for p in first], "42"), ([reference_pod_info(p) for p in second], "43")]
    assert kube.tokens == [None, "next"]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["ADDED", "MODIFIED", "DELETED"]), pods), max_size=5))
def test_watch_events_decode_as_the_dict_reading_did(events):
    body = b"".join(dumps({"type": kind, "object": pod}) + b"\n" for kind, pod in events)
    got = list(source(Watch(body)).watch("1", 5))
    expected = [
        (kind, reference_pod_info(pod), ((pod.get("metadata") or {}).get("resourceVersion") or ""))
        for kind, pod in events
    ]
    assert [(e.type, e.pod, e.resource_version) for e in got] == expected


# -- chosen readings of odd shapes ---------------------------------------------------------------


def test_null_status_and_null_conditions_read_as_not_ready():
    assert decode_pod(b'{"metadata": {"name": "a"}, "status": null}') == PodInfo(
        "", "a", None, False, False, None, None, has_label=False
    )
    info = decode_pod(b'{"status": {"phase": "Running", "podIP": "10.0.0.1", "conditions": null}}')
    assert (info.phase, info.ready, info.pod_ip) == ("Running", False, "10.0.0.1")


def test_null_entries_in_lists_are_skipped():
    # The dict reading raised AttributeError on a null condition or port.
    info = decode_pod(
        b'{"status": {"conditions": [null, {"type": "Ready", "status": "True"}]},'
        b' "spec": {"containers": [null, {"ports": [null, {"name": "http", "containerPort": 8080}]}]}}'
    )
    assert info.ready is True
    assert info.ports == (("http", 8080),)


def test_ports_without_a_name_or_a_number_are_left_out():
    info = decode_pod(
        b'{"spec": {"containers": [{"ports": [{"containerPort": 80}, {"name": "", "containerPort": 81},'
        b' {"name": "admin"}, {"name": "x", "containerPort": null}, {"name": "grpc", "containerPort": 9090}]},'
        b' {"ports": [{"name": "metrics", "containerPort": 9100}]}]}}'
    )
    assert info.ports == (("grpc", 9090), ("metrics", 9100))


def test_null_identity_fields_read_as_empty():
    # The dict reading passed a null namespace/name/uid through as None, which
    # PodInfo's types do not allow (a key "None/..."); they read as "".
    info = decode_pod(b'{"metadata": {"namespace": null, "name": null, "uid": null}}')
    assert (info.namespace, info.name, info.uid, info.key) == ("", "", "", "/")


def test_unknown_annotations_are_not_needed_to_be_strings_of_any_size():
    big = "x" * 200_000
    raw = dumps({"metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": big}}})
    assert decode_pod(raw).annotation is None


# -- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b'{"items": [', "truncated"),
        (b"<html>502 Bad Gateway</html>", "malformed"),
        (b"[]", "Expected `object`"),
        (b'{"items": [null]}', "$.items[0]"),
        (b'{"items": [{"metadata": {"name": 7}}]}', "$.items[0].metadata.name"),
        (
            b'{"items": [{"spec": {"containers": [{"ports": [{"name": "h", "containerPort": "80"}]}]}}]}',
            "containerPort",
        ),
        (b'{"items": [{"metadata": {"annotations": {"rpc-service": ["not", "a", "string"]}}}]}', "annotations"),
    ],
)
def test_a_page_that_does_not_decode_fails_the_list(body, why):
    with pytest.raises(SourceError, match="listing pods in all namespaces failed") as info:
        list(source(Pages(body)).pages())
    assert why in str(info.value)


def test_a_line_that_does_not_decode_breaks_the_watch():
    body = dumps({"type": "ADDED", "object": {"metadata": {"name": "a"}}}) + b"\n{not json\n"
    events = source(Watch(body)).watch("1", 5)
    assert next(events).pod is not None
    with pytest.raises(SourceError, match="watch stream broke"):
        next(events)


def test_watch_bookmarks_and_errors():
    bookmark = {"type": "BOOKMARK", "object": {"kind": "Pod", "metadata": {"resourceVersion": "77"}}}
    gone = {
        "type": "ERROR",
        "object": {"kind": "Status", "status": "Failure", "message": "too old resource version", "code": 410},
    }
    events = source(Watch(dumps(bookmark) + b"\n" + dumps(gone) + b"\n")).watch("5", 5)
    first = next(events)
    assert (first.type, first.pod, first.resource_version) == ("BOOKMARK", None, "77")
    with pytest.raises(Gone, match="too old resource version"):
        next(events)
    other = {"type": "ERROR", "object": {"kind": "Status", "status": "Failure", "message": "boom", "code": 500}}
    with pytest.raises(SourceError, match=r"boom \(500\)"):
        list(source(Watch(dumps(other) + b"\n")).watch("5", 5))
