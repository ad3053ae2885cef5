"""``--loop``: one process that keeps ZooKeeper in step with the cluster.

The leader lists once (a full sync), then follows a short-interval poll
watch: bounded watch requests resumed from the last resourceVersion, fed by a
thread into a queue. Events that arrive together are coalesced, and each
batch rewrites only the services named in the changed pods' old and new
annotations. Every ``-syncperiod`` (and after any error, 410 Gone or
reconnection) it runs the full sync again, which also repairs drift made by
others. Standbys wait on the writer lock.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException

from lib.daemon.health import Health, Metrics
from lib.desired.servicemap import claims, counts
from lib.kube.events import EventRecorder
from lib.kube.pods import Gone, PodEvent, PodSource, SourceError, watch_pods
from lib.model import DesiredState, PodInfo, Problem
from lib.settings.options import Config
from lib.sync import SyncReport, reconcile, report_problems
from lib.zk.connect import RegistryError
from lib.zk.lock import Leadership, lock_path
from lib.zk.registry import LeadershipLost, Registry

log = logging.getLogger(__name__)

RELIST = "relist"  # queue marker from the watcher: the stream cannot resume
MAX_BACKOFF = 10.0
BURST_PODS = 5  # distinct pods changing one service within a second make a burst


class Watcher(threading.Thread):
    """Feeds pod events into ``out`` until cancelled, the stream expires, or
    errors persist (then it asks for a re-list and ends)."""

    def __init__(
        self, source: PodSource, resource_version: str, out: queue.Queue[PodEvent | str], timeout: int, metrics: Metrics
    ):
        super().__init__(name="watch", daemon=True)
        self.source, self.version, self.out = source, resource_version, out
        self.timeout, self.metrics = timeout, metrics
        self.cancelled = threading.Event()

    def run(self) -> None:
        failures = 0
        while not self.cancelled.is_set():
            try:
                for event in watch_pods(self.source, self.version, self.timeout):
                    if self.cancelled.is_set():
                        return
                    self.version = event.resource_version or self.version
                    if event.pod is not None:
                        self.out.put(event)
                    failures = 0
            except Gone as exc:
                log.info("%s; re-listing", exc)
                self.metrics.watch_restarts.labels("gone").inc()
                self.out.put(RELIST)
                return
            except SourceError as exc:
                failures += 1
                self.metrics.watch_restarts.labels("error").inc()
                log.warning("%s (attempt %d)", exc, failures)
                if failures >= 3:
                    self.out.put(RELIST)
                    return
                self.cancelled.wait(min(MAX_BACKOFF, 0.5 * 2**failures))


def relevant(pod: PodInfo | None) -> tuple[object, ...]:
    """What of a pod can change ZooKeeper; other updates are skipped."""
    if pod is None:
        return ()
    return (counts(pod), pod.pod_ip, pod.annotation)


class Loop:
    def __init__(
        self,
        cfg: Config,
        source: PodSource,
        zk: KazooClient,
        events: EventRecorder,
        metrics: Metrics,
        health: Health,
        stop: threading.Event,
    ):
        self.cfg, self.source, self.zk, self.events = cfg, source, zk, events
        self.metrics, self.health, self.stop = metrics, health, stop
        self.registry = Registry(zk, cfg.zk_path, cfg.owner_root, cfg.owner_id)
        self.leadership = Leadership(zk, lock_path(cfg.owner_root, cfg.owner_id))
        self.queue: queue.Queue[PodEvent | str] = queue.Queue()
        self.watcher: Watcher | None = None
        self.need_full = True
        self.last_full = 0.0
        self.failures = 0
        self.owned = 0  # owned services at the last full sync: the deletion budget's base
        # The pod cache and what it implies, kept up to date event by event so
        # a batch costs in proportion to the services it touches.
        self.pods: dict[str, PodInfo] = {}
        self.declared: dict[str, tuple[str, ...]] = {}  # pod -> services it may register
        self.providers: dict[str, set[str]] = {}  # service -> pods declaring it
        self.invalid: set[str] = set()  # pods with a problem
        self.registered: dict[str, int] = {}  # service -> servers written
        # Services waiting to be written, and the pacing of bursts.
        self.pending: set[str] = set()
        self.recent: dict[str, deque[tuple[float, str]]] = {}  # service -> (time, pod) of its changes
        self.last_write: dict[str, float] = {}

    # -- leadership ----------------------------------------------------------
    def run(self) -> None:
        while not self.stop.is_set():
            self.health.standby = True
            if not self.leadership.acquire(self.stop, on_wait=self.health.beat):
                break
            self.health.standby = False
            self.metrics.leader.set(1)
            self.registry.fence = self.leadership.fence
            try:
                self.lead()
            except LeadershipLost as exc:
                log.warning("lost leadership: %s", exc)
            finally:
                self._stop_watcher()
                self.metrics.leader.set(0)
                self.registry.fence = None
                self.health.synced = False
                self.leadership.release()
        log.info("loop stopped")

    def lead(self) -> None:
        self.need_full = True
        while not self.stop.is_set():
            self.health.beat()
            if self.leadership.lost.is_set():
                raise LeadershipLost("ZooKeeper session expired")
            if self.leadership.reconnected.is_set():
                self.leadership.reconnected.clear()
                self.need_full = True
            if self.need_full or time.monotonic() - self.last_full >= self.cfg.sync_period:
                self._guarded(self.full_sync)
                continue
            batch = self._collect(self._next_due(0.5))
            if RELIST in batch:
                self.need_full = True
                continue
            for event in batch:
                if isinstance(event, PodEvent):
                    self.pending |= self._apply(event)
            if self.pending:
                self._guarded(self.incremental)

    def _guarded(self, step: Callable[[], None]) -> None:
        """Run a sync step; on a failure back off (stop-aware) and plan a full
        sync, so whatever was missed converges once the fault clears."""
        try:
            step()
            self.failures = 0
        except LeadershipLost:
            raise
        except (SourceError, RegistryError, KazooException) as exc:
            self.failures += 1
            self.need_full = True
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
        timeout = max(1, round(self.cfg.watch_timeout))
        self.watcher = Watcher(self.source, resource_version, self.queue, timeout, self.metrics)
        self.watcher.start()

    def _collect(self, timeout: float) -> list[PodEvent | str]:
        """The next batch: wait for one event, then take more until the
        stream is quiet for one batch window (or four windows have passed)."""
        try:
            batch = [self.queue.get(timeout=timeout)]
        except queue.Empty:
            return []
        window = self.cfg.batch_window
        deadline = time.monotonic() + 4 * window
        while (left := deadline - time.monotonic()) > 0:
            try:
                batch.append(self.queue.get(timeout=min(window, left)))
            except queue.Empty:
                break
        return batch

    def _index(self, key: str, pod: PodInfo | None) -> list[Problem]:
        """Re-index one pod's declarations; the problems of its annotation."""
        for name in self.declared.pop(key, ()):
            keys = self.providers.get(name)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self.providers[name]
        self.invalid.discard(key)
        if pod is None:
            return []
        allowed, problems = claims(pod, self.cfg.claim_policy)
        self.declared[key] = tuple(decl.name for decl in allowed)
        for name in self.declared[key]:
            self.providers.setdefault(name, set()).add(key)
        if problems:
            self.invalid.add(key)
        return problems

    def _apply(self, event: PodEvent) -> set[str]:
        """Update the pod cache; the services whose node may change."""
        assert event.pod is not None
        key = event.pod.key
        old = self.pods.get(key)
        before = set(self.declared.get(key, ()))
        new = None if event.type == "DELETED" or not event.pod.has_label else event.pod
        if new is None:
            self.pods.pop(key, None)
            self._index(key, None)
        else:
            self.pods[key] = new
            if old is None or old.annotation != new.annotation:
                problems = self._index(key, new)
                report_problems(problems)
                self.events.problems(problems)
        if relevant(old) == relevant(new):
            return set()
        names = before | set(self.declared.get(key, ()))
        now = time.monotonic()
        for name in names:
            self.recent.setdefault(name, deque(maxlen=8 * BURST_PODS)).append((now, key))
        return names

    # -- pacing -------------------------------------------------------------------
    def _hot(self, name: str, now: float) -> bool:
        """A service in a burst, written within the last burst interval.

        A burst is many pods changing one service at once (a rolling update,
        a scale-up): writing each change would rewrite the node once per pod.
        One pod changing often is not a burst: its changes show at once."""
        if self.cfg.burst_interval <= 0 or now - self.last_write.get(name, -1e9) >= self.cfg.burst_interval:
            return False
        changes = self.recent.get(name, ())
        return len({pod for when, pod in changes if now - when <= 1.0}) >= BURST_PODS

    def _next_due(self, default: float) -> float:
        """How long the next wait for events may last: until a paced service is due."""
        now = time.monotonic()
        dues = [self.last_write[n] + self.cfg.burst_interval - now for n in self.pending if self._hot(n, now)]
        return max(0.0, min([default, *dues]))

    # -- syncing ----------------------------------------------------------------
    def full_sync(self) -> None:
        started = time.monotonic()
        listed = self.source.list()
        self.pods = {pod.key: pod for pod in listed.pods}
        self._start_watcher(listed.resource_version)
        self.pending.clear()
        self.declared.clear()
        self.providers.clear()
        self.invalid.clear()
        problems = [p for key, pod in self.pods.items() for p in self._index(key, pod)]
        report_problems(problems)
        self.events.problems(problems)
        state = self._desired(set(self.providers))
        state.pods_seen = len(self.pods)
        state.pods_counted = sum(1 for pod in self.pods.values() if counts(pod))
        state.problems = problems
        report = reconcile(self.cfg, self.registry, state)
        self.owned = report.owned
        self.registered = {name: len(ips) for name, ips in state.services.items()}
        self._record("full", report, time.monotonic() - started)
        self.need_full = bool(report.failed)
        self.last_full = time.monotonic()
        self.health.synced = True
        log.info(report.summary())

    def _desired(self, names: set[str]) -> DesiredState:
        """Desired state of some services, from the index."""
        state = DesiredState()
        for name in names:
            pods = (self.pods[key] for key in self.providers.get(name, ()))
            ips = {pod.pod_ip for pod in pods if counts(pod) and pod.pod_ip}
            if ips:
                state.services[name] = ips
        return state

    def incremental(self) -> None:
        started = now = time.monotonic()
        names = {name for name in self.pending if not self._hot(name, now)}
        if not names:
            return
        self.pending -= names
        state = self._desired(names)
        try:
            report = reconcile(self.cfg, self.registry, state, only=names, owned=self.owned)
        except Exception:
            self.pending |= names
            raise
        for name in names - set(report.failed):
            self.last_write[name] = now
            if name in state.services:
                self.registered[name] = len(state.services[name])
            else:
                self.registered.pop(name, None)
        self._record("incremental", report, time.monotonic() - started)
        if report.failed:
            self.pending |= set(report.failed)

    def _record(self, kind: str, report: SyncReport, duration: float) -> None:
        if report.connection_lost:
            raise RegistryError("ZooKeeper connection lost during the sync")
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
        m.invalid.set(len(self.invalid))
        m.deletions_held.set(len(report.held_deletions))
