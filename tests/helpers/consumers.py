"""The real ZooKeeper consumer libraries, asked from Python: Apache Curator
x-discovery, Spring Cloud Zookeeper's DiscoveryClient and Apache Dubbo's
interface-level registry.

``testbed/consumers.sh build`` resolves each library with Maven and compiles a
small program per library (testbed/consumers/*/src) into a cache outside the
repository. Each program is one long-running JVM that answers JSON-line
requests: ``{"op": ...}`` on stdin, one JSON object on stdout per request, and
``{"error": "<exception class>: message"}`` when the library threw. The
wrappers here start a JVM lazily, put a timeout on every request (a JVM that
does not answer in time is killed and started again on the next request) and
raise :class:`ConsumerError` for error answers.

The node formats the libraries read are written here too, independently of
kube2zk's code: :func:`curator_node` (Curator's compatible-mode JSON) and
:func:`dubbo_provider_path` (Dubbo's URL-encoded provider node).
"""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import threading
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote_plus

from .common import REPO

CONSUMERS_SH = REPO / "testbed" / "consumers.sh"
SPRING_PAYLOAD = "org.springframework.cloud.zookeeper.discovery.ZookeeperInstance"
MAIN_CLASSES = {
    "curator": "kube2zk.consumers.CuratorConsumer",
    "spring": "kube2zk.consumers.SpringConsumer",
    "dubbo": "kube2zk.consumers.DubboConsumer",
}
# A short-lived, small JVM: C1 only starts faster, one GC thread is enough.
JVM_FLAGS = ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx256m", "-Djava.net.preferIPv4Stack=true"]


class ConsumerError(Exception):
    """A library's error answer (``answer["error"]``), or a JVM that died or hung."""

    def __init__(self, message: str, answer: dict[str, Any] | None = None):
        super().__init__(message)
        self.answer = answer or {}


def build_consumers(timeout: float = 900) -> Path:
    """Build (or find in the cache) the consumer programs; their cache dir,
    holding ``<client>/lib/*.jar`` and ``<client>/classes``."""
    proc = subprocess.run(["bash", str(CONSUMERS_SH), "build"], capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"testbed/consumers.sh build failed:\n{proc.stderr[-4000:]}")
    return Path(proc.stdout.strip().splitlines()[-1])


class ConsumerProcess:
    """One JVM of ``client`` (curator, spring or dubbo) answering JSON lines."""

    def __init__(self, client: str, libs: Path, log: Path, timeout: float = 30):
        self.client = client
        self.libs = libs
        self.log = log
        self.timeout = timeout
        self._proc: subprocess.Popen[str] | None = None
        self._answers: queue.Queue[str | None] = queue.Queue()
        self._lock = threading.Lock()

    def command(self) -> list[str]:
        home = self.libs / self.client
        java = shutil.which("java") or "java"
        return [java, *JVM_FLAGS, "-cp", f"{home / 'classes'}:{home / 'lib'}/*", MAIN_CLASSES[self.client]]

    def _start(self) -> subprocess.Popen[str]:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        self._answers = queue.Queue()
        stderr = self.log.open("a")
        self._proc = subprocess.Popen(
            self.command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True, bufsize=1
        )
        stderr.close()
        assert self._proc.stdout is not None
        threading.Thread(target=self._read, args=(self._proc.stdout, self._answers), daemon=True).start()
        return self._proc

    @staticmethod
    def _read(stdout: IO[str], answers: queue.Queue[str | None]) -> None:
        for line in stdout:
            answers.put(line)
        answers.put(None)

    def _log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def request(self, op: str, timeout: float | None = None, **fields: Any) -> dict[str, Any]:
        """Send one request and return the answer as it came (error answers included)."""
        with self._lock:
            proc = self._start()
            assert proc.stdin is not None
            line: str | None = None
            try:
                proc.stdin.write(json.dumps({"op": op, **fields}) + "\n")
                proc.stdin.flush()
            except OSError:
                pass  # it is gone: reported below
            else:
                try:
                    line = self._answers.get(timeout=timeout or self.timeout)
                except queue.Empty:
                    self._kill()
                    raise ConsumerError(
                        f"{self.client} JVM did not answer {op} within {timeout or self.timeout:g}s;"
                        f" its log:\n{self._log_tail()}"
                    ) from None
            if line is None:
                self._kill()
                raise ConsumerError(f"{self.client} JVM exited during {op}; its log:\n{self._log_tail()}")
            return json.loads(line)

    def call(self, op: str, timeout: float | None = None, **fields: Any) -> dict[str, Any]:
        """Like :meth:`request`, raising :class:`ConsumerError` for an error answer."""
        answer = self.request(op, timeout, **fields)
        if "error" in answer:
            raise ConsumerError(f"{self.client} {op}: {answer['error']}", answer)
        return answer

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(timeout=10)
            self._proc = None

    def close(self) -> None:
        """Ask the JVM to quit; kill it when it does not within seconds."""
        with self._lock:
            proc, self._proc = self._proc, None
            if proc is None or proc.poll() is not None:
                return
            try:
                assert proc.stdin is not None
                proc.stdin.write('{"op":"quit"}\n')
                proc.stdin.close()
                proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait(timeout=10)


class CuratorReader(ConsumerProcess):
    """Curator x-discovery's ServiceDiscovery (JsonInstanceSerializer of
    Spring's ZookeeperInstance payload unless ``payload_class`` says otherwise)
    on the ZooKeeper at ``connect``."""

    def __init__(self, libs: Path, connect: str, log: Path, timeout: float = 30):
        super().__init__("curator", libs, log, timeout)
        self.connect = connect

    def query(self, base: str, name: str, payload_class: str = SPRING_PAYLOAD) -> list[dict[str, Any]]:
        """``queryForInstances(name)`` under ``base``: dicts with id, name,
        address, port, sslPort, payloadClass, payload, registrationTimeUTC,
        serviceType, enabled, uri. Raises ConsumerError when the query fails."""
        fields = {"connect": self.connect, "base": base, "name": name, "payloadClass": payload_class}
        return self.call("query", **fields)["instances"]

    def names(self, base: str) -> list[str]:
        return self.call("names", connect=self.connect, base=base)["names"]

    def register(self, base: str, name: str, id: str, address: str, port: int, **extra: Any) -> None:
        """Register an instance through Curator itself (``serviceType`` STATIC,
        a persistent node, unless given). ``extra``: sslPort, payload (the
        payload class's fields), serviceType, uriSpec, registrationTimeUTC,
        payloadClass. It stays until :meth:`unregister`."""
        fields = {"name": name, "id": id, "address": address, "port": port, **extra}
        self.call("register", connect=self.connect, base=base, **fields)

    def unregister(self, base: str, name: str, id: str) -> None:
        self.call("unregister", connect=self.connect, base=base, name=name, id=id)


class SpringReader(ConsumerProcess):
    """Spring Cloud Zookeeper's ZookeeperDiscoveryClient on the ZooKeeper at ``connect``."""

    def __init__(self, libs: Path, connect: str, log: Path, timeout: float = 30):
        super().__init__("spring", libs, log, timeout)
        self.connect = connect

    def instances(self, root: str, name: str) -> list[dict[str, Any]]:
        """``getInstances(name)`` with discovery root ``root``: dicts with
        serviceId, instanceId, host, port, uri, secure, scheme, metadata."""
        return self.call("instances", connect=self.connect, root=root, name=name)["instances"]

    def services(self, root: str) -> list[str]:
        return self.call("services", connect=self.connect, root=root)["services"]


class DubboSubscription:
    """A consumer's subscription to an interface's providers."""

    def __init__(self, reader: DubboReader, number: int):
        self.reader = reader
        self.number = number

    def notifications(self) -> list[list[str]]:
        """Every notification so far, oldest first: the full provider URLs
        (``empty://...`` when no provider is left)."""
        return self.reader.call("notifications", subscription=self.number)["notifications"]

    def latest(self) -> list[str] | None:
        received = self.notifications()
        return received[-1] if received else None

    def close(self) -> None:
        self.reader.call("unsubscribe", subscription=self.number)


class DubboReader(ConsumerProcess):
    """Dubbo's ZooKeeper registry (interface level) on the ZooKeeper at
    ``connect``; ``root`` is the registry's group (``/dubbo`` by default)."""

    def __init__(self, libs: Path, connect: str, log: Path, timeout: float = 30):
        super().__init__("dubbo", libs, log, timeout)
        self.connect = connect

    def _consumer(self, root: str, interface: str, version: str | None, group: str | None) -> dict[str, Any]:
        fields = {"connect": self.connect, "root": root, "interface": interface}
        return fields | {k: v for k, v in (("version", version), ("group", group)) if v is not None}

    def lookup(self, root: str, interface: str, version: str | None = None, group: str | None = None) -> list[str]:
        """The full URLs of the providers a consumer of ``interface`` (with
        ``version``/``group`` when given) matches."""
        return self.call("lookup", **self._consumer(root, interface, version, group))["urls"]

    def subscribe(
        self, root: str, interface: str, version: str | None = None, group: str | None = None
    ) -> DubboSubscription:
        number = self.call("subscribe", **self._consumer(root, interface, version, group))["subscription"]
        return DubboSubscription(self, number)

    def register(self, root: str, url: str) -> None:
        """Register a provider URL through Dubbo itself (``dynamic=false``: a
        persistent node, else ephemeral); it stays until :meth:`unregister`."""
        self.call("register", connect=self.connect, root=root, url=url)

    def unregister(self, root: str, url: str) -> None:
        self.call("unregister", connect=self.connect, root=root, url=url)


# The formats, written by hand (what kube2zk is to write).

URI_SPEC = {
    "parts": [
        {"value": "scheme", "variable": True},
        {"value": "://", "variable": False},
        {"value": "address", "variable": True},
        {"value": ":", "variable": False},
        {"value": "port", "variable": True},
    ]
}


def curator_node(
    name: str,
    id: str,
    address: str,
    port: int,
    *,
    ssl_port: int | None = None,
    metadata: dict[str, str] | None = None,
    registration_time: int = 1700000000000,
    service_type: str = "STATIC",
    payload_class: str = SPRING_PAYLOAD,
) -> bytes:
    """A Curator x-discovery instance node as JsonInstanceSerializer writes it
    in compatible mode: exactly these 9 keys in this order, compact, with a
    Spring Cloud Zookeeper payload and the ``{scheme}://{address}:{port}`` uriSpec."""
    node = {
        "name": name,
        "id": id,
        "address": address,
        "port": port,
        "sslPort": ssl_port,
        "payload": {"@class": payload_class, "id": id, "name": name, "metadata": metadata or {}},
        "registrationTimeUTC": registration_time,
        "serviceType": service_type,
        "uriSpec": URI_SPEC,
    }
    return json.dumps(node, separators=(",", ":")).encode()


def java_url_encode(text: str) -> str:
    """Java's ``URLEncoder.encode(text, "UTF-8")``."""
    return quote_plus(text, safe="*").replace("~", "%7E")


def dubbo_provider_path(root: str, url: str) -> str:
    """Where Dubbo keeps provider ``url`` (its full string): ``<root>/<enc(interface)>/providers/<enc(url)>``."""
    interface = dict(p.split("=", 1) for p in url.split("?", 1)[1].split("&"))["interface"]
    return f"{root}/{java_url_encode(interface)}/providers/{java_url_encode(url)}"


def dubbo_url(
    address: str, interface: str, *, version: str = "1.0.0", methods: str = "m", application: str = "a", **extra: str
) -> str:
    """A provider URL as ``URL.toFullString()`` gives it: parameters sorted by key."""
    params = {
        "anyhost": "true",
        "application": application,
        "category": "providers",
        "dynamic": "false",
        "interface": interface,
        "methods": methods,
        "side": "provider",
        "timestamp": "1",
        "version": version,
        **extra,
    }
    query = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if v != "")
    return f"dubbo://{address}/{interface}?{query}"


def dubbo_params(url: str) -> tuple[str, dict[str, str]]:
    """``protocol://host:port/path`` and the parameters of a Dubbo URL string."""
    head, _, query = url.partition("?")
    return head, dict(p.split("=", 1) for p in query.split("&") if p)
