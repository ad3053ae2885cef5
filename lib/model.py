"""Plain data shared by every stage of a sync, and the paths every stage
agrees on; no I/O here."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

LABEL = "rpc-service"
LABEL_VALUE = "true"
ANNOTATION = "rpc-service"

# ZooKeeper's default jute.maxbuffer is 1 MiB for a whole packet; an oversized
# write makes the server drop the connection (failing every write in flight),
# so such data is refused before it is sent.
MAX_NODE_BYTES = 1024 * 1024 - 16 * 1024

# The data of an ownership record created in one transaction with its node:
# it vouches for the node by sharing its creation zxid.
RECORD_WITH_NODE = b"with-node"


@dataclass(frozen=True)
class ServiceDecl:
    """One entry of a pod's ``rpc-service`` annotation.

    The seed layout only needs ``name``; ``version`` and any other fields are
    kept because interface-level layouts (Dubbo providers, Curator instances)
    will need them without re-reading the pod.
    """

    name: str
    version: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class PodInfo:
    """The few fields of a pod that a sync needs, cut out of the raw list.

    Keeping only these lets a list of tens of thousands of pods stream page by
    page without holding the API objects.
    """

    namespace: str
    name: str
    phase: str | None
    ready: bool
    deleting: bool
    pod_ip: str | None
    annotation: str | None
    has_label: bool = True
    uid: str = ""
    created: str = ""  # metadata.creationTimestamp (RFC 3339): stable while the pod lives
    ports: tuple[tuple[str, int], ...] = ()  # named container ports: (name, port)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def serving(self) -> bool:
        """Running, Ready, not terminating and addressed: anything less would
        send callers to a dead or draining pod."""
        return self.phase == "Running" and self.ready and not self.deleting and bool(self.pod_ip)


@dataclass(frozen=True)
class Problem:
    """A bad annotation entry: reported and skipped, never fatal for others."""

    pod: str
    reason: str
    source: PodInfo | None = field(default=None, compare=False, repr=False)
    denied: bool = False  # a valid claim the claim policy refused

    def __str__(self) -> str:
        return f"pod {self.pod}: {self.reason}"


@dataclass
class DesiredState:
    """What ZooKeeper should hold for some services: service -> pod IPs."""

    services: dict[str, set[str]] = field(default_factory=dict)
    # The serving pods of each service with their declaration, for layouts
    # with a node per pod (filled only when such a layout is in use).
    endpoints: dict[str, list[tuple[PodInfo, ServiceDecl]]] = field(default_factory=dict)
    pods_seen: int = 0
    pods_counted: int = 0
    problems: list[Problem] = field(default_factory=list)


# -- nodes, as the planner and the registry see them ---------------------------------


@dataclass(frozen=True)
class OwnerState:
    """An installation as ZooKeeper shows it: whether a writer holds its lock
    now, and the heartbeat its writer leaves after each finished sync."""

    owner: str
    live: bool  # a writer session holds the owner's lock
    heartbeat: Mapping[str, Any] | None  # the status document, None when never written
    beat_at: float | None  # when it was written (epoch seconds)

    def silent_for(self, now: float) -> float | None:
        """Seconds since its writer was last seen: 0 while it holds the lock,
        None when it never left a heartbeat (an older version, or never ran)."""
        if self.live:
            return 0.0
        return None if self.beat_at is None else max(0.0, now - self.beat_at)


class Action(enum.Enum):
    CREATE = "create"
    UPDATE = "update"
    ADOPT = "adopt"  # take over an unowned node (migration from the original daemon)
    DELETE = "delete"
    FORGET = "forget"  # our ownership record outlived its node: drop the record


@dataclass(frozen=True)
class NodeState:
    data: bytes
    version: int
    czxid: int = 0
    children: int = 0


@dataclass(frozen=True)
class RecordState:
    """An ownership record as read: its data and its own creation zxid."""

    data: bytes
    czxid: int


@dataclass(frozen=True)
class Current:
    """What the registry read: the nodes that matter and who owns which path."""

    nodes: Mapping[str, NodeState]
    owners: Mapping[str, str]  # node path -> owner id, for every recorded owner
    # node path -> the creation zxid our record vouches for, when it was read
    # along (None: not read, ask the registry for the paths about to change)
    vouched: Mapping[str, int] | None = None
    # Shared nodes (the seed layout): path -> owner -> that owner's record,
    # read after the node so that a record changed since is never missed.
    shares: Mapping[str, Mapping[str, RecordState]] = field(default_factory=dict)
    # Shared nodes whose records were listed but not read: path -> owners.
    recorders: Mapping[str, frozenset[str]] = field(default_factory=dict)


class RecordOp(enum.Enum):
    CREATE = "create"
    SET = "set"
    REPLACE = "replace"  # delete and create in one go: the record's czxid becomes the node's
    DELETE = "delete"


@dataclass(frozen=True)
class RecordWrite:
    """A write to a record of a shared node, in the node's transaction.
    ``owner`` is "" for our own record, else the stopped owner being reaped."""

    op: RecordOp
    owner: str
    data: bytes = b""

    @property
    def reaps(self) -> bool:
        """Removes another owner's contribution (a stopped installation)."""
        return self.op is RecordOp.DELETE and self.owner != ""


@dataclass(frozen=True)
class Change:
    action: Action
    path: str
    old: bytes | None  # node data before, None when the node does not exist
    new: bytes | None  # node data after, None for a delete
    version: int  # node version the write is conditional on (-1: create)
    claim: bool  # create (create/adopt) or delete (delete/forget) our ownership record
    czxid: int = 0  # the node's creation zxid, for an adoption's record
    # Shared nodes: the record writes that go with the node's (``claim`` is
    # then unused). Another owner's record is only ever deleted (reaped).
    records: tuple[RecordWrite, ...] = ()

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[1]

    @property
    def reaped(self) -> list[str]:
        """Owners whose contribution this change removes."""
        return [r.owner for r in self.records if r.reaps]

    @property
    def removes(self) -> int:
        """What this change takes away as the deletion budget counts it: a
        node, or else each stopped owner's contribution it removes."""
        if self.action is Action.FORGET:
            return 0
        return 1 if self.action is Action.DELETE else len(self.reaped)


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    # desired paths we may not write: path -> owner id ("" when unowned)
    foreign: dict[str, str] = field(default_factory=dict)
    # deletions taken out by the deletion budget
    held: list[Change] = field(default_factory=list)

    def count(self, action: Action) -> int:
        return sum(1 for c in self.changes if c.action is action)


@dataclass(frozen=True)
class Paths:
    """Every ZooKeeper path kube2zk builds, in one place.

    Ownership records live outside the base path, so ``ls <zkpath>`` lists
    only services (consumers see no new children):
    ``<owner_root>/owners/<owner>/<quoted parent directory>/<node name>``.
    """

    zk_path: str
    owner_root: str
    owner_id: str

    @property
    def owners_root(self) -> str:
        return f"{self.owner_root}/owners"

    def service(self, name: str) -> str:
        return f"{self.zk_path}/{name}"

    @property
    def records_root(self) -> str:
        """The folder of this owner's record folders, one per directory."""
        return self.owner_folder()

    def owner_folder(self, owner: str | None = None) -> str:
        """An owner's folder: its lock, its heartbeat and its record folders."""
        return f"{self.owners_root}/{owner or self.owner_id}"

    def records(self, directory: str, owner: str | None = None) -> str:
        """The folder of one owner's records of the nodes in ``directory``."""
        return f"{self.owners_root}/{owner or self.owner_id}/{quote(directory, safe='')}"

    def record(self, node: str, owner: str | None = None) -> str:
        directory, _, name = node.rpartition("/")
        return f"{self.records(directory, owner)}/{name}"

    @property
    def lock(self) -> str:
        return self.lock_of(self.owner_id)

    def lock_of(self, owner: str) -> str:
        return f"{self.owners_root}/{owner}/lock"

    def status(self, owner: str | None = None) -> str:
        """An owner's heartbeat: when its writer last finished a sync, and how."""
        return f"{self.owners_root}/{owner or self.owner_id}/status"
