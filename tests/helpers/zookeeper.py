"""ZooKeeper for the tests: instances of a test's own (testbed/zookeeper.sh),
the four-letter words, and reading what kube2zk wrote."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError

from .common import STATE, bed_env, bed_script

ZK_JAR = Path("/usr/share/java/zookeeper.jar")


def four_letter(hosts: str, cmd: str, timeout: float = 5) -> str:
    """Send a four-letter word (ruok, srvr, mntr, ...) to the first server of ``hosts``."""
    host, _, port = hosts.split(",")[0].split("/")[0].rpartition(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(cmd.encode())
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode()


def answers(hosts: str) -> bool:
    """True when the first server of ``hosts`` says imok."""
    try:
        return four_letter(hosts, "ruok", timeout=2) == "imok"
    except (OSError, ValueError):
        return False


def running_bed_zk_hosts(state: Path = STATE) -> str | None:
    """ZK_HOSTS of the bed under ``state`` when it is up and its ZooKeeper answers."""
    if not (state / "env").exists():
        return None
    try:
        hosts = bed_env(state).get("ZK_HOSTS", "")
    except subprocess.CalledProcessError:
        return None
    return hosts if hosts and answers(hosts) else None


def ensure_zookeeper_installed() -> None:
    """Install what testbed/zookeeper.sh needs (Debian's zookeeper, a JRE, and
    openssl for the TLS tests) when it is missing: the ZooKeeper part of
    testbed/install.sh, without the Go toolchain the control plane needs."""
    missing = [
        package
        for package, present in (
            ("zookeeper", ZK_JAR.exists()),
            ("default-jre-headless", shutil.which("java") is not None),
            ("openssl", shutil.which("openssl") is not None),
        )
        if not present
    ]
    if not missing:
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing]):
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
        if proc.returncode != 0:
            raise RuntimeError(f"installing {' '.join(missing)} failed ({' '.join(cmd)}):\n{proc.stderr[-3000:]}")


def zookeeper_sh(*args: str) -> subprocess.CompletedProcess[str]:
    """Run testbed/zookeeper.sh; its status is not checked."""
    return bed_script("zookeeper.sh", *args, timeout=120)


def zookeeper(command: str, name: str, *args: str) -> None:
    """Drive a ZooKeeper instance of the test's own (testbed/zookeeper.sh)."""
    proc = zookeeper_sh(command, name, *args)
    if proc.returncode != 0:
        raise AssertionError(f"zookeeper.sh {command} {name} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")


def read_node(zk: KazooClient, path: str) -> dict[str, Any] | None:
    try:
        data, _ = zk.get(path)
    except NoNodeError:
        return None
    return json.loads(data)


def tree(zk: KazooClient, path: str) -> dict[str, tuple[bytes, int]]:
    """Every node below ``path`` with its data and mzxid."""
    out: dict[str, tuple[bytes, int]] = {}
    if not zk.exists(path):
        return out
    stack = [path]
    while stack:
        node = stack.pop()
        data, stat = zk.get(node)
        out[node] = (data, stat.mzxid)
        stack.extend(f"{node}/{child}" if node != "/" else f"/{child}" for child in zk.get_children(node))
    return out
