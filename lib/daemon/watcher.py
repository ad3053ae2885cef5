"""The watch side of ``--loop``: a thread that follows pod events from a
resourceVersion and hands them to the main loop through a queue.

Whatever ends the thread (an expired resourceVersion, errors that persist, a
bug) ends it with a ``RELIST`` marker in the queue, so the loop re-lists
instead of silently missing changes until the next full sync.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from lib.kube.pods import Gone, PodEvent, PodSource, SourceError

log = logging.getLogger(__name__)

RELIST = "relist"  # queue marker: the stream cannot resume
MAX_BACKOFF = 10.0

Item = PodEvent | str


class Watcher(threading.Thread):
    def __init__(
        self,
        source: PodSource,
        resource_version: str,
        out: queue.Queue[Item],
        timeout: int,
        on_restart: Callable[[str], None] = lambda reason: None,
    ):
        super().__init__(name="watch", daemon=True)
        self.source, self.version, self.out = source, resource_version, out
        self.timeout = timeout
        self.on_restart = on_restart
        self.cancelled = threading.Event()
        self.last_beat = time.monotonic()

    def run(self) -> None:
        try:
            self._follow()
        except Exception:
            log.exception("the pod watch failed unexpectedly; re-listing")
            self.on_restart("error")
        finally:
            if not self.cancelled.is_set():
                self.out.put(RELIST)

    def _follow(self) -> None:
        failures = 0
        while not self.cancelled.is_set():
            self.last_beat = time.monotonic()
            try:
                for event in self.source.watch(self.version, self.timeout):
                    if self.cancelled.is_set():
                        return
                    self.last_beat = time.monotonic()
                    self.version = event.resource_version or self.version
                    if event.pod is not None:
                        self.out.put(event)
                    failures = 0
            except Gone as exc:
                log.info("%s; re-listing", exc)
                self.on_restart("gone")
                return
            except SourceError as exc:
                failures += 1
                self.on_restart("error")
                log.warning("%s (attempt %d)", exc, failures)
                if failures >= 3:
                    return
                self.cancelled.wait(min(MAX_BACKOFF, 0.5 * 2**failures))


def collect(source: queue.Queue[Item], timeout: float, window: float) -> list[Item]:
    """The next batch: wait up to ``timeout`` for one item and take what is
    queued behind it. A lone item goes at once (one pod's change reaches
    ZooKeeper without waiting); when others were waiting too, the stream is
    busy (a rollout, a scale-up), so take more until it is quiet for one
    ``window`` (or four windows passed)."""
    try:
        batch = [source.get(timeout=timeout)]
    except queue.Empty:
        return []
    while True:
        try:
            batch.append(source.get_nowait())
        except queue.Empty:
            break
    if len(batch) == 1:
        return batch
    deadline = time.monotonic() + 4 * window
    while (left := deadline - time.monotonic()) > 0:
        try:
            batch.append(source.get(timeout=min(window, left)))
        except queue.Empty:
            break
    return batch
