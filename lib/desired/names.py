"""What a service name may be, so an annotation can only ever name one child
node of the base path.

ZooKeeper rejects node names that are ``.`` or ``..``, that contain ``/`` or
NUL, and the code points listed in its ``PathUtils.validatePath``. ``zookeeper``
is reserved at the root and is refused everywhere to keep things simple.
"""

from __future__ import annotations

import re

MAX_NAME_BYTES = 255

# PathUtils.validatePath: 0x00-0x1f, 0x7f-0x9f, 0xd800-0xf8ff, 0xfff0-0xffff.
# It checks UTF-16 units, so every character beyond U+FFFF (a surrogate pair)
# is refused too.
_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\uf8ff\ufff0-\uffff\U00010000-\U0010ffff/]")


def node_name_error(name: str) -> str | None:
    """Why ``name`` cannot be a single ZooKeeper node name, or None if it can."""
    if not name:
        return "service name is empty"
    if name in (".", ".."):
        return f"service name {name!r} is a relative path component"
    if name == "zookeeper":
        return "service name 'zookeeper' is reserved by ZooKeeper"
    if name != name.strip():
        return f"service name {name!r} has leading or trailing white space"
    bad = _FORBIDDEN.search(name)
    if bad:
        what = "'/'" if bad.group() == "/" else f"character U+{ord(bad.group()):04X}"
        return f"service name {name!r} contains {what}"
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        return f"service name is longer than {MAX_NAME_BYTES} bytes"
    return None


def path_error(path: str) -> str | None:
    """Why ``path`` is not an absolute, normalised ZooKeeper path outside
    ``/zookeeper``, or None."""
    if not path.startswith("/"):
        return "must be an absolute path starting with '/'"
    if path == "/":
        return "must not be the root '/'"
    if path.endswith("/"):
        return "must not end with '/'"
    parts = path[1:].split("/")
    if parts[0] == "zookeeper":
        return "must not be under /zookeeper (reserved by ZooKeeper)"
    for part in parts:
        if not part:
            return "must not contain '//'"
        if part in (".", ".."):
            return "must not contain '.' or '..' components"
        bad = _FORBIDDEN.search(part)
        if bad:
            return f"contains the forbidden character U+{ord(bad.group()):04X}"
    return None


def overlaps(a: str, b: str) -> bool:
    """True when one path is equal to or below the other."""
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")
