"""Running kube2zk_job.py as a child process and measuring it.

Wall time is taken around the child; CPU time and peak RSS come from
``os.wait4`` (the child's own rusage, nothing else's); ZooKeeper requests
from the server's ``mntr`` counters before and after.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any

from helpers import REPO, job_command
from zkbench import Counters

# The flag naming each layout's base path (the seed layout's is -zkpath).
LAYOUT_PATH_FLAGS = {"seed": "-zkpath", "curator": "-curator-path", "dubbo": "-dubbo-root"}


@dataclass
class Scope:
    """The flags that keep one measured installation apart from any other."""

    namespace: str
    zk_path: str
    owner_root: str
    layouts: tuple[str, ...] = ()  # empty: the job's default (seed)
    paths: dict[str, str] = field(default_factory=dict)  # base paths of the layouts other than seed

    def flags(self) -> list[str]:
        flags = ["-namespace", self.namespace, "-zkpath", self.zk_path, "-owner-root", self.owner_root]
        if self.layouts:
            flags += ["-layouts", ",".join(self.layouts)]
        for name, path in sorted(self.paths.items()):
            flags += [LAYOUT_PATH_FLAGS[name], path]
        return flags

    def base(self, layout: str) -> str:
        return self.zk_path if layout == "seed" else self.paths[layout]


@dataclass
class JobResult:
    wall: float
    user: float
    sys: float
    maxrss_mb: float
    rc: int
    summary: dict[str, Any]
    zk: Counters | None
    log_tail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def cpu(self) -> float:
        return self.user + self.sys

    @property
    def sync(self) -> float:
        return float(self.summary.get("duration", float("nan")))


def scoped_command(scope: Scope, zk_hosts: str, *extra: str) -> list[str]:
    return job_command("-zkservers", zk_hosts, *scope.flags(), "--log-format", "json", *extra)


# Started from a small process: Linux carries the RSS of the process that
# forks and execs into the child's ru_maxrss, so a child of this (large)
# harness would report the harness's size. The launcher is a few MB.
LAUNCHER = """
import json, os, subprocess, sys, time
started = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(proc.pid, 0)
wall = time.perf_counter() - started
print(json.dumps({"wall": wall, "rc": os.waitstatus_to_exitcode(status), "user": usage.ru_utime,
                  "sys": usage.ru_stime, "maxrss_kb": usage.ru_maxrss}))
"""


def run_job(
    scope: Scope,
    env: dict[str, str],
    *extra: str,
    prefix: list[str] | None = None,
    log_path: Path | None = None,
    check: bool = True,
) -> JobResult:
    """One run of the job; ``prefix`` wraps it (a profiler). ``log_path``
    keeps its whole log; without ``check`` a failed run is returned, not raised."""
    cmd = (prefix or []) + scoped_command(scope, env["ZK_HOSTS"], *extra)
    child_env = {**os.environ, "KUBECONFIG": env["KUBECONFIG"]}
    with tempfile.TemporaryFile("w+") as err:
        before = Counters.take(env["ZK_HOSTS"])
        proc = subprocess.run(
            [sys.executable, "-S", "-c", LAUNCHER, *cmd],
            cwd=REPO,
            env=child_env,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            check=True,
        )
        after = Counters.take(env["ZK_HOSTS"])
        measured = json.loads(proc.stdout)
        err.seek(0)
        text = err.read()
        lines = text.splitlines()
    if log_path is not None:
        log_path.write_text(text)
    summary: dict[str, Any] = {}
    for line in lines:
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict) and isinstance(doc.get("summary"), dict):
            summary = doc["summary"]
    result = JobResult(
        wall=measured["wall"],
        user=measured["user"],
        sys=measured["sys"],
        maxrss_mb=measured["maxrss_kb"] / 1024,
        rc=measured["rc"],
        summary=summary,
        zk=after - before,
        log_tail="\n".join(lines[-5:]),
    )
    if check and (result.rc != 0 or not summary):
        raise RuntimeError(f"kube2zk_job.py exited {result.rc}:\n{result.log_tail}")
    return result


def startup_cost(env: dict[str, str]) -> float:
    """Interpreter start plus the job's imports."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", "import kube2zk_job"],
        cwd=REPO,
        env={**os.environ, "KUBECONFIG": env["KUBECONFIG"]},
        check=True,
    )
    return time.perf_counter() - started


# -- profiling ------------------------------------------------------------------


def profile_job(scope: Scope, env: dict[str, str], out: Path, idle: bool) -> JobResult:
    """Run the job under py-spy (all threads; ``idle`` keeps waiting stacks,
    so the main thread's samples add up to its wall time)."""
    pyspy = Path(sys.executable).with_name("py-spy")
    idle_flag = ["-i"] if idle else []
    prefix = [str(pyspy), "record", "-f", "raw", "-r", "250", "-F", "-t", "-o", str(out), *idle_flag, "--"]
    return run_job(scope, env, prefix=prefix)


def _frame_name(frame: str) -> str:
    """ "Registry.read (/repo/lib/registry.py:123)" -> "Registry.read (lib/registry.py:123)"."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    for marker in ("site-packages/", "python3.11/", str(REPO) + "/"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{name} ({where})" if where else name


def _ours(frame: str) -> bool:
    where = frame.partition(" (")[2]
    return where.startswith(("lib/", "kube2zk_job.py"))


@dataclass
class Profile:
    samples: int = 0
    by_thread: Counter[str] = field(default_factory=Counter)
    # where the time goes: the innermost product function on the stack (its
    # own code and the library code it calls), or "imports"
    attributed: Counter[str] = field(default_factory=Counter)
    leaf: Counter[str] = field(default_factory=Counter)  # self time, any thread


def load_profile(path: Path, main_only: bool) -> Profile:
    rows = []
    names: dict[str, str] = {}
    main_id = ""
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        thread, *frames = stack.split(";")
        tid, _, name = thread.partition(": ")
        if name:
            names[tid] = name
        frames = [_frame_name(f) for f in frames]
        if frames and frames[0].startswith("<module> (kube2zk_job.py"):
            main_id = tid
        rows.append((tid, frames, int(count_text)))
    prof = Profile()
    for tid, frames, count in rows:
        main = tid == main_id
        if main_only and not main:
            continue
        thread = names.get(tid, tid)
        prof.samples += count
        prof.by_thread[thread] += count
        if frames:
            prof.leaf[frames[-1]] += count
        if not frames:
            key = "(no Python frame: interpreter start-up or exit)"
        elif any(f.startswith("_find_and_load ") for f in frames):
            key = "imports (module loading)"
        elif not main:
            key = f"thread {thread}"
        else:
            key = next((f for f in reversed(frames) if _ours(f)), "(outside product code)")
        prof.attributed[key] += count
    return prof


def profile_highlights(wall_path: Path, cpu_path: Path, top: int = 12) -> str:
    """Markdown: where the main thread's wall time goes and where the CPU
    time of all threads goes, each sample charged to the innermost product
    function on its stack (which includes the library code it calls)."""
    wall = load_profile(wall_path, main_only=True)
    cpu = load_profile(cpu_path, main_only=False)
    lines = [
        "Each sample is charged to the innermost product function on its stack (so library code counts for "
        "the product function that called it); module loading is charged to imports.",
        "",
        "| where | wall, main thread | CPU, all threads |",
        "| --- | ---: | ---: |",
    ]
    keys = [k for k, _ in (wall.attributed + cpu.attributed).most_common()]
    shown = 0
    for key in keys:
        w, c = wall.attributed.get(key, 0), cpu.attributed.get(key, 0)
        if max(w / max(1, wall.samples), c / max(1, cpu.samples)) < 0.02 or shown >= top:
            continue
        shown += 1
        lines.append(
            f"| `{key}` | {w / 250:.2f} s ({100 * w / max(1, wall.samples):.0f}%) "
            f"| {c / 250:.2f} s ({100 * c / max(1, cpu.samples):.0f}%) |"
        )
    lines.append(f"| total | {wall.samples / 250:.2f} s | {cpu.samples / 250:.2f} s |")
    lines += ["", "Hottest functions by own CPU time (all threads):", "", "| function | CPU |", "| --- | ---: |"]
    for f, n in cpu.leaf.most_common(8):
        lines.append(f"| `{f}` | {n / 250:.2f} s ({100 * n / max(1, cpu.samples):.0f}%) |")
    return "\n".join(lines)


def combine(results: list[JobResult]) -> dict[str, Any]:
    """The figures of repeated runs of one job: medians, and the peak RSS."""
    return {
        "wall": median([r.wall for r in results]),
        "sync": median([r.sync for r in results]),
        "cpu": median([r.cpu for r in results]),
        "rss": max(r.maxrss_mb for r in results),
        "zk_reads": int(median([r.zk.reads for r in results])),
        "zk_writes": int(median([r.zk.writes for r in results])),
        "zxid": int(median([r.zk.zxid for r in results])),
        **_api(results),
    }


def _api(results: list[JobResult]) -> dict[str, Any]:
    """The API server's CPU and LIST requests per run, when the caller took them."""
    api = [r.extra["api"] for r in results if "api" in r.extra]
    if len(api) != len(results):
        return {}
    net = [a["cpu_net"] for a in api if a["cpu_net"] is not None]
    return {
        "api_cpu": median([a["cpu"] for a in api]),
        "api_cpu_net": median(net) if len(net) == len(api) else None,
        "api_lists": median([a["lists"] for a in api]),
    }
