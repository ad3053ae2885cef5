"""One writer per owner: a kazoo Lock under the owner's record folder.

Loop replicas and CronJob runs of one installation take the same lock, so
their writes never interleave. The lock is an ephemeral sequential node: when
the holder's session ends (a crash, kill -9, a partition longer than the
session timeout) ZooKeeper removes it and the next contender takes over.

Waiting for the lock must tell two things apart: another run holding it (a
one-shot run gives up after -lock-timeout, exit 5) and ZooKeeper failing
(exit 4 once it has failed for -zk-timeout). kazoo's Lock recipe reports both
as a plain "not acquired", so it is called in short slices and the connection
state decides between slices; its own calls are bounded by ``lib.zk.calls``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import KazooException, LockTimeout, NoAuthError, NoNodeError
from kazoo.recipe.lock import Lock

from lib.zk.calls import result
from lib.zk.errors import RegistryError, RegistrySetupError, RegistryTimeout

log = logging.getLogger(__name__)

# Longest single wait inside kazoo's Lock, and between looks at ``stop``.
SLICE = 1.0


class Leadership:
    """The writer lock of one owner on one client.

    ``timeout`` is -zk-timeout: how long ZooKeeper may fail before a run
    waiting for the lock gives up, and the bound of ``release``.
    """

    def __init__(self, zk: KazooClient, path: str, timeout: float):
        self.zk = zk
        self.path = path
        self.timeout = timeout
        self.identifier = f"{socket.gethostname()}:{os.getpid()}"
        self.lock: Lock | None = None
        self.lost = threading.Event()  # session ended: the lock is gone
        self.reconnected = threading.Event()  # connection came back: resync
        self._connected = threading.Event()
        self._down_since: float | None = None
        # While waiting for the lock: when ZooKeeper began failing our
        # attempts (None: its last answer was fine), and how.
        self._failing_since: float | None = None
        self._failure = ""
        if zk.connected:
            self._connected.set()
        else:
            self._down_since = time.monotonic()
        zk.add_listener(self._on_state)

    def _on_state(self, state: KazooState) -> None:
        # Runs on kazoo's thread: only flip flags.
        if state == KazooState.CONNECTED:
            self._down_since = None
            self._connected.set()
            self.reconnected.set()
            return
        if self._down_since is None:
            self._down_since = time.monotonic()
        self._connected.clear()
        if state == KazooState.LOST:
            self.lost.set()

    @property
    def fence(self) -> str | None:
        """Path of our lock node, checked by every write transaction."""
        if self.lock is None or self.lock.node is None:
            return None
        return f"{self.path}/{self.lock.node}"

    def acquire(
        self, stop: threading.Event, timeout: float | None = None, on_wait: Callable[[], None] | None = None
    ) -> bool:
        """Block until we hold the lock (True), or ``stop`` is set, or another
        holder kept it for ``timeout`` seconds (False).

        False never stands for a ZooKeeper failure. With a ``timeout`` (a
        one-shot run) ZooKeeper failing or unreachable for longer than the
        ZooKeeper timeout raises RegistryTimeout; without one (``--loop``) an
        outage is waited out. A credential that may not create the lock node
        raises RegistrySetupError either way. ``on_wait`` is called at least
        once a second while waiting.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        # One Lock for the whole wait: after a lost answer to its create it
        # finds its own node again by its unique prefix instead of queueing
        # behind it.
        self.lock = lock = Lock(self.zk, self.path, self.identifier)
        self._failing_since, self._failure = None, ""
        logged = False
        while not stop.is_set():
            if not self._connected.is_set():
                self._await_connection(stop, deadline is not None, on_wait)
                continue
            started = time.monotonic()
            held = self._attempt(lock, SLICE if deadline is None else max(0.0, min(SLICE, deadline - started)))
            if held:
                self.lost.clear()
                log.info("holding the writer lock %s as %s", self.path, self.identifier)
                return True
            if held is False:
                self._failing_since = None
                if not logged:
                    log.info("waiting for the writer lock %s (held by %s)", self.path, self._holders() or "?")
                    logged = True
            else:
                if self._failing_since is None:
                    self._failing_since = started
                    log.warning("taking the writer lock %s: %s; retrying", self.path, self._failure)
                if deadline is not None:
                    self._give_up_after(self._failing_since)
                stop.wait(0.2)  # no busy loop while kazoo reconnects
            if on_wait is not None:
                on_wait()
            if deadline is not None and time.monotonic() >= deadline:
                if self._failing_since is not None:
                    raise RegistryTimeout(f"ZooKeeper failed while waiting for the writer lock {self.path}")
                return False
        return False

    def _attempt(self, lock: Lock, wait: float) -> bool | None:
        """One slice of kazoo's Lock: True held, False held by another
        (ZooKeeper answered), None ZooKeeper failed (``_failure`` says how)."""
        try:
            if lock.acquire(blocking=True, timeout=wait):
                return True
            self._failure = "connection lost"  # kazoo's retries of a connection loss ran out of time
            return None
        except LockTimeout:
            return False
        except NoAuthError:
            raise RegistrySetupError(
                f"not allowed to create the writer lock under {self.path}: the ZooKeeper credential lacks "
                "permission on --owner-root (created by another credential?)"
            ) from None
        except KazooException as exc:
            self._failure = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            return None

    def _await_connection(self, stop: threading.Event, bounded: bool, on_wait: Callable[[], None] | None) -> None:
        """Wait for kazoo to reconnect, stop-aware; when ``bounded``, raise
        once ZooKeeper has been gone for the ZooKeeper timeout."""
        while not self._connected.is_set() and not stop.is_set():
            if bounded:
                starts = [t for t in (self._down_since, self._failing_since) if t is not None]
                self._give_up_after(min(starts, default=time.monotonic()))
            self._connected.wait(0.5)
            if on_wait is not None:
                on_wait()

    def _give_up_after(self, since: float) -> None:
        if time.monotonic() - since < self.timeout:
            return
        cause = f" (last error: {self._failure})" if self._failing_since is not None and self._failure else ""
        raise RegistryTimeout(
            f"ZooKeeper unreachable or failing for more than {self.timeout:g}s while waiting for the writer lock "
            f"{self.path}{cause}"
        )

    def _holders(self) -> str:
        try:
            return ", ".join(str(c) for c in self.lock.contenders()) if self.lock else ""
        except KazooException:
            return ""

    def release(self) -> None:
        """Delete our lock node, waiting at most the ZooKeeper timeout.

        Without a connection nothing is sent: the end of the session (our
        close, or its expiry) removes the ephemeral node all the same.
        """
        lock, self.lock = self.lock, None
        if lock is None or not lock.is_acquired or lock.node is None:
            return
        lock.is_acquired = False
        if not self.zk.connected:
            log.debug("not connected: the writer lock goes with the session")
            return
        try:
            result(self.zk.delete_async(f"{self.path}/{lock.node}"), self.timeout)
        except NoNodeError:
            pass
        except (KazooException, RegistryError) as exc:
            log.debug("releasing the writer lock: %s", str(exc) or type(exc).__name__)
