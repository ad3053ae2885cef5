"""Kubernetes side: list the labelled pods, keeping only what a sync needs.

The list is read raw (``_preload_content=False``) and parsed as plain JSON
page by page: the client's typed models cost about five times the parse, and
a page at a time keeps memory flat at tens of thousands of pods.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from kubernetes.watch.watch import iter_resp_lines

from lib.kube.client import KubeApi, pods_path
from lib.model import ANNOTATION, LABEL, LABEL_VALUE, PodInfo

log = logging.getLogger(__name__)

LABEL_SELECTOR = f"{LABEL}={LABEL_VALUE}"


class SourceError(Exception):
    """Listing failed; the run must not act on a partial view."""


@dataclass
class PodList:
    pods: list[PodInfo]
    resource_version: str


def pod_info(obj: dict[str, Any]) -> PodInfo:
    """Cut one raw pod (JSON dict, list item or watch object) down to PodInfo."""
    meta = obj.get("metadata") or {}
    status = obj.get("status") or {}
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or ())
    labels = meta.get("labels") or {}
    return PodInfo(
        namespace=meta.get("namespace", ""),
        name=meta.get("name", ""),
        phase=status.get("phase"),
        ready=ready,
        deleting=bool(meta.get("deletionTimestamp")),
        pod_ip=status.get("podIP") or None,
        annotation=(meta.get("annotations") or {}).get(ANNOTATION),
        has_label=labels.get(LABEL) == LABEL_VALUE,
        uid=meta.get("uid", ""),
        created=meta.get("creationTimestamp") or "",
        ports=_named_ports((obj.get("spec") or {}).get("containers") or ()),
    )


def _named_ports(containers: Any) -> tuple[tuple[str, int], ...]:
    """The named container ports, which an annotation may refer to by name."""
    named = []
    for container in containers:
        for port in (container or {}).get("ports") or ():
            if port.get("name") and isinstance(port.get("containerPort"), int):
                named.append((port["name"], port["containerPort"]))
    return tuple(named)


def describe_api_error(exc: Exception) -> str:
    if isinstance(exc, ApiException):
        reason = exc.reason or ""
        message = ""
        with contextlib.suppress(ValueError, AttributeError):
            message = json.loads(exc.body or "{}").get("message", "")
        return f"HTTP {exc.status} {reason}: {message}".strip().rstrip(":")
    return f"{type(exc).__name__}: {exc}"


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class Gone(SourceError):
    """The watch's resourceVersion is too old (HTTP 410): re-list."""


@dataclass(frozen=True)
class PodEvent:
    type: str  # ADDED, MODIFIED, DELETED or BOOKMARK (pod is None)
    pod: PodInfo | None
    resource_version: str


class PodSource:
    """Lists pods with label rpc-service=true in one namespace or all."""

    def __init__(self, api: client.ApiClient, namespace: str, *, page_size: int = 500, timeout: float = 30.0):
        self.kube = KubeApi(api)
        self.namespace = namespace
        self.page_size = page_size
        self.timeout = timeout

    def where(self) -> str:
        return f"namespace {self.namespace}" if self.namespace else "all namespaces"

    def _page(self, token: str | None) -> dict[str, Any]:
        query: list[tuple[str, Any]] = [("labelSelector", LABEL_SELECTOR), ("limit", self.page_size)]
        if token:
            query.append(("continue", token))
        return self.kube.get_json(pods_path(self.namespace), query, timeout=self.timeout)

    def pages(self) -> Iterator[tuple[list[PodInfo], str]]:
        """Each page's pods and the list's resourceVersion so far.

        A continue token that expired (410) restarts nothing silently: the
        caller gets a SourceError and acts on no partial list.
        """
        token: str | None = None
        while True:
            try:
                body = self._page(token)
            except (ApiException, urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
                raise SourceError(f"listing pods in {self.where()} failed: {describe_api_error(exc)}") from exc
            meta = body.get("metadata") or {}
            yield [pod_info(item) for item in body.get("items") or ()], meta.get("resourceVersion", "")
            token = meta.get("continue")
            if not token:
                return

    def list(self) -> PodList:
        pods: list[PodInfo] = []
        version = ""
        # Parsing a page allocates hundreds of thousands of containers, and the
        # cyclic garbage collector would run over and over on them: about half
        # of a 10,000-pod list. Parsed JSON holds no cycles; reference counting
        # frees each page.
        with paused_gc():
            for page, page_version in self.pages():
                pods.extend(page)
                version = page_version
        log.debug("listed %d labelled pods in %s (resourceVersion %s)", len(pods), self.where(), version)
        return PodList(pods, version)

    def watch(self, resource_version: str, timeout_seconds: int) -> Iterator[PodEvent]:
        """One bounded watch request from ``resource_version``.

        The server ends it after ``timeout_seconds``; the read timeout a little
        later makes a silently dead connection end too, so no watch can hang.
        Events are parsed as plain JSON (the client's ``Watch`` helper cannot
        skip its typed models without also losing its 410 handling).
        """
        query: list[tuple[str, Any]] = [
            ("labelSelector", LABEL_SELECTOR),
            ("watch", "true"),
            ("resourceVersion", resource_version),
            ("timeoutSeconds", timeout_seconds),
            ("allowWatchBookmarks", "true"),
        ]
        try:
            resp = self.kube.request(
                "GET", pods_path(self.namespace), query, timeout=(min(self.timeout, 10.0), timeout_seconds + 10.0)
            )
        except ApiException as exc:
            if exc.status == 410:
                raise Gone(f"watch from resourceVersion {resource_version} expired") from exc
            raise SourceError(f"watching pods in {self.where()} failed: {describe_api_error(exc)}") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise SourceError(f"watching pods in {self.where()} failed: {describe_api_error(exc)}") from exc
        try:
            for line in iter_resp_lines(resp):
                event = json.loads(line)
                kind, obj = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        raise Gone(f"watch from resourceVersion {resource_version} expired: {obj.get('message')}")
                    raise SourceError(f"watch error from the API server: {obj.get('message')} ({obj.get('code')})")
                version = (obj.get("metadata") or {}).get("resourceVersion", "")
                yield PodEvent(kind, None if kind == "BOOKMARK" else pod_info(obj), version)
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            raise SourceError(f"watch stream broke: {describe_api_error(exc)}") from exc
        finally:
            resp.close()
            resp.release_conn()
