"""This installation's side of sharing ZooKeeper with others: it reads
every owner's liveness before a full sync (to report stale owners and pick
those to reap) and leaves its own heartbeat after a sync, for the others and
for the ``status`` command (see lib.plan.owners for the rules)."""

from __future__ import annotations

import os
import socket
import time

from lib.plan.owners import judge
from lib.report import ExitCode, SyncReport
from lib.settings.groups import SyncSettings
from lib.zk.registry import Registry


class Liveness:
    def __init__(self, settings: SyncSettings):
        self.settings = settings
        self.last_success: float | None = None  # of this owner's syncs
        self._held: list[str] | None = None  # as the last heartbeat said
        self._not_owned: list[str] = []

    def judge(self, registry: Registry, report: SyncReport) -> set[str]:
        """Report stale owners; the owners this sync reaps."""
        states = registry.owner_states()
        me = states.get(self.settings.owner_id)
        if self.last_success is None and me is not None and me.heartbeat:
            last = me.heartbeat.get("lastSuccess")
            self.last_success = last if isinstance(last, (int, float)) else None
        verdict = judge(
            states,
            self.settings.owner_id,
            time.time(),
            stale_after=self.settings.owner_stale_after,
            reap_after=self.settings.reap_after,
            named=self.settings.reap_owners,
        )
        report.stale_owners, report.refused_reaps = verdict.stale, verdict.refused
        return verdict.reap

    def beat(self, registry: Registry, report: SyncReport, held: list[str], *, full: bool) -> None:
        """Leave the heartbeat after every full sync, and after a batch that
        changed what the deletion budget holds."""
        if not full and held == self._held:
            return
        now = time.time()
        code = report.exit_code(self.settings.strict)
        if code is ExitCode.OK:
            self.last_success = now
        if full:
            self._not_owned = report.not_owned
        self._held = held
        registry.write_heartbeat(
            {
                "owner": self.settings.owner_id,
                "writer": f"{socket.gethostname()}:{os.getpid()}",
                "at": round(now, 3),
                "exit": int(code),
                "lastSuccess": self.last_success,
                "held": held,
                "notOwned": self._not_owned,
                "services": report.services,
                "pods": report.pods_counted,
            }
        )
