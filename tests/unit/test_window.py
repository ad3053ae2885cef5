"""The deletion budget over a window (lib/plan/budget.py)."""

from lib.model import Action, Change, Plan
from lib.plan.budget import DeletionWindow
from lib.settings.groups import DeletionBudget


def deletes(*paths: str) -> Plan:
    return Plan(changes=[Change(Action.DELETE, p, b"x", None, 0, True) for p in paths])


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_batches_within_a_window_share_one_budget():
    clock = Clock()
    window = DeletionWindow(DeletionBudget(5, 0.0), window=3600, clock=clock)
    held: list[str] = []
    for batch in range(5):  # 20 services going 4 at a time
        plan = deletes(*(f"/s/{batch}-{i}" for i in range(4)))
        scope = {c.path for c in plan.changes}
        held += [c.path for c in window.hold(plan, owned=20, scope=scope)]
        window.record(len(plan.changes))
        clock.now += 0.4
    assert len(held) == 16
    assert len(window.held) == 16


def test_the_window_slides():
    clock = Clock()
    window = DeletionWindow(DeletionBudget(5, 0.0), window=60, clock=clock)
    window.record(5)
    assert window.hold(deletes("/s/a"), owned=10, scope={"/s/a"}) != []
    clock.now = 61
    assert window.hold(deletes("/s/a"), owned=10, scope={"/s/a"}) == []
    assert window.held == {}


def test_a_plan_covering_a_held_path_replaces_its_hold():
    window = DeletionWindow(DeletionBudget(0, 0.0))
    window.hold(deletes("/s/a", "/s/b"), owned=2, scope={"/s/a", "/s/b"})
    assert set(window.held) == {"/s/a", "/s/b"}
    window.hold(Plan(), owned=2, scope={"/s/a"})  # a's pods came back
    assert set(window.held) == {"/s/b"}
    window.hold(Plan(), owned=2)  # a full sync with nothing to delete
    assert window.held == {}


def test_force_lets_everything_through():
    window = DeletionWindow(DeletionBudget(0, 0.0), force=True)
    plan = deletes("/s/a", "/s/b")
    assert window.hold(plan, owned=2) == []
    assert len(plan.changes) == 2


def test_a_one_shot_run_is_its_own_window():
    window = DeletionWindow(DeletionBudget(5, 0.10))
    plan = deletes(*(f"/s/{i}" for i in range(12)))
    held = window.hold(plan, owned=12)
    assert len(held) == 12 and plan.changes == [] and plan.held == held
