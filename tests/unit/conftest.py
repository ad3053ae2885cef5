"""Shared set-up of the unit tests: the repository root on sys.path, so that
``lib`` imports whichever way pytest is started, and a ``scoped`` for the
``job`` fixture whose runs can reach no server."""

import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from helpers import free_port, job_env, scope_flags  # noqa: E402


@pytest.fixture
def scoped() -> Callable[..., tuple[list[str], dict[str, str]]]:
    """Scoping flags and an environment that lead nowhere (a ZooKeeper port
    nothing listens on, no kubeconfig): a run in this tier must stop before
    contacting anything."""
    root = f"/unit-{uuid.uuid4().hex[:10]}"

    def make(zk_hosts: str | None = None) -> tuple[list[str], dict[str, str]]:
        return scope_flags("default", zk_hosts or f"127.0.0.1:{free_port()}", root), job_env(KUBECONFIG="/nonexistent")

    return make
