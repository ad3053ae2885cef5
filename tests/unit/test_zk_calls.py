"""The bounds of lib.zk.calls on a client that never reaches a server: kazoo's
request queue is filled and its connection states are played by hand, which
also pins the kazoo internals the queue deadline relies on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import ConnectionLoss, NoNodeError
from kazoo.protocol.serialization import CloseInstance

from lib.zk.calls import POLL, QueueDeadline, result
from lib.zk.errors import RegistryError, RegistryTimeout, ZooKeeperUnreachable

TIMEOUT = 0.3


@pytest.fixture
def client() -> Iterator[KazooClient]:
    zk = KazooClient(hosts="127.0.0.1:1")
    zk._stopped.clear()  # as if started: the deadline runs until stop()
    yield zk
    zk._stopped.set()


@pytest.fixture
def deadline(client: KazooClient) -> Iterator[QueueDeadline]:
    guard = QueueDeadline(client, TIMEOUT)  # not connected: down from now on
    yield guard
    client._stopped.set()
    guard._on_state(KazooState.LOST)  # what stop() ends with
    guard._thread.join(2)
    assert not guard._thread.is_alive()


def queued(zk: KazooClient) -> Any:
    async_result = zk.handler.async_result()
    zk._queue.append((object(), async_result))
    return async_result


def test_queued_requests_fail_once_zookeeper_is_overdue(client: KazooClient, deadline: QueueDeadline):
    early = queued(client)
    assert not early.wait(TIMEOUT / 2)
    assert early.wait(TIMEOUT + 1)
    with pytest.raises(ZooKeeperUnreachable) as caught:
        early.get()
    # kazoo's retries and recipes take it for a connection loss; ours for a timeout.
    assert isinstance(caught.value, ConnectionLoss)
    assert isinstance(caught.value, RegistryTimeout)
    assert not client._queue

    late = queued(client)
    assert late.wait(POLL + 0.5)  # overdue already: failed at the next poll, no new wait


def test_nothing_fails_while_connected_and_the_clock_restarts_on_each_loss(
    client: KazooClient, deadline: QueueDeadline
):
    deadline._on_state(KazooState.CONNECTED)
    waiting = queued(client)
    assert not waiting.wait(TIMEOUT + 2 * POLL)
    assert len(client._queue) == 1

    deadline._on_state(KazooState.SUSPENDED)
    assert not waiting.wait(TIMEOUT / 2)
    assert waiting.wait(TIMEOUT + 1)
    with pytest.raises(ZooKeeperUnreachable):
        waiting.get()


def test_the_close_request_of_stop_stays_queued(client: KazooClient, deadline: QueueDeadline):
    client._queue.append((CloseInstance, None))
    after = queued(client)
    assert after.wait(TIMEOUT + 1)
    assert list(client._queue) == [(CloseInstance, None)]


def test_result_bounds_one_call():
    zk = KazooClient(hosts="127.0.0.1:1")
    silent = zk.handler.async_result()
    with pytest.raises(RegistryTimeout, match=r"within 0\.2s"):
        result(silent, 0.2)

    answered = zk.handler.async_result()
    answered.set(b"data")
    assert result(answered, 0.2) == b"data"

    failed = zk.handler.async_result()
    failed.set_exception(NoNodeError())
    with pytest.raises(NoNodeError):
        result(failed, 0.2)
    assert not issubclass(NoNodeError, RegistryError)
