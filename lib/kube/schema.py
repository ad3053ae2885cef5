"""The pod list and watch events as kube2zk reads them: a msgspec schema of
only the fields a sync needs, and the cut down to ``PodInfo``.

Every field may be absent or null (the API server omits empty ones, and a
null must read as "not set", as it did when pods were plain dicts). Values
of the wrong type (a number where the API sends a string) fail the whole
page with a ValidationError naming the JSON path: the run then acts on no
list at all rather than on a guess. ``gc=False``: decoded objects hold no
reference cycles, so the cyclic collector need not track them.
"""

from __future__ import annotations

import msgspec

from lib.model import ANNOTATION, LABEL, LABEL_VALUE, PodInfo


class _Annotations(msgspec.Struct, gc=False):
    # Only the one annotation: the others (kubectl's last-applied copy can be
    # tens of kilobytes) are skipped without being decoded.
    rpc_service: str | None = msgspec.field(default=None, name=ANNOTATION)


class _Labels(msgspec.Struct, gc=False):
    rpc_service: str | None = msgspec.field(default=None, name=LABEL)


class _Meta(msgspec.Struct, gc=False):
    namespace: str | None = None
    name: str | None = None
    uid: str | None = None
    creationTimestamp: str | None = None
    deletionTimestamp: str | None = None
    labels: _Labels | None = None
    annotations: _Annotations | None = None


class _Port(msgspec.Struct, gc=False):
    name: str | None = None
    containerPort: int | None = None


class _Container(msgspec.Struct, gc=False):
    ports: list[_Port | None] | None = None


class _Spec(msgspec.Struct, gc=False):
    containers: list[_Container | None] | None = None


class _Condition(msgspec.Struct, gc=False):
    type: str | None = None
    status: str | None = None


class _Status(msgspec.Struct, gc=False):
    phase: str | None = None
    podIP: str | None = None
    conditions: list[_Condition | None] | None = None


class _Pod(msgspec.Struct, gc=False):
    metadata: _Meta | None = None
    spec: _Spec | None = None
    status: _Status | None = None


class ListMeta(msgspec.Struct, gc=False):
    continue_: str | None = msgspec.field(default=None, name="continue")
    resourceVersion: str | None = None


class Page(msgspec.Struct, gc=False):
    metadata: ListMeta | None = None
    items: list[_Pod] | None = None  # a null item is no pod at all: the page fails


class _WatchMeta(_Meta, gc=False):
    resourceVersion: str | None = None


class WatchObject(msgspec.Struct, gc=False):
    """A pod, a bookmark (only metadata.resourceVersion) or, for an ERROR
    event, a Status (code and message)."""

    metadata: _WatchMeta | None = None
    spec: _Spec | None = None
    status: _Status | str | None = None  # a Status object's status is a string ("Failure")
    code: int | None = None
    message: str | None = None


class _Event(msgspec.Struct, gc=False):
    type: str | None = None
    object: WatchObject | None = None


PAGE = msgspec.json.Decoder(Page)
EVENT = msgspec.json.Decoder(_Event)
_POD = msgspec.json.Decoder(_Pod)

_NO_META = _Meta()


def pod_info(pod: _Pod | WatchObject) -> PodInfo:
    """Cut one decoded pod (list item or watch object) down to PodInfo."""
    meta = pod.metadata or _NO_META
    status = pod.status if isinstance(pod.status, _Status) else None
    ready = False
    phase = pod_ip = None
    if status is not None:
        phase, pod_ip = status.phase, status.podIP or None
        ready = any(c is not None and c.type == "Ready" and c.status == "True" for c in status.conditions or ())
    labels, annotations = meta.labels, meta.annotations
    return PodInfo(
        namespace=meta.namespace or "",
        name=meta.name or "",
        phase=phase,
        ready=ready,
        deleting=bool(meta.deletionTimestamp),
        pod_ip=pod_ip,
        annotation=annotations.rpc_service if annotations is not None else None,
        has_label=labels is not None and labels.rpc_service == LABEL_VALUE,
        uid=meta.uid or "",
        created=meta.creationTimestamp or "",
        ports=_named_ports(pod.spec.containers or ()) if pod.spec is not None else (),
    )


def _named_ports(containers: list[_Container | None] | tuple[()]) -> tuple[tuple[str, int], ...]:
    """The named container ports, which an annotation may refer to by name."""
    named = []
    for container in containers:
        if container is None:
            continue
        for port in container.ports or ():
            if port is not None and port.name and port.containerPort is not None:
                named.append((port.name, port.containerPort))
    return tuple(named)


def decode_pod(raw: bytes) -> PodInfo:
    """One pod object (JSON bytes) cut down to PodInfo, through the same
    schema as a list page; raises msgspec.DecodeError (a ValueError)."""
    return pod_info(_POD.decode(raw))
