"""bench/run.py --layouts: the one-shot sync with several registry layouts at once.

On one set of pods (``--pods``, each declaring ``--services-per-pod`` of
``--services`` services, every entry with a port), for each ``--layouts`` set
(repeat the option to measure several on the same pods):

- floors: the list (as in the main run), and the nodes the set writes (one
  per service for seed, one per pod per service for curator, with the bytes
  the product writes) created in transactions of 500 and read pipelined;
- 3 cold syncs (fresh paths each) and 3 no-op syncs: wall, in-process
  duration, CPU, peak RSS, ZooKeeper requests; the nodes in ZooKeeper after
  the cold sync are counted, and every node's version and mzxid must be the
  same after the no-ops;
- after 1% of the pods are replaced (a delete and a create under a new name,
  new IP), one sync per set: the nodes it wrote (versions, mzxids, nodes
  gone or new) must be exactly the affected ones, the desired nodes before
  and after that differ: the seed node of each service a replaced pod
  served, and the old and the new instance (provider) of each replaced pod
  in each of its services.

A check that fails is recorded with the job's warning and error lines and
the run goes on; the results name it.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import shlex
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import jobrun
import zkbench
from bed import log

from lib.desired.annotation import parse_annotation
from lib.kube.schema import decode_pod
from lib.layouts.curator import CuratorLayout, instance_id
from lib.layouts.seed import DEFAULT_CONFIG, encode_node

OUT = Path(__file__).resolve().parent / "out"

# levels below a layout's base path at which its nodes are (seed: <zkpath>/<service>;
# curator: <curator-path>/<service>/<instance>; dubbo: <root>/<interface>/providers/<url>)
DEPTH = {"seed": 1, "curator": 2, "dubbo": 3}


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("layouts (bench/run.py --layouts seed,curator --services-per-pod 2)")
    g.add_argument(
        "--layouts",
        action="append",
        default=[],
        metavar="NAMES",
        help="measure the one-shot sync with these layouts (comma-separated, as the job's -layouts) instead of "
        "the default run; repeat to measure several sets on the same pods; --write rewrites the Layouts section",
    )
    g.add_argument(
        "--services-per-pod",
        type=int,
        default=1,
        help="services each pod declares (with --layouts; default 1)",
    )


def check_arguments(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    args.layout_sets = []
    if not args.layouts:
        if args.services_per_pod != 1:
            p.error("--services-per-pod goes with --layouts")
        return
    if args.soak:
        p.error("--layouts and --soak are separate runs")
    for text in args.layouts:
        names = tuple(n.strip() for n in text.split(",") if n.strip())
        unknown = [n for n in names if n not in DEPTH or n not in jobrun.LAYOUT_PATH_FLAGS]
        if not names or unknown:
            p.error(
                f"--layouts {text!r}: the harness knows where these layouts write: {', '.join(DEPTH)} "
                "(bench/layoutbench.py DEPTH, bench/jobrun.py LAYOUT_PATH_FLAGS)"
            )
        if "seed" not in names:
            p.error(f"--layouts {text!r}: include seed (the harness's scope always sets -zkpath)")
        args.layout_sets.append(names)
    if args.services_per_pod < 1 or args.services % args.services_per_pod:
        p.error("--services must be a multiple of --services-per-pod")


def desired_nodes(layout: str, items: list[dict[str, Any]]) -> dict[str, bytes]:
    """Relative path -> the bytes the product writes for these (Ready) pods."""
    pods = [decode_pod(json.dumps(item).encode()) for item in items]
    if layout == "seed":
        by_service: dict[str, list[str]] = defaultdict(list)
        for pod in pods:
            for decl in parse_annotation(pod.annotation)[0]:
                by_service[decl.name].append(pod.pod_ip or "")
        return {name: encode_node(DEFAULT_CONFIG, ips) for name, ips in by_service.items()}
    if layout == "curator":
        render = CuratorLayout("/").render
        return {
            f"{decl.name}/{instance_id(pod)}": render(decl.name, pod, decl)
            for pod in pods
            for decl in parse_annotation(pod.annotation)[0]
        }
    if layout == "dubbo":
        from lib.layouts.dubbo import DubboLayout, java_url_encode  # only once the product has it

        provider = DubboLayout("").provider
        out = {}
        for pod in pods:
            for decl in parse_annotation(pod.annotation)[0]:
                interface, url = provider(decl.name, pod, decl)
                out[f"{java_url_encode(interface)}/providers/{java_url_encode(url)}"] = b""
        return out
    raise ValueError(layout)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def median(values: list[float]) -> float:
    values = sorted(v for v in values if not math.isnan(v))
    if not values:
        return math.nan
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def _log_lines(path: Path, limit: int = 8) -> list[str]:
    """The warning and error lines of a job's JSON log (message and level)."""
    out = []
    for line in path.read_text().splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            out.append(line)
            continue
        if isinstance(doc, dict) and str(doc.get("level", "")).lower() in ("warning", "error", "critical"):
            out.append(f"{doc.get('level')}: {doc.get('message') or doc.get('msg') or line}")
    return out[:limit] + ([f"... {len(out) - limit} more"] if len(out) > limit else [])


class LayoutBench:
    def __init__(self, bench: Any, args: argparse.Namespace):
        self.bench = bench
        self.args = args
        self.phases = bench.phases
        self.issues: list[dict[str, Any]] = []
        self.logs = OUT / f"layouts-{bench.run_id}"

    def scope(self, names: tuple[str, ...], label: str) -> jobrun.Scope:
        b = self.bench
        base = f"{b.root}/{label}"
        paths = {n: f"{base}/{n}" for n in names if n != "seed"}
        return jobrun.Scope(b.ns, f"{base}/seed", f"{base}/kube2zk", layouts=names, paths=paths)

    def drop(self, scope: jobrun.Scope) -> None:
        """Delete a measured installation's nodes (all its paths share one parent):
        ZooKeeper's 512 MB test-bed heap does not hold many 40,000-node copies."""
        zkbench.delete_tree(self.bench.zk, scope.owner_root.rpartition("/")[0])

    def stats(self, scope: jobrun.Scope) -> dict[str, tuple[int, int, bytes]]:
        out = {}
        for name in scope.layouts:
            for rel, stat in zkbench.tree_stats(self.bench.zk, scope.base(name), DEPTH[name]).items():
                out[f"{name}/{rel}"] = stat
        return out

    def job(self, scope: jobrun.Scope, key: str, what: str) -> jobrun.JobResult:
        self.logs.mkdir(parents=True, exist_ok=True)
        path = self.logs / f"{key}-{len(self.bench.samples[key])}.log"
        result = jobrun.run_job(scope, self.bench.env, log_path=path, check=False)
        self.bench.samples[key].append(
            {
                "wall": result.wall,
                "sync": result.sync,
                "user": result.user,
                "sys": result.sys,
                "rss_mb": result.maxrss_mb,
                "rc": result.rc,
                "zk": vars(result.zk),
                "summary": result.summary,
            }
        )
        if result.rc != 0 or not result.summary:
            self.issue(what, f"kube2zk_job.py exited {result.rc}", path)
        return result

    def issue(self, what: str, problem: str, log_path: Path | None = None) -> None:
        lines = _log_lines(log_path) if log_path else []
        log(f"  PROBLEM: {what}: {problem}" + "".join(f"\n    {line}" for line in lines))
        self.issues.append({"what": what, "problem": problem, "log": lines, "log_file": str(log_path or "")})

    # -- the measurements ------------------------------------------------------------------------
    def list_floor(self) -> tuple[dict[str, float], list[dict[str, Any]]]:
        bed, reps = self.bench.bed, self.args.reps
        lists, lists_nogc = [], []
        items: list[dict[str, Any]] = []
        for _ in range(reps):
            items = []
            started = time.perf_counter()
            items = bed.raw_list(self.bench.ns)
            lists.append(time.perf_counter() - started)
            items = []
            gc.collect()
            gc.disable()
            try:
                started = time.perf_counter()
                items = bed.raw_list(self.bench.ns)
                lists_nogc.append(time.perf_counter() - started)
            finally:
                gc.enable()
        self.bench.samples["layouts-list"] = {"list": lists, "list_nogc": lists_nogc}
        return {"list": median(lists), "list_nogc": median(lists_nogc), "pods_listed": len(items)}, items

    def node_floors(self, names: tuple[str, ...], items: list[dict[str, Any]], tag: str) -> dict[str, Any]:
        data: dict[str, bytes] = {}
        counts = {}
        for name in names:
            nodes = desired_nodes(name, items)
            counts[name] = len(nodes)
            data.update({f"{name}~{rel.replace('/', '~')}": v for rel, v in nodes.items()})
        writes, reads = [], []
        zk = self.bench.zk
        for rep in range(self.args.reps):
            base = f"{self.bench.root}/floor-{tag}-{rep}"
            zk.ensure_path(base)
            writes.append(zkbench.write_floor(zk, base, data))
            reads.append(zkbench.read_floor(zk, base, sorted(data)))
            zkbench.delete_tree(zk, base)
        self.bench.samples[f"layouts-floors-{tag}"] = {"write": writes, "read": reads}
        return {
            "nodes": counts,
            "total": len(data),
            "bytes": sum(len(v) for v in data.values()),
            "write": median(writes),
            "read": median(reads),
            "write_txns": math.ceil(len(data) / zkbench.TXN_OPS),
        }

    def measure_set(self, names: tuple[str, ...], listing: dict[str, Any], items: list[dict[str, Any]]) -> dict:
        tag = "+".join(names)
        reps = self.args.reps
        out: dict[str, Any] = {"layouts": list(names)}
        with self.phases(f"fixed cost ({tag})"):
            empty = self.scope(names, f"{tag}-empty")
            empty.namespace = f"{self.bench.ns}-empty"
            self.bench.bed.ensure_namespace(empty.namespace)
            out["fixed"] = jobrun.combine(
                [self.job(empty, f"{tag}-empty", f"{tag}: empty namespace") for _ in range(reps)]
            )
        with self.phases(f"floors ({tag})"):
            floors = self.node_floors(names, items, tag)
        out["floors"] = floors
        expected = floors["total"]
        colds = []
        with self.phases(f"cold syncs ({tag})"):
            for rep in range(reps):
                scope = self.scope(names, f"{tag}-cold{rep}")
                result = self.job(scope, f"{tag}-cold", f"{tag}: cold sync {rep + 1}")
                s = result.summary
                if s and (s.get("created") != expected or s.get("failed") or s.get("warnings")):
                    self.issue(
                        f"{tag}: cold sync {rep + 1}",
                        f"created {s.get('created')} of {expected} nodes, failed {s.get('failed')}, "
                        f"warnings {s.get('warnings')}",
                        self.logs / f"{tag}-cold-{rep}.log",
                    )
                colds.append(result)
                if rep < reps - 1:
                    self.drop(scope)  # the last one is kept for the no-op and 1% syncs
        out["cold"] = jobrun.combine(colds)
        found = self.stats(scope)
        by_layout = {n: sum(1 for k in found if k.startswith(n + "/")) for n in names}
        out["cold"]["found"] = by_layout
        if by_layout != floors["nodes"]:
            self.issue(f"{tag}: nodes after the cold sync", f"found {by_layout}, expected {floors['nodes']}")
        noops = []
        with self.phases(f"no-op syncs ({tag})"):
            before = found
            for rep in range(reps):
                result = self.job(scope, f"{tag}-noop", f"{tag}: no-op sync {rep + 1}")
                s = result.summary
                if s and (s.get("unchanged") != expected or s.get("created") or s.get("updated") or s.get("deleted")):
                    self.issue(
                        f"{tag}: no-op sync {rep + 1}",
                        f"not a no-op: unchanged {s.get('unchanged')} of {expected}, created {s.get('created')}, "
                        f"updated {s.get('updated')}, deleted {s.get('deleted')}",
                        self.logs / f"{tag}-noop-{rep}.log",
                    )
                noops.append(result)
            after = self.stats(scope)
        written = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        if written:
            self.issue(f"{tag}: no-op syncs", f"{len(written)} nodes written, e.g. {written[:5]}")
        out["noop"] = {**jobrun.combine(noops), "node_writes": len(written), "nodes_checked": len(after)}
        if not self.args.no_profile:
            with self.phases(f"profiles ({tag})"):
                out["profile"] = self.profile(names, tag, scope)
        out["scope"] = scope
        log(
            f"  {tag}: {expected} nodes | list {listing['list']:.3f}s write {floors['write']:.3f}s "
            f"read {floors['read']:.3f}s | cold {out['cold']['wall']:.3f}s (sync {out['cold']['sync']:.3f}s, "
            f"{out['cold']['rss']:.0f} MB) | no-op {out['noop']['wall']:.3f}s (sync {out['noop']['sync']:.3f}s, "
            f"{out['noop']['rss']:.0f} MB), node writes {len(written)}"
        )
        return out

    def profile(self, names: tuple[str, ...], tag: str, scope: jobrun.Scope) -> dict[str, str]:
        texts, paths = {}, {}
        for kind in ("cold", "noop"):
            for mode, idle in (("wall", True), ("cpu", False)):
                path = OUT / f"profile-layouts-{tag}-{kind}-{mode}.txt"
                target = self.scope(names, f"{tag}-profile-{mode}") if kind == "cold" else scope
                jobrun.profile_job(target, self.bench.env, path, idle)
                paths[kind, mode] = path
                if kind == "cold":
                    self.drop(target)
            texts[f"{'cold' if kind == 'cold' else 'no-op'} sync"] = jobrun.profile_highlights(
                paths[kind, "wall"], paths[kind, "cpu"]
            )
        return texts

    def small_change(self, out: dict[str, Any], items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Replace 1% of the pods, sync the set's kept installation once; the new listing."""
        work = self.bench.work
        names = tuple(out["layouts"])
        tag = "+".join(names)
        scope = out.pop("scope")
        with self.phases(f"1% of pods replaced ({tag})"):
            affected = work.replace(0.01)
            work.wait_ready()
            fresh = self.bench.bed.raw_list(self.bench.ns)
        want = set()
        for name in names:
            old, new = desired_nodes(name, items), desired_nodes(name, fresh)
            want |= {f"{name}/{k}" for k in old.keys() | new.keys() if old.get(k) != new.get(k)}
        with self.phases(f"sync after the 1% change ({tag})"):
            before = self.stats(scope)
            result = self.job(scope, f"{tag}-small", f"{tag}: sync after the 1% change")
            after = self.stats(scope)
        changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
        if changed != want:
            self.issue(
                f"{tag}: sync after the 1% change",
                f"wrote {len(changed)} nodes, expected {len(want)}: "
                f"unexpected {sorted(changed - want)[:5]}, missing {sorted(want - changed)[:5]}",
                self.logs / f"{tag}-small-0.log",
            )
        self.drop(scope)
        s = result.summary
        out["small"] = {
            "pods": len(work.replaced),
            "affected_services": len(affected),
            "expected": {n: sum(1 for k in want if k.startswith(n + "/")) for n in names},
            "written": {n: sum(1 for k in changed if k.startswith(n + "/")) for n in names},
            "exact": changed == want,
            "wall": result.wall,
            "sync": result.sync,
            "cpu": result.cpu,
            "rss": result.maxrss_mb,
            "created": s.get("created"),
            "updated": s.get("updated"),
            "deleted": s.get("deleted"),
            "zk_writes": result.zk.writes,
            "zk_reads": result.zk.reads,
        }
        log(f"  {tag}: 1% change: {out['small']}")
        return fresh

    def run(self) -> dict[str, Any]:
        bench, args = self.bench, self.args
        started = time.monotonic()
        load_before = _load()
        bench.setup()
        env = bench.environment()
        startup = median([jobrun.startup_cost(bench.env) for _ in range(args.reps)])
        work = bench.work
        with self.phases(f"pods created (0 → {args.pods})"):
            work.grow_to(args.pods)
        with self.phases(f"pods Ready (0 → {args.pods})"):
            ready = work.wait_ready()
        log(f"  {args.pods} pods Ready ({ready:.1f}s after the last create)")
        with self.phases("list floor"):
            listing, items = self.list_floor()
        if listing["pods_listed"] != args.pods:
            raise SystemExit(f"listed {listing['pods_listed']} pods, expected {args.pods}")
        sets = []
        for names in args.layout_sets:  # each set on the pods as the last one's 1% change left them
            sets.append(self.measure_set(names, listing, items))
            items = self.small_change(sets[-1], items)
        del items
        with self.phases("clean-up"):
            zkbench.delete_tree(bench.zk, bench.root)
            if not args.keep_pods:
                bench.remove_namespaces(wait=False)
        env["load_before"], env["load_after"] = load_before, _load()
        return {
            "kind": "layouts",
            "date": time.strftime("%Y-%m-%d %H:%M %Z"),
            "command": " ".join([".venv/bin/python", "bench/run.py", *map(shlex.quote, sys.argv[1:])]),
            "reps": args.reps,
            "env": env,
            "startup": startup,
            "pods": args.pods,
            "services": args.services,
            "services_per_pod": args.services_per_pod,
            "list": listing,
            "sets": sets,
            "issues": self.issues,
            "phases": dict(self.phases.times),
            "samples": bench.samples,
            "total_s": time.monotonic() - started,
        }
