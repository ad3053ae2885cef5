"""The deletion budget: how many owned nodes may go within one window.

A one-shot run is its own window. In ``--loop`` the window slides over
``-syncperiod`` and counts every deletion, of incremental batches and full
syncs alike, so a dependency failing readiness a few pods at a time cannot
delete more than one run could. Held deletions are remembered until a plan
that covers them decides otherwise (the next full sync, the service's pods
coming back, or ``-force-deletions``), so what is held stays visible.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable

from lib.model import Change, Plan
from lib.settings.groups import DeletionBudget


class DeletionWindow:
    def __init__(
        self,
        budget: DeletionBudget,
        window: float | None = None,
        *,
        force: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.budget = budget
        self.window = window  # seconds; None: one run, nothing carried over
        self.force = force
        self.clock = clock
        self.deleted: deque[float] = deque()  # when each deletion of the window was made
        self.held: dict[str, Change] = {}  # path -> its held deletion

    def recent(self) -> int:
        """Deletions made within the window."""
        if self.window is not None:
            horizon = self.clock() - self.window
            while self.deleted and self.deleted[0] < horizon:
                self.deleted.popleft()
        return len(self.deleted)

    def limit(self, owned: int) -> int:
        return self.budget.limit(owned)

    def hold(self, plan: Plan, owned: int, scope: Iterable[str] | None = None) -> list[Change]:
        """Take every DELETE out of ``plan`` when, with those already made in
        the window, they exceed the budget; return them. ``scope`` are the
        paths the plan covered (None: all), whose earlier holds it replaces."""
        if scope is None:
            self.held.clear()
        else:
            for path in scope:
                self.held.pop(path, None)
        deletes = [c for c in plan.changes if c.removes]
        if not deletes or self.force or self.budget.allows(self.recent() + sum(c.removes for c in deletes), owned):
            return []
        plan.changes = [c for c in plan.changes if not c.removes]
        plan.held = deletes
        self.held.update((c.path, c) for c in deletes)
        return deletes

    def record(self, deletions: int) -> None:
        now = self.clock()
        self.deleted.extend([now] * deletions)
