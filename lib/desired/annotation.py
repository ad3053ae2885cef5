"""Parsing of the ``rpc-service`` pod annotation.

Every problem is returned, never raised: one team's broken annotation must not
cost any other service its registration.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from lib.desired.names import node_name_error
from lib.model import ServiceDecl

ANNOTATION = "rpc-service"
LABEL = "rpc-service"
LABEL_VALUE = "true"

# Kubernetes caps all annotations of an object at 256 KiB together; anything
# larger did not come from the API server.
MAX_ANNOTATION_BYTES = 256 * 1024


@functools.lru_cache(maxsize=4096)
def parse_annotation(text: str | None) -> tuple[tuple[ServiceDecl, ...], tuple[str, ...]]:
    """Return the valid declarations and one reason per rejected part.

    Entries are independent: a bad entry is dropped, its siblings are kept.
    A name declared twice in one pod counts once. Cached: the replicas of a
    Deployment share one annotation text, and the loop re-folds its pod cache
    on every change.
    """
    decls, errors = _parse(text)
    return tuple(decls), tuple(errors)


def _parse(text: str | None) -> tuple[list[ServiceDecl], list[str]]:
    if text is None:
        return [], [f"label {LABEL}={LABEL_VALUE} is set but annotation {ANNOTATION!r} is missing"]
    if len(text.encode("utf-8", "surrogatepass")) > MAX_ANNOTATION_BYTES:
        return [], [f"annotation {ANNOTATION!r} is larger than {MAX_ANNOTATION_BYTES} bytes"]
    # A byte-order mark is an editor's artefact, not content.
    stripped = text.lstrip("\ufeff").strip()
    if not stripped:
        return [], [f"annotation {ANNOTATION!r} is empty"]
    try:
        data, members = _load(stripped)
    except (ValueError, RecursionError) as exc:
        return [], [f"annotation {ANNOTATION!r} is not valid JSON: {exc}"]
    if not isinstance(data, list):
        return [], [
            f"annotation {ANNOTATION!r} must be a JSON list of "
            f'{{"serviceName": ..., "version": ...}}, got {type(data).__name__}'
        ]
    decls: list[ServiceDecl] = []
    errors: list[str] = []
    seen: set[str] = set()
    for index, entry in enumerate(data):
        decl, error = _parse_entry(entry, members)
        if error:
            errors.append(f"entry {index}: {error}")
        elif decl is not None and decl.name not in seen:
            seen.add(decl.name)
            decls.append(decl)
    return decls, errors


def _reject_constant(name: str) -> Any:
    """NaN and Infinity are not JSON; Go's decoder (the original's) rejects them."""
    raise ValueError(f"{name} is not valid JSON")


_Members = dict[int, tuple[dict[str, Any], list[tuple[str, Any]]]]


def _load(text: str) -> tuple[Any, _Members]:
    """The decoded JSON, and the members in text order of every object with a
    key of a field, by the object's id.

    A dict keeps one value per key at the first key's place; the original
    saw every member in turn, so which key wins depends on the order and the
    duplicates that only the text still has. Each object is kept with its
    members: one dropped as a duplicate's value would otherwise be freed and
    its id reused by a later object.
    """
    members: _Members = {}

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if any(go_field(key, _FIELDS) is not None for key, _ in pairs):
            members[id(obj)] = (obj, pairs)
        return obj

    data = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=hook)
    return data, members


# Go folds a rune to the smallest of its simple case folding orbit; the only
# non-ASCII runes whose orbit holds an ASCII letter are these two.
_GO_FOLD = str.maketrans({**{chr(c): chr(c - 32) for c in range(ord("a"), ord("z") + 1)}, "\u212a": "K", "\u017f": "S"})


@functools.lru_cache(maxsize=1024)
def go_field(key: str, fields: tuple[str, ...]) -> str | None:
    """The field among ``fields`` that Go's encoding/json sets for ``key``.

    Go prefers a field whose name is exactly the key, else accepts the first
    one whose name is equal under simple Unicode case folding; the original
    declared its fields that way, so a key the original accepted must count
    here too. The folding is exact only for ASCII field names, which all of
    the annotation's are.
    """
    if key in fields:
        return key
    folded = key.translate(_GO_FOLD)
    return next((name for name in fields if name.translate(_GO_FOLD) == folded), None)


_FIELDS = ("serviceName", "version")


def _parse_entry(entry: Any, members: _Members) -> tuple[ServiceDecl | None, str | None]:
    """Every member whose key matches a field sets it in turn, as in Go, so
    the last one wins; but a null leaves a string field as it was (Go ignores
    null for strings) and a non-string name spoils the entry (Go's decoder
    reports it even when a later key sets a string)."""
    if not isinstance(entry, dict):
        return None, f"must be a JSON object, got {type(entry).__name__}"
    names: list[Any] = []
    version: Any = None
    extra: dict[str, Any] = {}
    _, pairs = members.get(id(entry), (entry, entry.items()))
    for key, value in pairs:
        field = go_field(key, _FIELDS)
        if field == "serviceName":
            names.append(value)
        elif field == "version":
            version = value
        else:
            extra[key] = value
    wrong = [value for value in names if value is not None and not isinstance(value, str)]
    if wrong:
        return None, f"serviceName must be a string, got {type(wrong[0]).__name__}"
    name = next((value for value in reversed(names) if value is not None), None)
    if name is None:
        return None, "has no serviceName"
    error = node_name_error(name)
    if error:
        return None, error
    if version is not None and not isinstance(version, str):
        version = json.dumps(version)
    return ServiceDecl(name=name, version=version, extra=extra), None
