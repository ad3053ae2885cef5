"""Parsers of single option values: each takes the text of one flag or
variable and returns the typed value or raises ValueError saying what is wrong
with it. The caller prefixes the flag or variable, so messages stay short.

Checks spanning several options live in ``lib.settings.load``.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable

from lib.desired.names import path_error
from lib.settings.groups import DeletionBudget

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"([-+]?)((?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|µs|μs|ms|s|m|h))+|0)")
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(text: str) -> float:
    """Seconds in a Go duration (``1h0m0s``, ``90s``, ``1h30m``, ``1.5s``):
    the original daemon's manifests spell -syncperiod that way."""
    match = _DURATION.fullmatch(text.strip())
    if not match:
        raise ValueError(f"invalid duration {text!r} (Go syntax, e.g. 90s, 1h30m, 1h0m0s)")
    total = sum(float(n) * _UNITS[unit] for n, unit in _DURATION_PART.findall(match.group(2)))
    return -total if match.group(1) == "-" else total


def duration(text: str) -> float:
    value = parse_duration(text)
    if value < 0:
        raise ValueError("must not be negative")
    return value


def positive_duration(text: str) -> float:
    value = parse_duration(text)
    if value <= 0:
        raise ValueError("must be a positive duration")
    return value


_TRUE = {"1", "t", "true", "y", "yes", "on"}
_FALSE = {"0", "f", "false", "n", "no", "off"}


def parse_bool(text: str) -> bool:
    """Go's strconv.ParseBool spellings plus yes/no/on/off, which manifests use."""
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"invalid boolean {text!r} (true or false)")


def positive_int(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise ValueError("must be a positive integer")
    return int(text)


def optional(text: str) -> str | None:
    """An empty value means "not given" (e.g. -kubeconfig: the default lookup)."""
    return text or None


def choice(*allowed: str) -> Callable[[str], str]:
    def check(text: str) -> str:
        if text not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return text

    return check


_HOSTNAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?")


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _port(text: str, low: int) -> int | None:
    if not (text.isascii() and text.isdigit()) or not low <= int(text) < 65536:
        return None
    return int(text)


def validate_zk_servers(text: str) -> str:
    """``host[:port][,host[:port]...][/chroot]``, as kazoo and the Go client
    take it; kazoo raises on a list it cannot parse, mid-run instead of at once."""
    servers, _, chroot = text.strip().partition("/")
    if not servers:
        raise ValueError("empty server list (expected host:port[,host:port...])")
    for entry in servers.split(","):
        entry = entry.strip()
        if not entry:
            raise ValueError(f"empty entry in server list {text!r}")
        if entry.startswith("["):
            inner, closed, tail = entry[1:].partition("]")
            if not closed or not _is_ipv6(inner):
                raise ValueError(f"malformed IPv6 host in {entry!r}")
            if tail and not tail.startswith(":"):
                raise ValueError(f"malformed host:port {entry!r}")
            port = tail[1:] if tail else "2181"
        else:
            host, _, port = entry.rpartition(":") if ":" in entry else (entry, "", "2181")
            if not _HOSTNAME.fullmatch(host):
                raise ValueError(f"malformed host in {entry!r}")
        if _port(port, 1) is None:
            raise ValueError(f"malformed port in {entry!r} (1-65535)")
    if chroot:
        error = path_error("/" + chroot)
        if error:
            raise ValueError(f"chroot /{chroot}: {error}")
    return text.strip()


def parse_listen_address(text: str) -> tuple[str, int | None]:
    """``(host, port)`` of an HTTP endpoint: ``host:port``, ``:port`` (every
    IPv4 address) or ``[ipv6]:port``, the host stored without brackets so it
    can be bound as is; ``("", None)`` for empty or ``off`` (no endpoint).
    The host is checked here because a bad one would only fail once the
    run has started."""
    value = text.strip()
    if value.lower() in ("", "off"):
        return "", None
    host, sep, port_text = value.rpartition(":")
    port = _port(port_text, 0)
    if not sep or port is None:
        raise ValueError(f"malformed listen address {text!r} (host:port, :port or [ipv6]:port)")
    if host.startswith("[") and host.endswith("]"):
        if not _is_ipv6(host[1:-1]):
            raise ValueError(f"malformed IPv6 host in {text!r}")
        return host[1:-1], port
    if ":" in host:
        raise ValueError(f"an IPv6 host needs brackets, e.g. [::]:{port_text}")
    if host and not _HOSTNAME.fullmatch(host):
        raise ValueError(f"malformed host in {text!r}")
    return host, port


def parse_budget(text: str) -> DeletionBudget:
    """``5``, ``10%`` or both, comma-separated (the larger limit applies):
    a count alone is too tight for large installations and a percentage
    alone too loose for small ones."""
    count, fraction = 0, 0.0
    for part in (p.strip() for p in text.split(",")):
        if part.endswith("%"):
            value = float(part[:-1])
            if not 0 <= value <= 100:
                raise ValueError(f"percentage {part!r} out of 0-100%")
            fraction = value / 100
        elif part.isascii() and part.isdigit():
            count = int(part)
        else:
            raise ValueError(f"{part!r} is neither a count nor a percentage (e.g. 5,10%)")
    return DeletionBudget(count, fraction)


def node_config(text: str) -> tuple[str, ...]:
    """A JSON list of strings, each encodable: the lines are written to
    ZooKeeper verbatim, so a lone surrogate must fail here, not mid-write."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError('must be a JSON list of strings, e.g. ["keepalive 32"]')
    for line in value:
        try:
            line.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"line {line!r} is not valid Unicode text") from None
    return tuple(value)


def zk_path(text: str) -> str:
    error = path_error(text)
    if error:
        raise ValueError(error)
    return text


def owner_id(text: str) -> str:
    """One ZooKeeper node name component, kept short and plain because it
    appears in lock paths and ownership records."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}", text):
        raise ValueError("must be 1-63 characters of letters, digits, '.', '_' or '-', starting with a letter or digit")
    return text
