"""Which other installations are stale, and whose contributions go.

An installation (owner) is live while a writer holds its lock (``--loop``
holds it for good) and, between the runs of a CronJob, for a while after its
last finished sync (its heartbeat). A stale owner's servers stay by default:
its pods may well still serve, and only its writer has stopped. Removing them
is the operator's choice: ``-reap-owners-after`` for owners stale that long,
or the reap command naming one owner. Pure: the registry reads the states.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from lib.model import OwnerState


@dataclass
class Verdict:
    stale: dict[str, float | None] = field(default_factory=dict)  # owner -> seconds silent (None: unknown)
    reap: set[str] = field(default_factory=set)
    refused: dict[str, str] = field(default_factory=dict)  # owner named to reap -> why not


def judge(
    states: Mapping[str, OwnerState],
    me: str,
    now: float,
    *,
    stale_after: float,
    reap_after: float = 0.0,
    named: Iterable[str] = (),
) -> Verdict:
    """Stale owners, and the ones to reap: those silent longer than
    ``reap_after`` (when set; an owner that never left a heartbeat is never
    reaped by age) and those ``named``, unless a writer of theirs is live."""
    verdict = Verdict()
    for owner, state in sorted(states.items()):
        if owner == me:
            continue
        silent = state.silent_for(now)
        if silent is None or silent > stale_after:
            verdict.stale[owner] = silent
        if reap_after > 0 and silent is not None and silent > reap_after:
            verdict.reap.add(owner)
    for owner in named:
        named_state = states.get(owner)
        if named_state is None:
            verdict.refused[owner] = "no such owner in ZooKeeper"
        elif named_state.live:
            verdict.refused[owner] = "a writer of it holds its lock now: stop that installation first"
        else:
            verdict.reap.add(owner)
    return verdict
