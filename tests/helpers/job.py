"""Running kube2zk_job.py: one-shot runs and ``--loop`` processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from .common import JOB, REPO, free_port


def job_command(*args: str) -> list[str]:
    return [sys.executable, str(JOB), *args]


def scope_flags(namespace: str, zk_hosts: str, zk_root: str) -> list[str]:
    """Flags that keep a run to one namespace and to ZooKeeper paths under
    ``zk_root``: its zkpath is <root>/rpc_v2, its ownership records <root>/kube2zk."""
    return [
        "-namespace",
        namespace,
        "-zkservers",
        zk_hosts,
        "-zkpath",
        f"{zk_root}/rpc_v2",
        "--owner-root",
        f"{zk_root}/kube2zk",
    ]


def job_env(base: Mapping[str, str] = os.environ, **overrides: str) -> dict[str, str]:
    """``base`` without any KUBE2ZK_ variable, plus ``overrides``."""
    return {**{k: v for k, v in base.items() if not k.startswith("KUBE2ZK_")}, **overrides}


def run_job(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(job_command(*args), env=env, capture_output=True, text=True, timeout=timeout, cwd=REPO)


class LoopProcess:
    """A ``kube2zk_job.py --loop`` process with its HTTP endpoint and log."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path):
        self.port = free_port()
        self.log_path = log_path
        self._log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            job_command("--loop", "--metrics-addr", f"127.0.0.1:{self.port}", *args),
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )

    def log(self) -> str:
        return self.log_path.read_text()

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
        except OSError:
            return 0, ""

    def metric(self, name: str) -> float | None:
        """Value of an unlabelled metric (or the sum over its labels); ``name``
        may carry labels: ``kube2zk_sync_duration_seconds_count{kind="full"}``."""
        status, text = self.get("/metrics")
        if status != 200:
            return None
        values = [
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith(name) and (line[len(name)] in " {")
        ]
        return sum(values) if values else None

    def wait_ready(self, timeout: float = 300.0) -> float:
        """Wait until /readyz answers 200 (its first full sync is done); the
        seconds since the process started."""
        while time.perf_counter() - self.started < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"--loop exited {self.proc.returncode}; see {self.log_path}")
            if self.get("/readyz")[0] == 200:
                return time.perf_counter() - self.started
            time.sleep(0.05)
        raise RuntimeError(f"--loop not ready after {timeout:.0f}s; see {self.log_path}")

    def stop(self, timeout: float = 15) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; the exit status."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode
