"""Shared seed nodes (lib/plan/shares.py) without a server: the plan of one
owner's contribution, and a model of ZooKeeper's conditional transactions in
which two owners read and write in every interleaving. The node must list
exactly the union of the contributions after every committed transaction,
and no owner ever loses a server to another."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from lib.layouts.seed import DEFAULT_CONFIG, SeedLayout, decode_servers, encode_node
from lib.model import Action, Change, Current, NodeState, Paths, RecordOp, RecordState
from lib.plan.shares import RECORD_WITH_NODE, encode_record, plan_shared, vouches_for

PATH = "/rpc_v2/svc"
SEED = SeedLayout(Paths("/rpc_v2", "/kube2zk", "a"))


def plan(desired: dict[str, list[str]], current: Current, owner: str = "a", **kw) -> list[Change]:
    return plan_shared(
        desired, current, owner, SEED.combine, SEED.servers_of, paths=set(desired) | set(current.shares), **kw
    ).plan.changes


def node(servers: list[str], czxid: int = 7, version: int = 3) -> NodeState:
    return NodeState(encode_node(DEFAULT_CONFIG, servers), version, czxid)


def test_a_second_owner_joins_a_node_and_the_node_lists_the_union():
    current = Current({PATH: node(["10.0.0.1"])}, {}, shares={PATH: {"a": RecordState(RECORD_WITH_NODE, 7)}})
    [change] = plan({PATH: ["10.0.1.1"]}, current, owner="b")
    assert change.action is Action.UPDATE and change.version == 3
    assert decode_servers(change.new) == ["10.0.0.1", "10.0.1.1"]
    [write] = change.records
    assert write.op is RecordOp.CREATE and write.owner == ""
    assert write.data == encode_record(["10.0.1.1"], czxid=7)


def test_an_owner_that_leaves_takes_only_its_servers_and_the_last_one_deletes_the_node():
    shares = {"a": RecordState(encode_record(["10.0.0.1"]), 7), "b": RecordState(encode_record(["10.0.1.1"], 7), 9)}
    current = Current({PATH: node(["10.0.0.1", "10.0.1.1"])}, {}, shares={PATH: shares})
    [leave] = plan({}, current, owner="b")
    assert leave.action is Action.UPDATE and decode_servers(leave.new) == ["10.0.0.1"]
    assert [(w.op, w.owner) for w in leave.records] == [(RecordOp.DELETE, "")]

    alone = Current({PATH: node(["10.0.0.1"])}, {}, shares={PATH: {"a": shares["a"]}})
    [last] = plan({}, alone, owner="a")
    assert last.action is Action.DELETE and last.version == 3


def test_a_no_op_writes_nothing_and_a_node_nobody_vouches_for_is_not_ours():
    shares = {"a": RecordState(encode_record(["10.0.0.1"]), 7), "b": RecordState(encode_record(["10.0.1.1"], 7), 9)}
    current = Current({PATH: node(["10.0.0.1", "10.0.1.1"])}, {}, shares={PATH: shares})
    result = plan_shared({PATH: ["10.0.0.1"]}, current, "a", SEED.combine, SEED.servers_of, paths=[PATH])
    assert result.plan.changes == [] and result.plan.unchanged == [PATH] and result.owned == 1

    remade = Current({PATH: node(["6.6.6.6"], czxid=99)}, {}, shares={PATH: shares})
    result = plan_shared({PATH: ["10.0.0.1"]}, remade, "a", SEED.combine, SEED.servers_of, paths=[PATH])
    assert result.plan.changes == [] and result.plan.foreign == {PATH: ""} and result.recreated == [PATH]


def test_a_record_of_the_older_format_keeps_every_server_the_node_lists():
    current = Current({PATH: node(["10.0.0.1", "10.0.0.2"])}, {}, shares={PATH: {"a": RecordState(b"7", 50)}})
    [change] = plan({PATH: ["10.0.1.1"]}, current, owner="b")
    assert decode_servers(change.new) == ["10.0.0.1", "10.0.0.2", "10.0.1.1"]


def test_reaping_removes_a_stopped_owners_servers_with_its_record():
    shares = {"a": RecordState(encode_record(["10.0.0.1"]), 7), "b": RecordState(encode_record(["10.0.1.1"], 7), 9)}
    current = Current({PATH: node(["10.0.0.1", "10.0.1.1"])}, {}, shares={PATH: shares})
    [change] = plan({PATH: ["10.0.0.1"]}, current, owner="a", reap={"b"})
    assert decode_servers(change.new) == ["10.0.0.1"]
    assert change.reaped == ["b"] and change.removes == 1
    assert plan({PATH: ["10.0.0.1"]}, current, owner="a") == []


# -- a model of ZooKeeper's conditional multi-op transactions ------------------


@dataclass
class Zk:
    """A node and its records, with versions and creation zxids."""

    node: NodeState | None = None
    records: dict[str, RecordState] = field(default_factory=dict)
    zxid: int = 1

    def read(self) -> Current:
        return Current({PATH: self.node} if self.node else {}, {}, shares={PATH: dict(self.records)})

    def commit(self, owner: str, change: Change) -> bool:
        """All or nothing, like a ZooKeeper multi: False when a condition fails."""
        self.zxid += 1
        node, records = self.node, dict(self.records)
        if change.action is Action.CREATE:
            if node is not None:
                return False
            node = NodeState(change.new or b"", 0, self.zxid)
        elif change.action in (Action.UPDATE, Action.ADOPT, Action.DELETE):
            if node is None or node.version != change.version:
                return False
            written = NodeState(change.new or b"", node.version + 1, node.czxid)
            node = None if change.action is Action.DELETE else written
        for write in change.records:
            who = write.owner or owner
            if (write.op is RecordOp.CREATE) == (who in records):  # create needs none, the rest one
                return False
            if write.op is RecordOp.DELETE:
                del records[who]
            elif write.op is RecordOp.SET:
                records[who] = RecordState(write.data, records[who].czxid)
            else:
                records[who] = RecordState(write.data, self.zxid)
        self.node, self.records = node, records
        return True

    def union(self) -> list[str]:
        listed: set[str] = set()
        for record in self.records.values():
            if self.node is not None and vouches_for(record) == self.node.czxid:
                listed |= set(decode_servers(record.data) or [])
        return sorted(listed)


SERVERS = st.sets(st.sampled_from(["10.0.0.1", "10.0.0.2", "10.0.1.1", "10.0.1.2"]), max_size=3)
STEP = st.tuples(st.sampled_from(["a", "b"]), st.sampled_from(["want", "read", "write"]), SERVERS)


@settings(max_examples=400, deadline=None)
@given(st.lists(STEP, max_size=40))
def test_two_owners_in_any_interleaving_never_lose_a_server(steps):
    zk = Zk()
    want: dict[str, set[str]] = {"a": set(), "b": set()}
    seen: dict[str, Current] = {}

    def write(owner: str, current: Current) -> bool:
        changes = plan({PATH: sorted(want[owner])} if want[owner] else {}, current, owner=owner)
        return all(zk.commit(owner, c) for c in changes)

    for owner, what, servers in steps:
        if what == "want":
            want[owner] = servers
        elif what == "read":
            seen[owner] = zk.read()
        elif owner in seen:
            write(owner, seen.pop(owner))
        listed = sorted(decode_servers(zk.node.data) or []) if zk.node else []
        assert listed == zk.union(), "the node must list exactly what the records contribute"

    # Each owner converges in a few rounds of read, plan, write.
    for _ in range(4):
        for owner in ("a", "b"):
            write(owner, zk.read())
    listed = sorted(decode_servers(zk.node.data) or []) if zk.node else []
    assert listed == sorted(want["a"] | want["b"])
    assert all(plan({PATH: sorted(w)} if w else {}, zk.read(), owner=o) == [] for o, w in want.items())
