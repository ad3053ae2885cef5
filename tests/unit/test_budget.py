"""The deletion budget policy of the planner."""

from __future__ import annotations

import pytest

from lib.model import Action, Current, NodeState, Plan
from lib.plan.budget import DeletionWindow
from lib.plan.diff import compute_plan
from lib.settings import DeletionBudget, parse_budget


@pytest.mark.parametrize(
    "text, count, fraction",
    [("5", 5, 0.0), ("10%", 0, 0.10), ("5,10%", 5, 0.10), ("0", 0, 0.0), ("100%", 0, 1.0), (" 3 , 50% ", 3, 0.5)],
)
def test_budget_parses_counts_and_percentages(text, count, fraction):
    assert parse_budget(text) == DeletionBudget(count, fraction)


@pytest.mark.parametrize("text", ["", "five", "-1", "101%", "5;10%", "1.5"])
def test_bad_budget_is_rejected(text):
    with pytest.raises(ValueError):
        parse_budget(text)


@pytest.mark.parametrize(
    "deletions, owned, allowed",
    [(5, 5, True), (6, 10, False), (10, 100, True), (11, 100, False), (0, 0, True), (3, 3, True)],
)
def test_the_larger_of_count_and_fraction_applies(deletions, owned, allowed):
    assert DeletionBudget(5, 0.10).allows(deletions, owned) is allowed


def owned_current(names: list[str]) -> Current:
    return Current(nodes={n: NodeState(b"x", 0) for n in names}, owners={n: "me" for n in names})


def test_over_budget_every_delete_is_held_and_other_changes_stay():
    names = [f"s{i}" for i in range(10)]
    plan = compute_plan({"s0": b"y", "new": b"z"}, owned_current(names), "me")
    held = hold_deletions(plan, owned=10, budget=DeletionBudget(5, 0.1))
    assert sorted(c.path for c in held) == [f"s{i}" for i in range(1, 10)]
    assert plan.held == held
    assert {c.action for c in plan.changes} == {Action.UPDATE, Action.CREATE}


def test_within_budget_nothing_is_held():
    plan = compute_plan({"s0": b"x"}, owned_current(["s0", "s1", "s2"]), "me")
    assert hold_deletions(plan, owned=3, budget=DeletionBudget(5, 0.1)) == []
    assert [c.action for c in plan.changes] == [Action.DELETE, Action.DELETE]


def hold_deletions(plan: Plan, owned: int, budget: DeletionBudget) -> list:
    return DeletionWindow(budget).hold(plan, owned)
