"""The three test tiers, by what their tests need:

- ``tests/unit/``: no server (pure logic, and runs of kube2zk_job.py that stop
  at a usage error before contacting anything);
- ``tests/zookeeper/``: a real ZooKeeper only, started in seconds (or the
  running bed's);
- ``tests/kubernetes/``: the whole test bed (Kubernetes control plane and
  ZooKeeper), brought up once per run or reused.

Each test is marked with its tier (``-m unit``, ``-m zookeeper``,
``-m kubernetes``) and a whole run goes tier by tier, cheapest first. Fixtures
that work the same in every tier live here; each tier's conftest provides
``zk_hosts`` and ``scoped`` (and the Kubernetes tier the bed's fixtures).
Shared helpers live in ``tests/helpers`` (``from helpers import ...``; the
conftest files re-export them for ``from conftest import ...``). Test files in
tests/zookeeper and tests/kubernetes are not packages: their names must differ
across the two folders.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
for _path in (str(TESTS.parent), str(TESTS)):
    if _path not in sys.path:
        sys.path.insert(0, _path)
pytest.register_assert_rewrite("helpers")

from helpers import *  # noqa: E402, F403 - `from conftest import ...` keeps working
from helpers import LoopProcess, run_job  # noqa: E402
from kazoo.client import KazooClient  # noqa: E402

Scoped = Callable[..., tuple[list[str], dict[str, str]]]

TIERS = {
    "unit": "no server: pure logic, and runs that stop before contacting anything (tests/unit)",
    "zookeeper": "needs a real ZooKeeper, no Kubernetes API server (tests/zookeeper)",
    "kubernetes": "needs the whole test bed: Kubernetes control plane and ZooKeeper (tests/kubernetes)",
}


def pytest_configure(config: pytest.Config) -> None:
    for tier, meaning in TIERS.items():
        config.addinivalue_line("markers", f"{tier}: {meaning}")


def tier_of(path: Path) -> str:
    """The tier of a test file: its folder under tests/ ("" outside the tiers)."""
    parts = path.resolve().parts
    top = TESTS.parts
    inside = parts[: len(top)] == top and len(parts) > len(top) + 1
    return parts[len(top)] if inside and parts[len(top)] in TIERS else ""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with its tier and run the tiers cheapest first. A test
    under tests/ but outside the tiers is an error: it would miss its tier's
    fixtures."""
    strays = sorted({str(i.path) for i in items if TESTS in i.path.resolve().parents and not tier_of(i.path)})
    if strays:
        raise pytest.UsageError(
            "tests belong in tests/unit, tests/zookeeper or tests/kubernetes (tests/integration is now "
            "tests/kubernetes); outside them: " + ", ".join(strays)
        )
    order = ["", *TIERS]
    for item in items:
        if tier := tier_of(item.path):
            item.add_marker(getattr(pytest.mark, tier))
    items.sort(key=lambda item: order.index(tier_of(item.path)))


@pytest.fixture
def zk(zk_hosts: str) -> Iterator[KazooClient]:
    zk = KazooClient(hosts=zk_hosts, timeout=10)
    zk.start(timeout=15)
    yield zk
    zk.stop()
    zk.close()


@pytest.fixture
def zk_root(zk: KazooClient) -> Iterator[str]:
    """A fresh ZooKeeper prefix for the test; its zkpath is <root>/rpc_v2 and
    its ownership records live under <root>/kube2zk."""
    root = f"/t-{uuid.uuid4().hex[:10]}"
    yield root
    zk.delete(root, recursive=True)


@pytest.fixture(scope="module")
def bare_zk(zk_hosts: str) -> Iterator[KazooClient]:
    """One client for a whole module (for tests that make their own roots,
    such as hypothesis tests, where function-scoped fixtures are not reset)."""
    zk = KazooClient(hosts=zk_hosts)
    zk.start(timeout=15)
    yield zk
    zk.stop()
    zk.close()


@pytest.fixture
def job(scoped: Scoped) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run kube2zk_job.py scoped to the test (see the tier's ``scoped``).

    Keyword ``env`` adds or overrides variables; ``defaults=False`` passes none
    of the scoping flags (for tests of the environment-variable configuration).
    """

    def run(
        *args: str, env: dict[str, str] | None = None, defaults: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        flags, full_env = scoped()
        full_env.update(env or {})
        return run_job([*(flags if defaults else []), *args], full_env, timeout)

    return run


@pytest.fixture
def loop(scoped: Scoped, tmp_path: Path) -> Iterator[Callable[..., LoopProcess]]:
    """Start --loop processes scoped to the test; all are stopped afterwards."""
    started: list[LoopProcess] = []

    def start(*args: str, zk_hosts: str | None = None) -> LoopProcess:
        flags, env = scoped(zk_hosts)
        proc = LoopProcess([*flags, *args], env, tmp_path / f"loop-{len(started)}.log")
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()
