"""Shared nodes: several installations (clusters) contributing servers to one
service node of the seed layout.

Each owner keeps its contribution in its own ownership record (outside the
base path); the node lists the sorted union of every contribution. Every
change of a contribution is written in one transaction with a versioned write
of the node, so the node's version orders all contributions: a writer that
read the node before another owner's change fails its write, re-reads and
merges again, and no server is ever lost between two writers.

A record vouches for one incarnation of its node (its creation zxid): a node
deleted and made again by someone else is vouched for by nobody and is not
kube2zk's until adopted. Records of the original kube2zk format (no server
list) count as contributing every server the node lists, so an owner that has
not yet rewritten its record never loses a server to another.

Pure: the registry reads nodes and records, this module decides.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from lib.model import RECORD_WITH_NODE, Action, Change, Current, NodeState, Plan, RecordOp, RecordState, RecordWrite

Combine = Callable[[list[str], bytes | None], bytes]


def encode_record(servers: Iterable[str], czxid: int | None = None) -> bytes:
    """A contribution; without ``czxid`` the record is created with its node
    and vouches for it by its own creation zxid."""
    doc: dict[str, object] = {"servers": sorted(servers)}
    if czxid is not None:
        doc["czxid"] = czxid
    return json.dumps(doc, separators=(",", ":")).encode()


def _doc(record: RecordState) -> dict[str, object] | None:
    if not record.data.startswith(b"{"):
        return None
    try:
        doc = json.loads(record.data)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def vouches_for(record: RecordState) -> int | None:
    """The creation zxid of the node incarnation a record stands for."""
    if record.data == RECORD_WITH_NODE:
        return record.czxid
    if record.data.isdigit():
        return int(record.data)
    doc = _doc(record)
    if doc is None:
        return None
    czxid = doc.get("czxid")
    return czxid if isinstance(czxid, int) else record.czxid


def contribution(record: RecordState, listed: list[str]) -> list[str]:
    """The servers a record contributes; for a record of the older format,
    every server its node lists."""
    doc = _doc(record)
    servers = doc.get("servers") if doc is not None else None
    if not isinstance(servers, list):
        return sorted(listed)
    return sorted(s for s in servers if isinstance(s, str))


@dataclass
class SharedPlan:
    plan: Plan = field(default_factory=Plan)
    recreated: list[str] = field(default_factory=list)
    owned: int = 0  # nodes we contribute to, as read


@dataclass(frozen=True)
class _Node:
    """One shared path as read, with our wish for it."""

    path: str
    node: NodeState | None
    records: Mapping[str, RecordState]
    mine: list[str] | None  # our servers; None: we contribute nothing


def plan_shared(
    desired: Mapping[str, list[str]],
    current: Current,
    owner: str,
    combine: Combine,
    servers_of: Callable[[bytes], list[str]],
    *,
    paths: Iterable[str],
    adopt: bool = False,
    reap: Iterable[str] = (),
) -> SharedPlan:
    """Changes that make each shared node in ``paths`` list the union of
    every live contribution, ours being ``desired`` (path -> servers).
    Contributions of the owners in ``reap`` are removed."""
    result = SharedPlan()
    reap = set(reap) - {owner}
    for path in sorted(paths):
        mine = desired.get(path)
        read = _Node(path, current.nodes.get(path), current.shares.get(path, {}), sorted(mine) if mine else None)
        _plan_one(read, owner, combine, servers_of, adopt, reap, result)
    return result


def _plan_one(
    n: _Node,
    owner: str,
    combine: Combine,
    servers_of: Callable[[bytes], list[str]],
    adopt: bool,
    reap: set[str],
    out: SharedPlan,
) -> None:
    plan = out.plan
    mine_recorded = owner in n.records
    if n.node is None:
        # Records of a node that is gone are stale; ours is replaced or dropped.
        if n.mine:
            op = RecordOp.REPLACE if mine_recorded else RecordOp.CREATE
            write = RecordWrite(op, "", encode_record(n.mine))
            plan.changes.append(Change(Action.CREATE, n.path, None, combine(n.mine, None), -1, False, records=(write,)))
        elif mine_recorded:
            plan.changes.append(_forget(n.path))
        stale = tuple(RecordWrite(RecordOp.DELETE, o) for o in sorted(reap & set(n.records)))
        if stale:
            plan.changes.append(Change(Action.FORGET, n.path, None, None, -1, False, records=stale))
        return
    node = n.node
    valid = {o: r for o, r in n.records.items() if vouches_for(r) == node.czxid}
    if not valid:
        _unowned(n, node, combine, adopt, mine_recorded, out)
        return
    ours = owner in valid
    if ours:
        out.owned += 1
    if n.mine is None and not ours and not (reap & set(valid)):
        if mine_recorded:
            plan.changes.append(_forget(n.path))
        return
    listed = servers_of(node.data)
    gone = sorted(reap & set(valid))
    others = [contribution(r, listed) for o, r in valid.items() if o != owner and o not in gone]
    union = sorted({s for share in others for s in share} | set(n.mine or ()))
    writes = [RecordWrite(RecordOp.DELETE, o) for o in gone]
    recorded = contribution(valid[owner], listed) if ours else None
    if n.mine is None:
        if mine_recorded:
            writes.insert(0, RecordWrite(RecordOp.DELETE, ""))
    elif recorded != n.mine:
        op = RecordOp.SET if mine_recorded else RecordOp.CREATE
        writes.insert(0, RecordWrite(op, "", encode_record(n.mine, node.czxid)))
    if not union:
        plan.changes.append(Change(Action.DELETE, n.path, node.data, None, node.version, False, records=tuple(writes)))
        return
    want = combine(union, node.data)
    if not writes and want == node.data:
        plan.unchanged.append(n.path)
        return
    # Always a versioned write of the node, even of the same bytes: it is
    # what orders this contribution against every other owner's.
    plan.changes.append(Change(Action.UPDATE, n.path, node.data, want, node.version, False, records=tuple(writes)))


def _unowned(n: _Node, node: NodeState, combine: Combine, adopt: bool, recorded: bool, out: SharedPlan) -> None:
    """A node no kube2zk vouches for: made by hand, by the original daemon,
    or deleted and made again by someone else since we wrote it."""
    if n.mine is None:
        if recorded:
            out.plan.changes.append(_forget(n.path))
        return
    if adopt:
        op = RecordOp.SET if recorded else RecordOp.CREATE
        write = RecordWrite(op, "", encode_record(n.mine, node.czxid))
        data = combine(n.mine, node.data)
        out.plan.changes.append(
            Change(Action.ADOPT, n.path, node.data, data, node.version, False, node.czxid, records=(write,))
        )
        return
    out.plan.foreign[n.path] = ""
    if recorded:
        out.recreated.append(n.path)


def _forget(path: str) -> Change:
    """Drop our record of a node we no longer contribute to."""
    return Change(Action.FORGET, path, None, None, -1, False, records=(RecordWrite(RecordOp.DELETE, ""),))
