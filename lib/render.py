"""Service maps and plans as people and scripts read them: the log line of a
change, --dry-run's plan and -mockregistry's map, as text or JSON."""

from __future__ import annotations

import json

from lib.layouts import endpoints_in
from lib.layouts.seed import sorted_servers
from lib.model import Action, Change, Plan

_VERBS = {Action.CREATE: "created", Action.UPDATE: "updated", Action.ADOPT: "adopted", Action.DELETE: "deleted"}


def describe_change(change: Change) -> str:
    if change.action is Action.FORGET:
        return f"dropped stale ownership record of {change.path}"
    before = endpoints_in(change.old, change.path)
    after = endpoints_in(change.new, change.path)
    return f"{_VERBS[change.action]} {change.path}: servers {before} -> {after}"


def plan_lines(plan: Plan) -> list[str]:
    """--dry-run's readable plan: one line per node, held deletions marked."""
    lines = [_plan_line(c, False) for c in plan.changes]
    lines += [_plan_line(c, True) for c in plan.held]
    lines.append(
        f"# {len(plan.changes)} changes, {len(plan.held)} deletions held, {len(plan.unchanged)} unchanged, "
        f"{len(plan.foreign)} not ours"
    )
    return lines


def _plan_line(change: Change, held: bool) -> str:
    before = set(endpoints_in(change.old, change.path))
    after = set(endpoints_in(change.new, change.path))
    added = [f"+{ip}" for ip in sorted_servers(after - before)]
    removed = [f"-{ip}" for ip in sorted_servers(before - after)]
    diff = " ".join(added + removed)
    mark = "  [HELD by the deletion budget]" if held else ""
    return f"{change.action.value:7} {change.path}  {diff}".rstrip() + mark


def plan_document(plan: Plan) -> dict[str, object]:
    """--dry-run's plan as JSON."""

    def item(change: Change, held: bool) -> dict[str, object]:
        return {
            "action": change.action.value,
            "path": change.path,
            "before": endpoints_in(change.old, change.path) if change.old is not None else None,
            "after": endpoints_in(change.new, change.path) if change.new is not None else None,
            "held": held,
        }

    return {
        "changes": [item(c, False) for c in plan.changes] + [item(c, True) for c in plan.held],
        "unchanged": sorted(plan.unchanged),
        "foreign": dict(sorted(plan.foreign.items())),
    }


def service_map_lines(plan: Plan, pods_counted: int, pods_seen: int) -> list[str]:
    """-mockregistry's map: the nodes a first run would write."""
    nodes = {c.path: c.new for c in plan.changes if c.new is not None}
    lines = [f"{path}: {', '.join(endpoints_in(data, path))}" for path, data in sorted(nodes.items())]
    lines.append(f"# {len(nodes)} services from {pods_counted} of {pods_seen} labelled pods")
    return lines


def service_map_document(plan: Plan) -> dict[str, object]:
    """-mockregistry's map as JSON: path -> node content."""
    return {c.path: json.loads(c.new) for c in sorted(plan.changes, key=lambda c: c.path) if c.new is not None}
