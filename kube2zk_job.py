#!/usr/bin/env python3
"""kube2zk: register the RPC services declared on Kubernetes pods into ZooKeeper.

One run lists the pods labelled rpc-service=true, builds the full service map,
makes the nodes it owns under -zkpath match it, and exits; --loop keeps
following changes. See --help.
"""

from __future__ import annotations

import gc
import json
import logging
import signal
import sys
import threading
from collections.abc import Sequence

from kazoo.exceptions import KazooException
from kubernetes import client

from lib.settings.options import Config, UsageError, load_config, usage_error_exit
from lib.sync import (
    ExitCode,
    desired_nodes,
    plan_document,
    plan_lines,
    report_problems,
    service_map_document,
    sync_once,
)
from lib.kube.events import EventRecorder
from lib.kube.client import api_client
from lib.zk.lock import Leadership, lock_path
from lib.logs import setup_logging
from lib.daemon.loop import Loop
from lib.daemon.health import Health, Metrics, serve
from lib.layouts.seed import decode_servers
from lib.zk.registry import LeadershipLost, Registry
from lib.desired.servicemap import build_desired
from lib.kube.pods import PodSource, SourceError
from lib.zk.connect import RegistryError, RegistrySetupError, connect_config, disconnect

log = logging.getLogger("kube2zk")


def mock_registry(cfg: Config, source: PodSource) -> ExitCode:
    """Print the service map a real run would write; ZooKeeper is not contacted."""
    state = build_desired(source.list().pods, cfg.claim_policy)
    report_problems(state.problems)
    nodes, held = desired_nodes(state, cfg.node_config)
    if cfg.output == "json":
        print(json.dumps(service_map_document(cfg.zk_path, nodes), indent=2))
    else:
        for name, data in sorted(nodes.items()):
            print(f"{cfg.zk_path}/{name}: {', '.join(decode_servers(data) or [])}")
        print(f"# {len(nodes)} services from {state.pods_counted} of {state.pods_seen} labelled pods")
    if held or (state.problems and cfg.strict):
        return ExitCode.PARTIAL
    return ExitCode.OK


def dry_run(cfg: Config, source: PodSource) -> ExitCode:
    """Read both sides and print the plan. No lock is taken: that would write."""
    zk = connect_config(cfg)
    try:
        report = sync_once(cfg, source, Registry(zk, cfg.zk_path, cfg.owner_root, cfg.owner_id))
    finally:
        disconnect(zk)
    assert report.plan is not None
    if cfg.output == "json":
        print(json.dumps(plan_document(cfg.zk_path, report.plan), indent=2))
    else:
        print("\n".join(plan_lines(cfg.zk_path, report.plan)))
    return ExitCode.OK


def run_once(cfg: Config, api: client.ApiClient, source: PodSource) -> ExitCode:
    zk = connect_config(cfg)
    leadership = Leadership(zk, lock_path(cfg.owner_root, cfg.owner_id))
    try:
        if not leadership.acquire(threading.Event(), timeout=cfg.lock_timeout):
            log.error(
                "another kube2zk run of owner %r holds the writer lock %s; gave up after %gs",
                cfg.owner_id,
                leadership.path,
                cfg.lock_timeout,
            )
            return ExitCode.LOCKED
        registry = Registry(zk, cfg.zk_path, cfg.owner_root, cfg.owner_id)
        registry.fence = leadership.fence
        report = sync_once(cfg, source, registry)
        EventRecorder(api, cfg.events).problems(report.problems)
    except LeadershipLost as exc:
        log.error("lost the writer lock during the run: %s", exc)
        return ExitCode.REGISTRY
    finally:
        leadership.release()
        disconnect(zk)
    log.info(report.summary(), extra={"summary": report.figures()})
    return report.exit_code(cfg.strict)


def run_loop(cfg: Config, api: client.ApiClient, source: PodSource) -> ExitCode:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: stop.set())
    metrics = Metrics()
    health = Health(stuck_after=max(60.0, 6 * cfg.watch_timeout))
    server = serve(cfg.metrics_addr, metrics, health) if cfg.metrics_addr else None
    delay = 0.5
    while not stop.is_set():
        try:
            zk = connect_config(cfg)
            break
        except RegistrySetupError:
            raise
        except RegistryError as exc:
            log.warning("%s; retrying", exc)
            health.beat()
            stop.wait(delay)
            delay = min(delay * 2, 10.0)
    else:
        return ExitCode.OK
    health.zk_connected = lambda: zk.connected
    try:
        Loop(cfg, source, zk, EventRecorder(api, cfg.events), metrics, health, stop).run()
    finally:
        disconnect(zk)
        if server is not None:
            server.shutdown()
    return ExitCode.OK


def run(cfg: Config) -> ExitCode:
    try:
        api = api_client(cfg.kubeconfig)
    except Exception as exc:  # the kubernetes config loader raises many kinds
        log.error("cannot load Kubernetes configuration: %s", exc)
        return ExitCode.SOURCE
    source = PodSource(api, cfg.namespace, page_size=cfg.page_size, timeout=cfg.kube_timeout)
    try:
        if cfg.mock_registry:
            return mock_registry(cfg, source)
        if cfg.dry_run:
            return dry_run(cfg, source)
        if cfg.loop:
            return run_loop(cfg, api, source)
        return run_once(cfg, api, source)
    except SourceError as exc:
        log.error("%s; nothing was changed in ZooKeeper", exc)
        return ExitCode.SOURCE
    except RegistryError as exc:
        log.error("%s", exc)
        return ExitCode.REGISTRY
    except KazooException as exc:
        log.error("ZooKeeper failed during the run (%s); the next run converges", type(exc).__name__)
        return ExitCode.REGISTRY


def main(argv: Sequence[str] | None = None) -> int:
    try:
        cfg = load_config(sys.argv[1:] if argv is None else argv)
    except UsageError as exc:
        usage_error_exit(str(exc))
    setup_logging(cfg.log_format, cfg.log_level)
    # Everything imported so far lives as long as the process: keep the
    # garbage collector from scanning it again and again.
    gc.freeze()
    return int(run(cfg))


if __name__ == "__main__":
    sys.exit(main())
