"""A list that fails midway must stop the run before ZooKeeper is touched."""

from __future__ import annotations

import json

import pytest
from kubernetes.client.exceptions import ApiException

from lib.app import reconciler, sync_once
from lib.kube.pods import PodSource, SourceError
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

    def get_bytes(self, path: str, query: list[tuple[str, object]], timeout: object = None) -> bytes:
        assert path == "/api/v1/pods"
        self.calls.append(dict(query).get("continue"))  # type: ignore[arg-type]
        if len(self.calls) == 1:
            return json.dumps(raw_page(["a", "b"], "next-page")).encode()
        raise ApiException(status=500, reason="Internal Server Error")


class RegistryThatMustNotBeUsed:
    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"the registry was used ({name}) after a failed list")


def test_a_list_failing_on_its_second_page_raises_before_any_registry_access():
    source = PodSource.__new__(PodSource)
    source.kube, source.namespace, source.page_size, source.timeout = FailingSecondPage(), "", 2, 5.0
    settings = Settings()

    with pytest.raises(SourceError, match="HTTP 500"):
        sync_once(settings, source, reconciler(settings, RegistryThatMustNotBeUsed(), None))  # type: ignore[arg-type]
    assert source.kube.calls == [None, "next-page"]
