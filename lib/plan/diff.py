"""The diff between the nodes a layout wants and what ZooKeeper holds.

Pure: it knows neither Kubernetes nor kazoo. The registry reads the current
state, the planner decides, the registry writes. Ownership is decided here
from records the registry read, so a node owned by someone else (another
cluster, a hand-made entry) is never part of a change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from lib.model import Action, Change, Current, Plan, RecordOp, RecordWrite


def compute_plan(
    desired: Mapping[str, bytes],
    current: Current,
    owner: str,
    *,
    adopt: bool = False,
    only: Iterable[str] | None = None,
    keep: Iterable[str] = (),
    reap: Iterable[str] = (),
) -> Plan:
    """Changes that make the owned part of ZooKeeper equal ``desired``
    (node path -> data). Nodes of the owners in ``reap`` (stopped
    installations) that we do not want ourselves are deleted with their
    records.

    ``only`` restricts the plan to some paths (an incremental sync, or
    re-planning after a version conflict). Paths in ``keep`` are left exactly
    as they are (a node whose new data could not be written, say): neither
    updated nor deleted.
    """
    plan = Plan()
    reap = set(reap) - {owner}
    paths = set(desired) | {p for p, o in current.owners.items() if o == owner}
    for path, stopped in current.owners.items():
        if stopped in reap and path not in desired and (only is None or path in only):
            gone = current.nodes.get(path)
            write = (RecordWrite(RecordOp.DELETE, stopped),)
            if gone is None:
                plan.changes.append(Change(Action.FORGET, path, None, None, -1, False, records=write))
            else:
                plan.changes.append(Change(Action.DELETE, path, gone.data, None, gone.version, False, records=write))
    if only is not None:
        paths &= set(only)
    paths -= set(keep)
    for path in sorted(paths):
        node = current.nodes.get(path)
        node_owner = current.owners.get(path)
        ours = node_owner == owner
        want = desired.get(path)
        if want is None:
            # Only reachable for paths we own: the planner never deletes others'.
            if node is None:
                plan.changes.append(Change(Action.FORGET, path, None, None, -1, True))
            else:
                plan.changes.append(Change(Action.DELETE, path, node.data, None, node.version, True))
            continue
        if node_owner is not None and not ours:
            plan.foreign[path] = node_owner
        elif node is None:
            plan.changes.append(Change(Action.CREATE, path, None, want, -1, not ours))
        elif ours:
            if node.data == want:
                plan.unchanged.append(path)
            else:
                plan.changes.append(Change(Action.UPDATE, path, node.data, want, node.version, False))
        elif adopt:
            plan.changes.append(Change(Action.ADOPT, path, node.data, want, node.version, True, node.czxid))
        else:
            plan.foreign[path] = ""
    return plan


def drop_recreated(plan: Plan, current: Current, recorded: Mapping[str, int], *, adopt: bool) -> list[str]:
    """Take out the changes to nodes someone deleted and created again since
    our record was written (``recorded``: path -> the creation zxid the record
    vouches for): such a node is no longer ours. Under ``adopt`` it is taken
    over again; a deletion only drops our record. The paths taken out."""
    recreated: list[str] = []
    for change in list(plan.changes):
        node = current.nodes.get(change.path)
        if node is None or change.path not in recorded or recorded[change.path] == node.czxid:
            continue
        plan.changes.remove(change)
        if change.action is Action.DELETE:
            plan.changes.append(Change(Action.FORGET, change.path, None, None, -1, True))
        elif adopt:
            plan.changes.append(
                Change(Action.ADOPT, change.path, node.data, change.new, node.version, False, node.czxid)
            )
        else:
            plan.foreign[change.path] = ""
            recreated.append(change.path)
    return recreated
