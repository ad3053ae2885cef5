"""ZooKeeper side: the owned service nodes under the base path.

Ownership records live outside the base path, so ``ls <zkpath>`` lists only
services (consumers see no new children):

    <owner_root>/owners/<owner_id>/<quoted zkpath>/<service>

One folder per owner lets every installation (say one per cluster) read who
owns what in one round trip per owner, and never touch another's nodes. A
service node and its record are created and deleted in one transaction, so a
run killed at any point leaves both or neither.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

from kazoo.client import KazooClient, TransactionRequest
from kazoo.exceptions import (
    BadVersionError,
    ConnectionLoss,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    OperationTimeoutError,
    RolledBackError,
    SessionExpiredError,
)
from kazoo.interfaces import IAsyncResult

from lib.plan.diff import Action, Change, Current, NodeState, compute_plan
from lib.zk.errors import LeadershipLost

log = logging.getLogger(__name__)

# Well below ZooKeeper's 1 MiB packet limit and large enough that a cold sync
# of thousands of services takes a handful of round trips.
MAX_TXN_OPS = 500
MAX_TXN_BYTES = 512 * 1024
CONFLICT_RETRIES = 3

_CONFLICTS = (BadVersionError, NodeExistsError, NoNodeError, NotEmptyError)
_LOST = (ConnectionLoss, SessionExpiredError, OperationTimeoutError)


@dataclass
class ApplyResult:
    applied: list[Change] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    # Services that turned out to belong to someone else when written.
    foreign: dict[str, str] = field(default_factory=dict)
    connection_lost: bool = False


class Registry:
    """Reads and writes the service nodes one owner is responsible for.

    ``fence``, when set, is the path of the writer lock's node; every
    transaction first checks that it still exists, so a writer that was paused
    and lost its lock cannot write at all, not just not over newer data.
    Nodes get the client's default ACL (``lib.zk.node_acl``).
    """

    def __init__(self, zk: KazooClient, zk_path: str, owner_root: str, owner_id: str):
        self.zk = zk
        self.zk_path = zk_path
        self.owner_id = owner_id
        self.owners_root = f"{owner_root}/owners"
        self.fence: str | None = None

    # -- paths -------------------------------------------------------------
    def node_path(self, service: str) -> str:
        return f"{self.zk_path}/{service}"

    def claims_dir(self, owner: str | None = None) -> str:
        return f"{self.owners_root}/{owner or self.owner_id}/{quote(self.zk_path, safe='')}"

    def claim_path(self, service: str) -> str:
        return f"{self.claims_dir()}/{service}"

    # -- reading -----------------------------------------------------------
    def _children(self, path: str) -> list[str]:
        try:
            return self.zk.get_children(path)
        except NoNodeError:
            return []

    def read_owners(self) -> dict[str, str]:
        """service -> owner id, over every owner recorded for this base path."""
        owners = sorted(self._children(self.owners_root))
        pending = [(o, self.zk.get_children_async(self.claims_dir(o))) for o in owners]
        claimants: dict[str, list[str]] = {}
        for owner, async_result in pending:
            try:
                names = async_result.get()
            except NoNodeError:
                continue
            for name in names:
                claimants.setdefault(name, []).append(owner)
        return self._resolve(claimants)

    def _resolve(self, claimants: dict[str, list[str]]) -> dict[str, str]:
        """One owner per name: ours when we are among the claimants."""
        result: dict[str, str] = {}
        for name, who in claimants.items():
            result[name] = self.owner_id if self.owner_id in who else who[0]
            if len(who) > 1:
                log.warning(
                    "service %s is claimed by several owners (%s); treated as %s's", name, ", ".join(who), result[name]
                )
        return result

    def read(self, wanted: Iterable[str]) -> Current:
        """The nodes a plan needs: those desired and those we own."""
        present = set(self._children(self.zk_path))
        owners = self.read_owners()
        ours = {name for name, owner in owners.items() if owner == self.owner_id}
        names = sorted(present & (set(wanted) | ours))
        return Current(nodes=self._collect(self._send_gets(names)), owners=owners)

    def read_names(self, names: Iterable[str]) -> Current:
        """Fresh state of some services only: an incremental sync, or
        re-planning after a conflict. Pipelined like ``read``."""
        names = sorted(set(names))
        owners = sorted(set(self._children(self.owners_root)) | {self.owner_id})
        node_reads = self._send_gets(names)
        claim_reads = [(n, o, self.zk.exists_async(f"{self.claims_dir(o)}/{n}")) for n in names for o in owners]
        nodes = self._collect(node_reads)
        claimants: dict[str, list[str]] = {}
        for name, owner, async_result in claim_reads:
            if async_result.get() is not None:
                claimants.setdefault(name, []).append(owner)
        return Current(nodes=nodes, owners=self._resolve(claimants))

    def _send_gets(self, names: Iterable[str]) -> list[tuple[str, IAsyncResult]]:
        """Send every read before waiting for any: one round trip per node
        would dominate a sync of thousands."""
        return [(name, self.zk.get_async(self.node_path(name))) for name in names]

    @staticmethod
    def _collect(pending: list[tuple[str, IAsyncResult]]) -> dict[str, NodeState]:
        nodes: dict[str, NodeState] = {}
        for name, async_result in pending:
            try:
                data, stat = async_result.get()
            except NoNodeError:  # deleted since it was listed
                continue
            nodes[name] = NodeState(data or b"", stat.version)
        return nodes

    # -- writing -----------------------------------------------------------
    def _ops(self, t: TransactionRequest, change: Change) -> None:
        node, claim = self.node_path(change.service), self.claim_path(change.service)
        if change.action is Action.CREATE:
            t.create(node, change.new)
        elif change.action in (Action.UPDATE, Action.ADOPT):
            if change.old == change.new:
                t.check(node, change.version)
            else:
                t.set_data(node, change.new, version=change.version)
        elif change.action is Action.DELETE:
            t.delete(node, version=change.version)
        if change.claim:
            if change.action in (Action.CREATE, Action.ADOPT):
                t.create(claim, b"")
            else:
                t.delete(claim)

    @staticmethod
    def _weight(change: Change) -> tuple[int, int]:
        ops = (0 if change.action is Action.FORGET else 1) + (1 if change.claim else 0)
        return ops, len(change.new or b"") + 2 * len(change.service) + 256

    def _chunks(self, changes: list[Change]) -> list[list[Change]]:
        chunks: list[list[Change]] = []
        current: list[Change] = []
        ops = size = 0
        for change in changes:
            o, s = self._weight(change)
            if current and (ops + o > MAX_TXN_OPS or size + s > MAX_TXN_BYTES):
                chunks.append(current)
                current, ops, size = [], 0, 0
            current.append(change)
            ops, size = ops + o, size + s
        if current:
            chunks.append(current)
        return chunks

    def _commit_async(self, changes: list[Change]) -> IAsyncResult:
        txn = self.zk.transaction()
        if self.fence:
            txn.check(self.fence, -1)
        for change in changes:
            self._ops(txn, change)
        return txn.commit_async()

    def prepare(self) -> None:
        """Create the base path and our record folder when missing."""
        self.zk.ensure_path(self.zk_path)
        self.zk.ensure_path(self.claims_dir())

    def apply(self, changes: list[Change], desired: Mapping[str, bytes]) -> ApplyResult:
        """Write ``changes`` in pipelined, chunked transactions.

        A chunk that fails as a whole (one conflicting node rolls back all its
        siblings) is retried one service at a time, so a failure on one
        service never stops the others.
        """
        result = ApplyResult()
        if not changes:
            return result
        pending = [(chunk, self._commit_async(chunk)) for chunk in self._chunks(changes)]
        conflicted: list[Change] = []
        while pending:
            chunk, async_result = pending.pop(0)
            try:
                outcome = async_result.get()
            except _LOST as exc:
                result.connection_lost = True
                for change in chunk:
                    result.failed[change.service] = f"ZooKeeper connection lost: {type(exc).__name__}"
                continue
            bad = self._failed_change(chunk, outcome)
            if bad is None:
                result.applied.extend(chunk)
                continue
            # One conflicting node rolled back its siblings: resend them
            # without it and deal with it alone.
            conflicted.append(bad)
            rest = [c for c in chunk if c is not bad]
            if rest:
                pending.append((rest, self._commit_async(rest)))
        for change in conflicted:
            if result.connection_lost:
                result.failed[change.service] = "not attempted: ZooKeeper connection lost"
            else:
                self._apply_one(change, desired, result)
        return result

    def _failed_change(self, chunk: list[Change], outcome: list[object]) -> Change | None:
        """The change whose operation made a transaction fail, if it failed."""
        if not any(isinstance(r, Exception) for r in outcome):
            return None
        index = 0
        if self.fence:
            if isinstance(outcome[0], Exception) and not isinstance(outcome[0], RolledBackError):
                raise LeadershipLost(f"writer lock {self.fence} is gone")
            index = 1
        for change in chunk:
            ops = self._weight(change)[0]
            failed = outcome[index : index + ops]
            if any(isinstance(r, Exception) and not isinstance(r, RolledBackError) for r in failed):
                return change
            index += ops
        return chunk[0]

    def _apply_one(self, change: Change, desired: Mapping[str, bytes], result: ApplyResult) -> None:
        for _ in range(CONFLICT_RETRIES + 1):
            try:
                outcome = self._commit_async([change]).get()
                if self._failed_change([change], outcome) is None:
                    result.applied.append(change)
                    return
                error = next(r for r in outcome if isinstance(r, Exception) and not isinstance(r, RolledBackError))
                if not isinstance(error, _CONFLICTS):
                    result.failed[change.service] = f"{type(error).__name__}"
                    return
                log.info("service %s changed under us (%s); re-reading", change.service, type(error).__name__)
                current = self.read_names([change.service])
            except _LOST as exc:
                result.connection_lost = True
                result.failed[change.service] = f"ZooKeeper connection lost: {type(exc).__name__}"
                return
            plan = compute_plan(
                desired, current, self.owner_id, adopt=change.action is Action.ADOPT, only=[change.service]
            )
            if plan.foreign:
                result.foreign.update(plan.foreign)
                return
            if not plan.changes:
                return
            change = plan.changes[0]
        result.failed[change.service] = f"still conflicting after {CONFLICT_RETRIES} retries"
