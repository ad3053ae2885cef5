"""Every wait on ZooKeeper ends within about -zk-timeout.

kazoo queues the requests made while it reconnects and sends them once a
connection is back; its synchronous calls, its retries and its recipes (the
writer lock) wait for the answer without a time limit. A ZooKeeper that is
down, unreachable or frozen (a stopped process keeps its connections open and
answers nothing) would stall a run forever, and a ``--loop`` stuck in such a
wait cannot honour SIGTERM. Two bounds close that, for kazoo's own code as
much as ours:

- a request already sent is failed with ``ConnectionLoss`` by kazoo's
  heartbeat, which drops a connection silent for 2/3 of the session timeout;
- a request queued while kazoo reconnects is failed with
  ``ZooKeeperUnreachable`` by ``bound_waits`` once ZooKeeper has been
  unreachable for longer than the timeout, as is every request made after
  that until a connection is back.

``result`` bounds one asynchronous call outright, for callers that pipeline.

This relies on kazoo 2.11 internals (pinned in requirements.txt):
``KazooClient._queue`` holds ``(request, async_result)`` pairs and only the
connection thread takes from it, in its send loop, which it enters after
telling the state listeners that the connection is back.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from kazoo.client import KazooClient, KazooState
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.interfaces import IAsyncResult

from lib.zk.errors import RegistryTimeout, ZooKeeperUnreachable

log = logging.getLogger(__name__)

# How often queued requests are failed once ZooKeeper is overdue: a call made
# then fails this fast instead of waiting for a connection.
POLL = 0.2


def result(async_result: IAsyncResult, timeout: float) -> Any:
    """The value of a ``*_async`` call, waiting at most ``timeout`` seconds.

    Raises what the call raised (a kazoo exception), or ``RegistryTimeout``
    when no answer came in time. The request may still reach ZooKeeper later:
    a write that timed out has an unknown outcome, like one cut off by a
    connection loss.
    """
    try:
        return async_result.get(timeout=timeout)
    except KazooTimeoutError:
        raise RegistryTimeout(f"no answer from ZooKeeper within {timeout:g}s") from None


class QueueDeadline:
    """Fails kazoo's queued requests once ZooKeeper is overdue.

    The state listener runs on kazoo's connection thread, and that thread
    sends nothing queued until the listener has returned from the CONNECTED
    change. Draining the queue under the listener's lock therefore never
    races with a send: no request is both failed here and sent.
    """

    def __init__(self, zk: KazooClient, timeout: float):
        self.zk = zk
        self.timeout = timeout
        self._changed = threading.Condition()
        self._down_since: float | None = None if zk.connected else time.monotonic()
        zk.add_listener(self._on_state)
        self._thread = threading.Thread(target=self._run, name="zk-queue-deadline", daemon=True)
        self._thread.start()

    def _on_state(self, state: KazooState) -> None:
        with self._changed:
            if state == KazooState.CONNECTED:
                self._down_since = None
            elif self._down_since is None:
                self._down_since = time.monotonic()
            self._changed.notify_all()

    def _run(self) -> None:
        with self._changed:
            while not self.zk._stopped.is_set():
                if self._down_since is None:
                    # Woken by the next state change, which stop() causes too.
                    self._changed.wait()
                    continue
                overdue = time.monotonic() - self._down_since - self.timeout
                if overdue < 0:
                    self._changed.wait(-overdue)
                    continue
                self._fail_queued(overdue + self.timeout)
                self._changed.wait(POLL)
        self.zk.remove_listener(self._on_state)

    def _fail_queued(self, down_for: float) -> None:
        queue = self.zk._queue
        kept, failed = [], 0
        while True:
            try:
                request, async_result = queue.popleft()
            except IndexError:
                break
            if async_result is None:  # stop()'s close request: not ours to drop
                kept.append((request, async_result))
                continue
            async_result.set_exception(
                ZooKeeperUnreachable(f"ZooKeeper unreachable for {down_for:.1f}s (-zk-timeout {self.timeout:g}s)")
            )
            failed += 1
        queue.extendleft(reversed(kept))
        if failed:
            log.debug("failed %d ZooKeeper requests queued while unreachable for %.1fs", failed, down_for)


def bound_waits(zk: KazooClient, timeout: float) -> QueueDeadline:
    """Install the queue deadline on a client; it ends with the client's stop()."""
    return QueueDeadline(zk, timeout)
