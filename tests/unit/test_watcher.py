"""The watch thread of --loop (lib/daemon/watcher.py): whatever ends it asks
for a re-list, so changes are never silently missed until the next full sync."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator

from lib.daemon.watcher import RELIST, Watcher, collect
from lib.kube.pods import Gone, PodEvent, SourceError
from lib.model import PodInfo

POD = PodInfo("ns", "p", "Running", True, False, "10.0.0.1", "[]")


class Source:
    def __init__(self, *outcomes: object):
        self.outcomes = list(outcomes)

    def watch(self, version: str, timeout: int) -> Iterator[PodEvent]:
        outcome = self.outcomes.pop(0) if self.outcomes else Gone("done")
        if isinstance(outcome, BaseException):
            raise outcome
        yield from outcome  # type: ignore[misc]


def run(source: Source) -> list[object]:
    out: queue.Queue = queue.Queue()
    reasons: list[str] = []
    watcher = Watcher(source, "1", out, 1, reasons.append)  # type: ignore[arg-type]
    watcher.cancelled.wait(0)
    watcher.run()  # in this thread: it returns when the stream ends
    items = []
    while not out.empty():
        items.append(out.get())
    return [*items, reasons]


def test_an_unexpected_error_in_the_watch_asks_for_a_relist():
    *items, reasons = run(Source([PodEvent("ADDED", POD, "2")], RuntimeError("a bug")))
    assert [type(i).__name__ if i != RELIST else RELIST for i in items] == ["PodEvent", RELIST]
    assert reasons == ["error"]


def test_gone_asks_for_a_relist():
    *items, reasons = run(Source(Gone("expired")))
    assert items == [RELIST] and reasons == ["gone"]


def test_persistent_errors_ask_for_a_relist_after_three_attempts():
    *items, reasons = run(Source(SourceError("a"), SourceError("b"), SourceError("c")))
    assert items == [RELIST] and reasons == ["error", "error", "error"]


def test_a_cancelled_watcher_leaves_no_relist_behind():
    out: queue.Queue = queue.Queue()
    watcher = Watcher(Source(RuntimeError("late")), "1", out, 1)  # type: ignore[arg-type]
    watcher.cancelled.set()
    watcher.run()
    assert out.empty()


def test_collect_takes_what_arrives_within_the_window():
    q: queue.Queue = queue.Queue()
    for i in range(3):
        q.put(i)
    assert collect(q, timeout=0.1, window=0.01) == [0, 1, 2]
    assert collect(q, timeout=0.01, window=0.01) == []


def test_a_lone_item_is_taken_at_once_without_waiting_for_the_window():
    q: queue.Queue = queue.Queue()
    threading.Timer(0.05, q.put, args=("late",)).start()
    q.put("alone")
    started = time.monotonic()
    assert collect(q, timeout=0.1, window=1.0) == ["alone"]
    assert time.monotonic() - started < 0.5  # the window (1 s) was not waited for
    assert collect(q, timeout=1.0, window=0.01) == ["late"]


def test_items_queued_together_wait_for_more_within_the_window():
    q: queue.Queue = queue.Queue()
    q.put(0)
    q.put(1)
    threading.Timer(0.05, q.put, args=(2,)).start()
    assert collect(q, timeout=0.1, window=0.3) == [0, 1, 2]
