"""The content of a service node, byte-for-byte as the original daemon wrote it.

Consumers (nginx upstream syncers and the like) parse this exact shape, so the
key order, the compact separators and Go's ``encoding/json`` escaping matter.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Sequence

DEFAULT_CONFIG: tuple[str, ...] = (
    "zone kg 8M",
    "kg_round_robin broken_tries=2 health_checks=5 max_uri_slots=0",
    "keepalive 32",
)

# ZooKeeper's default jute.maxbuffer is 1 MiB for a whole packet; an oversized
# write makes the server drop the connection, so such data is refused up front.
MAX_NODE_BYTES = 1024 * 1024 - 16 * 1024

# Go's json.Marshal escapes these for HTML safety; match it.
_GO_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def ip_sort_key(ip: str) -> tuple[int, int, str]:
    """Numeric order, IPv4 before IPv6; anything unparsable last, by text."""
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


def decode_servers(data: bytes | None) -> list[str] | None:
    """The server list of a node's data, or None when it is not in our shape."""
    if not data:
        return None
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        return None
    servers = doc.get("servers") if isinstance(doc, dict) else None
    if not isinstance(servers, list):
        return None
    return [s for s in servers if isinstance(s, str)]
