"""The container image, run the way the shipped manifests run it.

The image is built by testbed/image.sh (on a Debian base made from Debian's
packages, so no registry is needed) and run with podman under the manifests'
constraints: their user, a read-only root filesystem with no writable mount at
all, no capabilities, no privilege escalation, their environment variables and
arguments, and the in-cluster credentials of a ServiceAccount bound to their
RBAC (a token from the TokenRequest API, mounted where the kubelet mounts it).
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from helpers import REPO, Cluster, LoopProcess, bed_script, eventually, free_port, manifest_objects, read_node
from kazoo.client import KazooClient

IMAGE_SH = REPO / "testbed" / "image.sh"
CRONJOB = REPO / "cronjob.yaml"
DEPLOYMENT = REPO / "k8s" / "kube2zk.yaml"
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
SERVICE = "test-rpc-server-1"


def podman_command(*args: str) -> list[str]:
    """podman as testbed/image.sh runs it on this machine (runc, its containers.conf)."""
    return ["bash", str(IMAGE_SH), "podman", *args]


def podman(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(podman_command(*args), capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def image() -> str:
    """The image of the current tree (built now, or reused when its inputs did not change)."""
    proc = bed_script("image.sh", "build", timeout=3600)
    if proc.returncode != 0:
        pytest.fail(f"testbed/image.sh build failed ({proc.returncode}):\n{proc.stderr[-4000:]}", pytrace=False)
    return proc.stdout.split()[-1]


def container_spec(manifest: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The kube2zk container of a manifest's workload and its pod's securityContext."""
    docs = {d["kind"]: d for d in manifest_objects(manifest)}
    if "CronJob" in docs:
        template = docs["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]
    else:
        template = docs["Deployment"]["spec"]["template"]
    (container,) = template["spec"]["containers"]
    return container, template["spec"]["securityContext"]


def constraints(manifest: Path) -> list[str]:
    """podman flags for what the manifest's securityContexts require. The
    values are read from the manifest: if it changes, the test follows."""
    container, pod = container_spec(manifest)
    own = container["securityContext"]
    assert pod["runAsNonRoot"] and pod["runAsUser"] != 0
    assert own["readOnlyRootFilesystem"] and not own["allowPrivilegeEscalation"]
    return [
        f"--user={pod['runAsUser']}:{pod['runAsGroup']}",
        # Kubernetes mounts nothing writable unless a volume says so: no tmpfs either.
        "--read-only",
        "--read-only-tmpfs=false",
        *(f"--cap-drop={cap.lower()}" for cap in own["capabilities"]["drop"]),
        "--security-opt=no-new-privileges",
    ]


def manifest_env(manifest: Path, **values: str) -> list[str]:
    """``-e`` flags for the manifest's environment, with ``values`` replacing
    (or adding) variables: the cluster's addresses differ from the bed's."""
    container, _ = container_spec(manifest)
    env = {e["name"]: e.get("value", "") for e in container.get("env", [])}
    missing = {"namespace", "zkservers", "zkpath"} - env.keys()
    assert not missing, f"{manifest.name} no longer sets {missing}"
    env.update(values)
    return [f"-e{name}={value}" for name, value in env.items()]


@pytest.fixture
def in_cluster(manifest_account, namespace, testbed_env, tmp_path) -> Callable[[Path], list[str]]:
    """podman flags giving a container the in-cluster credentials of the
    manifest's ServiceAccount (created with its RBAC in the test namespace):
    token, CA and namespace mounted read-only where the kubelet puts them, and
    KUBERNETES_SERVICE_HOST/PORT pointing at the bed's API server."""

    def flags(manifest: Path) -> list[str]:
        kubeconfig = yaml.safe_load(Path(manifest_account(manifest)).read_text())
        cluster = kubeconfig["clusters"][0]["cluster"]
        secrets = tmp_path / f"sa-{manifest.stem}"
        secrets.mkdir()
        secrets.chmod(0o755)  # the container's user reads it, as with the kubelet's 0644 files
        (secrets / "token").write_text(kubeconfig["users"][0]["user"]["token"])
        if "certificate-authority-data" in cluster:
            ca = base64.b64decode(cluster["certificate-authority-data"])
        else:
            ca = Path(cluster["certificate-authority"]).read_bytes()
        (secrets / "ca.crt").write_bytes(ca)
        (secrets / "namespace").write_text(namespace)  # the account's, as the kubelet writes it
        for f in secrets.iterdir():
            f.chmod(0o644)
        api = urlsplit(testbed_env["K8S_API"])
        return [
            f"--volume={secrets}:{SA_DIR}:ro",
            f"-eKUBERNETES_SERVICE_HOST={api.hostname}",
            f"-eKUBERNETES_SERVICE_PORT={api.port}",
        ]

    return flags


def scoped_values(namespace: str, zk_hosts: str, zk_root: str) -> dict[str, str]:
    """The manifest's variables, pointed at the test's namespace and ZooKeeper paths."""
    return {
        "namespace": namespace,
        "zkservers": zk_hosts,
        "zkpath": f"{zk_root}/rpc_v2",
        "KUBE2ZK_OWNER_ROOT": f"{zk_root}/kube2zk",
    }


def servers(zk: KazooClient, zk_root: str) -> set[str] | None:
    node = read_node(zk, f"{zk_root}/rpc_v2/{SERVICE}")
    return None if node is None else set(node["servers"])


def test_one_shot_run_as_the_cronjob_registers_the_services(
    image, in_cluster, cluster: Cluster, namespace, zk_hosts, zk: KazooClient, zk_root
):
    cluster.deploy("svc", 2)
    ips = cluster.wait_ready("app=svc", 2)
    container, _ = container_spec(CRONJOB)
    assert not container.get("args") and not container.get("command")

    proc = podman(
        "run",
        "--rm",
        "--network=host",
        *constraints(CRONJOB),
        *in_cluster(CRONJOB),
        *manifest_env(CRONJOB, **scoped_values(namespace, zk_hosts, zk_root)),
        image,
    )

    # The container has no kubeconfig: the mounted token is the only way it
    # could list the pods.
    assert proc.returncode == 0, proc.stderr
    assert servers(zk, zk_root) == ips


class Container(LoopProcess):
    """A ``--loop`` container in the foreground of a podman process; its
    endpoint is the manifest's metrics port moved to a free one (host network)."""

    def __init__(self, args: list[str], log_path: Path, name: str, port: int):
        self.port, self.name, self.log_path = port, name, log_path
        self._log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            podman_command("run", "--rm", f"--name={name}", *args), stdout=self._log, stderr=subprocess.STDOUT
        )


@pytest.fixture
def container(tmp_path) -> Iterator[Callable[..., Container]]:
    started: list[Container] = []

    def start(args: list[str], port: int) -> Container:
        c = Container(args, tmp_path / f"container-{len(started)}.log", f"kube2zk-test-{uuid.uuid4().hex[:8]}", port)
        started.append(c)
        return c

    yield start
    for c in started:
        if c.proc.poll() is None:
            podman("rm", "--force", "--time=0", c.name)
        c.stop()


def test_loop_as_the_deployment_answers_probes_and_stops_on_sigterm(
    image, in_cluster, container, cluster: Cluster, namespace, zk_hosts, zk: KazooClient, zk_root
):
    spec, _ = container_spec(DEPLOYMENT)
    port = free_port()
    metrics_addr = next(e["value"] for e in spec["env"] if e["name"] == "KUBE2ZK_METRICS_ADDR")
    assert metrics_addr.startswith(":")
    probes = {spec["livenessProbe"]["httpGet"]["path"], spec["readinessProbe"]["httpGet"]["path"]}
    assert probes == {"/healthz", "/readyz"}
    cluster.deploy("svc", 2)
    ips = cluster.wait_ready("app=svc", 2)

    proc = container(
        [
            "--network=host",
            *constraints(DEPLOYMENT),
            *in_cluster(DEPLOYMENT),
            *manifest_env(DEPLOYMENT, **scoped_values(namespace, zk_hosts, zk_root), KUBE2ZK_METRICS_ADDR=f":{port}"),
            image,
            *spec["args"],
        ],
        port,
    )

    for path in sorted(probes):
        eventually(f"{path} answering 200", lambda path=path: proc.get(path)[0] == 200, timeout=120)
    eventually("services registered", lambda: servers(zk, zk_root) == ips)
    # Watch-driven: a scale-up arrives without waiting for the next full sync.
    cluster.scale("svc", 3)
    ips = cluster.wait_ready("app=svc", 3)
    eventually("scale-up registered", lambda: servers(zk, zk_root) == ips)
    # kube2zk is the container's PID 1 (no shell in between), where SIGTERM
    # has no default action: it must handle it itself.
    top = podman("exec", proc.name, "cat", "/proc/1/cmdline")
    assert top.returncode == 0, top.stderr
    assert top.stdout.split("\0")[:2] == ["/opt/kube2zk/bin/python3", "/app/kube2zk_job.py"]

    kill = podman("kill", "--signal=TERM", proc.name)
    assert kill.returncode == 0, kill.stderr
    # Bounded: Kubernetes waits 30 s by default before SIGKILL; far less is needed.
    assert proc.proc.wait(timeout=20) == 0, proc.log()[-3000:]
    assert servers(zk, zk_root) == ips  # a stop keeps the registrations


# Run as root inside the image (read-only): every file can be looked at.
INSPECT = r"""
import json, os, sys
found = {"compilers": [], "pip": [], "wheels": [], "caches": [], "credentials": [], "private_keys": []}
COMPILERS = {"gcc", "cc", "c++", "g++", "clang", "ld", "as", "make", "cpp"}
for root, dirs, files in os.walk("/"):
    if root in ("/proc", "/sys", "/dev"):
        dirs[:] = []
        continue
    for d in dirs:
        path = os.path.join(root, d)
        if d == "pip" or d.startswith("pip-"):
            found["pip"].append(path)
        if d in (".cache", ".kube") or path == "/var/run/secrets" or path == "/run/secrets":
            found["caches" if d == ".cache" else "credentials"].append(path)
    for f in files:
        path = os.path.join(root, f)
        if (f in COMPILERS or f.startswith(("gcc", "x86_64-linux-gnu-"))) and os.access(path, os.X_OK):
            found["compilers"].append(path)
        if f == "Python.h":
            found["compilers"].append(path)
        if f.endswith(".whl"):
            found["wheels"].append(path)
        if f in ("token", "kubeconfig", "host-ca.crt") or f.endswith((".key", ".kubeconfig")):
            found["credentials"].append(path)
        if os.path.isfile(path) and not os.path.islink(path) and os.path.getsize(path) < 1 << 20:
            with open(path, "rb") as fh:
                if b"PRIVATE KEY-----" in fh.read():
                    found["private_keys"].append(path)
json.dump(found, sys.stdout)
"""


def test_image_holds_no_build_tools_caches_or_credentials(image):
    proc = podman(
        "run",
        "--rm",
        "--network=none",
        "--read-only",
        "--user=0:0",
        "--entrypoint=/opt/kube2zk/bin/python3",
        image,
        "-c",
        INSPECT,
    )
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert found == {k: [] for k in found}, found

    no_pip = podman(
        "run", "--rm", "--network=none", "--read-only", "--entrypoint=/opt/kube2zk/bin/python3", image, "-m", "pip"
    )
    assert no_pip.returncode != 0 and "No module named pip" in no_pip.stderr

    (config,) = json.loads(podman("image", "inspect", image).stdout)
    assert config["Config"]["User"] == "10001:10001"
    assert not [e for e in config["Config"].get("Env", []) if e.split("=")[0] in ("PIP_CERT", "KUBECONFIG")]


WRITE = r"""
import os, sys, tempfile
writable = []
for d in ("/", "/tmp", "/var/tmp", "/run", "/app", "/app/lib", "/opt/kube2zk", os.path.expanduser("~")):
    try:
        with tempfile.NamedTemporaryFile(dir=d):
            writable.append(d)
    except OSError:
        pass
print(" ".join(writable))
"""


def test_the_manifests_constraints_leave_nothing_writable(image):
    proc = podman(
        "run",
        "--rm",
        "--network=none",
        *constraints(DEPLOYMENT),
        "--entrypoint=/opt/kube2zk/bin/python3",
        image,
        "-c",
        WRITE,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == []
