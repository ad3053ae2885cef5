"""Stale owners and reaping without a server (lib/plan/owners.py, and the
planner's removal of a stopped owner's own nodes in lib/plan/diff.py)."""

from __future__ import annotations

from lib.layouts.seed import SeedLayout
from lib.model import Action, Current, NodeState, OwnerState, Paths, RecordOp, RecordState
from lib.plan.budget import DeletionWindow
from lib.plan.diff import compute_plan
from lib.plan.owners import judge
from lib.plan.shares import encode_record, plan_shared
from lib.settings.groups import DeletionBudget

NOW = 10_000.0


def state(owner: str, live: bool = False, beat: float | None = None) -> OwnerState:
    return OwnerState(owner, live, {} if beat is not None else None, beat)


def test_a_live_writer_is_never_stale_and_a_silent_one_is_after_the_grace():
    states = {
        "me": state("me"),
        "looping": state("looping", live=True),
        "cron": state("cron", beat=NOW - 60),
        "gone": state("gone", beat=NOW - 3600),
        "older": state("older"),
    }
    verdict = judge(states, "me", NOW, stale_after=600)
    assert verdict.stale == {"gone": 3600.0, "older": None}
    assert verdict.reap == set()


def test_reaping_by_age_needs_a_heartbeat_and_a_named_owner_must_not_be_live():
    states = {"gone": state("gone", beat=NOW - 3600), "older": state("older"), "live": state("live", live=True)}
    assert judge(states, "me", NOW, stale_after=600, reap_after=1800).reap == {"gone"}
    assert judge(states, "me", NOW, stale_after=600, reap_after=7200).reap == set()
    verdict = judge(states, "me", NOW, stale_after=600, named=["older", "live", "nobody"])
    assert verdict.reap == {"older"}
    assert set(verdict.refused) == {"live", "nobody"}


def test_a_stopped_owners_instance_nodes_go_with_their_records_but_never_one_we_want():
    nodes = {"/s/orders/a": NodeState(b"{}", 2), "/s/orders/b": NodeState(b"{}", 4)}
    owners = {"/s/orders/a": "gone", "/s/orders/b": "gone", "/s/orders/gone-already": "gone"}
    plan = compute_plan({"/s/orders/b": b"{}"}, Current(nodes, owners), "me", reap={"gone"})
    by_path = {c.path: c for c in plan.changes}
    assert by_path["/s/orders/a"].action is Action.DELETE and by_path["/s/orders/a"].version == 2
    assert [(w.op, w.owner) for w in by_path["/s/orders/a"].records] == [(RecordOp.DELETE, "gone")]
    assert by_path["/s/orders/gone-already"].action is Action.FORGET
    assert by_path["/s/orders/a"].removes == 1 and by_path["/s/orders/gone-already"].removes == 0
    assert "/s/orders/b" not in by_path and plan.foreign == {"/s/orders/b": "gone"}


def test_reaping_counts_against_the_deletion_budget_of_the_owner_doing_it():
    seed = SeedLayout(Paths("/rpc_v2", "/kube2zk", "me"))
    nodes, shares = {}, {}
    for i in range(8):
        path = f"/rpc_v2/svc-{i}"
        nodes[path] = NodeState(b'{"config":[],"servers":["10.0.0.1","10.9.0.1"]}', 1, 7)
        shares[path] = {
            "me": RecordState(encode_record(["10.0.0.1"]), 7),
            "gone": RecordState(encode_record(["10.9.0.1"], 7), 9),
        }
    current = Current(nodes, {}, shares=shares)
    mine = {p: ["10.0.0.1"] for p in nodes}
    result = plan_shared(mine, current, "me", seed.combine, seed.servers_of, paths=nodes, reap={"gone"})
    assert sum(c.removes for c in result.plan.changes) == 8

    held = DeletionWindow(DeletionBudget(count=5, fraction=0.0)).hold(result.plan, owned=8)
    assert len(held) == 8 and result.plan.changes == []
    assert (
        DeletionWindow(DeletionBudget(count=8, fraction=0.0)).hold(
            plan_shared(mine, current, "me", seed.combine, seed.servers_of, paths=nodes, reap={"gone"}).plan, owned=8
        )
        == []
    )
