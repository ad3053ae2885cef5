"""The diff between the desired map and ZooKeeper, under ownership (lib/plan.py)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib.model import Action, Change, Current, NodeState
from lib.plan.diff import compute_plan

ME = "cluster-a"
OTHER = "cluster-b"
OLD = b'{"config":[],"servers":["10.0.0.1"]}'
NEW = b'{"config":[],"servers":["10.0.0.1","10.0.0.2"]}'


def current(nodes=None, owners=None) -> Current:
    return Current(nodes={n: NodeState(d, v) for n, (d, v) in (nodes or {}).items()}, owners=owners or {})


def only_change(plan) -> Change:
    assert len(plan.changes) == 1, plan.changes
    return plan.changes[0]


def test_desired_and_missing_is_created_with_a_new_claim():
    plan = compute_plan({"svc": NEW}, current(), ME)
    assert only_change(plan) == Change(Action.CREATE, "svc", None, NEW, -1, True)
    assert plan.unchanged == []
    assert plan.foreign == {}


def test_desired_and_missing_with_our_record_is_created_without_a_new_claim():
    plan = compute_plan({"svc": NEW}, current(owners={"svc": ME}), ME)
    assert only_change(plan) == Change(Action.CREATE, "svc", None, NEW, -1, False)


def test_our_node_with_the_same_data_is_unchanged():
    plan = compute_plan({"svc": NEW}, current({"svc": (NEW, 4)}, {"svc": ME}), ME)
    assert plan.changes == []
    assert plan.unchanged == ["svc"]


def test_our_node_with_other_data_is_updated_at_its_version():
    plan = compute_plan({"svc": NEW}, current({"svc": (OLD, 7)}, {"svc": ME}), ME)
    assert only_change(plan) == Change(Action.UPDATE, "svc", OLD, NEW, 7, False)


def test_our_node_no_longer_desired_is_deleted_at_its_version_with_its_claim():
    plan = compute_plan({}, current({"svc": (OLD, 3)}, {"svc": ME}), ME)
    assert only_change(plan) == Change(Action.DELETE, "svc", OLD, None, 3, True)


def test_our_record_without_a_node_is_forgotten():
    plan = compute_plan({}, current(owners={"svc": ME}), ME)
    assert only_change(plan) == Change(Action.FORGET, "svc", None, None, -1, True)


def test_node_owned_by_another_owner_is_foreign_and_untouched():
    plan = compute_plan({"svc": NEW}, current({"svc": (OLD, 2)}, {"svc": OTHER}), ME)
    assert plan.changes == []
    assert plan.foreign == {"svc": OTHER}


def test_node_owned_by_another_owner_stays_foreign_even_with_adopt():
    plan = compute_plan({"svc": NEW}, current({"svc": (OLD, 2)}, {"svc": OTHER}), ME, adopt=True)
    assert plan.changes == []
    assert plan.foreign == {"svc": OTHER}


def test_missing_node_recorded_by_another_owner_is_not_created():
    plan = compute_plan({"svc": NEW}, current(owners={"svc": OTHER}), ME)
    assert plan.changes == []
    assert plan.foreign == {"svc": OTHER}


def test_node_of_another_owner_not_desired_by_us_is_not_deleted():
    plan = compute_plan({}, current({"svc": (OLD, 2)}, {"svc": OTHER}), ME)
    assert plan.changes == []
    assert plan.foreign == {}


def test_unowned_existing_node_is_foreign_without_adopt():
    plan = compute_plan({"svc": NEW}, current({"svc": (OLD, 5)}), ME)
    assert plan.changes == []
    assert plan.foreign == {"svc": ""}


def test_unowned_existing_node_with_the_same_data_is_still_foreign_without_adopt():
    plan = compute_plan({"svc": NEW}, current({"svc": (NEW, 5)}), ME)
    assert plan.changes == []
    assert plan.unchanged == []
    assert plan.foreign == {"svc": ""}


def test_unowned_existing_node_is_adopted_with_a_claim_when_asked():
    plan = compute_plan({"svc": NEW}, current({"svc": (OLD, 5)}), ME, adopt=True)
    assert only_change(plan) == Change(Action.ADOPT, "svc", OLD, NEW, 5, True)
    assert plan.foreign == {}


def test_unowned_node_not_desired_is_never_deleted():
    plan = compute_plan({}, current({"svc": (OLD, 5)}), ME, adopt=True)
    assert plan.changes == []
    assert plan.foreign == {}


def test_only_restricts_the_plan_to_the_named_services():
    cur = current({"gone": (OLD, 1), "upd": (OLD, 1)}, {"gone": ME, "upd": ME})
    plan = compute_plan({"new": NEW, "upd": NEW}, cur, ME, only=["upd"])
    assert only_change(plan).path == "upd"


def test_only_with_no_names_plans_nothing():
    plan = compute_plan({"new": NEW}, current({"gone": (OLD, 1)}, {"gone": ME}), ME, only=[])
    assert (plan.changes, plan.unchanged, plan.foreign) == ([], [], {})


@pytest.mark.parametrize(
    ("desired", "nodes", "owners"),
    [
        ({"svc": NEW}, {"svc": (OLD, 1)}, {"svc": ME}),
        ({}, {"svc": (OLD, 1)}, {"svc": ME}),
        ({}, {}, {"svc": ME}),
        ({"svc": NEW}, {}, {}),
        ({"svc": NEW}, {"svc": (OLD, 1)}, {}),
    ],
)
def test_kept_service_is_neither_created_updated_nor_deleted(desired, nodes, owners):
    plan = compute_plan(desired, current(nodes, owners), ME, adopt=True, keep={"svc"})
    assert plan.changes == []
    assert "svc" not in plan.unchanged


def test_keep_leaves_the_other_services_planned():
    cur = current({"a": (OLD, 1), "b": (OLD, 1)}, {"a": ME, "b": ME})
    plan = compute_plan({"a": NEW, "b": NEW}, cur, ME, keep=["a"])
    assert only_change(plan).path == "b"


def test_changes_are_in_name_order():
    plan = compute_plan({"c": NEW, "a": NEW, "b": NEW}, current(), ME)
    assert [c.path for c in plan.changes] == ["a", "b", "c"]


def test_count_tallies_changes_by_action():
    cur = current({"upd": (OLD, 1), "del": (OLD, 1)}, {"upd": ME, "del": ME, "forget": ME})
    plan = compute_plan({"new": NEW, "upd": NEW}, cur, ME)
    counted = {a: plan.count(a) for a in Action}
    assert counted == {Action.CREATE: 1, Action.UPDATE: 1, Action.ADOPT: 0, Action.DELETE: 1, Action.FORGET: 1}


# -- properties ------------------------------------------------------------

_names = st.sampled_from(["a", "b", "c", "d", "e", "f"])
_data = st.sampled_from([OLD, NEW, b"", b"other"])
_owners = st.sampled_from([ME, OTHER, "cluster-c"])


@st.composite
def _scenarios(draw):
    desired = draw(st.dictionaries(_names, _data, max_size=6))
    nodes = draw(st.dictionaries(_names, st.tuples(_data, st.integers(0, 9)), max_size=6))
    owners = draw(st.dictionaries(_names, _owners, max_size=6))
    only = draw(st.none() | st.sets(_names))
    keep = draw(st.sets(_names, max_size=2))
    adopt = draw(st.booleans())
    return desired, current(nodes, owners), only, keep, adopt


@settings(deadline=None, max_examples=500)
@given(_scenarios())
def test_no_change_ever_targets_a_name_owned_by_another_owner(scenario):
    desired, cur, only, keep, adopt = scenario
    plan = compute_plan(desired, cur, ME, adopt=adopt, only=only, keep=keep)
    for change in plan.changes:
        assert cur.owners.get(change.path) in (None, ME)
        if change.action in (Action.DELETE, Action.FORGET):
            assert cur.owners.get(change.path) == ME
        if change.action is Action.ADOPT:
            assert adopt
            assert change.path not in cur.owners
        assert change.path not in keep
        if only is not None:
            assert change.path in only


@settings(deadline=None, max_examples=500)
@given(_scenarios())
def test_every_considered_name_lands_in_exactly_one_outcome_and_writes_match_reality(scenario):
    desired, cur, only, keep, adopt = scenario
    plan = compute_plan(desired, cur, ME, adopt=adopt, only=only, keep=keep)
    changed = [c.path for c in plan.changes]
    assert len(changed) == len(set(changed))
    outcomes = changed + plan.unchanged + list(plan.foreign)
    assert len(outcomes) == len(set(outcomes))
    considered = set(desired) - set(keep)
    if only is not None:
        considered &= set(only)
    assert considered <= set(outcomes)
    for change in plan.changes:
        node = cur.nodes.get(change.path)
        assert change.new == desired.get(change.path)
        assert change.old == (node.data if node else None)
        assert change.version == (node.version if node else -1)
        assert (change.action is Action.CREATE) == (node is None and change.new is not None)
        claims = {
            Action.CREATE: change.path not in cur.owners,
            Action.UPDATE: False,
            Action.ADOPT: True,
            Action.DELETE: True,
            Action.FORGET: True,
        }
        assert change.claim is claims[change.action]
    for name in plan.unchanged:
        assert cur.nodes[name].data == desired[name]
        assert cur.owners[name] == ME


@settings(deadline=None, max_examples=300)
@given(_scenarios())
def test_applying_the_plan_makes_our_part_equal_the_desired_map(scenario):
    desired, cur, _, _, adopt = scenario
    plan = compute_plan(desired, cur, ME, adopt=adopt)
    nodes = {n: s.data for n, s in cur.nodes.items()}
    owners = dict(cur.owners)
    for change in plan.changes:
        if change.new is None:
            nodes.pop(change.path, None)
            owners.pop(change.path, None)
        else:
            nodes[change.path] = change.new
            owners[change.path] = ME
    ours = {n: nodes[n] for n, o in owners.items() if o == ME}
    expected = {n: d for n, d in desired.items() if n not in plan.foreign}
    assert ours == expected
    for name, owner in cur.owners.items():
        if owner != ME:
            assert owners[name] == owner
            assert nodes.get(name) == (cur.nodes[name].data if name in cur.nodes else None)
