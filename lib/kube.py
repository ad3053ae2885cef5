"""Connection to the Kubernetes API: in-cluster inside a pod, else a kubeconfig."""

from __future__ import annotations

import os

from kubernetes import client, config

_SA_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"


def api_client(kubeconfig: str | None) -> client.ApiClient:
    """An ApiClient for ``kubeconfig``, or the pod's own ServiceAccount when
    running in a cluster and no kubeconfig was named."""
    configuration = client.Configuration()
    if kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST") and os.path.exists(_SA_TOKEN):
        config.load_incluster_config(client_configuration=configuration)
    else:
        config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
    return client.ApiClient(configuration)
