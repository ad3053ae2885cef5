"""How changes become ZooKeeper transactions: the operations of each change
(its node and its ownership record, always together), chunks that stay well
below ZooKeeper's packet limit, and which change made a transaction fail."""

from __future__ import annotations

from collections.abc import Callable

from kazoo.client import TransactionRequest
from kazoo.exceptions import RolledBackError

from lib.model import RECORD_WITH_NODE, Action, Change, RecordOp, RecordWrite
from lib.zk.errors import LeadershipLost, RegistryError

# Well below ZooKeeper's 1 MiB packet limit and large enough that a cold sync
# of thousands of services takes a handful of round trips.
MAX_TXN_OPS = 500
MAX_TXN_BYTES = 512 * 1024


def add_ops(t: TransactionRequest, change: Change, record: Callable[[str], str]) -> None:
    """The operations of one change: its node and its ownership records
    (``record(owner)`` is the path of an owner's record, "" for ours)."""
    node = change.path
    if change.action is Action.CREATE:
        t.create(node, change.new)
    elif change.action is Action.UPDATE and change.old == change.new and not change.records:
        t.check(node, change.version)
    elif change.action in (Action.UPDATE, Action.ADOPT):
        # An adoption always writes, even the same bytes: taking a node
        # over must prove that we may write it. So does a change of a
        # shared node's contributions: the node's version orders them.
        t.set_data(node, change.new, version=change.version)
    elif change.action is Action.DELETE:
        t.delete(node, version=change.version)
    if change.records:
        for write in change.records:
            _record_op(t, write, record(write.owner))
    elif change.action is Action.ADOPT:
        vouch = str(change.czxid).encode()
        if change.claim:
            t.create(record(""), vouch)
        else:  # a record that vouched for an earlier node of that path
            t.set_data(record(""), vouch)
    elif change.claim:
        if change.action is Action.CREATE:
            t.create(record(""), RECORD_WITH_NODE)
        else:
            t.delete(record(""))


def _record_op(t: TransactionRequest, write: RecordWrite, path: str) -> None:
    if write.op is RecordOp.CREATE:
        t.create(path, write.data)
    elif write.op is RecordOp.SET:
        t.set_data(path, write.data)
    elif write.op is RecordOp.REPLACE:
        # Made again in the node's transaction, so its czxid is the node's.
        t.delete(path)
        t.create(path, write.data)
    else:
        t.delete(path)


def failed_change(
    chunk: list[Change], outcome: list[object], fence: str | None
) -> tuple[Change | None, Exception | None]:
    """The change whose operation made a transaction fail, and its error."""
    if not any(isinstance(r, Exception) for r in outcome):
        return None, None
    index = 0
    if fence:
        if isinstance(outcome[0], Exception) and not isinstance(outcome[0], RolledBackError):
            raise LeadershipLost(f"writer lock {fence} is gone")
        index = 1
    for change in chunk:
        ops = weight(change)[0]
        for r in outcome[index : index + ops]:
            if isinstance(r, Exception) and not isinstance(r, RolledBackError):
                return change, r
        index += ops
    raise RegistryError(f"a transaction failed without naming an operation: {outcome!r}")


def weight(change: Change) -> tuple[int, int]:
    """(operations, bytes) of a change's part of a transaction."""
    ops = 0 if change.action is Action.FORGET else 1
    if change.records:
        ops += sum(2 if w.op is RecordOp.REPLACE else 1 for w in change.records)
        extra = sum(len(w.data) + 2 * len(change.path) + 64 for w in change.records)
    else:
        ops += 1 if change.claim or change.action is Action.ADOPT else 0
        extra = 0
    return ops, len(change.new or b"") + 2 * len(change.path) + 256 + extra


def chunks(changes: list[Change]) -> list[list[Change]]:
    chunks: list[list[Change]] = []
    current: list[Change] = []
    ops = size = 0
    for change in changes:
        o, s = weight(change)
        if current and (ops + o > MAX_TXN_OPS or size + s > MAX_TXN_BYTES):
            chunks.append(current)
            current, ops, size = [], 0, 0
        current.append(change)
        ops, size = ops + o, size + s
    if current:
        chunks.append(current)
    return chunks
