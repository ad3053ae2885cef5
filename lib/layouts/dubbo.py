"""The Dubbo layout: interface-level providers, which Dubbo 2.7 and 3.x
consumers read through their ZooKeeper registry.

One node per serving pod per service,
``<root>/<enc(interface)>/providers/<enc(provider URL)>``, where ``enc`` is
Java's ``URLEncoder`` and the URL is Dubbo's ``toFullString()``:

    dubbo://10.244.1.7:20880/com.example.Greeter?anyhost=true&application=greeter
      &category=providers&dynamic=false&interface=com.example.Greeter
      &methods=hello,bye&side=provider&timestamp=1764450000000&version=1.0.0

Parameters are sorted by key and empty ones left out (a provider with
``version=`` does not match a consumer without a version). ``dynamic=false``
makes the node persistent, as kube2zk removes it itself when the pod stops
serving; ``timestamp`` is the pod's creation time, so an unchanged pod is
never rewritten. The node's data is not read by consumers and stays empty.
kube2zk never touches ``configurators``, ``routers`` or ``consumers``, nor a
provider node it did not write.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote_plus, unquote_plus

from lib.layouts.curator import creation_millis, port_of
from lib.model import DesiredState, PodInfo, Problem, ServiceDecl


def java_url_encode(text: str) -> str:
    """``java.net.URLEncoder.encode(text, "UTF-8")``."""
    return quote_plus(text, safe="*").replace("~", "%7E")


def _text(value: object, field: str) -> str:
    if value is None:
        return ""
    if isinstance(value, list) and field == "methods" and all(isinstance(v, str) for v in value):
        value = ",".join(value)
    if not isinstance(value, str) or any(c in value for c in "&?= /"):
        raise ValueError(f"{field} must be a string without '&', '?', '=', ' ' or '/'")
    return value


class DubboLayout:
    name = "dubbo"
    per_directory = True
    shared = False  # each owner writes nodes of its own

    def __init__(self, root: str):
        self.root = root
        self.base = root
        # What the last render said, for the paths and services it cannot
        # derive from a path alone (an interface need not be the service name).
        self._folders: dict[str, set[str]] = {}
        self._service: dict[str, str] = {}
        self._paths: dict[str, set[str]] = {}

    def roots(self) -> list[str]:
        return [self.root]

    def folder(self, interface: str) -> str:
        return f"{self.root}/{java_url_encode(interface)}/providers"

    def directories(self, state: DesiredState) -> set[str]:
        return {f for name in state.endpoints for f in self._folders.get(name, {self.folder(name)})}

    def scope(self, services: Iterable[str]) -> tuple[set[str], set[str]]:
        return set(), {f for name in services for f in self._folders.get(name, set()) | {self.folder(name)}}

    def service_of(self, path: str) -> str:
        return self._service.get(path) or unquote_plus(path[len(self.root) + 1 :].split("/", 1)[0])

    def owns(self, path: str) -> bool:
        parts = path[len(self.root) + 1 :].split("/") if path.startswith(self.root + "/") else []
        return len(parts) == 3 and parts[1] == "providers"

    def nodes(self, state: DesiredState) -> tuple[dict[str, bytes], list[Problem]]:
        nodes: dict[str, bytes] = {}
        problems: list[Problem] = []
        for name, endpoints in state.endpoints.items():
            folders = self._folders[name] = set()
            for path in self._paths.pop(name, ()):
                self._service.pop(path, None)
            paths = self._paths[name] = set()
            for pod, decl in endpoints:
                try:
                    interface, url = self.provider(name, pod, decl)
                except ValueError as exc:
                    problems.append(Problem(pod.key, f"service {name!r} (dubbo layout): {exc}", pod))
                    continue
                path = f"{self.folder(interface)}/{java_url_encode(url)}"
                folders.add(self.folder(interface))
                self._service[path] = name
                paths.add(path)
                nodes[path] = b""
        return nodes, problems

    def provider(self, name: str, pod: PodInfo, decl: ServiceDecl) -> tuple[str, str]:
        """The interface and the provider URL of one pod's entry."""
        extra = decl.extra
        if "port" not in extra:
            raise ValueError('no "port" (a Dubbo provider needs one)')
        port = port_of(extra["port"], pod, "port")
        interface = _text(extra.get("interface"), "interface") or name
        protocol = _text(extra.get("protocol"), "protocol") or "dubbo"
        params = {
            "anyhost": "true",
            "application": _text(extra.get("application"), "application") or name,
            "category": "providers",
            "dynamic": "false",
            "group": _text(extra.get("group"), "group"),
            "interface": interface,
            "methods": _text(extra.get("methods"), "methods"),
            "side": "provider",
            "timestamp": str(creation_millis(pod)),
            "version": _text(decl.version, "version"),
        }
        host = f"[{pod.pod_ip}]" if ":" in (pod.pod_ip or "") else pod.pod_ip
        query = "&".join(f"{key}={value}" for key, value in sorted(params.items()) if value)
        return interface, f"{protocol}://{host}:{port}/{interface}?{query}"

    def merge(self, new: bytes, old: bytes | None) -> bytes:
        return new

    @staticmethod
    def provider_of(path: str) -> list[str] | None:
        """``protocol://host:port/interface`` of a provider node's name, for
        people to read (its data is empty)."""
        url = unquote_plus(path.rpartition("/")[2])
        return [url.split("?", 1)[0]] if "://" in url else None

    @staticmethod
    def unreadable(data: bytes | None) -> str | None:
        return None  # consumers read only the node's name
