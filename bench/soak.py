"""Soak: one ``--loop`` process under steady pod churn for minutes.

The bed, the namespace and the pods are the harness's (``run.Bench``,
``bed.Workload``); the loop is started by ``loopbench.start_loop``. After
the first full sync the churn generator makes a bounded number of changes at
a steady rate (bare pods replaced, added and removed, annotations changed,
Deployments scaled) while a sampler thread records, every ``SAMPLE_EVERY``
seconds: the loop's RSS (/proc/PID/status), the API server's request counters
for pods (``apiserver_request_total``, its admin /metrics), the loop's own
/metrics and ZooKeeper's ``mntr`` counters. At the end, once the pods have
settled, every service node must hold exactly the Ready pods' addresses.

Telling the loop's API requests from everyone else's: the loop is the only
client that lists or watches pods *in the benchmark namespace*
(scope="namespace"); the controller-manager, the scheduler and kwok watch pods
cluster-wide (scope="cluster"), and the churn generator sends only CREATE,
DELETE and PATCH requests, which it counts itself. A baseline window before
the loop starts shows what is left to subtract (it should be nothing).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import shlex
import statistics
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import loopbench
import report
import zkbench
from bed import LABEL, PODS_PER_NODE, Bed, PodSpec, Workload, annotation, log
from helpers import pod_ready
from kubernetes.client.exceptions import ApiException

from lib.layouts.seed import DEFAULT_CONFIG, encode_node

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"

PER_SERVICE = 5  # bare pods per service at the start
SAMPLE_EVERY = 10.0  # seconds between samples
BASELINE_S = 20.0  # quiet window before the loop starts
DEPLOYMENTS = 4  # each serves its own service and one they all share
DEP_MIN, DEP_MAX, DEP_START = 2, 12, 6
SETTLE_TIMEOUT = 300.0
CONVERGE_TIMEOUT = 60.0
# change kind -> weight; a replacement is a delete plus a create (one change)
MIX = {"replace": 35, "annotate": 30, "add": 10, "remove": 10, "scale": 15}

FULL_SYNCS = 'kube2zk_sync_duration_seconds_count{kind="full"}'
LOOP_PREFIXES = (
    "kube2zk_sync_duration_seconds_count",
    "kube2zk_zookeeper_operations_total",
    "kube2zk_watch_restarts_total",
    "kube2zk_services_registered",
    "kube2zk_servers_registered",
)
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--soak", action="store_true", help="soak --loop under steady pod churn instead of the benchmark")
    p.add_argument("--soak-minutes", type=float, default=10.0, help="minutes of churn (default 10)")
    p.add_argument("--soak-pods", type=int, default=3000, help=f"bare pods, {PER_SERVICE} per service (default 3000)")
    p.add_argument("--soak-rate", type=float, default=10.0, help="pod changes per second, 1 to 20 (default 10)")
    p.add_argument(
        "--soak-syncperiod",
        default="",
        help="the loop's -syncperiod (Go duration), so that full syncs (re-lists) fall inside the soak",
    )


def check_arguments(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if not args.soak:
        return
    if args.soak_pods < 50 or args.soak_pods % PER_SERVICE:
        p.error(f"--soak-pods must be a multiple of {PER_SERVICE}, at least 50")
    if not 0.5 <= args.soak_minutes <= 240:
        p.error("--soak-minutes must be between 0.5 and 240")
    if not 1 <= args.soak_rate <= 20:
        p.error("--soak-rate must be between 1 and 20")
    args.pods, args.services, args.sizes = args.soak_pods, args.soak_pods // PER_SERVICE, ""


# -- reading the counters ----------------------------------------------------------------


def _labels(text: str) -> dict[str, str]:
    return dict(_LABEL.findall(text))


def apiserver_pod_requests(bed: Bed) -> dict[str, float]:
    """``apiserver_request_total`` for pods (no subresource), summed over the
    response codes: "VERB scope" -> count; plus the open long-running requests
    as "open VERB scope"."""
    assert bed.api is not None
    url = bed.api.configuration.host + "/metrics"
    resp = bed.api.rest_client.pool_manager.request("GET", url, timeout=30)
    if resp.status != 200:
        raise RuntimeError(f"GET /metrics of the API server: HTTP {resp.status}")
    out: Counter[str] = Counter()
    for line in resp.data.decode().splitlines():
        if line.startswith("apiserver_request_total{"):
            prefix = ""
        elif line.startswith("apiserver_longrunning_requests{"):
            prefix = "open "
        else:
            continue
        labels_text, _, value = line.rpartition("} ")
        labels = _labels(labels_text)
        if labels.get("resource") != "pods" or labels.get("group") or labels.get("subresource"):
            continue
        out[f"{prefix}{labels.get('verb')} {labels.get('scope')}"] += float(value)
    return dict(out)


def loop_metrics(proc: Any) -> dict[str, float]:
    """The loop's own counters of interest: 'name{labels}' -> value."""
    status, text = proc.get("/metrics")
    if status != 200:
        return {}
    out = {}
    for line in text.splitlines():
        if line.startswith(LOOP_PREFIXES):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


@dataclass
class Sample:
    t: float  # seconds since the churn started (negative: before)
    rss_mb: float
    hwm_mb: float
    api: dict[str, float]
    loop: dict[str, float]
    zk: dict[str, int]
    changes: int
    harness: dict[str, int]


# -- the churn -------------------------------------------------------------------------------


@dataclass
class Churn:
    """Pod changes in the benchmark namespace, one at a time. Services never
    lose their last pod (the loop is not asked to delete service nodes, which
    its deletion budget could hold back)."""

    bed: Bed
    work: Workload
    services: int
    deployments: dict[str, int]
    rng: random.Random = field(default_factory=lambda: random.Random(11))
    done: Counter[str] = field(default_factory=Counter)  # change kind -> count
    requests: Counter[str] = field(default_factory=Counter)  # "VERB resource" the churn sent
    errors: list[str] = field(default_factory=list)
    seq: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.home = Counter(spec.services[0] for spec in self.work.pods.values())
        self.names = list(self.work.pods)  # random picks without building a list each time

    def snapshot(self) -> tuple[int, dict[str, int]]:
        with self.lock:
            return sum(self.done.values()), dict(self.requests)

    def _count(self, request: str) -> None:
        with self.lock:
            self.requests[request] += 1

    def neighbour(self, service: str) -> str:
        index = int(service.rsplit("-", 1)[1])
        return self.work.service(((index + 1) % self.services) * self.work.per)

    def _delete(self, name: str) -> None:
        self._count("DELETE pods")
        try:
            self.bed.core.delete_namespaced_pod(name, self.work.ns, grace_period_seconds=0, _preload_content=False)
        except ApiException as exc:
            if exc.status != 404:
                raise
        spec = self.work.pods.pop(name)
        self.home[spec.services[0]] -= 1
        self.names.remove(name)

    def _create(self, spec: PodSpec) -> None:
        self._count("CREATE pods")
        self.work.create([spec])
        self.home[spec.services[0]] += 1
        self.names.append(spec.name)

    def step(self) -> None:
        kind = self.rng.choices(list(MIX), weights=list(MIX.values()))[0]
        self.seq += 1
        core = self.bed.core
        if kind == "scale":
            name = self.rng.choice(sorted(self.deployments))
            replicas = self.rng.choice([r for r in range(DEP_MIN, DEP_MAX + 1) if r != self.deployments[name]])
            self._count("PATCH deployments/scale")
            body = {"spec": {"replicas": replicas}}
            self.bed.apps.patch_namespaced_deployment_scale(name, self.work.ns, body, _preload_content=False)
            self.deployments[name] = replicas
        elif kind == "annotate":
            spec = self.work.pods[self.rng.choice(self.names)]
            home = spec.services[0]
            services = (home,) if len(spec.services) > 1 else (home, self.neighbour(home))
            body = {"metadata": {"annotations": {LABEL: annotation(*services)}}}
            self._count("PATCH pods")
            core.patch_namespaced_pod(spec.name, self.work.ns, body, _preload_content=False)
            spec.services = services
        elif kind == "replace":
            old = self.work.pods[self.rng.choice(self.names)]
            self._delete(old.name)
            base = old.name.partition("-s")[0]
            self._create(PodSpec(f"{base}-s{self.seq}", old.services, old.node + 1))
        elif kind == "add":
            for _ in range(20):
                index = self.rng.randrange(self.services)
                service = self.work.service(index * self.work.per)
                if self.home[service] < self.work.per + 2:
                    node = self.rng.randrange(self.bed.nodes)
                    self._create(PodSpec(f"p-{index:05d}-x{self.seq}", (service,), node))
                    break
        elif kind == "remove":
            for _ in range(20):
                spec = self.work.pods[self.rng.choice(self.names)]
                if self.home[spec.services[0]] > max(1, self.work.per - 2):
                    self._delete(spec.name)
                    break
        with self.lock:
            self.done[kind] += 1

    def run(self, seconds: float, rate: float) -> float:
        """Changes at ``rate`` per second for ``seconds`` (at most rate*seconds
        of them); transient API errors are counted and skipped. Seconds taken."""
        started = time.monotonic()
        end = started + seconds
        for i in range(int(rate * seconds) + 1):
            due = started + i / rate
            now = time.monotonic()
            if now >= end:
                break
            if due > now:
                time.sleep(min(due, end) - now)
                if time.monotonic() >= end:
                    break
            try:
                self.step()
            except ApiException as exc:
                self.errors.append(f"{exc.status} {exc.reason}")
                if len(self.errors) > max(20, i // 100):
                    raise RuntimeError(f"the churn got {len(self.errors)} API errors: {self.errors[-5:]}") from exc
        return time.monotonic() - started


# -- the soak ------------------------------------------------------------------------------------


class Soak:
    def __init__(self, bench: Any, args: argparse.Namespace):
        self.bench, self.args = bench, args
        # room for the pods the churn adds and the Deployments at their largest
        nodes = math.ceil((args.pods * 1.25 + DEPLOYMENTS * DEP_MAX + 10) / PODS_PER_NODE)
        bench.bed = Bed(args.state, max(2, nodes))
        self.bed: Bed = bench.bed
        self.samples: list[Sample] = []
        self.deployments = {f"bench-soak-dep-{k}": DEP_START for k in range(DEPLOYMENTS)}
        self.list_pages = 0  # pages of pods this harness listed in the namespace (LIST requests)

    # -- pods ------------------------------------------------------------------------------------
    def create_deployments(self) -> None:
        for name in self.deployments:
            body = loopbench.rolling_deployment(name, DEP_START, (name, "bench-soak-shared"))
            self.bed.apps.create_namespaced_deployment(self.bench.ns, body, _preload_content=False)

    def settled(self) -> list[dict[str, Any]] | None:
        """All labelled pods once the bare pods are exactly the expected ones
        and each Deployment runs exactly its replicas, all Ready."""
        items = self.bed.raw_list(self.bench.ns)
        self.list_pages += max(1, math.ceil(len(items) / 500))  # raw_list's page size
        by_app: dict[str, list[dict[str, Any]]] = {}
        for item in items:
            by_app.setdefault(((item.get("metadata") or {}).get("labels") or {}).get("app", ""), []).append(item)
        bare = by_app.get("bench", [])
        if {i["metadata"]["name"] for i in bare} != set(self.bench.work.pods) or not all(map(pod_ready, bare)):
            return None
        for name, replicas in self.deployments.items():
            pods = by_app.get(name, [])
            if len(pods) != replicas or not all(map(pod_ready, pods)):
                return None
        return items

    def wait_settled(self, timeout: float = SETTLE_TIMEOUT) -> list[dict[str, Any]]:
        started = time.monotonic()
        for _ in range(int(timeout) + 1):
            items = self.settled()
            if items is not None:
                return items
            if time.monotonic() - started > timeout:
                break
            time.sleep(1.0)
        raise RuntimeError(f"the pods did not settle within {timeout:.0f}s")

    # -- the check of ZooKeeper against the pods -------------------------------------------------------
    @staticmethod
    def desired(items: list[dict[str, Any]]) -> dict[str, bytes]:
        by_service: dict[str, list[str]] = {}
        for item in items:
            if not pod_ready(item):
                continue
            for decl in json.loads(item["metadata"]["annotations"][LABEL]):
                by_service.setdefault(decl["serviceName"], []).append(item["status"]["podIP"])
        return {name: encode_node(DEFAULT_CONFIG, ips) for name, ips in by_service.items()}

    def compare(self, zk_path: str, items: list[dict[str, Any]]) -> dict[str, Any]:
        want = self.desired(items)
        have = {name: data for name, (_, _, data) in zkbench.node_stats(self.bench.zk, zk_path).items()}
        missing = sorted(want.keys() - have.keys())
        extra = sorted(have.keys() - want.keys())
        differ = sorted(k for k in want.keys() & have.keys() if want[k] != have[k])
        servers = sum(len(json.loads(v)["servers"]) for v in want.values())
        return {
            "services": len(want),
            "servers": servers,
            "missing": missing,
            "extra": extra,
            "differ": differ,
            "equal": not (missing or extra or differ),
        }

    def converge(self, zk_path: str) -> dict[str, Any]:
        """Settle the pods, then compare until equal (the loop may still be
        writing its last batch) or CONVERGE_TIMEOUT."""
        started = time.monotonic()
        try:
            items = self.wait_settled()
            settled_ok = True
        except RuntimeError as exc:  # compare what there is, and say so
            log(f"  WARNING: {exc}")
            items, settled_ok = self.bed.raw_list(self.bench.ns), False
        settled = time.monotonic() - started
        result: dict[str, Any] = {}
        for _ in range(int(CONVERGE_TIMEOUT) + 1):
            result = self.compare(zk_path, items)
            if result["equal"] or time.monotonic() - started > settled + CONVERGE_TIMEOUT:
                break
            time.sleep(1.0)
            items = self.settled() or items
        result["settle_s"], result["settled"] = settled, settled_ok
        result["equal_after_s"] = time.monotonic() - started if result["equal"] else None
        return result

    @staticmethod
    def wait_full_sync(proc: Any, timeout: float = 300.0) -> float:
        """Seconds from the start until the loop's first full sync is recorded
        in its metrics (/readyz also answers 200 while it waits for the
        writer lock, before any sync)."""
        for _ in range(int(timeout / 0.05) + 1):
            if proc.proc.poll() is not None:
                raise RuntimeError(f"--loop exited {proc.proc.returncode}; see {proc.log_path}")
            if (proc.metric(FULL_SYNCS) or 0) >= 1:
                return time.perf_counter() - proc.started
            if time.perf_counter() - proc.started > timeout:
                break
            time.sleep(0.05)
        raise RuntimeError(f"--loop did no full sync in {timeout:.0f}s; see {proc.log_path}")

    # -- sampling ----------------------------------------------------------------------------------------
    def sample(self, proc: Any, churn: Churn | None, t: float) -> Sample:
        mem = loopbench.memory_mb(proc.proc.pid)
        zk = zkbench.Counters.take(self.bench.env["ZK_HOSTS"])
        changes, harness = churn.snapshot() if churn else (0, {})
        harness["LIST pods"] = self.list_pages
        return Sample(
            t=t,
            rss_mb=mem["VmRSS"],
            hwm_mb=mem["VmHWM"],
            api=apiserver_pod_requests(self.bed),
            loop=loop_metrics(proc),
            zk={"reads": zk.reads, "writes": zk.writes, "packets": zk.packets},
            changes=changes,
            harness=harness,
        )

    def sampler(self, proc: Any, churn: Churn, t0: float, seconds: float, stop: threading.Event) -> None:
        for k in range(1, int(seconds / SAMPLE_EVERY) + 1):
            due = t0 + k * SAMPLE_EVERY
            if due >= t0 + seconds or stop.wait(max(0.0, due - time.monotonic())):
                return
            try:
                self.samples.append(self.sample(proc, churn, time.monotonic() - t0))
            except Exception as exc:  # a missed sample is logged, not fatal
                log(f"  sample at {k * SAMPLE_EVERY:.0f}s failed: {exc}")

    # -- the run -----------------------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        bench, args, phases = self.bench, self.args, self.bench.phases
        started = time.monotonic()
        load_before = _load()
        OUT.mkdir(exist_ok=True)
        bench.setup()
        env = bench.environment()
        work = bench.work
        with phases(f"pods created (0 → {args.pods})"):
            work.grow_to(args.pods)
        with phases(f"pods Ready (0 → {args.pods})"):
            work.wait_ready()
        with phases("Deployments up"):
            self.create_deployments()
            self.wait_settled()
        scope = bench.scope("soak")
        zk_hosts = bench.env["ZK_HOSTS"]
        result: dict[str, Any] = {
            "pods": args.pods,
            "services": args.services,
            "deployments": dict(self.deployments),
            "deployment_replicas": [DEP_MIN, DEP_MAX],
            "sample_every": SAMPLE_EVERY,
        }
        with phases("baseline (no loop running)"):
            api0, zk0 = apiserver_pod_requests(self.bed), zkbench.Counters.take(zk_hosts)
            lists0 = self.list_pages
            t_base = time.monotonic()
            time.sleep(BASELINE_S)
            api1, zk1 = apiserver_pod_requests(self.bed), zkbench.Counters.take(zk_hosts)
            result["baseline"] = {
                "seconds": time.monotonic() - t_base,
                "harness_lists": self.list_pages - lists0,
                "api": _delta(api1, api0),
                "zk": {"reads": zk1.reads - zk0.reads, "writes": zk1.writes - zk0.writes},
            }
        extra = ("-syncperiod", args.soak_syncperiod) if args.soak_syncperiod else ()
        result["syncperiod"] = args.soak_syncperiod or "1h (the default)"
        proc = loopbench.start_loop(scope, bench.env, OUT / f"soak-loop-{bench.run_id}.log", extra)
        try:
            with phases("loop: start to the first full sync"):
                result["readyz_s"] = proc.wait_ready()
                result["ready_s"] = self.wait_full_sync(proc)
            ready = self.sample(proc, None, 0.0)
            result["startup"] = {
                "api": _delta(ready.api, api1),
                "harness_lists": self.list_pages - lists0,
                "zk": {"reads": ready.zk["reads"] - zk1.reads, "writes": ready.zk["writes"] - zk1.writes},
                "rss_mb": ready.rss_mb,
            }
            with phases("check after the first full sync"):
                result["initial_check"] = self.compare(scope.zk_path, self.wait_settled())
            if not result["initial_check"]["equal"]:
                log(f"  WARNING: after the first sync ZooKeeper differs: {_mismatch(result['initial_check'])}")
            churn = Churn(self.bed, work, args.services, self.deployments)
            seconds = args.soak_minutes * 60
            stop = threading.Event()
            log(f"  churn: {args.soak_rate:g} changes/s for {seconds:.0f}s, a sample every {SAMPLE_EVERY:.0f}s")
            with phases(f"churn ({args.soak_minutes:g} min)"):
                t0 = time.monotonic()
                self.samples.append(self.sample(proc, churn, 0.0))
                thread = threading.Thread(target=self.sampler, args=(proc, churn, t0, seconds, stop), daemon=True)
                thread.start()
                try:
                    churn_s = churn.run(seconds, args.soak_rate)
                finally:
                    stop.set()
                    thread.join(timeout=60)
                self.samples.append(self.sample(proc, churn, time.monotonic() - t0))
            if proc.proc.poll() is not None:
                raise RuntimeError(f"--loop exited {proc.proc.returncode} during the churn; see {proc.log_path}")
            result["churn"] = {
                "seconds": churn_s,
                "rate": args.soak_rate,
                "changes": dict(churn.done),
                "requests": dict(churn.requests),
                "errors": churn.errors,
                "bare_pods_end": len(work.pods),
                "deployments_end": dict(self.deployments),
            }
            with phases("pods settled, ZooKeeper compared"):
                result["final_check"] = self.converge(scope.zk_path)
            final_mem = loopbench.memory_mb(proc.proc.pid)
            result["rss_end_mb"], result["hwm_end_mb"] = final_mem["VmRSS"], final_mem["VmHWM"]
            log(f"  final check: {_mismatch(result['final_check'])}")
        finally:
            rc = proc.stop(timeout=30)
            result["loop_exit"] = rc
        with phases("clean-up"):
            zkbench.delete_tree(bench.zk, bench.root)
            if not args.keep_pods:
                bench.remove_namespaces(wait=False)
        env["load_before"], env["load_after"] = load_before, _load()
        result["samples"] = [vars(s) for s in self.samples]
        result.update(summarize(self.samples, result))
        return {
            "date": time.strftime("%Y-%m-%d %H:%M %Z"),
            "command": " ".join([".venv/bin/python", "bench/run.py", *map(shlex.quote, sys.argv[1:])]),
            "env": env,
            "soak": result,
            "phases": dict(phases.times),
            "total_s": time.monotonic() - started,
        }


# -- figures from the samples -------------------------------------------------------------------


def _delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {k: after.get(k, 0) - before.get(k, 0) for k in sorted(after.keys() | before.keys())}


def _mismatch(check: dict[str, Any]) -> str:
    if check["equal"]:
        return f"equal ({check['services']} services, {check['servers']} servers)"
    return (
        f"{len(check['missing'])} missing {check['missing'][:5]}, {len(check['extra'])} extra "
        f"{check['extra'][:5]}, {len(check['differ'])} differ {check['differ'][:5]}"
    )


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _at(samples: list[Sample], t: float) -> Sample:
    return min(samples, key=lambda s: abs(s.t - t))


def _flat(s: Sample) -> dict[str, float]:
    """Every counter of a sample under one namespace."""
    out: dict[str, float] = {"changes": s.changes}
    out.update({f"api {k}": v for k, v in s.api.items()})
    out.update({f"loop {k}": v for k, v in s.loop.items()})
    out.update({f"zk {k}": v for k, v in s.zk.items()})
    out.update({f"harness {k}": v for k, v in s.harness.items()})
    return out


def summarize(samples: list[Sample], result: dict[str, Any]) -> dict[str, Any]:
    """RSS after warm-up, and counters per minute over the churn and minute by minute."""
    if len(samples) < 2:
        return {}
    end = samples[-1].t
    warmup = 60.0 if end >= 180 else end / 5
    window = min(60.0, (end - warmup) / 2)
    after = [s for s in samples if s.t >= warmup - 1]
    first = [s.rss_mb for s in after if s.t <= warmup + window + 1]
    last = [s.rss_mb for s in after if s.t >= end - window - 1]
    rss = {
        "ready": result["startup"]["rss_mb"],
        "warmup_s": warmup,
        "window_s": window,
        "warm": _at(samples, warmup).rss_mb,
        "min": min(s.rss_mb for s in after),
        "max": max(s.rss_mb for s in after),
        "first_window_mean": statistics.fmean(first),
        "last_window_mean": statistics.fmean(last),
        "hwm": samples[-1].hwm_mb,
    }
    rss["drift"] = rss["last_window_mean"] - rss["first_window_mean"]
    a, b = _flat(samples[0]), _flat(samples[-1])
    minutes = (samples[-1].t - samples[0].t) / 60
    per_minute = {k: (b.get(k, 0) - a.get(k, 0)) / minutes for k in sorted(a.keys() | b.keys())}
    series = []
    for m in range(int(end // 60 + 0.01)):
        s0, s1 = _at(samples, 60 * m), _at(samples, 60 * (m + 1))
        if s1.t <= s0.t:
            continue
        f0, f1 = _flat(s0), _flat(s1)
        scale = 60 / (s1.t - s0.t)
        row = {k: (f1.get(k, 0) - f0.get(k, 0)) * scale for k in sorted(f0.keys() | f1.keys())}
        row["minute"] = m + 1
        row["rss_mean"] = statistics.fmean(x.rss_mb for x in samples if s0.t <= x.t <= s1.t)
        series.append(row)
    open_watches = [s.api.get("open WATCH namespace", 0) for s in samples]
    return {
        "rss": rss,
        "per_minute": per_minute,
        "minutes": series,
        "churn_minutes": minutes,
        "open_watches": {"max": max(open_watches), "end": open_watches[-1]},
    }


# -- entry point (bench/run.py --soak) ------------------------------------------------------------


def main(bench: Any, args: argparse.Namespace, repo: Path) -> int:
    soak = Soak(bench, args)
    try:
        results = soak.run()
    finally:
        bench.close()
    OUT.mkdir(exist_ok=True)
    path = OUT / f"soak-{bench.run_id}.json"
    path.write_text(json.dumps(results, indent=1, default=str))
    print()
    print(report.text_table(report.soak_rows(results), report.SOAK_HEADER))
    print()
    print(report.text_table(report.soak_minute_rows(results), report.SOAK_MINUTE_HEADER))
    print()
    report.print_phases(results)
    log(f"samples: {path}")
    if args.write:
        report.soak_plot(results, HERE / "soak-rss.png")
        report.write_soak(repo / "BENCHMARKS.md", results)
        log("wrote the Soak section of BENCHMARKS.md")
    check = results["soak"].get("final_check") or {}
    return 0 if check.get("equal") else 1
