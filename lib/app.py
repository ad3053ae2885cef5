"""The command: settings -> one run, or ``--loop``. Every mode wires the
same stages (pods -> index -> reconciler -> registry) and differs only in
what it does with the plan: write it, print it (``--dry-run``), or print the
service map without contacting ZooKeeper (``-mockregistry``)."""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from http.server import ThreadingHTTPServer

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException

from lib.daemon.health import Health, ListenError, serve
from lib.daemon.loop import Loop
from lib.daemon.metrics import Metrics
from lib.desired.index import PodIndex
from lib.kube.client import api_client
from lib.kube.events import EventRecorder
from lib.kube.pods import PodSource, SourceError
from lib.layouts import Layout, Layouts
from lib.layouts.curator import CuratorLayout
from lib.layouts.dubbo import DubboLayout
from lib.layouts.seed import SeedLayout
from lib.logs import setup_logging
from lib.model import DesiredState, Paths
from lib.plan.budget import DeletionWindow
from lib.render import plan_document, plan_lines, service_map_document, service_map_lines
from lib.report import ExitCode, SyncReport
from lib.settings import Settings, UsageError, load_settings, usage_error_exit
from lib.status import collect
from lib.sync import Reconciler
from lib.zk.connect import connect, disconnect
from lib.zk.errors import LeadershipLost, RegistryError, RegistrySetupError
from lib.zk.guard import check_parents
from lib.zk.lock import Leadership
from lib.zk.registry import Registry

log = logging.getLogger("kube2zk")


# Commands besides the default sync; "reap OWNER" is a sync that also removes
# a stopped installation's contributions.
COMMANDS = ("status", "reap")


class Locked(Exception):
    """Another run of the same owner held the writer lock for -lock-timeout."""


def paths_of(settings: Settings) -> Paths:
    return Paths(settings.sync.zk_path, settings.sync.owner_root, settings.sync.owner_id)


def layouts_of(settings: Settings) -> Layouts:
    sync = settings.sync
    chosen: list[Layout] = []
    for name in sync.layouts:
        if name == "seed":
            chosen.append(SeedLayout(paths_of(settings), sync.node_config, enforce_config=sync.enforce_config))
        elif name == "curator":
            chosen.append(CuratorLayout(sync.curator_path, sync.curator_payload or None, sync.owner_id))
        elif name == "dubbo":
            chosen.append(DubboLayout(sync.dubbo_root))
    return Layouts(chosen)


def reconciler(
    settings: Settings, registry: Registry | None, events: EventRecorder | None, window: float | None = None
) -> Reconciler:
    sync = settings.sync
    layout = layouts_of(settings)
    budget = DeletionWindow(sync.max_deletions, window, force=sync.force_deletions)
    return Reconciler(sync, layout, registry, budget, events)


def writer(settings: Settings, zk: KazooClient) -> tuple[Leadership, Registry]:
    """The writer lock and the registry fenced by it: one writer per owner.
    With a credential, folders whose children the world may replace are
    refused first (see ``lib.zk.guard``)."""
    paths = paths_of(settings)
    if settings.zk.auth:
        roots = layouts_of(settings).roots()
        folders = [*roots, paths.owner_root, paths.owners_root, paths.records_root]
        check_parents(zk, [*folders, *(paths.records(r) for r in roots)], settings.zk.timeout)
    leadership = Leadership(zk, paths.lock, timeout=settings.zk.timeout)
    registry = Registry(zk, paths, timeout=settings.zk.timeout, fence=lambda: leadership.fence)
    return leadership, registry


@contextlib.contextmanager
def locked(settings: Settings, leadership: Leadership) -> Iterator[None]:
    if not leadership.acquire(threading.Event(), timeout=settings.sync.lock_timeout):
        raise Locked
    try:
        yield
    finally:
        leadership.release()


def sync_once(settings: Settings, source: PodSource, reconcile: Reconciler) -> SyncReport:
    """List, index and reconcile everything. SourceError propagates before
    any write: a failed list never deletes anything."""
    started = time.monotonic()

    def load() -> DesiredState:
        index = PodIndex(settings.sync.claim_policy)
        problems = index.load(source.list().pods)
        state = index.desired(endpoints=reconcile.layout.needs_endpoints)
        state.problems = problems
        return state

    report = reconcile.full(load)
    report.duration = time.monotonic() - started  # the run's, list included
    return report


def run_once(settings: Settings, source: PodSource, events: EventRecorder) -> ExitCode:
    sync = settings.sync
    if sync.mock_registry:
        report = sync_once(settings, source, reconciler(settings, None, None))
    else:
        zk = connect(settings.zk, create_chroot=not sync.dry_run)
        try:
            if sync.dry_run:  # no lock: taking it would write
                report = sync_once(
                    settings,
                    source,
                    reconciler(settings, Registry(zk, paths_of(settings), timeout=settings.zk.timeout), None),
                )
            else:
                leadership, registry = writer(settings, zk)
                with locked(settings, leadership):
                    report = sync_once(settings, source, reconciler(settings, registry, events))
        except Locked:
            log.error(
                "another kube2zk run of owner %r holds the writer lock %s; gave up after %gs",
                sync.owner_id,
                paths_of(settings).lock,
                sync.lock_timeout,
            )
            return ExitCode.LOCKED
        except LeadershipLost as exc:
            log.error("lost the writer lock during the run: %s", exc)
            return ExitCode.REGISTRY
        finally:
            disconnect(zk)
    print_result(settings, report)
    code = report.exit_code(sync.strict)
    if code is not ExitCode.OK:
        log.warning("exit status %d (%s)", code, code.name.lower())
    return code


def print_result(settings: Settings, report: SyncReport) -> None:
    as_json = settings.output.output == "json"
    if settings.sync.mock_registry:
        doc: object = service_map_document(report.plan)
        lines = service_map_lines(report.plan, report.pods_counted, report.pods_seen)
    elif settings.sync.dry_run:
        doc, lines = plan_document(report.plan), plan_lines(report.plan)
    else:
        log.info(report.summary(), extra={"summary": report.figures()})
        return
    print(json.dumps(doc, indent=2) if as_json else "\n".join(lines))


def connect_until(settings: Settings, stop: threading.Event, health: Health) -> KazooClient | None:
    """Connect, retrying with backoff until ``stop``; setup errors are final."""
    delay = 0.5
    while not stop.is_set():
        try:
            return connect(settings.zk)
        except RegistrySetupError:
            raise
        except RegistryError as exc:
            log.warning("%s; retrying", exc)
            health.beat()
            stop.wait(delay)
            delay = min(delay * 2, 10.0)
    return None


def run_loop(
    settings: Settings,
    source: PodSource,
    events: EventRecorder,
    server: ThreadingHTTPServer | None,
    metrics: Metrics,
    health: Health,
) -> ExitCode:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: stop.set())
    try:
        zk = connect_until(settings, stop, health)
        if zk is None:
            return ExitCode.OK
        zk.add_listener(health.on_zk_state)
        health.on_zk_state(zk.state)
        try:
            leadership, registry = writer(settings, zk)
            reconcile = reconciler(settings, registry, events, window=settings.loop.sync_period)
            index = PodIndex(settings.sync.claim_policy)
            Loop(settings.loop, source, index, reconcile, leadership, metrics, health, stop).run()
        finally:
            disconnect(zk)
    finally:
        if server is not None:
            server.shutdown()
    return ExitCode.OK


def run(settings: Settings) -> ExitCode:
    metrics, health = Metrics(), Health(stuck_after=max(60.0, 6 * settings.loop.watch_timeout))
    server = None
    if settings.loop.enabled and settings.loop.metrics_port is not None:
        try:  # before anything is contacted: a busy port is a usage error
            server = serve(settings.loop.metrics_host, settings.loop.metrics_port, metrics, health)
        except ListenError as exc:
            usage_error_exit(str(exc))
    try:
        api = api_client(settings.kube.kubeconfig)
    except Exception as exc:  # the kubernetes config loader raises many kinds
        log.error("cannot load Kubernetes configuration: %s", exc)
        return ExitCode.SOURCE
    kube = settings.kube
    source = PodSource(api, kube.namespace, page_size=kube.page_size, timeout=kube.timeout)
    events = EventRecorder(api, kube.events)
    log.info("claim policy: %s", settings.sync.claim_policy.describe())
    try:
        if settings.loop.enabled and not (settings.sync.dry_run or settings.sync.mock_registry):
            return run_loop(settings, source, events, server, metrics, health)
        return run_once(settings, source, events)
    except SourceError as exc:
        log.error("%s; nothing was changed in ZooKeeper", exc)
        return ExitCode.SOURCE
    except RegistryError as exc:
        log.error("%s", exc)
        return ExitCode.REGISTRY
    except KazooException as exc:
        log.error("ZooKeeper failed during the run (%s); the next run converges", type(exc).__name__)
        return ExitCode.REGISTRY


def run_status(settings: Settings) -> int:
    """Print who holds what; read only (no lock, no chroot created)."""
    zk = connect(settings.zk, create_chroot=False)
    try:
        registry = Registry(zk, paths_of(settings), timeout=settings.zk.timeout)
        status = collect(registry, layouts_of(settings), settings.sync)
    except RegistryError as exc:
        log.error("%s", exc)
        return ExitCode.REGISTRY
    finally:
        disconnect(zk)
    as_json = settings.output.output == "json"
    print(json.dumps(status.document(), indent=2) if as_json else "\n".join(status.lines()))
    return status.exit_code


def parse_command(args: Sequence[str]) -> tuple[str, Settings]:
    """``[status | reap OWNER] [flags]``: the command and its settings."""
    args = list(args)
    command = args[0] if args and args[0] in COMMANDS else "sync"
    if command == "reap":
        if len(args) < 2 or args[1].startswith("-"):
            raise UsageError("reap: name the owner (-owner-id of the stopped installation) whose contributions go")
        return command, load_settings(args[2:], reap=[args[1]])
    return command, load_settings(args[1:] if command == "status" else args)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        command, settings = parse_command(sys.argv[1:] if argv is None else argv)
    except UsageError as exc:
        usage_error_exit(str(exc))
    setup_logging(settings.output.log_format, settings.output.log_level)
    if command == "status":
        try:
            return run_status(settings)
        except RegistryError as exc:
            log.error("%s", exc)
            return int(ExitCode.REGISTRY)
    # Everything imported so far lives as long as the process: keep the
    # garbage collector from scanning it again and again.
    gc.freeze()
    return int(run(settings))
