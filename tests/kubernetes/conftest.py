"""Fixtures on the whole test bed: the bed is brought up once per test run (or
a running one reused); each test gets its own namespace and ZooKeeper paths."""

from __future__ import annotations

import contextlib
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helpers import *  # noqa: F403 - `from conftest import ...` keeps working
from helpers import (
    STATE,
    Cluster,
    bed_env,
    bed_script,
    create_namespace,
    job_env,
    kubeconfig_for_token,
    manifest_objects,
    scope_flags,
    service_account_token,
)
from helpers.consumer_fixtures import consumer_libs, curator_reader, dubbo_reader, spring_reader  # noqa: F401
from helpers.tools import build_tool
from helpers.zk_security import alice, certs, cleanup, tls_zk  # noqa: F401 - fixtures of the security tests
from kubernetes import client, config


@pytest.fixture(scope="session")
def testbed_env() -> dict[str, str]:
    """The environment of a running bed: KUBECONFIG, ZK_HOSTS, PATH with kubectl."""
    proc = bed_script("up.sh", timeout=5400)
    if proc.returncode != 0:
        pytest.fail(f"testbed/up.sh failed ({proc.returncode}):\n{proc.stderr[-4000:]}", pytrace=False)
    return bed_env(STATE)


@pytest.fixture(scope="session")
def k8s_env(testbed_env: dict[str, str]) -> dict[str, str]:
    return testbed_env


@pytest.fixture(scope="session")
def zk_hosts(testbed_env: dict[str, str]) -> str:
    return testbed_env["ZK_HOSTS"]


@pytest.fixture(scope="session")
def api(testbed_env: dict[str, str]) -> client.ApiClient:
    configuration = client.Configuration()
    config.load_kube_config(config_file=testbed_env["KUBECONFIG"], client_configuration=configuration)
    return client.ApiClient(configuration)


@pytest.fixture(scope="session")
def core(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


@pytest.fixture(scope="session")
def apps(api: client.ApiClient) -> client.AppsV1Api:
    return client.AppsV1Api(api)


@pytest.fixture
def namespace(core: client.CoreV1Api) -> Iterator[str]:
    """A fresh namespace, deleted (without waiting) after the test."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    create_namespace(core, name)
    yield name
    with contextlib.suppress(client.ApiException):
        core.delete_namespace(name, grace_period_seconds=0)


@pytest.fixture
def scoped(
    testbed_env: dict[str, str], zk_root: str, namespace: str
) -> Callable[..., tuple[list[str], dict[str, str]]]:
    """The flags that scope a kube2zk run to the test's namespace and paths,
    and its environment (the bed's, without any KUBE2ZK_ variable)."""

    def make(zk_hosts: str | None = None) -> tuple[list[str], dict[str, str]]:
        return scope_flags(namespace, zk_hosts or testbed_env["ZK_HOSTS"], zk_root), job_env(testbed_env)

    return make


@pytest.fixture
def cluster(core: client.CoreV1Api, apps: client.AppsV1Api, namespace: str) -> Cluster:
    return Cluster(core, apps, namespace)


@pytest.fixture
def manifest_account(api, core, namespace, testbed_env, tmp_path) -> Iterator[Callable[[Path], str]]:
    """Apply a manifest's ServiceAccount, ClusterRole and ClusterRoleBinding,
    renamed into the test's namespace, and return a kubeconfig with that
    account's token: tests then run with exactly the RBAC the manifest grants."""
    rbac = client.RbacAuthorizationV1Api(api)
    created: list[tuple[str, str]] = []

    def apply(manifest: Path) -> str:
        docs = {d["kind"]: d for d in manifest_objects(manifest)}
        sa, role, binding = docs["ServiceAccount"], docs["ClusterRole"], docs["ClusterRoleBinding"]
        sa["metadata"]["namespace"] = namespace
        core.create_namespaced_service_account(namespace, sa)
        role["metadata"]["name"] += f"-{namespace}"
        binding["metadata"]["name"] += f"-{namespace}"
        binding["roleRef"]["name"] = role["metadata"]["name"]
        binding["subjects"][0]["namespace"] = namespace
        rbac.create_cluster_role(role)
        created.append(("role", role["metadata"]["name"]))
        rbac.create_cluster_role_binding(binding)
        created.append(("binding", binding["metadata"]["name"]))
        token = service_account_token(core, namespace, sa["metadata"]["name"])
        return kubeconfig_for_token(testbed_env["KUBECONFIG"], token, tmp_path / f"{manifest.stem}.kubeconfig")

    yield apply
    for kind, name in reversed(created):
        if kind == "binding":
            rbac.delete_cluster_role_binding(name)
        else:
            rbac.delete_cluster_role(name)


@pytest.fixture(scope="session")
def helm() -> Path:
    """helm, built by testbed/tools.sh when this machine has none cached."""
    return build_tool("helm")


@pytest.fixture(scope="session")
def monitoring_crds(testbed_env: dict[str, str]) -> None:
    """The Prometheus Operator's ServiceMonitor and PrometheusRule types,
    served by the bed (fetched by testbed/tools.sh), so the chart's
    monitoring objects get the same server-side checks as the others."""
    folder = build_tool("monitoring-crds")
    for command in (
        ["kubectl", "apply", "--server-side", "--force-conflicts", "-f", str(folder)],
        ["kubectl", "wait", "--for=condition=Established", "--timeout=60s", "-f", str(folder)],
    ):
        proc = subprocess.run(command, env=testbed_env, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(command[:2])} of the monitoring CRDs failed: {proc.stderr}")


@pytest.fixture(scope="session")
def promtool() -> Path:
    """promtool, built by testbed/tools.sh when this machine has none cached."""
    return build_tool("promtool")
