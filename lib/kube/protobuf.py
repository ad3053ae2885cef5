"""The pod list in Kubernetes' protobuf encoding, cut down to ``PodInfo``.

Asked for ``application/vnd.kubernetes.protobuf``, the API server encodes a
pod list with about half the CPU it spends on JSON and sends about 60% of
the bytes (measured in BENCHMARKS.md); client-go asks for it for the same
reason. The messages below declare only the fields a sync reads, under their
numbers in Kubernetes' own schemas (k8s.io/api/core/v1/generated.proto and
k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto); protobuf skips every
other field, so nothing about a pod's spec or managed fields is built.

A body is the 4 bytes ``k8s\\0`` and a ``runtime.Unknown`` whose ``raw`` holds
the encoded object. A body that is not that, or whose fields have the wrong
wire types, raises ValueError: the run then acts on no list at all.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError

from lib.model import ANNOTATION, LABEL, LABEL_VALUE, PodInfo

CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"

_F = descriptor_pb2.FieldDescriptorProto
_OPTIONAL, _REPEATED = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED
_STRING, _BYTES, _INT32, _INT64, _MESSAGE = _F.TYPE_STRING, _F.TYPE_BYTES, _F.TYPE_INT32, _F.TYPE_INT64, _F.TYPE_MESSAGE
_PACKAGE = "kube2zk.k8s"

# message -> (field, number, type, label, message type); numbers as in Kubernetes' .proto files
_SCHEMA: dict[str, list[tuple[str, int, int, int, str]]] = {
    "Unknown": [("raw", 2, _BYTES, _OPTIONAL, ""), ("contentType", 4, _STRING, _OPTIONAL, "")],
    "Status": [("message", 3, _STRING, _OPTIONAL, ""), ("reason", 4, _STRING, _OPTIONAL, "")],
    "ListMeta": [("resourceVersion", 2, _STRING, _OPTIONAL, ""), ("continue", 3, _STRING, _OPTIONAL, "")],
    "Time": [("seconds", 1, _INT64, _OPTIONAL, "")],
    "ObjectMeta": [
        ("name", 1, _STRING, _OPTIONAL, ""),
        ("namespace", 3, _STRING, _OPTIONAL, ""),
        ("uid", 5, _STRING, _OPTIONAL, ""),
        ("creationTimestamp", 8, _MESSAGE, _OPTIONAL, "Time"),
        ("deletionTimestamp", 9, _MESSAGE, _OPTIONAL, "Time"),
        ("labels", 11, _MESSAGE, _REPEATED, "ObjectMeta.LabelsEntry"),
        ("annotations", 12, _MESSAGE, _REPEATED, "ObjectMeta.AnnotationsEntry"),
    ],
    "ContainerPort": [("name", 1, _STRING, _OPTIONAL, ""), ("containerPort", 3, _INT32, _OPTIONAL, "")],
    "Container": [("ports", 6, _MESSAGE, _REPEATED, "ContainerPort")],
    "PodSpec": [("containers", 2, _MESSAGE, _REPEATED, "Container")],
    "PodCondition": [("type", 1, _STRING, _OPTIONAL, ""), ("status", 2, _STRING, _OPTIONAL, "")],
    "PodStatus": [
        ("phase", 1, _STRING, _OPTIONAL, ""),
        ("conditions", 2, _MESSAGE, _REPEATED, "PodCondition"),
        ("podIP", 6, _STRING, _OPTIONAL, ""),
    ],
    "Pod": [
        ("metadata", 1, _MESSAGE, _OPTIONAL, "ObjectMeta"),
        ("spec", 2, _MESSAGE, _OPTIONAL, "PodSpec"),
        ("status", 3, _MESSAGE, _OPTIONAL, "PodStatus"),
    ],
    "PodList": [("metadata", 1, _MESSAGE, _OPTIONAL, "ListMeta"), ("items", 2, _MESSAGE, _REPEATED, "Pod")],
}
_MAPS = {"ObjectMeta": ("LabelsEntry", "AnnotationsEntry")}  # map<string, string>


def _file() -> descriptor_pb2.FileDescriptorProto:
    proto = descriptor_pb2.FileDescriptorProto(name="kube2zk/k8s.proto", package=_PACKAGE, syntax="proto2")
    for name, fields in _SCHEMA.items():
        message = proto.message_type.add(name=name)
        for field, number, kind, label, type_name in fields:
            added = message.field.add(name=field, number=number, type=kind, label=label)
            if type_name:
                added.type_name = f".{_PACKAGE}.{type_name}"
        for entry in _MAPS.get(name, ()):
            nested = message.nested_type.add(name=entry)
            nested.field.add(name="key", number=1, type=_STRING, label=_OPTIONAL)
            nested.field.add(name="value", number=2, type=_STRING, label=_OPTIONAL)
            nested.options.map_entry = True
    return proto


_POOL = descriptor_pool.DescriptorPool()
_POOL.Add(_file())
_Unknown, _Status, _PodList = (
    message_factory.GetMessageClass(_POOL.FindMessageTypeByName(f"{_PACKAGE}.{name}"))
    for name in ("Unknown", "Status", "PodList")
)


def _unwrap(body: bytes) -> bytes:
    if not body.startswith(MAGIC):
        raise ValueError("not a Kubernetes protobuf body (no k8s\\0 prefix)")
    try:
        return bytes(_Unknown.FromString(body[len(MAGIC) :]).raw)
    except DecodeError as exc:
        raise ValueError(f"malformed protobuf envelope: {exc}") from exc


def decode_page(body: bytes) -> tuple[list[PodInfo], str, str | None]:
    """(pods, the list's resourceVersion, its continue token or None)."""
    try:
        page = _PodList.FromString(_unwrap(body))
    except DecodeError as exc:
        raise ValueError(f"malformed protobuf pod list: {exc}") from exc
    meta = page.metadata
    return [_pod_info(pod) for pod in page.items], meta.resourceVersion, getattr(meta, "continue") or None


def status_fields(body: bytes) -> dict[str, str]:
    """The message and reason of an error answer (a Status) in protobuf, as
    its JSON would name them; empty when the body is not one."""
    try:
        status = _Status.FromString(_unwrap(body))
    except (ValueError, DecodeError):
        return {}
    return {"kind": "Status", "message": status.message, "reason": status.reason}


@functools.lru_cache(maxsize=4096)
def _rfc3339(seconds: int) -> str:
    """metav1.Time as its JSON text: whole seconds, UTC. A zero time is an
    empty message (JSON: null), read as not set. Pods created together share
    their second, hence the cache."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds)) if seconds else ""


def _pod_info(pod: Any) -> PodInfo:
    meta, status = pod.metadata, pod.status
    ready = False
    for condition in status.conditions:
        if condition.type == "Ready" and condition.status == "True":
            ready = True
            break
    ports: tuple[tuple[str, int], ...] = ()
    for container in pod.spec.containers:
        if container.ports:
            ports += tuple((p.name, p.containerPort) for p in container.ports if p.name and p.HasField("containerPort"))
    return PodInfo(
        namespace=meta.namespace,
        name=meta.name,
        phase=status.phase or None,  # Go writes empty strings; JSON omits them
        ready=ready,
        deleting=meta.HasField("deletionTimestamp"),
        pod_ip=status.podIP or None,
        annotation=meta.annotations.get(ANNOTATION),
        has_label=meta.labels.get(LABEL) == LABEL_VALUE,
        uid=meta.uid,
        created=_rfc3339(meta.creationTimestamp.seconds),
        ports=ports,
    )
