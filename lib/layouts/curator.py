"""The Curator layout: Apache Curator x-discovery instances, which Spring
Cloud Zookeeper (and any Curator ``ServiceDiscovery``) reads.

One node per serving pod per service, ``<base>/<service>/<id>``, the node
name being the instance id, holding exactly the nine keys Curator's
``JsonInstanceSerializer`` writes in compatible mode, in its order (readers of
Curator 2.x/3.x fail on any other key):

    {"name":"orders","id":"orders-7f9c.shop","address":"10.244.1.7","port":8080,
     "sslPort":null,"payload":{"@class":"org.springframework.cloud.zookeeper.discovery.ZookeeperInstance",
     "id":"orders-7f9c.shop","name":"orders","metadata":{"instance_status":"UP"}},
     "registrationTimeUTC":1764450000000,"serviceType":"STATIC","uriSpec":{"parts":[...]}}

``serviceType`` is ``STATIC``: kube2zk registers on behalf of the pods, with
persistent nodes it removes itself (Curator's own ``DYNAMIC`` means an
ephemeral node of the registering process). ``registrationTimeUTC`` is the
pod's creation time, so an unchanged pod is never rewritten. A Curator query
fails for the whole service if one child does not parse, so an entry that
cannot be rendered (no port) is refused, naming the pod, and never written.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Mapping
from typing import Any

from lib.model import DesiredState, PodInfo, Problem, ServiceDecl

SPRING_PAYLOAD = "org.springframework.cloud.zookeeper.discovery.ZookeeperInstance"
SERVICE_TYPE = "STATIC"


def uri_spec(port_field: str) -> dict[str, Any]:
    """``{scheme}://{address}:{port}`` parsed as Curator's UriSpec stores it.
    An instance with an ``sslPort`` names ``{ssl-port}``: Curator's scheme is
    then ``https``, and ``https`` on the plain port would be wrong."""
    return {
        "parts": [
            {"value": "scheme", "variable": True},
            {"value": "://", "variable": False},
            {"value": "address", "variable": True},
            {"value": ":", "variable": False},
            {"value": port_field, "variable": True},
        ]
    }


def instance_id(pod: PodInfo, owner: str = "default") -> str:
    """Stable per pod, unique across namespaces (a namespace has no dot) and
    across installations: two clusters may well run a pod of the same name
    (a StatefulSet's ``web-0``) in the same namespace."""
    return f"{pod.name}.{pod.namespace}" if owner == "default" else f"{pod.name}.{pod.namespace}.{owner}"


def creation_millis(pod: PodInfo) -> int:
    try:
        created = datetime.datetime.fromisoformat(pod.created)
    except ValueError:
        return 0
    return int(created.timestamp() * 1000)


def port_of(value: Any, pod: PodInfo, field: str) -> int:
    """A port number, or a named container port of the pod."""
    if isinstance(value, str) and not value.isdigit():
        named = dict(pod.ports)
        if value not in named:
            raise ValueError(f"{field} {value!r} names no container port of the pod")
        return named[value]
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{field} must be a port number or a container port name")
    number = int(value)
    if not 0 < number < 65536:
        raise ValueError(f"{field} {number} is out of 1-65535")
    return number


def _metadata(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ValueError("metadata must be an object of strings")
    return dict(value)


class CuratorLayout:
    name = "curator"
    per_directory = True
    shared = False  # each owner writes nodes of its own

    def __init__(self, base: str, payload_class: str | None = SPRING_PAYLOAD, owner: str = "default"):
        self.base = base
        self.payload_class = payload_class
        self.owner = owner

    def directories(self, state: DesiredState) -> set[str]:
        return {f"{self.base}/{name}" for name in state.endpoints}

    def roots(self) -> list[str]:
        return [self.base]

    def scope(self, services: Iterable[str]) -> tuple[set[str], set[str]]:
        """(node paths, directories) an incremental sync of ``services`` covers."""
        return set(), {f"{self.base}/{name}" for name in services}

    def service_of(self, path: str) -> str:
        return path[len(self.base) + 1 :].split("/", 1)[0]

    def owns(self, path: str) -> bool:
        return path.startswith(self.base + "/") and path.count("/") == self.base.count("/") + 2

    def nodes(self, state: DesiredState) -> tuple[dict[str, bytes], list[Problem]]:
        nodes: dict[str, bytes] = {}
        problems: list[Problem] = []
        for name, endpoints in state.endpoints.items():
            for pod, decl in endpoints:
                try:
                    data = self.render(name, pod, decl)
                except ValueError as exc:
                    problems.append(Problem(pod.key, f"service {name!r} (curator layout): {exc}", pod))
                    continue
                nodes[f"{self.base}/{name}/{instance_id(pod, self.owner)}"] = data
        return nodes, problems

    def render(self, name: str, pod: PodInfo, decl: ServiceDecl) -> bytes:
        extra = decl.extra
        if "port" not in extra:
            raise ValueError('no "port" (a Curator instance needs one)')
        port = port_of(extra["port"], pod, "port")
        ssl_port = None if extra.get("sslPort") is None else port_of(extra["sslPort"], pod, "sslPort")
        metadata = _metadata(extra.get("metadata"))
        metadata.setdefault("instance_status", "UP")
        ident = instance_id(pod, self.owner)
        payload = None
        if self.payload_class:
            payload = {"@class": self.payload_class, "id": ident, "name": name, "metadata": metadata}
        doc = {
            "name": name,
            "id": ident,
            "address": pod.pod_ip,
            "port": port,
            "sslPort": ssl_port,
            "payload": payload,
            "registrationTimeUTC": creation_millis(pod),
            "serviceType": SERVICE_TYPE,
            "uriSpec": uri_spec("port" if ssl_port is None else "ssl-port"),
        }
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    def merge(self, new: bytes, old: bytes | None) -> bytes:
        return new

    @staticmethod
    def servers(data: bytes | None) -> list[str] | None:
        doc = _object(data)
        if doc is None or "address" not in doc:
            return None
        return [f"{doc['address']}:{doc.get('port')}"]

    @staticmethod
    def unreadable(data: bytes | None) -> str | None:
        """Why a Curator reader would fail on this child, or None."""
        doc = _object(data)
        if doc is None:
            return "not a JSON object"
        payload = doc.get("payload")
        if payload is not None and not (isinstance(payload, dict) and isinstance(payload.get("@class"), str)):
            return 'its payload has no "@class"'
        return None


def _object(data: bytes | None) -> Mapping[str, Any] | None:
    try:
        doc = json.loads(data or b"")
    except (ValueError, RecursionError):
        return None
    return doc if isinstance(doc, dict) else None
