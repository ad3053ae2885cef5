"""Reading ZooKeeper within bounds: the waits, the retries and the
windowed node reads that the registry's parts share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError
from kazoo.interfaces import IAsyncResult
from kazoo.retry import KazooRetry, RetryFailedError

from lib.model import NodeState, Paths
from lib.zk import calls
from lib.zk.errors import RegistryTimeout

T = TypeVar("T")

READ_WINDOW = 2000  # node reads in flight at once


class Reader:
    """Every wait is bounded by the ZooKeeper timeout, and reads, being
    idempotent, are retried across a connection loss within it."""

    def __init__(self, zk: KazooClient, paths: Paths, *, timeout: float):
        self.zk = zk
        self.paths = paths
        self.owner_id = paths.owner_id
        self.timeout = timeout
        self._retry = KazooRetry(max_tries=-1, max_delay=2.0, deadline=timeout, ignore_expire=False)

    def _wait(self, pending: IAsyncResult) -> Any:
        return calls.result(pending, self.timeout)

    def _retried(self, read: Callable[[], T]) -> T:
        try:
            return self._retry.copy()(read)
        except RetryFailedError:
            raise RegistryTimeout(f"ZooKeeper did not come back within {self.timeout:g}s") from None

    # -- reading -----------------------------------------------------------
    def _children(self, path: str) -> list[str]:
        try:
            return self._wait(self.zk.get_children_async(path))
        except NoNodeError:
            return []

    def children(self, path: str) -> list[str]:
        """The names under ``path`` (none when it does not exist)."""
        return self._retried(lambda: self._children(path))

    def _collect(self, paths: list[str]) -> dict[str, NodeState]:
        """Keep many reads in flight (one round trip per node would dominate
        a sync of thousands), but not all at once: tens of thousands of
        pending answers would hold their memory together."""
        nodes: dict[str, NodeState] = {}
        for start in range(0, len(paths), READ_WINDOW):
            window = paths[start : start + READ_WINDOW]
            for path, reply in [(path, self.zk.get_async(path)) for path in window]:
                try:
                    data, stat = self._wait(reply)
                except NoNodeError:  # deleted since it was listed
                    continue
                nodes[path] = NodeState(data or b"", stat.version, stat.czxid, stat.numChildren)
        return nodes
