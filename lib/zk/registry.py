"""ZooKeeper side: reads and writes the nodes one owner is responsible for.

It never plans: it reads what the planner needs, writes the changes it is
given, and hands back the ones that met a concurrent change (a conflict) for
the planner to decide again. A node and its ownership record (see
``lib.model.Paths``) are created and deleted in one transaction, so a run
killed at any point leaves both or neither. Every wait is bounded by the
ZooKeeper timeout, and reads, being idempotent, are retried across a
connection loss within it (``lib.zk.reading``). What several installations
share, the seed layout's nodes with every owner's record and each owner's
liveness, is read by ``lib.zk.sharing``.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import unquote

from kazoo.client import KazooClient
from kazoo.exceptions import (
    BadVersionError,
    ConnectionLoss,
    NoAuthError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    OperationTimeoutError,
    SessionExpiredError,
)
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.interfaces import IAsyncResult
from kazoo.security import OPEN_ACL_UNSAFE

from lib.model import RECORD_WITH_NODE, Action, Change, Current, Paths
from lib.zk.errors import RegistryTimeout
from lib.zk.sharing import SharedReads
from lib.zk.transactions import add_ops, chunks, failed_change

log = logging.getLogger(__name__)

CONFLICTS = (BadVersionError, NodeExistsError, NoNodeError)
LOST = (ConnectionLoss, SessionExpiredError, OperationTimeoutError, KazooTimeoutError, RegistryTimeout)


@dataclass
class ApplyResult:
    applied: list[Change] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # path -> reason
    # Changes that met a concurrent change: to be re-read and re-planned.
    conflicts: list[Change] = field(default_factory=list)
    connection_lost: bool = False


class Registry(SharedReads):
    """The owned nodes of one owner.

    ``fence`` gives the path of the writer lock's node (or None); every
    transaction first checks that it still exists, so a writer that was paused
    and lost its lock cannot write at all, not just not over newer data.
    Nodes get the client's default ACL (``lib.zk.connect.node_acl``).
    """

    def __init__(
        self, zk: KazooClient, paths: Paths, *, timeout: float, fence: Callable[[], str | None] = lambda: None
    ):
        super().__init__(zk, paths, timeout=timeout)
        self.fence = fence

    # -- reading -----------------------------------------------------------
    def read(self, directories: Iterable[str], wanted: Iterable[str], everything: Iterable[str] = ()) -> Current:
        """The nodes a plan needs in ``directories``: those wanted and those
        we own, and every child of the folders in ``everything`` (whose
        others' nodes are checked)."""
        return self._retried(lambda: self._read(list(directories), set(wanted), set(everything)))

    def _read(self, directories: list[str], wanted: set[str], everything: set[str]) -> Current:
        owners = sorted(self._children(self.paths.owners_root))
        listings = [(d, self.zk.get_children_async(d)) for d in directories]
        records = [(d, o, self.zk.get_children_async(self.paths.records(d, o))) for d in directories for o in owners]
        present: set[str] = set()
        for directory, reply in listings:
            try:
                present.update(f"{directory}/{name}" for name in self._wait(reply))
            except NoNodeError:
                continue
        claimants: dict[str, list[str]] = {}
        for directory, owner, reply in records:
            try:
                names = self._wait(reply)
            except NoNodeError:
                continue
            for name in names:
                claimants.setdefault(f"{directory}/{name}", []).append(owner)
        owned = self._resolve(claimants)
        ours = {path for path, owner in owned.items() if owner == self.owner_id}
        read_all = {p for p in present if p.rpartition("/")[0] in everything}
        return Current(nodes=self._collect(sorted(present & (wanted | ours) | read_all)), owners=owned)

    def owned_directories(self, roots: Iterable[str], owners: Iterable[str] = ()) -> set[str]:
        """The folders below ``roots`` in which this owner (and ``owners``)
        have records: where nodes they wrote may be left over."""
        roots = [r + "/" for r in roots]
        if not roots:
            return set()

        def listed() -> set[str]:
            pending = [self.zk.get_children_async(self.paths.owner_folder(o)) for o in {self.owner_id, *owners}]
            names: set[str] = set()
            for reply in pending:
                with contextlib.suppress(NoNodeError):
                    names.update(self._wait(reply))
            return names

        folders = {unquote(q) for q in self._retried(listed)}
        return {f for f in folders if any(f.startswith(r) for r in roots)}

    def read_paths(self, paths: Iterable[str]) -> Current:
        """Fresh state of some nodes only: an incremental sync, or re-planning
        after a conflict."""
        return self._retried(lambda: self._read_paths(sorted(set(paths))))

    def _read_paths(self, paths: list[str]) -> Current:
        owners = sorted(set(self._children(self.paths.owners_root)) - {self.owner_id})
        ours = [(p, self.zk.get_async(self.paths.record(p))) for p in paths]
        theirs = [(p, o, self.zk.exists_async(self.paths.record(p, o))) for p in paths for o in owners]
        nodes = self._collect(paths)
        claimants: dict[str, list[str]] = {}
        vouched = self._vouched(ours)
        for path in vouched:
            claimants.setdefault(path, []).append(self.owner_id)
        for path, owner, reply in theirs:
            if self._wait(reply) is not None:
                claimants.setdefault(path, []).append(owner)
        return Current(nodes, self._resolve(claimants), {p: c for p, c in vouched.items() if c is not None})

    def recorded_czxids(self, paths: Iterable[str]) -> dict[str, int]:
        """path -> the creation zxid our record vouches for, for the paths
        whose record says (records of older versions say nothing).

        A record made in one transaction with its node (``RECORD_WITH_NODE``)
        shares the node's czxid; one made when adopting a node holds it."""

        def read() -> dict[str, int]:
            pending = [(p, self.zk.get_async(self.paths.record(p))) for p in sorted(set(paths))]
            return {p: c for p, c in self._vouched(pending).items() if c is not None}

        return self._retried(read)

    def _vouched(self, pending: list[tuple[str, IAsyncResult]]) -> dict[str, int | None]:
        """path -> vouched czxid (None: a record that says nothing) of the
        records that exist."""
        vouched: dict[str, int | None] = {}
        for path, reply in pending:
            try:
                data, stat = self._wait(reply)
            except NoNodeError:
                continue
            if data == RECORD_WITH_NODE:
                vouched[path] = stat.czxid
            else:
                vouched[path] = int(data) if data.isdigit() else None
        return vouched

    def _resolve(self, claimants: dict[str, list[str]]) -> dict[str, str]:
        """One owner per path: ours when we are among the claimants."""
        result: dict[str, str] = {}
        for path, who in claimants.items():
            result[path] = self.owner_id if self.owner_id in who else who[0]
            if len(who) > 1:
                log.warning(
                    "node %s is claimed by several owners (%s); treated as %s's", path, ", ".join(who), result[path]
                )
        return result

    # -- writing -----------------------------------------------------------
    def prepare(self, directories: Iterable[str]) -> None:
        """Create these folders and our record folders for them when missing:
        one pipelined check of them and their parents, then the missing ones
        created a level at a time, each level pipelined (kazoo's ensure_path
        costs two checks and a create per folder, one after the other)."""
        wanted = {p for d in directories for p in (d, self.paths.records(d))}
        folders = sorted({a for p in wanted for a in _ancestors(p)}, key=lambda p: (p.count("/"), p))

        def ensure() -> None:
            checks = [(p, self.zk.exists_async(p)) for p in folders]
            missing = [p for p, reply in checks if self._wait(reply) is None]
            for depth in sorted({p.count("/") for p in missing}):
                level = [p for p in missing if p.count("/") == depth]
                for reply in [self.zk.create_async(p, b"") for p in level]:
                    with contextlib.suppress(NodeExistsError):  # made by someone else meanwhile
                        self._wait(reply)

        self._retried(ensure)

    def apply(self, changes: list[Change]) -> ApplyResult:
        """Write ``changes`` in pipelined, chunked transactions.

        A chunk that fails as a whole (one conflicting node rolls back all its
        siblings) is resent without the change at fault, so a failure on one
        node never stops the others.
        """
        result = ApplyResult()
        fence = self.fence()
        pending = [(chunk, self._commit_async(chunk, fence)) for chunk in chunks(changes)]
        while pending:
            chunk, async_result = pending.pop(0)
            try:
                outcome = self._wait(async_result)
            except LOST as exc:
                result.connection_lost = True
                for change in chunk:
                    result.failed[change.path] = f"ZooKeeper connection lost: {type(exc).__name__}"
                continue
            bad, error = failed_change(chunk, outcome, fence)
            if bad is None:
                result.applied.extend(chunk)
                self._restore_acls(chunk)
                continue
            if isinstance(error, NotEmptyError):
                result.failed[bad.path] = (
                    "cannot delete: someone created children under it (remove them, or the node, by hand)"
                )
            elif isinstance(error, CONFLICTS):
                result.conflicts.append(bad)
            else:
                result.failed[bad.path] = type(error).__name__
            rest = [c for c in chunk if c is not bad]
            if rest:
                pending.append((rest, self._commit_async(rest, fence)))
        return result

    def _restore_acls(self, changes: list[Change]) -> None:
        """Give nodes we update or adopt our ACL again: one changed by an
        administrator (or written world-open by the original daemon) would
        otherwise keep rights kube2zk never meant to grant."""
        acl = self.zk.default_acl
        if not acl or acl == OPEN_ACL_UNSAFE:
            return
        updated = [c.path for c in changes if c.action in (Action.UPDATE, Action.ADOPT)]
        for path, pending in [(p, self.zk.set_acls_async(p, acl)) for p in updated]:
            try:
                self._wait(pending)
            except (NoNodeError, NoAuthError) as exc:
                log.warning("could not restore the ACL of %s: %s", path, type(exc).__name__)

    def _record_of(self, path: str, owner: str) -> str:
        return self.paths.record(path, owner or None)

    def _commit_async(self, changes: list[Change], fence: str | None) -> IAsyncResult:
        txn = self.zk.transaction()
        if fence:
            txn.check(fence, -1)
        for change in changes:
            add_ops(txn, change, functools.partial(self._record_of, change.path))
        return txn.commit_async()


def _ancestors(path: str) -> list[str]:
    """``/a/b/c`` -> ``/a``, ``/a/b``, ``/a/b/c``."""
    parts = path.strip("/").split("/")
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]
