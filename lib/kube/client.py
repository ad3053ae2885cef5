"""Connection to the Kubernetes API: in-cluster inside a pod, else a kubeconfig.

Requests go through the official client's ``ApiClient`` (authentication, TLS,
token refresh, proxies) but not through its typed API classes: importing
``CoreV1Api`` alone costs about half a second, a large part of a one-shot
run, and kube2zk decodes the raw JSON itself.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from lib.kube import protobuf

_SA_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"

Timeout = float | tuple[float, float] | None
JSON = "application/json"


def api_client(kubeconfig: str | None) -> client.ApiClient:
    """An ApiClient for ``kubeconfig``, or the pod's own ServiceAccount when
    running in a cluster and no kubeconfig was named."""
    configuration = client.Configuration()
    if kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST") and os.path.exists(_SA_TOKEN):
        config.load_incluster_config(client_configuration=configuration)
    else:
        config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
    return client.ApiClient(configuration)


def pods_path(namespace: str) -> str:
    return f"/api/v1/namespaces/{quote(namespace, safe='')}/pods" if namespace else "/api/v1/pods"


class KubeApi:
    """Raw requests on the API server; non-2xx answers raise ApiException."""

    def __init__(self, api: client.ApiClient):
        self.api = api

    def request(
        self,
        method: str,
        path: str,
        query: list[tuple[str, Any]] | None = None,
        body: dict[str, Any] | None = None,
        timeout: Timeout = None,
        accept: str = JSON,
    ) -> urllib3.BaseHTTPResponse:
        """The raw, unread response (so a list or a watch can be streamed).
        An error answer raises ApiException with its Status as JSON text,
        whichever encoding the server answered in."""
        headers = {"Accept": accept}
        if body is not None:
            headers["Content-Type"] = "application/json"
        params = self.api.param_serialize(
            method=method,
            resource_path=path,
            query_params=query or [],
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        response = self.api.call_api(*params, _request_timeout=timeout)
        if not 200 <= response.status <= 299:
            response.read()
            text = None
            if content_type(response.getheader("Content-Type")) == protobuf.CONTENT_TYPE:
                text = json.dumps(protobuf.status_fields(response.data or b""))
            raise ApiException.from_response(http_resp=response, body=text, data=None)
        return response.response

    def get(self, path: str, query: list[tuple[str, Any]], timeout: Timeout = None, accept: str = JSON) -> Body:
        """The whole body, undecoded, and its media type: the caller decodes
        it against its own schema."""
        response = self.request("GET", path, query, timeout=timeout, accept=accept)
        try:
            return Body(response.data, content_type(response.headers.get("Content-Type")))
        finally:
            response.release_conn()


@dataclass(frozen=True)
class Body:
    data: bytes
    content_type: str  # the media type alone: "application/json"


def content_type(header: str | None) -> str:
    return (header or "").partition(";")[0].strip().lower()
