"""Kubernetes for the tests: Deployments and pods in a test namespace, pod
readiness, service-account kubeconfigs and the shipped manifests."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

from .common import eventually

LABEL = "rpc-service"

# The annotation of the original's sample Deployments (k8s/test-rpc-service.yaml), verbatim.
SEED_ANNOTATION = (
    '[{"serviceName": "test-rpc-server-1", "version": "v0" }, { "serviceName": "test-rpc-server-2", "version": "v1"}]'
)

# The container of the sample Deployments. kwok never pulls the image: it only
# plays the pod lifecycle.
SAMPLE_CONTAINER = {
    "name": "simple-http-server",
    "image": "zhaohuabing/simple-http-server",
    "ports": [{"containerPort": 5000}],
}


def deployment(
    name: str,
    replicas: int,
    annotation: str | None = SEED_ANNOTATION,
    *,
    labelled: bool = True,
    annotations: dict[str, str] | None = None,
    containers: list[dict[str, Any]] | None = None,
    pod_spec: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A Deployment shaped like the original's samples: pods labelled ``app=<name>``
    (and ``rpc-service=true`` when ``labelled``) carrying ``annotation`` as their
    rpc-service annotation (none when None), plus ``annotations``; ``pod_spec``
    adds or overrides keys of the pod spec."""
    labels = {"app": name}
    if labelled:
        labels[LABEL] = "true"
    meta: dict[str, Any] = {"labels": labels}
    pod_annotations = {**({LABEL: annotation} if annotation is not None else {}), **(annotations or {})}
    if pod_annotations:
        meta["annotations"] = pod_annotations
    spec = {"containers": containers or [SAMPLE_CONTAINER], **(pod_spec or {})}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": meta, "spec": spec},
        },
    }


def is_ready(pod: client.V1Pod) -> bool:
    """Running, Ready, with an IP, and not on its way out (what kube2zk counts)."""
    conditions = pod.status.conditions or []
    return (
        pod.status.phase == "Running"
        and pod.metadata.deletion_timestamp is None
        and bool(pod.status.pod_ip)
        and any(c.type == "Ready" and c.status == "True" for c in conditions)
    )


def pod_ready(item: dict[str, Any]) -> bool:
    """``is_ready`` for a pod as raw JSON (kubectl, or a list without models)."""
    status = item.get("status") or {}
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or ())
    meta = item.get("metadata") or {}
    running = status.get("phase") == "Running" and bool(status.get("podIP"))
    return ready and running and not meta.get("deletionTimestamp")


def create_namespace(core: client.CoreV1Api, name: str, timeout: float = 60) -> None:
    """Create ``name`` (an existing one is fine) and wait for its default
    ServiceAccount, without which no pod can be created in it."""
    try:
        core.create_namespace({"metadata": {"name": name}})
    except client.ApiException as exc:
        if exc.status != 409:
            raise

    def has_account() -> bool:
        with contextlib.suppress(client.ApiException):
            return bool(core.read_namespaced_service_account("default", name))
        return False

    eventually(f"the default ServiceAccount of namespace {name}", has_account, timeout, interval=0.2)


class Cluster:
    """Deployments and pods in one test namespace, with waits bounded by deadlines."""

    def __init__(self, core: client.CoreV1Api, apps: client.AppsV1Api, namespace: str):
        self.core, self.apps, self.namespace = core, apps, namespace

    def deploy(
        self,
        name: str,
        replicas: int,
        annotation: str | None = SEED_ANNOTATION,
        *,
        labelled: bool = True,
        extra_template: dict[str, Any] | None = None,
    ) -> None:
        body = deployment(name, replicas, annotation, labelled=labelled, pod_spec=extra_template)
        self.apps.create_namespaced_deployment(self.namespace, body)

    def scale(self, name: str, replicas: int) -> None:
        self.apps.patch_namespaced_deployment_scale(name, self.namespace, {"spec": {"replicas": replicas}})

    def set_annotation(self, name: str, annotation: str) -> None:
        patch = {"spec": {"template": {"metadata": {"annotations": {LABEL: annotation}}}}}
        self.apps.patch_namespaced_deployment(name, self.namespace, patch)

    def delete(self, name: str) -> None:
        self.apps.delete_namespaced_deployment(name, self.namespace, propagation_policy="Background")

    def pods(self, selector: str = "") -> list[client.V1Pod]:
        return self.core.list_namespaced_pod(self.namespace, label_selector=selector).items

    def ready_ips(self, selector: str = "") -> set[str]:
        return {p.status.pod_ip for p in self.pods(selector) if is_ready(p)}

    def wait_for(self, what: str, check: Callable[[], Any], timeout: float = 90) -> Any:
        return eventually(what, check, timeout, interval=0.25)

    def wait_ready(self, selector: str, count: int, timeout: float = 90) -> set[str]:
        """Wait until exactly ``count`` pods match and all are Ready; their IPs."""

        def check() -> bool:
            pods = self.pods(selector)
            return len(pods) == count and all(is_ready(p) for p in pods)

        self.wait_for(f"{count} ready pods matching {selector!r}", check, timeout)
        return self.ready_ips(selector)


def kubeconfig_for_token(admin_kubeconfig: str, token: str, path: Path) -> str:
    """A kubeconfig for the bed's API server that authenticates with ``token``."""
    admin = yaml.safe_load(Path(admin_kubeconfig).read_text())
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "bed", "cluster": admin["clusters"][0]["cluster"]}],
                "users": [{"name": "sa", "user": {"token": token}}],
                "contexts": [{"name": "sa", "context": {"cluster": "bed", "user": "sa"}}],
                "current-context": "sa",
            }
        )
    )
    return str(path)


def service_account_token(core: client.CoreV1Api, namespace: str, name: str) -> str:
    request = {"spec": {"audiences": [], "expirationSeconds": 3600}}
    return core.create_namespaced_service_account_token(name, namespace, request).status.token


def manifest_objects(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def hold_mass_deletion(
    cluster: Cluster, zk: Any, base: str, metric: Callable[[str], float | None], count: int = 12
) -> None:
    """Make a running --loop hold ``count`` deletions: one pod declares
    ``count`` services, is registered, then goes (more than the default
    budget of 5 may delete). ``metric`` reads the loop's metrics."""
    many = json.dumps([{"serviceName": f"svc-{i:02d}"} for i in range(count)])
    cluster.deploy("many", 1, many)
    cluster.wait_ready("app=many", 1)
    eventually(f"{count} services", lambda: zk.exists(base) and len(zk.get_children(base)) == count)
    cluster.delete("many")
    eventually("deletions held", lambda: metric("kube2zk_deletions_held") == float(count))
