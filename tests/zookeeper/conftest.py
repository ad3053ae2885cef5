"""Fixtures of the ZooKeeper tier: a real ZooKeeper and no Kubernetes API
server. The tier uses the running bed's ZooKeeper when there is one (its
``.testbed/env`` exists and the server answers); otherwise it installs what is
missing and starts a ZooKeeper of its own on a free port (seconds), stopped at
the end of the run."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from helpers import *  # noqa: F403 - `from conftest import ...` keeps working
from helpers import ensure_zookeeper_installed, free_port, job_env, running_bed_zk_hosts, scope_flags, zookeeper
from helpers.consumer_fixtures import consumer_libs, curator_reader, dubbo_reader, spring_reader  # noqa: F401
from helpers.zk_security import alice, certs, cleanup, tls_zk  # noqa: F401 - fixtures of the security tests


@pytest.fixture(scope="session")
def zk_hosts() -> Iterator[str]:
    hosts = running_bed_zk_hosts()
    if hosts:
        yield hosts
        return
    try:
        ensure_zookeeper_installed()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    name, port = f"tier-{os.getpid()}", free_port()
    zookeeper("start", name, str(port))
    try:
        yield f"127.0.0.1:{port}"
    finally:
        zookeeper("stop", name)


@pytest.fixture
def scoped(zk_hosts: str, zk_root: str) -> Callable[..., tuple[list[str], dict[str, str]]]:
    """The flags that scope a kube2zk run to the test's ZooKeeper paths, and an
    environment whose KUBECONFIG leads nowhere: this tier has no API server."""

    def make(hosts: str | None = None) -> tuple[list[str], dict[str, str]]:
        return scope_flags("default", hosts or zk_hosts, zk_root), job_env(KUBECONFIG="/nonexistent")

    return make
