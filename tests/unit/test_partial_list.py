"""A list that fails midway must stop the run before anything is written."""

from __future__ import annotations

import json

import pytest
from kubernetes.client.exceptions import ApiException

from lib.app import reconciler, sync_once
from lib.kube.client import Body
from lib.kube.pods import PodSource, SourceError
from lib.model import Current
from lib.settings import Settings


def raw_page(names: list[str], token: str | None) -> dict:
    items = [
        {
            "metadata": {
                "namespace": "ns",
                "name": n,
                "labels": {"rpc-service": "true"},
                "annotations": {"rpc-service": '[{"serviceName": "svc"}]'},
            },
            "status": {"phase": "Running", "podIP": "10.0.0.1", "conditions": [{"type": "Ready", "status": "True"}]},
        }
        for n in names
    ]
    return {"metadata": {"continue": token, "resourceVersion": "7"}, "items": items}


class FailingSecondPage:
    """Answers the first page, then fails like an API server going away."""

    def __init__(self) -> None:
        self.calls: list[str | None] = []

    def get(self, path: str, query: list[tuple[str, object]], timeout: object = None, accept: str = "") -> Body:
        assert path == "/api/v1/pods"
        self.calls.append(dict(query).get("continue"))  # type: ignore[arg-type]
        if len(self.calls) == 1:
            return Body(json.dumps(raw_page(["a", "b"], "next-page")).encode(), "application/json")
        raise ApiException(status=500, reason="Internal Server Error")


class RegistryThatMustNotBeWritten:
    """Reads answer "nothing there" (a full sync reads shared nodes while it
    lists); any other use is a write, or a read that only follows a list."""

    def __init__(self) -> None:
        self.used: list[str] = []

    def read_shared(self, directory: str, paths: object = None, *, records: bool = True) -> Current:
        self.used.append(f"read_shared {directory}")
        return Current({}, {})

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"the registry was used ({name}) after a failed list")


def test_a_list_failing_on_its_second_page_raises_before_anything_is_written():
    source = PodSource.__new__(PodSource)
    source.kube, source.namespace, source.page_size, source.timeout = FailingSecondPage(), "", 2, 5.0
    settings = Settings()
    registry = RegistryThatMustNotBeWritten()

    with pytest.raises(SourceError, match="HTTP 500"):
        sync_once(settings, source, reconciler(settings, registry, None))  # type: ignore[arg-type]
    assert source.kube.calls == [None, "next-page"]
    assert registry.used == ["read_shared /rpc_v2"]
