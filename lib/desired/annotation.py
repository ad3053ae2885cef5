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
        data: Any = json.loads(stripped, parse_constant=_reject_constant)
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
        decl, error = _parse_entry(entry)
        if error:
            errors.append(f"entry {index}: {error}")
        elif decl is not None and decl.name not in seen:
            seen.add(decl.name)
            decls.append(decl)
    return decls, errors


def _reject_constant(name: str) -> Any:
    """NaN and Infinity are not JSON; Go's decoder (the original's) rejects them."""
    raise ValueError(f"{name} is not valid JSON")


def _parse_entry(entry: Any) -> tuple[ServiceDecl | None, str | None]:
    if not isinstance(entry, dict):
        return None, f"must be a JSON object, got {type(entry).__name__}"
    name = entry.get("serviceName")
    if not isinstance(name, str):
        if name is None:
            return None, "has no serviceName"
        return None, f"serviceName must be a string, got {type(name).__name__}"
    error = node_name_error(name)
    if error:
        return None, error
    version = entry.get("version")
    if version is not None and not isinstance(version, str):
        version = json.dumps(version)
    extra = {k: v for k, v in entry.items() if k not in ("serviceName", "version")}
    return ServiceDecl(name=name, version=version, extra=extra), None
