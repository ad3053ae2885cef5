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
from typing import Any

from bed import REPO
from zkbench import Counters

JOB = REPO / "kube2zk_job.py"


@dataclass
class Scope:
    """The flags that keep one measured installation apart from any other."""

    namespace: str
    zk_path: str
    owner_root: str

    def flags(self) -> list[str]:
        return ["-namespace", self.namespace, "-zkpath", self.zk_path, "-owner-root", self.owner_root]


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


def job_command(scope: Scope, zk_hosts: str, *extra: str) -> list[str]:
    return [sys.executable, str(JOB), "-zkservers", zk_hosts, *scope.flags(), "--log-format", "json", *extra]


def run_job(scope: Scope, env: dict[str, str], *extra: str, prefix: list[str] | None = None) -> JobResult:
    """One run of the job; ``prefix`` wraps it (a profiler)."""
    cmd = (prefix or []) + job_command(scope, env["ZK_HOSTS"], *extra)
    child_env = {**os.environ, "KUBECONFIG": env["KUBECONFIG"], "PYTHONDONTWRITEBYTECODE": "1"}
    with tempfile.TemporaryFile("w+") as err:
        before = Counters.take(env["ZK_HOSTS"])
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=REPO, env=child_env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        after = Counters.take(env["ZK_HOSTS"])
        err.seek(0)
        lines = err.read().splitlines()
    summary: dict[str, Any] = {}
    for line in lines:
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict) and isinstance(doc.get("summary"), dict):
            summary = doc["summary"]
    result = JobResult(
        wall=wall,
        user=usage.ru_utime,
        sys=usage.ru_stime,
        maxrss_mb=usage.ru_maxrss / 1024,
        rc=proc.returncode,
        summary=summary,
        zk=after - before,
        log_tail="\n".join(lines[-5:]),
    )
    if proc.returncode != 0 or not summary:
        raise RuntimeError(f"kube2zk_job.py exited {proc.returncode}:\n{result.log_tail}")
    return result


def startup_cost(env: dict[str, str]) -> float:
    """Interpreter start plus the job's imports: a floor no run can go under."""
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
    prefix = [str(pyspy), "record", "-f", "raw", "-r", "250", "-F", "-t", "-o", str(out)] + (["-i"] if idle else []) + ["--"]
    return run_job(scope, env, prefix=prefix)


@dataclass
class Profile:
    samples: int
    main: int
    inclusive: Counter[str]  # main thread, function on the stack
    self_all: Counter[str]  # any thread, function at the top of the stack
    threads: Counter[str]


def _frame_name(frame: str) -> str:
    # "Registry.read (lib/registry.py:123)" -> keep as is but drop long paths
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    for marker in ("site-packages/", "python3.11/", str(REPO) + "/"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{name} ({where})" if where else name


def load_profile(path: Path) -> Profile:
    inclusive: Counter[str] = Counter()
    self_all: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = main = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = stack.split(";")
        thread = frames[0]
        frames = [_frame_name(f) for f in frames[1:]]
        total += count
        threads[thread.split(": ", 1)[-1]] += count
        if frames:
            self_all[frames[-1]] += count
        if thread.endswith(": MainThread"):
            main += count
            for f in set(frames):
                inclusive[f] += count
    return Profile(total, main, inclusive, self_all, threads)


def profile_highlights(wall_path: Path, cpu_path: Path, top: int = 12) -> str:
    """Markdown: where the main thread's wall time goes (product frames
    first) and which functions burn the CPU, any thread."""
    wall = load_profile(wall_path)
    cpu = load_profile(cpu_path)
    lines = [f"Main thread, wall time ({wall.main} samples at 250 Hz, py-spy `--idle`), inclusive share:", ""]
    lines += ["| function | share of wall |", "| --- | ---: |"]
    ours = [(f, n) for f, n in wall.inclusive.most_common() if "lib/" in f or "kube2zk_job" in f]
    for f, n in ours[:top]:
        lines.append(f"| `{f}` | {100 * n / max(1, wall.main):.0f}% |")
    lines += ["", f"CPU, all threads ({cpu.samples} samples at 250 Hz, active stacks only), self time:", ""]
    lines += ["| function | share of CPU samples |", "| --- | ---: |"]
    for f, n in cpu.self_all.most_common(top):
        lines.append(f"| `{f}` | {100 * n / max(1, cpu.samples):.0f}% |")
    return "\n".join(lines)
