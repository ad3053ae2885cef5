"""Kubernetes side: list the labelled pods, keeping only what a sync needs.

The list is read raw and decoded page by page against a schema of only the
fields a sync reads: in Kubernetes' protobuf encoding (``lib.kube.protobuf``,
half the API server's CPU of JSON), or in JSON with msgspec
(``lib.kube.schema``) when the server answers JSON, and for watch events. The
client's typed models cost about five times a plain ``json.loads``, and
``json.loads`` itself builds a dict for every part of every pod (managed
fields, container specs, all annotations) only for most of it to be thrown
away; both schemas skip what they do not name. A page at a time keeps memory
flat at tens of thousands of pods.
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

from lib.kube import protobuf
from lib.kube.client import JSON, KubeApi, pods_path
from lib.kube.schema import EVENT, PAGE, ListMeta, WatchObject, pod_info
from lib.model import LABEL, LABEL_VALUE, PodInfo

log = logging.getLogger(__name__)

LABEL_SELECTOR = f"{LABEL}={LABEL_VALUE}"
LIST_ACCEPT = f"{protobuf.CONTENT_TYPE}, {JSON}"


class SourceError(Exception):
    """Listing failed; the run must not act on a partial view."""


@dataclass
class PodList:
    pods: list[PodInfo]
    resource_version: str


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

    def _page(self, token: str | None) -> tuple[list[PodInfo], str, str | None]:
        """One page: its pods, the list's resourceVersion and the next token.
        Protobuf is asked for first (see ``lib.kube.protobuf``); a server or
        proxy that answers JSON is read as JSON."""
        query: list[tuple[str, Any]] = [("labelSelector", LABEL_SELECTOR), ("limit", self.page_size)]
        if token:
            query.append(("continue", token))
        body = self.kube.get(pods_path(self.namespace), query, timeout=self.timeout, accept=LIST_ACCEPT)
        if body.content_type == protobuf.CONTENT_TYPE:
            return protobuf.decode_page(body.data)
        page = PAGE.decode(body.data)
        meta = page.metadata or ListMeta()
        return [pod_info(item) for item in page.items or ()], meta.resourceVersion or "", meta.continue_

    def pages(self) -> Iterator[tuple[list[PodInfo], str]]:
        """Each page's pods and the list's resourceVersion so far.

        A continue token that expired (410) restarts nothing silently: the
        caller gets a SourceError and acts on no partial list.
        """
        token: str | None = None
        while True:
            try:
                pods, version, token = self._page(token)
            except (ApiException, urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
                raise SourceError(f"listing pods in {self.where()} failed: {describe_api_error(exc)}") from exc
            yield pods, version
            if not token:
                return

    def list(self) -> PodList:
        pods: list[PodInfo] = []
        version = ""
        # Decoding a page allocates tens of thousands of objects, and the
        # cyclic garbage collector would run over and over on them (with plain
        # json.loads it was about half of a 10,000-pod list). Decoded pages
        # hold no cycles; reference counting frees each one.
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
        Events are decoded with the list's schema (the client's ``Watch``
        helper cannot skip its typed models without also losing its 410
        handling).
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
                event = EVENT.decode(line)
                kind, obj = event.type or "", event.object or WatchObject()
                if kind == "ERROR":
                    if obj.code == 410:
                        raise Gone(f"watch from resourceVersion {resource_version} expired: {obj.message}")
                    raise SourceError(f"watch error from the API server: {obj.message} ({obj.code})")
                version = (obj.metadata.resourceVersion or "") if obj.metadata is not None else ""
                yield PodEvent(kind, None if kind == "BOOKMARK" else pod_info(obj), version)
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            raise SourceError(f"watch stream broke: {describe_api_error(exc)}") from exc
        finally:
            resp.close()
            resp.release_conn()
