"""Paths, ports, polling and the test bed's scripts: what every tier and the
benchmark share."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
STATE = Path(os.environ.get("KUBE2ZK_TESTBED_STATE", REPO / ".testbed"))
JOB = REPO / "kube2zk_job.py"


def free_port() -> int:
    """A loopback port nothing listens on (a moment ago)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def bed_script(
    script: str, *args: str, env: dict[str, str] | None = None, timeout: float | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``testbed/<script>``; its output is captured, its status not checked."""
    return subprocess.run(
        ["bash", str(REPO / "testbed" / script), *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def bed_env(state: Path = STATE) -> dict[str, str]:
    """The environment a shell has after sourcing a running bed's ``env`` file
    (KUBECONFIG, ZK_HOSTS, K8S_API, PATH with kubectl, and the rest inherited)."""
    dump = subprocess.run(
        ["bash", "-c", '. "$1" && env -0', "_", str(state / "env")], capture_output=True, text=True, check=True
    )
    return dict(line.split("=", 1) for line in dump.stdout.split("\0") if "=" in line)
