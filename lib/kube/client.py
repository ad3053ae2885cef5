"""Connection to the Kubernetes API: in-cluster inside a pod, else a kubeconfig.

Requests go through the official client's ``ApiClient`` (authentication, TLS,
token refresh, proxies) but not through its typed API classes: importing
``CoreV1Api`` alone costs about half a second, a large part of a one-shot
run, and kube2zk decodes the raw JSON itself.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

_SA_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"

Timeout = float | tuple[float, float] | None


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
    ) -> urllib3.BaseHTTPResponse:
        """The raw, unread response (so a list or a watch can be streamed)."""
        headers = {"Accept": "application/json"}
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
            raise ApiException.from_response(http_resp=response, body=None, data=None)
        return response.response

    def get_bytes(self, path: str, query: list[tuple[str, Any]], timeout: Timeout = None) -> bytes:
        """The whole body, undecoded: the caller decodes it against its own schema."""
        response = self.request("GET", path, query, timeout=timeout)
        try:
            return response.data
        finally:
            response.release_conn()
