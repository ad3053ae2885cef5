"""When each pending service may be written: bursts are paced, failures back
off per service. Pure (the clock is passed in), so it is unit-tested without
any server.

A burst is many pods changing one service at once (a rolling update, a
scale-up): writing each change would rewrite the node once per pod, so a
service in a burst is written at most once per burst interval, its latest
state each time. The interval stretches by half with each write while the
burst lasts, up to 2.5 times, so a long rollout costs a bounded handful of
writes rather than one per interval. One pod changing often is not a burst:
its changes show at once. A service whose write failed (a node an administrator made read-only,
say) is retried with its own growing delay, so it never drives the others or
a re-list.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

BURST_PODS = 5  # distinct pods changing one service within a second make a burst
BURST_SPAN = 1.0
MAX_STRETCH = 2.5  # a burst's interval grows to at most this many burst intervals
MAX_BACKOFF = 60.0


class Pacer:
    def __init__(self, burst_interval: float, first_backoff: float = 0.5, max_backoff: float = MAX_BACKOFF):
        self.burst_interval = burst_interval
        self.first_backoff = first_backoff
        self.max_backoff = max_backoff
        self.recent: dict[str, deque[tuple[float, str]]] = {}  # service -> (time, pod) of its changes
        self.last_write: dict[str, float] = {}
        self.streak: dict[str, int] = {}  # service -> writes made during its current burst
        self.failures: dict[str, tuple[int, float]] = {}  # service -> (attempts, retry at)

    def changed(self, services: Iterable[str], pod: str, now: float) -> None:
        for name in services:
            self.recent.setdefault(name, deque(maxlen=8 * BURST_PODS)).append((now, pod))

    def _bursting(self, name: str, now: float) -> bool:
        changes = self.recent.get(name, ())
        return len({pod for when, pod in changes if now - when <= BURST_SPAN}) >= BURST_PODS

    def interval(self, name: str) -> float:
        """The pause after ``name``'s last write while it is in a burst."""
        return self.burst_interval * min(1 + 0.5 * self.streak.get(name, 0), MAX_STRETCH)

    def _hot(self, name: str, now: float) -> bool:
        if self.burst_interval <= 0 or now - self.last_write.get(name, -1e18) >= self.interval(name):
            return False
        return self._bursting(name, now)

    def due_at(self, name: str, now: float) -> float:
        """When ``name`` may be written next (``now`` or earlier: at once)."""
        due = now
        if self._hot(name, now):
            due = self.last_write[name] + self.interval(name)
        failed = self.failures.get(name)
        if failed is not None:
            due = max(due, failed[1])
        return due

    def ready(self, pending: Iterable[str], now: float) -> set[str]:
        return {name for name in pending if self.due_at(name, now) <= now}

    def next_due(self, pending: Iterable[str], now: float, default: float) -> float:
        """Seconds until the next pending service falls due, at most ``default``."""
        dues = [self.due_at(name, now) - now for name in pending]
        return max(0.0, min([default, *dues]))

    def written(self, names: Iterable[str], now: float) -> None:
        for name in names:
            if self._bursting(name, now) and name in self.last_write:
                self.streak[name] = self.streak.get(name, 0) + 1
            else:
                self.streak.pop(name, None)
            self.last_write[name] = now
            self.failures.pop(name, None)

    def failed(self, names: Iterable[str], now: float) -> float:
        """Record failed writes; the longest delay given (for the log)."""
        longest = 0.0
        for name in names:
            attempts = self.failures.get(name, (0, 0.0))[0] + 1
            delay = min(self.max_backoff, self.first_backoff * 2 ** (attempts - 1))
            self.failures[name] = (attempts, now + delay)
            longest = max(longest, delay)
        return longest

    def prune(self, now: float) -> None:
        """Forget what can no longer matter, so a long-lived loop stays flat."""
        horizon = max(self.burst_interval * MAX_STRETCH, BURST_SPAN)
        for name in [n for n, when in self.last_write.items() if now - when > horizon]:
            del self.last_write[name]
            self.streak.pop(name, None)
        for name in [n for n, changes in self.recent.items() if not changes or now - changes[-1][0] > horizon]:
            del self.recent[name]
