"""Layouts: how a service's desired endpoints become the ZooKeeper nodes a
kind of consumer reads. Every layout offers the same methods (see
``Layout``); the planner, the budget and the registry only see node paths and
bytes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from lib.layouts.curator import CuratorLayout
from lib.layouts.dubbo import DubboLayout
from lib.layouts.seed import SeedLayout, decode_servers
from lib.model import DesiredState, Problem


class Layout(Protocol):
    name: str
    base: str
    per_directory: bool  # a folder per service, a node per pod (else a node per service)
    shared: bool  # owners contribute to the same nodes (else each owns its own)

    def roots(self) -> list[str]: ...
    def directories(self, state: DesiredState) -> set[str]: ...
    def scope(self, services: Iterable[str]) -> tuple[set[str], set[str]]: ...
    def service_of(self, path: str) -> str: ...
    def owns(self, path: str) -> bool: ...
    def nodes(self, state: DesiredState) -> tuple[dict[str, bytes], list[Problem]]: ...
    def merge(self, new: bytes, old: bytes | None) -> bytes: ...
    def unreadable(self, data: bytes | None) -> str | None: ...


class Layouts:
    """Several layouts at once, seen as one: their nodes never share a path
    (the settings keep their bases apart)."""

    name = "layouts"

    def __init__(self, layouts: Iterable[Layout]):
        self.layouts = list(layouts)
        self.needs_endpoints = any(layout.per_directory for layout in self.layouts)
        # The layout whose nodes owners share (at most one: the seed's).
        self.shared = next((x for x in self.layouts if isinstance(x, SeedLayout)), None)

    def _of(self, path: str) -> Layout:
        for layout in self.layouts:
            if layout.owns(path):
                return layout
        return self.layouts[0]

    def roots(self) -> list[str]:
        return [root for layout in self.layouts for root in layout.roots()]

    def shared_roots(self) -> list[str]:
        """Folders of nodes that several owners contribute to."""
        return [root for layout in self.layouts if layout.shared for root in layout.roots()]

    def is_shared(self, path: str) -> bool:
        """A node several owners contribute to (else it has one owner)."""
        return self.shared is not None and self.shared.owns(path)

    def folder_roots(self) -> list[str]:
        """Roots under which each service has a folder of its own."""
        return [root for layout in self.layouts if layout.per_directory for root in layout.roots()]

    def directories(self, state: DesiredState) -> set[str]:
        return {d for layout in self.layouts for d in layout.directories(state)}

    def scope(self, services: Iterable[str]) -> tuple[set[str], set[str]]:
        services = list(services)
        paths: set[str] = set()
        folders: set[str] = set()
        for layout in self.layouts:
            p, f = layout.scope(services)
            paths |= p
            folders |= f
        return paths, folders

    def service_of(self, path: str) -> str:
        return self._of(path).service_of(path)

    def per_folder(self, path: str) -> bool:
        return self._of(path).per_directory

    def nodes(self, state: DesiredState) -> tuple[dict[str, bytes], list[Problem]]:
        nodes: dict[str, bytes] = {}
        problems: list[Problem] = []
        for layout in self.layouts:
            n, p = layout.nodes(state)
            nodes.update(n)
            problems += p
        return nodes, problems

    def merge(self, path: str, new: bytes, old: bytes | None) -> bytes:
        return self._of(path).merge(new, old)

    def unreadable(self, path: str, data: bytes | None) -> str | None:
        return self._of(path).unreadable(data)


def endpoints_in(data: bytes | None, path: str = "") -> list[str]:
    """The addresses a node of any layout lists, for people to read."""
    servers = decode_servers(data)
    if servers is None:
        servers = CuratorLayout.servers(data)
    if servers is None and data == b"":
        servers = DubboLayout.provider_of(path)
    return servers or []
