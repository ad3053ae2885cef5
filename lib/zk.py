"""Connecting to ZooKeeper with a bounded wait, so an unreachable ensemble is
a clear error instead of a hang."""

from __future__ import annotations

import logging

from kazoo.client import KazooClient
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.retry import KazooRetry

log = logging.getLogger(__name__)


class RegistryError(Exception):
    """ZooKeeper could not be reached or failed as a whole."""


def connect(hosts: str, timeout: float) -> KazooClient:
    """A started KazooClient, or RegistryError after ``timeout`` seconds."""
    zk = KazooClient(
        hosts=hosts,
        timeout=min(max(timeout, 4.0), 30.0),
        connection_retry=KazooRetry(max_tries=-1, max_delay=2.0),
        command_retry=KazooRetry(max_tries=3, max_delay=1.0),
        logger=logging.getLogger("kazoo"),
    )
    try:
        zk.start(timeout=timeout)
    except (KazooTimeoutError, OSError) as exc:
        zk.stop()
        zk.close()
        raise RegistryError(f"cannot reach ZooKeeper at {hosts} within {timeout:g}s: {exc}") from exc
    return zk


def disconnect(zk: KazooClient) -> None:
    try:
        zk.stop()
    finally:
        zk.close()
