"""One writer per owner: a kazoo Lock under the owner's record folder.

Loop replicas and CronJob runs of one installation take the same lock, so
their writes never interleave. The lock is an ephemeral sequential node: when
the holder's session ends (a crash, kill -9, a partition longer than the
session timeout) ZooKeeper removes it and the next contender takes over.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import KazooException, LockTimeout, NoAuthError
from kazoo.recipe.lock import Lock

from lib.zk.errors import RegistrySetupError

log = logging.getLogger(__name__)


def lock_path(owner_root: str, owner_id: str) -> str:
    return f"{owner_root}/owners/{owner_id}/lock"


class Leadership:
    def __init__(self, zk: KazooClient, path: str):
        self.zk = zk
        self.path = path
        self.identifier = f"{socket.gethostname()}:{os.getpid()}"
        self.lock: Lock | None = None
        self.lost = threading.Event()  # session ended: the lock is gone
        self.reconnected = threading.Event()  # connection came back: resync
        zk.add_listener(self._on_state)

    def _on_state(self, state: KazooState) -> None:
        # Runs on kazoo's thread: only flip flags.
        if state == KazooState.LOST:
            self.lost.set()
        elif state == KazooState.CONNECTED:
            self.reconnected.set()

    @property
    def fence(self) -> str | None:
        """Path of our lock node, checked by every write transaction."""
        if self.lock is None or self.lock.node is None:
            return None
        return f"{self.path}/{self.lock.node}"

    def acquire(
        self, stop: threading.Event, timeout: float | None = None, on_wait: Callable[[], None] | None = None
    ) -> bool:
        """Block until we hold the lock (True), ``stop`` is set or ``timeout``
        passes (False). ZooKeeper errors while waiting are retried."""
        deadline = None if timeout is None else time.monotonic() + timeout
        self.lock = Lock(self.zk, self.path, self.identifier)
        logged = False
        while not stop.is_set():
            wait = 1.0 if deadline is None else max(0.0, min(1.0, deadline - time.monotonic()))
            try:
                if self.lock.acquire(blocking=True, timeout=wait):
                    self.lost.clear()
                    log.info("holding the writer lock %s as %s", self.path, self.identifier)
                    return True
            except LockTimeout:
                if not logged:
                    holders = self._holders()
                    log.info("waiting for the writer lock %s (held by %s)", self.path, ", ".join(holders) or "?")
                    logged = True
            except NoAuthError:
                raise RegistrySetupError(
                    f"not allowed to create the writer lock under {self.path}: the ZooKeeper credential lacks "
                    "permission on --owner-root (created by another credential?)"
                ) from None
            except KazooException as exc:
                log.warning("waiting for the writer lock: %s", type(exc).__name__)
                self.lock = Lock(self.zk, self.path, self.identifier)
                time.sleep(min(1.0, wait) if wait else 0.5)
            if on_wait is not None:
                on_wait()
            if deadline is not None and time.monotonic() >= deadline:
                return False
        return False

    def _holders(self) -> list[str]:
        try:
            return [str(c) for c in self.lock.contenders()] if self.lock else []
        except KazooException:
            return []

    def release(self) -> None:
        if self.lock is None:
            return
        try:
            self.lock.release()
        except KazooException as exc:
            log.debug("releasing the writer lock: %s", exc)
        self.lock = None
