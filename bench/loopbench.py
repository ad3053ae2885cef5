"""``--loop`` mode: change -> ZooKeeper latency and writes during a rolling update."""

from __future__ import annotations

import json
import os
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from bed import LABEL, Bed, PodSpec, Workload, annotation, log
from helpers import LoopProcess, deployment, pod_ready
from jobrun import Scope
from kazoo.client import KazooClient
from kazoo.recipe.watchers import DataWatch
from kubernetes.client.exceptions import ApiException
from kubernetes.watch.watch import iter_resp_lines
from zkbench import Counters

T = TypeVar("T")

INCREMENTAL_SYNCS = 'kube2zk_sync_duration_seconds_count{kind="incremental"}'


def start_loop(scope: Scope, env: dict[str, str], log_path: Path, extra: tuple[str, ...] = ()) -> LoopProcess:
    """``--loop`` on the bed's ZooKeeper, scoped like a measured job run; wait
    for it with ``wait_ready`` (seconds until its first full sync is done)."""
    args = ["-zkservers", env["ZK_HOSTS"], *scope.flags(), *extra]
    return LoopProcess(args, {**os.environ, "KUBECONFIG": env["KUBECONFIG"]}, log_path)


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of a process, in MiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


class Timeline(Generic[T]):
    """Values as they arrive, each with the time it was seen; waiters block
    until a wanted value shows up after a mark."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.seen: list[tuple[float, T]] = []

    def add(self, now: float, value: T) -> None:
        with self.cond:
            self.seen.append((now, value))
            self.cond.notify_all()

    def mark(self) -> int:
        with self.cond:
            return len(self.seen)

    def wait_for(self, want: T, since: int, timeout: float) -> float | None:
        """The time ``want`` was first seen after ``since``, or None at the timeout."""
        deadline = time.perf_counter() + timeout
        with self.cond:
            while True:
                for t, value in self.seen[since:]:
                    if value == want:
                        return t
                left = deadline - time.perf_counter()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def current(self) -> T | None:
        with self.cond:
            return self.seen[-1][1] if self.seen else None


class NodeWatch(Timeline[frozenset[str] | None]):
    """Every version of one node's server list, with the time it was seen."""

    def __init__(self, zk: KazooClient, path: str):
        super().__init__()
        DataWatch(zk, path, self._changed)

    def _changed(self, data: bytes | None, stat: Any, event: Any = None) -> None:
        self.add(time.perf_counter(), frozenset(json.loads(data)["servers"]) if data else None)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


class BareWatch(Timeline[str]):
    """The floor's watch client: one pod watched by name, each event's
    annotation noted with its arrival time and nothing else done."""

    def __init__(self, bed: Bed, namespace: str, name: str):
        super().__init__()
        self.stopped = threading.Event()
        pod = bed.core.read_namespaced_pod(name, namespace)
        self.response = bed.core.list_namespaced_pod(
            namespace,
            field_selector=f"metadata.name={name}",
            watch=True,
            resource_version=pod.metadata.resource_version,
            timeout_seconds=3600,
            _preload_content=False,
        )
        self.thread = threading.Thread(target=self._follow, name="bare-watch", daemon=True)
        self.thread.start()

    def _follow(self) -> None:
        try:
            for line in iter_resp_lines(self.response):
                now = time.perf_counter()
                obj = json.loads(line).get("object") or {}
                self.add(now, ((obj.get("metadata") or {}).get("annotations") or {}).get(LABEL, ""))
        except Exception:  # the response is closed by stop()
            if not self.stopped.is_set():
                raise

    def stop(self) -> None:
        """End the stream: shutdown() unblocks the reading thread (close()
        would wait for it)."""
        self.stopped.set()
        self.response.shutdown()
        self.thread.join(timeout=10)


@dataclass
class LatencyResult:
    samples: list[float]
    timeouts: int
    patch_times: list[float] = field(default_factory=list)
    watch_times: list[float] = field(default_factory=list)  # the floor's PATCH -> event
    write_times: list[float] = field(default_factory=list)  # the floor's one ZooKeeper write

    def summary(self) -> dict[str, float]:
        ms = [1000 * s for s in self.samples]
        floor = [1000 * (w + z) for w, z in zip(self.watch_times, self.write_times, strict=True)]
        return {
            "n": len(ms),
            "timeouts": self.timeouts,
            "p50": percentile(ms, 0.5),
            "p95": percentile(ms, 0.95),
            "p99": percentile(ms, 0.99),
            "max": max(ms) if ms else float("nan"),
            "patch_p50": 1000 * percentile(self.patch_times, 0.5),
            "floor_p50": percentile(floor, 0.5),
            "floor_p99": percentile(floor, 0.99),
            "watch_p99": 1000 * percentile(self.watch_times, 0.99),
            "write_p99": 1000 * percentile(self.write_times, 0.99),
        }


def add_latency_pods(work: Workload) -> None:
    """loop-a always serves bench-loop; loop-b starts on bench-loop-alt."""
    work.create([PodSpec("loop-a", ("bench-loop",), 0), PodSpec("loop-b", ("bench-loop-alt",), 1)])


def measure_latency(bed: Bed, work: Workload, zk: KazooClient, scope: Scope, changes: int) -> LatencyResult:
    """Move loop-b in and out of bench-loop ``changes`` times by patching its
    annotation; time from sending the PATCH to the new list in ZooKeeper.

    The floor of each change is timed in the same run: a bare watch client
    of loop-b (PATCH sent -> its event; the event often arrives before the
    PATCH's own answer) plus one ZooKeeper write of the node's new bytes to a
    scratch node, made once the loop's write is seen."""
    ips = work.ips("app=bench")
    a, b = ips["loop-a"], ips["loop-b"]
    watch = NodeWatch(zk, f"{scope.zk_path}/bench-loop")
    if watch.wait_for(frozenset({a}), 0, 30) is None:
        raise RuntimeError(f"bench-loop never showed [{a}]; it shows {watch.current()}")
    scratch = f"{scope.zk_path}-floor"
    zk.ensure_path(scratch)
    bare = BareWatch(bed, work.ns, "loop-b")
    core = bed.core
    rng = random.Random(7)
    result = LatencyResult([], 0)
    try:
        for i in range(changes):
            joining = i % 2 == 0
            want = frozenset({a, b}) if joining else frozenset({a})
            value = annotation("bench-loop" if joining else "bench-loop-alt")
            body = {"metadata": {"annotations": {LABEL: value}}}
            mark, bare_mark = watch.mark(), bare.mark()
            t_call = time.perf_counter()
            core.patch_namespaced_pod("loop-b", work.ns, body, _preload_content=False)
            t0 = time.perf_counter()
            result.patch_times.append(t0 - t_call)
            seen = watch.wait_for(want, mark, 10.0)
            if seen is None:
                result.timeouts += 1
                watch.wait_for(want, mark, 30.0)
            else:
                result.samples.append(seen - t_call)
            event = bare.wait_for(value, bare_mark, 10.0)
            if seen is not None and event is not None:
                data = zk.get(f"{scope.zk_path}/bench-loop")[0]
                started = time.perf_counter()
                zk.set(scratch, data)
                result.write_times.append(time.perf_counter() - started)
                result.watch_times.append(event - t_call)
            time.sleep(rng.uniform(0.02, 0.12))
    finally:
        bare.stop()
        zk.delete(scratch)
    return result


def rolling_deployment(name: str, replicas: int, services: tuple[str, ...]) -> dict[str, Any]:
    """Bound to no image kwok would pull, tolerating every fake node, replaced at once."""
    return deployment(
        name,
        replicas,
        annotation(*services),
        annotations={"bench/rev": "1"},
        containers=[{"name": "app", "image": "registry.invalid/app:1"}],
        pod_spec={"tolerations": [{"operator": "Exists"}], "terminationGracePeriodSeconds": 0},
    )


def settled_ips(bed: Bed, ns: str, name: str, replicas: int, revision: str) -> frozenset[str] | None:
    """The IPs of the Deployment's pods once exactly ``replicas`` of the
    wanted revision run Ready and no other pod of it is left."""
    items = bed.raw_list(ns, f"app={name}")
    if len(items) != replicas:
        return None
    if not all(pod_ready(i) and i["metadata"]["annotations"].get("bench/rev") == revision for i in items):
        return None
    return frozenset(i["status"]["podIP"] for i in items)


ROLL_NAME = "bench-roll"


def remove_deployment(bed: Bed, namespace: str, name: str, timeout: float = 300.0) -> None:
    """Delete the Deployment (if any) and wait until none of its pods is left."""
    try:
        bed.apps.delete_namespaced_deployment(name, namespace, propagation_policy="Background")
    except ApiException as exc:
        if exc.status != 404:
            raise
    deadline = time.monotonic() + timeout
    while bed.raw_list(namespace, f"app={name}"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the pods of Deployment {name} were still there after {timeout:.0f}s")
        time.sleep(1.0)


def rolling_update(bed: Bed, work: Workload, zk: KazooClient, loop: LoopProcess, scope: Scope, replicas: int) -> dict:
    name = ROLL_NAME
    services = ("bench-roll-a", "bench-roll-b")
    apps = bed.apps
    apps.create_namespaced_deployment(work.ns, rolling_deployment(name, replicas, services), _preload_content=False)
    started = time.perf_counter()
    while (ips := settled_ips(bed, work.ns, name, replicas, "1")) is None:
        if time.perf_counter() - started > 300:
            raise RuntimeError("the rolling-update Deployment did not come up")
        time.sleep(0.5)
    watches = {s: NodeWatch(zk, f"{scope.zk_path}/{s}") for s in services}
    for s, w in watches.items():
        if w.wait_for(ips, 0, 60) is None:
            raise RuntimeError(f"{s} never showed the Deployment's {replicas} pods")
    time.sleep(1.0)
    before = {s: zk.get(f"{scope.zk_path}/{s}")[1].version for s in services}
    marks = {s: w.mark() for s, w in watches.items()}
    counters = Counters.take(bed.env["ZK_HOSTS"])
    batches = loop.metric(INCREMENTAL_SYNCS) or 0.0
    log(f"  rolling update of {replicas} pods")
    t0 = time.perf_counter()
    patch = {"spec": {"template": {"metadata": {"annotations": {"bench/rev": "2"}}}}}
    apps.patch_namespaced_deployment(name, work.ns, patch, _preload_content=False)
    while (ips := settled_ips(bed, work.ns, name, replicas, "2")) is None:
        if time.perf_counter() - t0 > 600:
            raise RuntimeError("the rolling update did not finish in 600s")
        time.sleep(0.25)
    rollout = time.perf_counter() - t0
    lag = {}
    for s, w in watches.items():
        seen = w.wait_for(ips, marks[s], 60)
        if seen is None:
            raise RuntimeError(f"{s} did not converge to the new pods")
        lag[s] = seen - t0
    time.sleep(2.0)
    after = {s: zk.get(f"{scope.zk_path}/{s}")[1].version for s in services}
    counters = Counters.take(bed.env["ZK_HOSTS"]) - counters
    batches = (loop.metric(INCREMENTAL_SYNCS) or 0.0) - batches
    min_sizes = {s: min(len(v or ()) for _, v in w.seen[marks[s] :]) for s, w in watches.items()}
    return {
        "replicas": replicas,
        "rollout_s": rollout,
        "writes": {s: after[s] - before[s] for s in services},
        "converged_s": lag,
        "zk_write_requests": counters.writes,
        "incremental_batches": batches,
        "min_servers_seen": min_sizes,
    }
