"""Fixtures on the real test bed: the bed is brought up once per test run (or
a running one reused); each test gets its own namespace and ZooKeeper paths."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kazoo.client import KazooClient
from kubernetes import client, config

REPO = Path(__file__).resolve().parents[2]
STATE = Path(os.environ.get("KUBE2ZK_TESTBED_STATE", REPO / ".testbed"))
JOB = REPO / "kube2zk_job.py"

SEED_ANNOTATION = (
    '[{"serviceName": "test-rpc-server-1", "version": "v0" }, { "serviceName": "test-rpc-server-2", "version": "v1"}]'
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in str(item.path):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def testbed_env() -> dict[str, str]:
    """The environment of a running bed: KUBECONFIG, ZK_HOSTS, PATH with kubectl."""
    proc = subprocess.run(["bash", str(REPO / "testbed" / "up.sh")], capture_output=True, text=True, timeout=5400)
    if proc.returncode != 0:
        pytest.fail(f"testbed/up.sh failed ({proc.returncode}):\n{proc.stderr[-4000:]}", pytrace=False)
    dump = subprocess.run(["bash", "-c", f'. "{STATE}/env" && env -0'], capture_output=True, text=True, check=True)
    return dict(line.split("=", 1) for line in dump.stdout.split("\0") if "=" in line)


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
    core.create_namespace({"metadata": {"name": name}})
    deadline = time.monotonic() + 60
    while deadline > time.monotonic():
        try:
            core.read_namespaced_service_account("default", name)
            break
        except client.ApiException:
            time.sleep(0.2)
    yield name
    with contextlib.suppress(client.ApiException):
        core.delete_namespace(name, grace_period_seconds=0)


@pytest.fixture
def zk(zk_hosts: str) -> Iterator[KazooClient]:
    zk = KazooClient(hosts=zk_hosts, timeout=10)
    zk.start(timeout=15)
    yield zk
    zk.stop()
    zk.close()


@pytest.fixture
def zk_root(zk: KazooClient) -> Iterator[str]:
    """A fresh ZooKeeper prefix for the test; its zkpath is <root>/rpc_v2 and
    its ownership records live under <root>/kube2zk."""
    root = f"/t-{uuid.uuid4().hex[:10]}"
    yield root
    zk.delete(root, recursive=True)


@pytest.fixture
def scoped(
    testbed_env: dict[str, str], zk_root: str, namespace: str
) -> Callable[..., tuple[list[str], dict[str, str]]]:
    """The flags that scope a kube2zk run to the test's namespace and paths,
    and its environment (the bed's, without any KUBE2ZK_ variable)."""

    def make(zk_hosts: str | None = None) -> tuple[list[str], dict[str, str]]:
        env = {k: v for k, v in testbed_env.items() if not k.startswith("KUBE2ZK_")}
        flags = [
            "-namespace",
            namespace,
            "-zkservers",
            zk_hosts or testbed_env["ZK_HOSTS"],
            "-zkpath",
            f"{zk_root}/rpc_v2",
            "--owner-root",
            f"{zk_root}/kube2zk",
        ]
        return flags, env

    return make


@pytest.fixture
def job(scoped: Callable[..., tuple[list[str], dict[str, str]]]) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run kube2zk_job.py against the bed, scoped to the test's namespace and paths.

    Keyword ``env`` adds or overrides variables; ``defaults=False`` passes none
    of the scoping flags (for tests of the environment-variable configuration).
    """

    def run(
        *args: str, env: dict[str, str] | None = None, defaults: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        flags, full_env = scoped()
        full_env.update(env or {})
        return subprocess.run(
            [sys.executable, str(JOB), *(flags if defaults else []), *args],
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=REPO,
        )

    return run


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
        labels = {"app": name}
        if labelled:
            labels["rpc-service"] = "true"
        meta: dict[str, Any] = {"labels": labels}
        if annotation is not None:
            meta["annotations"] = {"rpc-service": annotation}
        template: dict[str, Any] = {
            "metadata": meta,
            "spec": {
                "containers": [
                    {
                        "name": "simple-http-server",
                        "image": "zhaohuabing/simple-http-server",
                        "ports": [{"containerPort": 5000}],
                    }
                ]
            },
        }
        for key, value in (extra_template or {}).items():
            template["spec"][key] = value
        body = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}, "template": template},
        }
        self.apps.create_namespaced_deployment(self.namespace, body)

    def scale(self, name: str, replicas: int) -> None:
        self.apps.patch_namespaced_deployment_scale(name, self.namespace, {"spec": {"replicas": replicas}})

    def set_annotation(self, name: str, annotation: str) -> None:
        patch = {"spec": {"template": {"metadata": {"annotations": {"rpc-service": annotation}}}}}
        self.apps.patch_namespaced_deployment(name, self.namespace, patch)

    def delete(self, name: str) -> None:
        self.apps.delete_namespaced_deployment(name, self.namespace, propagation_policy="Background")

    def pods(self, selector: str = "") -> list[client.V1Pod]:
        return self.core.list_namespaced_pod(self.namespace, label_selector=selector).items

    def ready_ips(self, selector: str = "") -> set[str]:
        return {p.status.pod_ip for p in self.pods(selector) if is_ready(p)}

    def wait_for(self, what: str, check: Callable[[], bool], timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while deadline > time.monotonic():
            if check():
                return
            time.sleep(0.25)
        raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")

    def wait_ready(self, selector: str, count: int, timeout: float = 90) -> set[str]:
        """Wait until exactly ``count`` pods match and all are Ready; their IPs."""

        def check() -> bool:
            pods = self.pods(selector)
            return len(pods) == count and all(is_ready(p) for p in pods)

        self.wait_for(f"{count} ready pods matching {selector!r}", check, timeout)
        return self.ready_ips(selector)


def is_ready(pod: client.V1Pod) -> bool:
    conditions = pod.status.conditions or []
    return (
        pod.status.phase == "Running"
        and pod.metadata.deletion_timestamp is None
        and bool(pod.status.pod_ip)
        and any(c.type == "Ready" and c.status == "True" for c in conditions)
    )


@pytest.fixture
def cluster(core: client.CoreV1Api, apps: client.AppsV1Api, namespace: str) -> Cluster:
    return Cluster(core, apps, namespace)


def read_node(zk: KazooClient, path: str) -> dict[str, Any] | None:
    if not zk.exists(path):
        return None
    data, _ = zk.get(path)
    return json.loads(data)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LoopProcess:
    """A ``kube2zk_job.py --loop`` process with its HTTP endpoint and log."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path):
        self.port = free_port()
        self.log_path = log_path
        self._log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, str(JOB), "--loop", "--metrics-addr", f"127.0.0.1:{self.port}", *args],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )

    def log(self) -> str:
        return self.log_path.read_text()

    def get(self, path: str) -> tuple[int, str]:
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
        except OSError:
            return 0, ""

    def metric(self, name: str) -> float | None:
        """Value of an unlabelled metric (or the sum over its labels)."""
        status, text = self.get("/metrics")
        if status != 200:
            return None
        values = [
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith(name) and (line[len(name)] in " {")
        ]
        return sum(values) if values else None

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


@pytest.fixture
def loop(
    scoped: Callable[..., tuple[list[str], dict[str, str]]], tmp_path: Path
) -> Iterator[Callable[..., LoopProcess]]:
    """Start --loop processes scoped to the test; all are stopped afterwards."""
    started: list[LoopProcess] = []

    def start(*args: str, zk_hosts: str | None = None) -> LoopProcess:
        flags, env = scoped(zk_hosts)
        proc = LoopProcess([*flags, *args], env, tmp_path / f"loop-{len(started)}.log")
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


def zookeeper(command: str, name: str, *args: str) -> None:
    """Drive a ZooKeeper instance of the test's own (testbed/zookeeper.sh)."""
    subprocess.run(
        ["bash", str(REPO / "testbed" / "zookeeper.sh"), command, name, *args],
        check=True,
        capture_output=True,
        timeout=120,
    )


def eventually(what: str, check: Callable[[], Any], timeout: float = 30, interval: float = 0.1) -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while deadline > time.monotonic():
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what} (last: {last!r})")


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
