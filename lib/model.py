"""Plain data shared by every stage of a sync; no I/O here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ServiceDecl:
    """One entry of a pod's ``rpc-service`` annotation.

    The seed layout only needs ``name``; ``version`` and any other fields are
    kept because interface-level layouts (Dubbo providers, Curator instances)
    will need them without re-reading the pod.
    """

    name: str
    version: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class PodInfo:
    """The few fields of a pod that a sync needs, cut out of the raw list.

    Keeping only these lets a list of tens of thousands of pods stream page by
    page without holding the API objects.
    """

    namespace: str
    name: str
    phase: str | None
    ready: bool
    deleting: bool
    pod_ip: str | None
    annotation: str | None
    has_label: bool = True
    uid: str = ""

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class Problem:
    """A bad annotation entry: reported and skipped, never fatal for others."""

    pod: str
    reason: str
    source: PodInfo | None = field(default=None, compare=False, repr=False)
    denied: bool = False  # a valid claim the claim policy refused

    def __str__(self) -> str:
        return f"pod {self.pod}: {self.reason}"


@dataclass
class DesiredState:
    """What ZooKeeper should hold, built from one full list of pods."""

    services: dict[str, set[str]] = field(default_factory=dict)
    # Declarations seen per service, for layouts that need more than the IP.
    decls: dict[str, list[tuple[str, ServiceDecl]]] = field(default_factory=dict)
    pods_seen: int = 0
    pods_counted: int = 0
    problems: list[Problem] = field(default_factory=list)
