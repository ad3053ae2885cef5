"""``--loop``: one process that keeps ZooKeeper in step with the cluster.

The leader lists once (a full sync), then follows the watch: events that
arrive together are coalesced, applied to the pod index, and each batch
reconciles only the services they touched, through the same ``Reconciler``
as a one-shot run. Every ``-syncperiod`` (and after a 410 Gone or a watch
that cannot resume) it re-lists; after a ZooKeeper reconnection it
reconciles every service again. Standbys wait on the writer lock.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from kazoo.exceptions import KazooException

from lib.daemon.health import Health
from lib.daemon.metrics import Metrics
from lib.daemon.pacing import Pacer
from lib.daemon.watcher import RELIST, Item, Watcher, collect
from lib.desired.index import PodIndex
from lib.kube.pods import PodEvent, PodSource, SourceError
from lib.model import DesiredState, Problem
from lib.report import SyncReport
from lib.settings.groups import LoopSettings
from lib.sync import Reconciler
from lib.zk.errors import LeadershipLost, RegistryError
from lib.zk.lock import Leadership

log = logging.getLogger(__name__)

MAX_BACKOFF = 10.0
REMIND_EVERY = 300.0  # seconds between reminders of services no kube2zk owns


class Loop:
    def __init__(
        self,
        settings: LoopSettings,
        source: PodSource,
        index: PodIndex,
        reconciler: Reconciler,
        leadership: Leadership,
        metrics: Metrics,
        health: Health,
        stop: threading.Event,
    ):
        self.settings, self.source, self.index, self.reconciler = settings, source, index, reconciler
        self.leadership, self.metrics, self.health, self.stop = leadership, metrics, health, stop
        self.layout = reconciler.layout
        self.queue: queue.Queue[Item] = queue.Queue()
        self.watcher: Watcher | None = None
        self.pacer = Pacer(settings.burst_interval)
        self.pending: set[str] = set()
        self.problems: list[Problem] = []  # of events since the last sync, for the next one to report
        self.registered: dict[str, int] = {}  # service -> servers written
        self.not_owned: set[str] = set()
        self.need_list = self.need_full = True
        self.last_list = self.last_reminder = 0.0
        self.failures = 0

    # -- leadership ----------------------------------------------------------
    def run(self) -> None:
        while not self.stop.is_set():
            # Ready as a standby only once it waits behind another holder: a
            # replica about to lead is ready after its first full sync.
            if not self.leadership.acquire(self.stop, on_wait=self._standing_by):
                break
            self.health.standby = False
            self.metrics.leader.set(1)
            try:
                self.lead()
            except LeadershipLost as exc:
                log.warning("lost leadership: %s", exc)
            finally:
                self._stop_watcher()
                self.metrics.leader.set(0)
                self.health.synced = False
                self.leadership.release()
        log.info("loop stopped")

    def _standing_by(self) -> None:
        self.health.standby = True
        self.health.beat()

    def lead(self) -> None:
        self.need_list = self.need_full = True
        while not self.stop.is_set():
            watching = self.watcher is not None and self.watcher.is_alive()
            self.health.beat(watch=self.watcher.last_beat if watching and self.watcher else None)
            if self.leadership.lost.is_set():
                raise LeadershipLost("ZooKeeper session expired")
            if self.leadership.reconnected.is_set():
                self.leadership.reconnected.clear()
                self.need_full = True
            if time.monotonic() - self.last_list >= self.settings.sync_period:
                self.need_list = True
            if self.need_list or self.need_full:
                self._guarded(self.full_sync)
                continue
            now = time.monotonic()
            batch = collect(self.queue, self.pacer.next_due(self.pending, now, 0.5), self.settings.batch_window)
            if RELIST in batch:
                self.need_list = True
                continue
            for item in batch:
                if isinstance(item, PodEvent):
                    self._apply(item)
            self._guarded(self.incremental)

    def _apply(self, event: PodEvent) -> None:
        assert event.pod is not None
        touched, problems = self.index.apply(event.type, event.pod)
        self.problems += problems
        self.pending |= touched
        self.pacer.changed(touched, event.pod.key, time.monotonic())

    def _guarded(self, step: Callable[[], None]) -> None:
        """Run a sync step; when Kubernetes or ZooKeeper fails as a whole,
        back off (stop-aware) and reconcile everything once it is back."""
        try:
            step()
            self.failures = 0
        except LeadershipLost:
            raise
        except (SourceError, RegistryError, KazooException) as exc:
            self.failures += 1
            self.need_full = True
            self.need_list |= isinstance(exc, SourceError)
            delay = min(MAX_BACKOFF, 0.25 * 2**self.failures)
            log.warning("sync failed (%s); retrying in %.1fs", exc if str(exc) else type(exc).__name__, delay)
            self.stop.wait(delay)

    # -- watching --------------------------------------------------------------
    def _stop_watcher(self) -> None:
        if self.watcher is not None:
            self.watcher.cancelled.set()
            self.watcher = None
        self.queue = queue.Queue()

    def _start_watcher(self, resource_version: str) -> None:
        self._stop_watcher()
        timeout = max(1, round(self.settings.watch_timeout))
        restarts = self.metrics.watch_restarts
        self.watcher = Watcher(self.source, resource_version, self.queue, timeout, lambda r: restarts.labels(r).inc())
        self.watcher.start()

    # -- syncing ----------------------------------------------------------------
    def full_sync(self) -> None:
        """Reconcile every service; re-list first when the index may be stale."""
        started = time.monotonic()
        loaded: list[DesiredState] = []

        def load() -> DesiredState:
            if self.need_list:
                listed = self.source.list()
                self.problems = self.index.load(listed.pods)
                self._start_watcher(listed.resource_version)
                self.need_list = False
                self.last_list = time.monotonic()
            self.pending.clear()
            state = self.index.desired(endpoints=self.layout.needs_endpoints)
            state.problems, self.problems = self.problems, []
            loaded.append(state)
            return state

        report = self.reconciler.full(load)
        state = loaded[0]
        self.need_full = False
        self.registered = {name: len(ips) for name, ips in state.services.items()}
        self.not_owned = set(report.not_owned)
        self._after(report, set())
        self._record("full", report, time.monotonic() - started)
        self.health.synced = True
        log.info(report.summary(), extra={"summary": report.figures()})

    def incremental(self) -> None:
        started = now = time.monotonic()
        names = self.pacer.ready(self.pending, now)
        if not names and not self.problems:
            return
        self.pending -= names
        state = self.index.desired(names, endpoints=self.layout.needs_endpoints)
        state.problems, self.problems = self.problems, []
        try:
            report = self.reconciler.run(state, only=names)
        except Exception:
            self.pending |= names
            raise
        for name in names:
            if name in state.services:
                self.registered[name] = len(state.services[name])
            else:
                self.registered.pop(name, None)
        paths, folders = self.layout.scope(names)
        covered = {p for p in self.not_owned if p in paths or p.rpartition("/")[0] in folders}
        self.not_owned = (self.not_owned - covered) | set(report.not_owned)
        self._after(report, names)
        self._record("incremental", report, time.monotonic() - started)

    def _after(self, report: SyncReport, names: set[str]) -> None:
        """Pace what was written; back off per service what failed."""
        now = time.monotonic()
        failed = {self.layout.service_of(path) for path in report.failed}
        self.pacer.written(names - failed, now)
        if failed:
            delay = self.pacer.failed(failed, now)
            self.pending |= failed
            log.warning("%d services failed to write; retrying each with backoff (up to %.1fs)", len(failed), delay)
        if report.connection_lost:
            raise RegistryError("ZooKeeper connection lost during the sync")
        self.pacer.prune(now)
        if self.not_owned and now - self.last_reminder >= REMIND_EVERY:
            self.last_reminder = now
            log.warning(
                "%d declared services have a node no kube2zk owns, so they are not kept up to date: %s; "
                "run once with -adopt to take them over",
                len(self.not_owned),
                ", ".join(sorted(self.not_owned)[:20]),
            )

    def _record(self, kind: str, report: SyncReport, duration: float) -> None:
        m = self.metrics
        m.sync_duration.labels(kind).observe(duration)
        for op, n in (
            ("create", report.created),
            ("update", report.updated),
            ("adopt", report.adopted),
            ("delete", report.deleted),
        ):
            if n:
                m.zk_ops.labels(op, "ok").inc(n)
        if report.failed:
            m.zk_ops.labels("write", "error").inc(len(report.failed))
        else:
            m.last_success.labels(kind).set(time.time())
        m.services.set(len(self.registered))
        m.servers.set(sum(self.registered.values()))
        m.invalid.set(len(self.index.invalid))
        m.deletions_held.set(len(self.reconciler.budget.held))
        m.not_owned.set(len(self.not_owned))
        m.failing.set(len(self.pacer.failures))
        if kind == "full":
            m.stale_owners.set(len(report.stale_owners))
