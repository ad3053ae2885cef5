"""Session fixtures of the real consumer libraries, for the tiers that have a
ZooKeeper (each tier's conftest imports them: a reader is bound to its
tier's ``zk_hosts``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from .consumers import ConsumerProcess, CuratorReader, DubboReader, SpringReader, build_consumers

R = TypeVar("R", bound=ConsumerProcess)


@pytest.fixture(scope="session")
def consumer_libs() -> Path:
    """The real consumer libraries' programs (testbed/consumers.sh build:
    Maven and javac the first time, the cache afterwards)."""
    try:
        return build_consumers()
    except (RuntimeError, OSError) as exc:
        pytest.fail(str(exc), pytrace=False)


def _reader(kind: type[R], libs: Path, zk_hosts: str, tmp: pytest.TempPathFactory, name: str) -> Iterator[R]:
    reader = kind(libs, zk_hosts, tmp.mktemp("consumers") / f"{name}.log")
    yield reader
    reader.close()


@pytest.fixture(scope="session")
def curator_reader(
    consumer_libs: Path, zk_hosts: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CuratorReader]:
    """Apache Curator x-discovery on the tier's ZooKeeper: one JVM for the run."""
    yield from _reader(CuratorReader, consumer_libs, zk_hosts, tmp_path_factory, "curator")


@pytest.fixture(scope="session")
def spring_reader(
    consumer_libs: Path, zk_hosts: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SpringReader]:
    """Spring Cloud Zookeeper's DiscoveryClient on the tier's ZooKeeper: one JVM for the run."""
    yield from _reader(SpringReader, consumer_libs, zk_hosts, tmp_path_factory, "spring")


@pytest.fixture(scope="session")
def dubbo_reader(consumer_libs: Path, zk_hosts: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DubboReader]:
    """Apache Dubbo's interface-level ZooKeeper registry on the tier's ZooKeeper: one JVM for the run."""
    yield from _reader(DubboReader, consumer_libs, zk_hosts, tmp_path_factory, "dubbo")
