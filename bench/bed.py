"""The private test bed and the pods the benchmark runs against.

Pods are bare pods bound straight to a fake node (``spec.nodeName``), created
by a thread pool: the controller-manager (20 requests/s by default) and the
scheduler would make ReplicaSets take minutes for 10,000 pods, while kwok
marks a bound pod Running and Ready with an IP from its node's /22 at once.
Replacing a pod (what a ReplicaSet does) is a delete plus a create of a pod
with a new name on the next node, so it always gets a new IP.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers import LABEL, bed_env, bed_script, create_namespace, pod_ready
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.utils import parse_quantity

SELECTOR = f"{LABEL}=true"
PODS_PER_NODE = 500  # a node's /22 gives kwok 1,022 addresses
WORKERS = 16


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


BENCH_PORT = 8080  # every entry carries a port (the curator layout needs one; the seed layout ignores it)


def annotation(*services: str) -> str:
    entries = [{"serviceName": s, "version": "1.0", "port": BENCH_PORT} for s in services]
    return json.dumps(entries, separators=(",", ":"))


@dataclass
class PodSpec:
    name: str
    services: tuple[str, ...]
    node: int


class Bed:
    """A test bed under ``state_dir``: brought up (or reused), torn down if we started it."""

    def __init__(self, state_dir: str, nodes: int):
        self.state_dir = Path(state_dir)
        self.nodes = nodes
        self.env: dict[str, str] = {}
        self.started_here = False
        self.api: client.ApiClient | None = None

    def script_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["KUBE2ZK_TESTBED_STATE"] = str(self.state_dir)
        env["TESTBED_NODES"] = str(self.nodes)
        return env

    def up(self) -> float:
        started = time.monotonic()
        self.started_here = not (self.state_dir / "env").exists()
        log(f"test bed {self.state_dir} with {self.nodes} fake nodes: testbed/up.sh")
        proc = bed_script("up.sh", env=self.script_env())
        if proc.returncode != 0:
            raise SystemExit(f"testbed/up.sh failed:\n{proc.stderr[-3000:]}")
        env = bed_env(self.state_dir)
        self.env = {key: env[key] for key in ("KUBECONFIG", "ZK_HOSTS", "PATH", "K8S_API")}
        configuration = client.Configuration()
        config.load_kube_config(config_file=self.env["KUBECONFIG"], client_configuration=configuration)
        configuration.connection_pool_maxsize = WORKERS * 2
        self.api = client.ApiClient(configuration)
        self.check_nodes()
        return time.monotonic() - started

    def down(self) -> None:
        log(f"tearing down the test bed {self.state_dir}")
        bed_script("down.sh", env=self.script_env())

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    @property
    def apps(self) -> client.AppsV1Api:
        return client.AppsV1Api(self.api)

    def check_nodes(self) -> None:
        nodes = self.core.list_node(label_selector="type=kwok").items
        pods = {int(parse_quantity(n.status.allocatable.get("pods", "0"))) for n in nodes}
        if len(nodes) < self.nodes:
            raise SystemExit(f"only {len(nodes)} of {self.nodes} fake nodes are there")
        if min(pods) < PODS_PER_NODE:
            raise SystemExit(f"fake nodes allow only {min(pods)} pods each")

    def footprint(self) -> dict[str, float]:
        """Resident memory (MB) of each control-plane process and ZooKeeper,
        and etcd's data directory on disk (MB): what a larger bed runs out of."""
        out: dict[str, float] = {}
        for pid_file in sorted((self.state_dir / "pids").glob("*.pid")):
            try:
                status = Path(f"/proc/{int(pid_file.read_text().split()[0])}/status").read_text()
            except (OSError, ValueError, IndexError):
                continue
            for line in status.splitlines():
                if line.startswith("VmRSS:"):
                    out[pid_file.stem] = int(line.split()[1]) / 1024
        etcd = self.state_dir / "k8s" / "etcd"
        if etcd.is_dir():
            out["etcd data on disk"] = sum(f.stat().st_size for f in etcd.rglob("*") if f.is_file()) / 2**20
        return out

    def versions(self) -> dict[str, str]:
        info = client.VersionApi(self.api).get_code()
        return {"kubernetes": info.git_version}

    def ensure_namespace(self, name: str) -> None:
        create_namespace(self.core, name)

    def raw_list(self, namespace: str, selector: str = SELECTOR, page_size: int = 500) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        token = None
        while True:
            kwargs: dict[str, Any] = dict(label_selector=selector, limit=page_size, _preload_content=False)
            if token:
                kwargs["_continue"] = token
            body = json.loads(self.core.list_namespaced_pod(namespace, **kwargs).data)
            items.extend(body.get("items") or ())
            token = (body.get("metadata") or {}).get("continue")
            if not token:
                return items


class Workload:
    """N labelled pods over S services (pods i*per .. i*per+per-1 serve service i).

    With ``services_per_pod`` k > 1 (and ``services``, S, a multiple of k) the
    pods of group g also serve services g + S/k, g + 2S/k, ... (mod S), so
    every service is served by k groups, k * per pods, once all S groups exist.
    """

    def __init__(
        self,
        bed: Bed,
        namespace: str,
        per_service: int,
        prefix: str = "bench-svc",
        services_per_pod: int = 1,
        services: int = 0,
    ):
        if services_per_pod > 1 and (services <= 0 or services % services_per_pod):
            raise ValueError("services must be a positive multiple of services_per_pod")
        self.bed = bed
        self.ns = namespace
        self.per = per_service
        self.prefix = prefix
        self.services_per_pod = services_per_pod
        self.total_services = services
        self.pods: dict[str, PodSpec] = {}  # name -> spec, the pods that should exist
        self.count = 0  # pods created by index so far (replacements keep the count)
        self.generation = 0
        self.replaced: list[tuple[str, str, tuple[str, ...]]] = []  # the last replace(): (old, new, services)

    def service(self, index: int) -> str:
        return f"{self.prefix}-{index // self.per:05d}"

    def services_of(self, index: int) -> tuple[str, ...]:
        """The services pod ``index`` declares (its group's first)."""
        if self.services_per_pod == 1:
            return (self.service(index),)
        group, stride = index // self.per, self.total_services // self.services_per_pod
        return tuple(
            f"{self.prefix}-{(group + j * stride) % self.total_services:05d}" for j in range(self.services_per_pod)
        )

    def body(self, spec: PodSpec) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": spec.name,
                "labels": {LABEL: "true", "app": "bench"},
                "annotations": {LABEL: annotation(*spec.services)},
            },
            "spec": {
                "nodeName": f"kwok-node-{spec.node % self.bed.nodes + 1}",
                "containers": [{"name": "app", "image": "registry.invalid/app:1"}],
                "tolerations": [{"operator": "Exists"}],
                "terminationGracePeriodSeconds": 0,
            },
        }

    def _parallel(self, fn: Callable[[Any], None], items: Iterable[Any]) -> None:
        with ThreadPoolExecutor(WORKERS) as pool:
            for _ in pool.map(fn, items):
                pass

    def create(self, specs: list[PodSpec]) -> None:
        core = self.bed.core

        def one(spec: PodSpec) -> None:
            for attempt in range(5):
                try:
                    core.create_namespaced_pod(self.ns, self.body(spec), _preload_content=False)
                    return
                except ApiException as exc:
                    if exc.status == 409:
                        return
                    if attempt == 4 or exc.status not in (429, 500, 503, 504):
                        raise
                    time.sleep(0.5 * (attempt + 1))

        self._parallel(one, specs)
        for spec in specs:
            self.pods[spec.name] = spec

    def grow_to(self, n: int) -> None:
        specs = []
        for i in range(self.count, n):
            specs.append(PodSpec(f"p-{i // self.per:05d}-{i % self.per}", self.services_of(i), i))
        self.count = max(self.count, n)
        self.create(specs)

    def remove(self, names: list[str]) -> None:
        """Delete these pods (if they are there) and forget them."""
        core = self.bed.core

        def delete(name: str) -> None:
            try:
                core.delete_namespaced_pod(name, self.ns, grace_period_seconds=0, _preload_content=False)
            except ApiException as exc:
                if exc.status != 404:
                    raise

        self._parallel(delete, names)
        for name in names:
            self.pods.pop(name, None)

    def services(self) -> int:
        return len({s for spec in self.pods.values() for s in spec.services})

    def replace(self, fraction: float, seed: int = 1) -> list[str]:
        """Delete ``fraction`` of the pods and create each one anew on the next
        node (new name, new IP). Returns the services affected."""
        self.generation += 1
        rng = random.Random(seed + self.generation)
        victims = rng.sample(sorted(self.pods), max(1, round(len(self.pods) * fraction)))
        specs = {name: self.pods[name] for name in victims}
        self.remove(victims)
        fresh = []
        self.replaced = []
        for name in victims:
            old = specs[name]
            base = name.split("-r", 1)[0]
            fresh.append(PodSpec(f"{base}-r{self.generation}", old.services, old.node + 1))
            self.replaced.append((name, fresh[-1].name, old.services))
        self.create(fresh)
        return sorted({s for spec in fresh for s in spec.services})

    def wait_ready(self, timeout: float = 900.0) -> float:
        """Until exactly the expected pods exist and all are Ready (no stragglers)."""
        started = time.monotonic()
        last_note = 0.0
        while True:
            items = self.bed.raw_list(self.ns)
            names = {(i.get("metadata") or {}).get("name") for i in items}
            ready = sum(1 for i in items if pod_ready(i) and i["metadata"]["name"] in self.pods)
            if ready == len(self.pods) and names == set(self.pods):
                return time.monotonic() - started
            now = time.monotonic()
            if now - started > timeout:
                raise SystemExit(f"pods not ready after {timeout:.0f}s: {ready}/{len(self.pods)} ready")
            if now - last_note > 15:
                log(f"  {ready}/{len(self.pods)} pods ready, {len(names)} exist")
                last_note = now
            time.sleep(1.0 if len(self.pods) > 2000 else 0.3)

    def ips(self, selector: str) -> dict[str, str]:
        items = self.bed.raw_list(self.ns, selector)
        return {i["metadata"]["name"]: i["status"]["podIP"] for i in items if pod_ready(i)}
