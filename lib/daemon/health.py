"""The HTTP endpoint of --loop: /metrics, /healthz and /readyz."""

from __future__ import annotations

import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from kazoo.protocol.states import KazooState
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from lib.daemon.metrics import Metrics

log = logging.getLogger(__name__)


class Health:
    """Liveness: the main loop has beaten recently, and so has the pod watch
    while this process leads. Readiness: ZooKeeper is connected and the first
    sync is done (or this process is a standby)."""

    def __init__(self, stuck_after: float):
        self.stuck_after = stuck_after
        self.last_beat = time.monotonic()
        self.last_watch: float | None = None  # None: no watch expected
        self.zk_connected = False
        self.synced = False
        self.standby = False

    def beat(self, watch: float | None = None) -> None:
        """The main loop is alive; ``watch`` is when the pod watch last was."""
        self.last_beat = time.monotonic()
        self.last_watch = watch

    def on_zk_state(self, state: KazooState | str) -> None:
        """A kazoo connection listener (runs on kazoo's thread: only a flag)."""
        self.zk_connected = state == KazooState.CONNECTED

    def alive(self) -> bool:
        now = time.monotonic()
        watching = self.last_watch is None or now - self.last_watch < self.stuck_after
        return now - self.last_beat < self.stuck_after and watching

    def ready(self) -> bool:
        return self.zk_connected and (self.synced or self.standby)


class ListenError(Exception):
    """The metrics endpoint cannot be bound (port in use, address not local);
    the message names -metrics-addr so the run can end as a usage error."""


class _IPv6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


def serve(host: str, port: int, metrics: Metrics, health: Health) -> ThreadingHTTPServer:
    """Start the HTTP endpoint in a daemon thread. ``host`` is as
    ``LoopSettings.metrics_host`` holds it: "" for every IPv4 address, an IPv6
    address without brackets, or an IPv4 address or name. Raises ListenError
    when the address cannot be bound."""

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

    server_class = _IPv6Server if ":" in host else ThreadingHTTPServer
    try:
        server = server_class((host or "0.0.0.0", port), Handler)
    except OSError as exc:
        shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        raise ListenError(f"flag -metrics-addr: cannot listen on {shown}: {exc.strerror or exc}") from None
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    return server
