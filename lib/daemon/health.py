"""Prometheus metrics and the /healthz and /readyz endpoints of --loop mode."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

log = logging.getLogger(__name__)


class Metrics:
    """Every metric of one process, in its own registry (tests run several)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.sync_duration = Histogram(
            "kube2zk_sync_duration_seconds",
            "Duration of syncs to ZooKeeper",
            ["kind"],
            registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
        )
        self.last_success = Gauge(
            "kube2zk_last_successful_sync_timestamp_seconds",
            "Unix time of the last successful sync",
            ["kind"],
            registry=r,
        )
        self.services = Gauge("kube2zk_services_registered", "Services registered in ZooKeeper", registry=r)
        self.servers = Gauge("kube2zk_servers_registered", "Server addresses registered, over all services", registry=r)
        self.zk_ops = Counter(
            "kube2zk_zookeeper_operations_total", "ZooKeeper writes by kind and result", ["op", "result"], registry=r
        )
        self.invalid = Gauge("kube2zk_invalid_annotations", "Pods with an invalid rpc-service annotation", registry=r)
        self.watch_restarts = Counter(
            "kube2zk_watch_restarts_total", "Watch streams restarted, by reason", ["reason"], registry=r
        )
        self.leader = Gauge("kube2zk_leader", "1 while this process holds the writer lock", registry=r)
        self.deletions_held = Gauge("kube2zk_deletions_held", "Deletions held back by the deletion budget", registry=r)


class Health:
    """Liveness: the main loop has beaten recently. Readiness: ZooKeeper is
    connected and the first sync is done (or this process is a standby)."""

    def __init__(self, stuck_after: float):
        self.stuck_after = stuck_after
        self.last_beat = time.monotonic()
        self.zk_connected: Callable[[], bool] = lambda: False
        self.synced = False
        self.standby = False

    def beat(self) -> None:
        self.last_beat = time.monotonic()

    def alive(self) -> bool:
        return time.monotonic() - self.last_beat < self.stuck_after

    def ready(self) -> bool:
        return self.zk_connected() and (self.synced or self.standby)


def serve(address: str, metrics: Metrics, health: Health) -> ThreadingHTTPServer:
    """Start the HTTP endpoint in a daemon thread; ``address`` is host:port."""
    host, _, port = address.rpartition(":")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._reply(200, generate_latest(metrics.registry), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                ok = health.alive()
                self._reply(200 if ok else 503, b"ok\n" if ok else b"stuck\n")
            elif path == "/readyz":
                ok = health.ready()
                self._reply(200 if ok else 503, b"ok\n" if ok else b"not ready\n")
            else:
                self._reply(404, b"not found\n")

        def _reply(self, code: int, body: bytes, ctype: str = "text/plain; charset=utf-8") -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("http: " + format, *args)

    server = ThreadingHTTPServer((host or "0.0.0.0", int(port)), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    return server
