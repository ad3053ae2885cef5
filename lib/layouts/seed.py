"""The seed layout: one node per service, ``<zkpath>/<service>``, holding
``{"config":[...],"servers":[...]}`` byte-for-byte as the original daemon
wrote it.

Consumers (nginx upstream syncers and the like) parse this exact shape, so the
key order, the compact separators and Go's ``encoding/json`` escaping matter.
Like the original, an update replaces only ``servers``: the ``config`` lines
of an existing node are the operators' to tune in ZooKeeper.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import Iterable, Sequence

from lib.model import DesiredState, Paths, Problem
from lib.settings.groups import DEFAULT_CONFIG

__all__ = ["DEFAULT_CONFIG", "SeedLayout", "decode_config", "decode_servers", "encode_node", "sorted_servers"]


_FAMILIES = ((4, socket.AF_INET), (6, socket.AF_INET6))

# Go's json.Marshal escapes these for HTML safety; match it.
_GO_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def ip_sort_key(ip: str) -> tuple[int, int, str]:
    """Numeric order, IPv4 before IPv6; anything unparsable last, by text.

    ``inet_pton`` reads the plain forms of a pod IP at a tenth of the cost
    of ``ipaddress`` (every server of every node is sorted on each full
    sync); what it refuses, ``ipaddress`` decides, so the order is the same."""
    for version, family in _FAMILIES:
        try:
            return (version, int.from_bytes(socket.inet_pton(family, ip), "big"), ip)
        except (OSError, ValueError):
            continue
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return (9, 0, ip)
    return (addr.version, int(addr), ip)


def sorted_servers(ips: Iterable[str]) -> list[str]:
    return sorted(set(ips), key=ip_sort_key)


def encode_node(config: Sequence[str], servers: Iterable[str]) -> bytes:
    """``{"config":[...],"servers":[...]}`` with servers de-duplicated and sorted."""
    text = json.dumps(
        {"config": list(config), "servers": sorted_servers(servers)},
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return text.translate(_GO_ESCAPES).encode("utf-8")


def _field(data: bytes | None, key: str) -> list[str] | None:
    """A list field of a node's data, or None when the data is not a JSON object."""
    if not data:
        return None
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        return None
    value = doc.get(key) if isinstance(doc, dict) else None
    return value if isinstance(value, list) else None


def decode_servers(data: bytes | None) -> list[str] | None:
    """The server list of a node's data, or None when it is not in our shape."""
    servers = _field(data, "servers")
    return None if servers is None else [s for s in servers if isinstance(s, str)]


def decode_config(data: bytes | None) -> list[str] | None:
    """The config lines of a node's data, or None unless they are a list of strings."""
    config = _field(data, "config")
    if config is None or not all(isinstance(line, str) for line in config):
        return None
    return config


class SeedLayout:
    """Turns each service's desired servers into the one node it owns."""

    name = "seed"
    per_directory = False
    shared = True  # one node per service, the union of every owner's servers (lib.plan.shares)

    def __init__(self, paths: Paths, config: Sequence[str] = DEFAULT_CONFIG, *, enforce_config: bool = False):
        self.paths = paths
        self.base = paths.zk_path
        self.config = tuple(config)
        self.enforce_config = enforce_config
        # Data that starts like ours has our config lines: no need to parse it.
        self._prefix = encode_node(self.config, [])[: -len(b"[]}")]

    def roots(self) -> list[str]:
        return [self.base]

    def directories(self, state: DesiredState) -> set[str]:
        """The folders whose children this layout writes."""
        return {self.base}

    def path(self, service: str) -> str:
        return self.paths.service(service)

    def scope(self, services: Iterable[str]) -> tuple[set[str], set[str]]:
        """(node paths, directories) an incremental sync of ``services`` covers."""
        return {self.path(name) for name in services}, set()

    def service_of(self, path: str) -> str:
        return path.rsplit("/", 1)[1]

    def owns(self, path: str) -> bool:
        return path.rpartition("/")[0] == self.base

    def nodes(self, state: DesiredState) -> tuple[dict[str, bytes], list[Problem]]:
        """path -> data of every node ``state``'s services need."""
        return {self.path(name): encode_node(self.config, ips) for name, ips in state.services.items()}, []

    def merge(self, new: bytes, old: bytes | None) -> bytes:
        """The data to write over ``old``: its valid config lines stay unless
        the config is enforced."""
        if self.enforce_config or old is None or old.startswith(self._prefix):
            return new
        config = decode_config(old)
        servers = decode_servers(new)
        if config is None or servers is None or config == list(self.config):
            return new
        return encode_node(config, servers)

    def contributions(self, state: DesiredState) -> dict[str, list[str]]:
        """path -> this owner's servers of each service node (see lib.plan.shares)."""
        return {self.path(name): sorted(ips) for name, ips in state.services.items()}

    def combine(self, servers: list[str], old: bytes | None) -> bytes:
        """The node listing ``servers`` (every owner's), written over ``old``."""
        return self.merge(encode_node(self.config, servers), old)

    @staticmethod
    def servers_of(data: bytes | None) -> list[str]:
        return decode_servers(data) or []

    @staticmethod
    def unreadable(data: bytes | None) -> str | None:
        return None
