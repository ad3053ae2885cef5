"""The diff between the desired service map and what ZooKeeper holds.

Pure: it knows neither Kubernetes nor kazoo. The registry reads the current
state, the planner decides, the registry writes. Ownership is decided here
from records the registry read, so a node owned by someone else (another
cluster, a hand-made entry) is never part of a change.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


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


@dataclass(frozen=True)
class Current:
    """What the registry read: the nodes that matter and who owns which name."""

    nodes: Mapping[str, NodeState]
    owners: Mapping[str, str]  # service name -> owner id, for every recorded owner


@dataclass(frozen=True)
class Change:
    action: Action
    service: str
    old: bytes | None  # node data before, None when the node does not exist
    new: bytes | None  # node data after, None for a delete
    version: int  # node version the write is conditional on (-1: create)
    claim: bool  # create (create/adopt) or delete (delete/forget) our ownership record


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    # desired services we may not write: name -> owner id ("" when unowned)
    foreign: dict[str, str] = field(default_factory=dict)
    # deletions taken out by the deletion budget
    held: list[Change] = field(default_factory=list)

    def count(self, action: Action) -> int:
        return sum(1 for c in self.changes if c.action is action)


def compute_plan(
    desired: Mapping[str, bytes],
    current: Current,
    owner: str,
    *,
    adopt: bool = False,
    only: Iterable[str] | None = None,
    keep: Iterable[str] = (),
) -> Plan:
    """Changes that make the owned part of ZooKeeper equal ``desired``.

    ``only`` restricts the plan to some service names (an incremental sync, or
    re-planning one service after a version conflict). Names in ``keep`` are
    left exactly as they are (a service whose new data could not be written,
    say): neither updated nor deleted.
    """
    plan = Plan()
    names = set(desired) | {s for s, o in current.owners.items() if o == owner}
    if only is not None:
        names &= set(only)
    names -= set(keep)
    for name in sorted(names):
        node = current.nodes.get(name)
        node_owner = current.owners.get(name)
        ours = node_owner == owner
        want = desired.get(name)
        if want is None:
            # Only reachable for names we own: the planner never deletes others'.
            if node is None:
                plan.changes.append(Change(Action.FORGET, name, None, None, -1, True))
            else:
                plan.changes.append(Change(Action.DELETE, name, node.data, None, node.version, True))
            continue
        if node_owner is not None and not ours:
            plan.foreign[name] = node_owner
        elif node is None:
            plan.changes.append(Change(Action.CREATE, name, None, want, -1, not ours))
        elif ours:
            if node.data == want:
                plan.unchanged.append(name)
            else:
                plan.changes.append(Change(Action.UPDATE, name, node.data, want, node.version, False))
        elif adopt:
            plan.changes.append(Change(Action.ADOPT, name, node.data, want, node.version, True))
        else:
            plan.foreign[name] = ""
    return plan


@dataclass(frozen=True)
class DeletionBudget:
    """How many owned services one run may delete: the larger of a count and
    a fraction of the services we own. Above it every deletion is held, since
    a mass wipe is far likelier a wrong list (a namespace typo, a label
    change, a partial answer) than a real mass shutdown."""

    count: int = 5
    fraction: float = 0.10

    def allows(self, deletions: int, owned: int) -> bool:
        return deletions <= max(self.count, int(self.fraction * owned))

    def __str__(self) -> str:
        return f"{self.count},{self.fraction * 100:g}%"


def parse_budget(text: str) -> DeletionBudget:
    """``5``, ``10%`` or both, comma-separated (the larger limit applies)."""
    count, fraction = 0, 0.0
    for part in (p.strip() for p in text.split(",")):
        if part.endswith("%"):
            value = float(part[:-1])
            if not 0 <= value <= 100:
                raise ValueError(f"percentage {part!r} out of 0-100%")
            fraction = value / 100
        elif part.isascii() and part.isdigit():
            count = int(part)
        else:
            raise ValueError(f"{part!r} is neither a count nor a percentage (e.g. 5,10%)")
    return DeletionBudget(count, fraction)


def hold_deletions(plan: Plan, owned: int, budget: DeletionBudget) -> list[Change]:
    """Apply the budget: take every DELETE out of ``plan`` when there are more
    than it allows, and return them (empty when within the budget)."""
    deletes = [c for c in plan.changes if c.action is Action.DELETE]
    if budget.allows(len(deletes), owned):
        return []
    plan.changes = [c for c in plan.changes if c.action is not Action.DELETE]
    plan.held = deletes
    return deletes
