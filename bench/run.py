#!/usr/bin/env python3
"""Benchmark kube2zk on a private test bed; see BENCHMARKS.md.

.venv/bin/python bench/run.py --smoke
.venv/bin/python bench/run.py --sizes 1000,2000,5000,10000 --write
.venv/bin/python bench/run.py --soak --write           # --loop under 10 minutes of pod churn
.venv/bin/python bench/run.py --layouts seed --layouts seed,curator --services-per-pod 2 --write
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))
sys.path.insert(2, str(HERE.parent / "tests"))  # helpers shared with the tests

import apibench  # noqa: E402
import jobrun  # noqa: E402
import layoutbench  # noqa: E402
import loopbench  # noqa: E402
import report  # noqa: E402
import soak  # noqa: E402
import zkbench  # noqa: E402
from bed import PODS_PER_NODE, Bed, Workload, log  # noqa: E402
from helpers import REPO  # noqa: E402

from lib.layouts.seed import DEFAULT_CONFIG, encode_node  # noqa: E402

OUT = HERE / "out"
NAMESPACE_PREFIX = "k2z-bench-"


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pods", type=int, default=10000, help="pods of the main measurement (default 10000)")
    p.add_argument("--services", type=int, default=2000, help="services of the main measurement (default 2000)")
    p.add_argument(
        "--sizes",
        default="",
        help="comma-separated pod counts for the scaling curve (services scale along); the main size is added",
    )
    p.add_argument(
        "--tables",
        default="",
        help="comma-separated pod counts that get a full table (1%% change, --loop); the main size is added",
    )
    p.add_argument("--reps", type=int, default=3, help="runs per figure; the median is reported (default 3)")
    p.add_argument("--smoke", action="store_true", help="a few hundred pods, about a minute: for CI")
    p.add_argument("--latency-changes", type=int, default=200, help="single-pod changes timed in --loop mode")
    p.add_argument(
        "--roll-replicas",
        type=int,
        default=100,
        help="pods of the rolling-update Deployment (updated at the smallest table size)",
    )
    p.add_argument("--no-profile", action="store_true", help="skip the py-spy profiles of the main size")
    p.add_argument("--no-loop", action="store_true", help="skip the --loop measurements")
    p.add_argument("--write", action="store_true", help="rewrite the results section of BENCHMARKS.md")
    p.add_argument("--state", default="/tmp/k2z/bench-state", help="test-bed state directory (a private bed)")
    p.add_argument("--keep-bed", action="store_true", help="leave the test bed running even if this run started it")
    p.add_argument("--keep-pods", action="store_true", help="leave this run's namespace and pods (for a closer look)")
    p.add_argument(
        "--render", metavar="RESULTS_JSON", help="only redraw bench/scaling.png and BENCHMARKS.md from a saved results"
    )
    soak.add_arguments(p)
    layoutbench.add_arguments(p)
    args = p.parse_args(argv)
    soak.check_arguments(p, args)
    layoutbench.check_arguments(p, args)
    if args.smoke:
        args.pods, args.services = 300, 60
        args.sizes = args.sizes or "100"
        args.latency_changes = min(args.latency_changes, 20)
        args.roll_replicas = min(args.roll_replicas, 20)
        args.no_profile = True
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()} | {args.pods})
    tables = sorted({int(s) for s in args.tables.split(",") if s.strip()} | {args.pods})
    if any(s > args.pods or s < 1 for s in sizes + tables):
        p.error("--sizes and --tables must be between 1 and --pods")
    if any(s % (args.pods // args.services) for s in tables):
        p.error("--tables sizes must be multiples of the pods per service")
    sizes = sorted(set(sizes) | set(tables))
    if args.pods % args.services:
        p.error("--pods must be a multiple of --services")
    args.size_list, args.table_list = sizes, tables
    return args


class Phases:
    def __init__(self) -> None:
        self.times: dict[str, float] = defaultdict(float)

    @contextmanager
    def __call__(self, name: str):
        started = time.monotonic()
        log(name)
        try:
            yield
        finally:
            self.times[name] += time.monotonic() - started


def median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.run_id = time.strftime("%Y%m%d-%H%M%S")
        self.root = f"/k2z-bench/{self.run_id}"
        self.phases = Phases()
        self.per = args.pods // args.services
        extra = math.ceil(args.pods * 0.02) + 2 * args.roll_replicas + 10
        self.bed = Bed(args.state, max(2, math.ceil((args.pods + extra) / PODS_PER_NODE)))
        self.ns = NAMESPACE_PREFIX + self.run_id
        self.samples: dict[str, Any] = defaultdict(list)

    # -- set-up ---------------------------------------------------------------------
    def setup(self) -> None:
        with self.phases("test bed up"):
            self.bed.up()
        self.env = self.bed.env
        self.zk = zkbench.connect(self.env["ZK_HOSTS"])
        with self.phases("old benchmark namespaces removed"):
            self.remove_namespaces(wait=True)
        self.bed.ensure_namespace(self.ns)
        self.work = Workload(
            self.bed,
            self.ns,
            self.per,
            services_per_pod=getattr(self.args, "services_per_pod", 1),
            services=self.args.services,
        )

    def remove_namespaces(self, wait: bool) -> None:
        core = self.bed.core
        old = [n.metadata.name for n in core.list_namespace().items if n.metadata.name.startswith(NAMESPACE_PREFIX)]
        for name in old:
            core.delete_namespace(name, propagation_policy="Background", _preload_content=False)
        deadline = time.monotonic() + 600
        while wait and old and time.monotonic() < deadline:
            left = [n for n in core.list_namespace().items if n.metadata.name in old]
            if not left:
                return
            log(f"  waiting for {len(left)} old benchmark namespace(s) to go")
            time.sleep(3)

    def environment(self) -> dict[str, Any]:
        cpu_model = ""
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
        return {
            "cpus": os.cpu_count(),
            "cpu_model": cpu_model,
            "mem_gb": mem_kb / 1024 / 1024,
            "python": platform.python_version(),
            "kazoo": metadata.version("kazoo"),
            "kubernetes_client": metadata.version("kubernetes"),
            "kubernetes": self.bed.versions()["kubernetes"],
            "kwok": _testbed_version("KWOK_VERSION"),
            "zookeeper": zkbench.version(self.env["ZK_HOSTS"]),
            "commit": _git("rev-parse", "--short", "HEAD"),
            "dirty": _git("status", "--porcelain", "--", "lib", "kube2zk_job.py") != "",
        }

    # -- measurements --------------------------------------------------------------------
    def scope(self, label: str) -> jobrun.Scope:
        return jobrun.Scope(self.ns, f"{self.root}/{label}/services", f"{self.root}/{label}/kube2zk")

    def floors(self, n: int, reps: int, main: bool = False) -> dict[str, Any]:
        """The floors at ``n`` pods. The list is timed with the cyclic GC
        paused, as the product lists (lib/kube/pods.py paused_gc); the GC-on
        figure stays as an informative row. The server floor receives the
        same pages without decoding them."""
        lists, lists_nogc, writes, reads = [], [], [], []
        items: list[dict[str, Any]] = []
        with self.phases(f"floors: API server idle baseline ({n})"):
            self.idle = apibench.idle_baseline(self.bed)
        server = apibench.server_floor(self.bed, self.ns, reps)
        for _ in range(reps):
            items = []
            started = time.perf_counter()
            items = self.bed.raw_list(self.ns, page_size=apibench.PAGE)
            lists.append(time.perf_counter() - started)
            items = []
            gc.collect()
            gc.disable()  # the same list with Python's cyclic GC paused, as the product lists
            try:
                started = time.perf_counter()
                items = self.bed.raw_list(self.ns, page_size=apibench.PAGE)
                lists_nogc.append(time.perf_counter() - started)
            finally:
                gc.enable()
        by_service: dict[str, list[str]] = defaultdict(list)
        for item in items:
            decls = json.loads(item["metadata"]["annotations"]["rpc-service"])
            for d in decls:
                by_service[d["serviceName"]].append(item["status"]["podIP"])
        data = {name: encode_node(DEFAULT_CONFIG, ips) for name, ips in by_service.items()}
        for rep in range(reps):
            base = f"{self.root}/floor-{n}-{rep}"
            self.zk.ensure_path(base)
            writes.append(zkbench.write_floor(self.zk, base, data))
            reads.append(zkbench.read_floor(self.zk, base, sorted(data)))
            zkbench.delete_tree(self.zk, base)
        self.samples[f"floors-{n}"] = {
            "list": lists,
            "list_nogc": lists_nogc,
            "server": server["samples"],
            "write": writes,
            "read": reads,
        }
        out = {
            "list": median(lists),
            "list_nogc": median(lists_nogc),
            "server": server["seconds"],
            "server_pages": server["pages"],
            "server_bytes": server["bytes"],
            "write": median(writes),
            "read": median(reads),
            "pods_listed": len(items),
            "api_idle": vars(self.idle),
        }
        if main:
            with self.phases(f"floors: list with resourceVersion unset vs 0 ({n})"):
                out["list_modes"] = apibench.list_modes(self.bed, self.ns, reps, self.idle)
        return out

    def job(self, scope: jobrun.Scope, key: str) -> jobrun.JobResult:
        before = apibench.scrape(self.bed)
        result = jobrun.run_job(scope, self.env)
        delta = apibench.scrape(self.bed) - before
        idle = getattr(self, "idle", None)
        result.extra["api"] = {
            "cpu": delta.cpu,
            "cpu_net": idle.net(delta, result.wall) if idle else None,
            "lists": delta.lists,
        }
        self.samples[key].append(
            {
                "wall": result.wall,
                "sync": result.sync,
                "user": result.user,
                "sys": result.sys,
                "rss_mb": result.maxrss_mb,
                "zk": vars(result.zk),
                "api": result.extra["api"],
                "summary": result.summary,
            }
        )
        return result

    def measure_size(self, n: int, services: int, main: bool) -> dict[str, Any]:
        reps = self.args.reps
        added = n - self.work.count
        step = f"{self.work.count} → {n}"
        with self.phases(f"pods created ({step})"):
            started = time.monotonic()
            self.work.grow_to(n)
            created = time.monotonic() - started
        with self.phases(f"pods Ready ({step})"):
            ready = self.work.wait_ready()
        log(f"  {n} pods: created in {created:.1f}s, all Ready {ready:.1f}s later")
        with self.phases(f"floors ({n})"):
            floors = self.floors(n, reps, main=main)
        if floors["pods_listed"] != n:
            raise SystemExit(f"listed {floors['pods_listed']} pods, expected {n}")
        colds = []
        with self.phases(f"cold syncs ({n})"):
            for rep in range(reps):
                scope = self.scope(f"n{n}-cold{rep}")
                result = self.job(scope, f"cold-{n}")
                s = result.summary
                if s.get("created") != services or s.get("failed"):
                    raise SystemExit(f"cold sync created {s.get('created')} of {services} services: {s}")
                colds.append(result)
        noops = []
        with self.phases(f"no-op syncs ({n})"):
            before = zkbench.node_stats(self.zk, scope.zk_path)
            for _ in range(reps):
                result = self.job(scope, f"noop-{n}")
                s = result.summary
                if s.get("unchanged") != services or s.get("created") or s.get("updated") or s.get("deleted"):
                    raise SystemExit(f"no-op sync was not a no-op: {s}")
                noops.append(result)
            after = zkbench.node_stats(self.zk, scope.zk_path)
        node_writes = sum(1 for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        out = {
            "pods": n,
            "services": services,
            "create_s": created + ready,
            "added": added,
            "floors": floors,
            "floor_write_txns": math.ceil(services / zkbench.TXN_OPS),
            "footprint": self.bed.footprint(),
            "cold": jobrun.combine(colds),
            "noop": {**jobrun.combine(noops), "node_writes": node_writes},
        }
        log(
            f"  {n} pods: server {floors['server']:.3f}s list {floors['list_nogc']:.3f}s "
            f"write {floors['write']:.3f}s read {floors['read']:.3f}s | "
            f"cold {out['cold']['wall']:.3f}s (sync {out['cold']['sync']:.3f}s, {out['cold']['rss']:.0f} MB) | "
            f"no-op {out['noop']['wall']:.3f}s (sync {out['noop']['sync']:.3f}s), node writes {node_writes}"
        )
        if main:
            self.main_extras(out, scope)
        return out

    def main_extras(self, out: dict[str, Any], scope: jobrun.Scope) -> None:
        """A table size's extras: profiles (the main size only), a 1% change
        and --loop (the rolling update at the smallest table size only)."""
        n = out["pods"]
        out["table"] = True
        if not self.args.no_profile and n == self.args.pods:
            with self.phases(f"profiles ({n})"):
                out["profile"] = self.profile(n, scope)
        with self.phases(f"1% of pods replaced ({n})"):
            affected = self.work.replace(0.01)
            self.work.wait_ready()
        with self.phases(f"sync after the 1% change ({n})"):
            before = zkbench.node_stats(self.zk, scope.zk_path)
            result = self.job(scope, f"small-{n}")
            after = zkbench.node_stats(self.zk, scope.zk_path)
            changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
            if changed != affected:
                log(f"  WARNING: nodes written {len(changed)} != services affected {len(affected)}")
            out["small"] = {
                "pods": max(1, round(n * 0.01)),
                "affected": len(affected),
                "wall": result.wall,
                "sync": result.sync,
                "cpu": result.cpu,
                "updated": result.summary.get("updated"),
                "node_writes": len(changed),
                "zk_writes": result.zk.writes,
                "zk_reads": result.zk.reads,
            }
        if not self.args.no_loop:
            out["loop"] = self.loop(n)

    def profile(self, n: int, scope: jobrun.Scope) -> dict[str, str]:
        OUT.mkdir(exist_ok=True)
        texts = {}
        paths = {}
        for kind in ("cold", "noop"):
            for mode, idle in (("wall", True), ("cpu", False)):
                path = OUT / f"profile-{kind}-{mode}-{n}.txt"
                target = self.scope(f"n{n}-profile-{mode}") if kind == "cold" else scope
                jobrun.profile_job(target, self.env, path, idle)
                paths[kind, mode] = path
            texts[f"{'cold' if kind == 'cold' else 'no-op'} sync"] = jobrun.profile_highlights(
                paths[kind, "wall"], paths[kind, "cpu"]
            )
        return texts

    def loop(self, n: int) -> dict[str, Any]:
        scope = self.scope(f"n{n}-loop")
        with self.phases(f"loop: latency pods ({n})"):
            loopbench.add_latency_pods(self.work)
            self.work.wait_ready()
        result: dict[str, Any] = {}
        proc = loopbench.start_loop(scope, self.env, OUT / f"loop-{n}.log")
        try:
            with self.phases(f"loop: start to ready ({n})"):
                result["ready_s"] = proc.wait_ready()
            with self.phases(f"loop: {self.args.latency_changes} single-pod changes ({n})"):
                lat = loopbench.measure_latency(self.bed, self.work, self.zk, scope, self.args.latency_changes)
                result["latency"] = lat.summary()
                self.samples[f"loop-latency-ms-{n}"] = [1000 * s for s in lat.samples]
                self.samples[f"loop-floor-ms-{n}"] = [
                    1000 * (w + z) for w, z in zip(lat.watch_times, lat.write_times, strict=True)
                ]
            log("  latency ms: " + ", ".join(f"{k} {v:.1f}" for k, v in result["latency"].items()))
            if self.args.roll_replicas and n == self.args.table_list[0]:
                with self.phases(f"loop: rolling update of {self.args.roll_replicas} pods"):
                    result["rolling"] = loopbench.rolling_update(
                        self.bed, self.work, self.zk, proc, scope, self.args.roll_replicas
                    )
                log(f"  rolling update: {result['rolling']}")
            mem = loopbench.memory_mb(proc.proc.pid)
            result["rss"], result["hwm"] = mem["VmRSS"], mem["VmHWM"]
        finally:
            proc.stop(timeout=30)
        if n != self.args.pods:  # the next sizes list only the workload's pods
            with self.phases(f"loop: its pods removed ({n})"):
                loopbench.remove_deployment(self.bed, self.ns, loopbench.ROLL_NAME)
                self.work.remove(["loop-a", "loop-b"])
                self.work.wait_ready()
        return result

    # -- the whole run ---------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        started = time.monotonic()
        load_before = _load()
        OUT.mkdir(exist_ok=True)
        self.setup()
        env = self.environment()
        startup = median([jobrun.startup_cost(self.env) for _ in range(self.args.reps)])
        with self.phases("fixed cost: runs against an empty namespace"):
            empty = jobrun.Scope(f"{self.ns}-empty", f"{self.root}/empty/services", f"{self.root}/empty/kube2zk")
            self.bed.ensure_namespace(empty.namespace)
            fixed = jobrun.combine([self.job(empty, "empty") for _ in range(self.args.reps)])
        sizes = []
        for n in self.args.size_list:
            services = n // self.per
            sizes.append(self.measure_size(n, services, main=n in self.args.table_list))
        with self.phases("clean-up"):
            zkbench.delete_tree(self.zk, self.root)
            if not self.args.keep_pods:
                self.remove_namespaces(wait=False)
        env["load_before"], env["load_after"] = load_before, _load()
        main = sizes[-1]
        results: dict[str, Any] = {
            "date": time.strftime("%Y-%m-%d %H:%M %Z"),
            "command": " ".join([".venv/bin/python", "bench/run.py", *map(shlex.quote, sys.argv[1:])]),
            "reps": self.args.reps,
            "env": env,
            "startup": startup,
            "fixed": fixed,
            "sizes": sizes,
            "main": main,
            "profile": main.pop("profile", None),
            "phases": dict(self.phases.times),
            "samples": self.samples,
        }
        if len(sizes) > 1:
            small, big = sizes[0], sizes[-1]
            results["scaling_ratio"] = {
                "small": small["pods"],
                "big": big["pods"],
                "cold": big["cold"]["wall"] / small["cold"]["wall"],
                "noop": big["noop"]["wall"] / small["noop"]["wall"],
            }
        results["total_s"] = time.monotonic() - started
        return results

    def close(self) -> None:
        zk = getattr(self, "zk", None)
        if zk is not None:
            zk.stop()
            zk.close()
        if self.bed.started_here and not self.args.keep_bed:
            self.bed.down()


def _git(*args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
    return proc.stdout.strip()


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _testbed_version(name: str) -> str:
    for line in (REPO / "testbed/versions.env").read_text().splitlines():
        if line.startswith(name + "="):
            return line.split("=", 1)[1]
    return "?"


def layouts_main(args: argparse.Namespace) -> int:
    bench = Bench(args)
    try:
        results = layoutbench.LayoutBench(bench, args).run()
    finally:
        bench.close()
    OUT.mkdir(exist_ok=True)
    (OUT / f"layouts-{bench.run_id}.json").write_text(json.dumps(results, indent=1, default=str))
    print()
    for block in report.layouts_text(results):
        print(block)
        print()
    report.print_phases(results)
    if args.write:
        report.write_layouts(REPO / "BENCHMARKS.md", results)
        log("wrote the Layouts section of BENCHMARKS.md")
    return 1 if results["issues"] else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.render:
        results = json.loads(Path(args.render).read_text())
        if "soak" in results:
            report.soak_plot(results, HERE / "soak-rss.png")
            report.write_soak(REPO / "BENCHMARKS.md", results)
            log("wrote the Soak section of BENCHMARKS.md")
            return 0
        if results.get("kind") == "layouts":
            report.write_layouts(REPO / "BENCHMARKS.md", results)
            log("wrote the Layouts section of BENCHMARKS.md")
            return 0
        report.plot(results, HERE / "scaling.png")
        report.write_benchmarks(REPO / "BENCHMARKS.md", results)
        log("wrote BENCHMARKS.md and bench/scaling.png")
        return 0
    if args.soak:
        return soak.main(Bench(args), args, REPO)
    if args.layout_sets:
        return layouts_main(args)
    bench = Bench(args)
    try:
        results = bench.run()
    finally:
        bench.close()
    OUT.mkdir(exist_ok=True)
    (OUT / f"results-{bench.run_id}.json").write_text(json.dumps(results, indent=1, default=str))
    print()
    for size in report.table_sizes(results):
        print(f"{size['pods']} pods, {size['services']} services")
        print(report.text_table(report.table_rows(results, size)))
        print()
    print(report.text_table(report.scaling_rows(results), report.SCALING_HEADER))
    print()
    report.print_phases(results)
    if args.write:
        report.plot(results, HERE / "scaling.png")
        report.write_benchmarks(REPO / "BENCHMARKS.md", results)
        log("wrote BENCHMARKS.md and bench/scaling.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
