"""One full sync: pods -> desired map -> plan -> owned writes.

``sync_once`` is what a one-shot run executes and what ``--loop`` calls on
its full-sync period; it holds no state between calls.
"""

from __future__ import annotations

import enum
import json
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from lib.desired.servicemap import build_desired
from lib.kube.pods import PodSource
from lib.layouts.seed import MAX_NODE_BYTES, decode_servers, encode_node, sorted_servers
from lib.model import DesiredState, Problem
from lib.plan.diff import Action, Change, Plan, compute_plan, hold_deletions
from lib.settings.options import Config
from lib.zk.registry import Registry

log = logging.getLogger(__name__)


class ExitCode(enum.IntEnum):
    OK = 0
    PARTIAL = 1  # some services failed, or invalid annotations with --strict
    USAGE = 2
    SOURCE = 3  # Kubernetes unreachable, forbidden or a failed list
    REGISTRY = 4  # ZooKeeper unreachable or lost during the run
    LOCKED = 5  # another run of the same owner holds the writer lock
    HELD = 6  # deletions above the deletion budget were held


@dataclass
class SyncReport:
    pods_seen: int = 0
    pods_counted: int = 0
    services: int = 0
    created: int = 0
    updated: int = 0
    adopted: int = 0
    deleted: int = 0
    unchanged: int = 0
    foreign: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    held: dict[str, str] = field(default_factory=dict)
    held_deletions: list[str] = field(default_factory=list)
    plan: Plan | None = None
    failed: dict[str, str] = field(default_factory=dict)
    owned: int = 0  # services this owner held before the run
    connection_lost: bool = False
    duration: float = 0.0

    @property
    def warnings(self) -> int:
        return len(self.problems) + len(self.foreign) + len(self.held)

    def exit_code(self, strict: bool = False) -> ExitCode:
        if self.connection_lost:
            return ExitCode.REGISTRY
        if self.failed or self.held or (strict and self.problems):
            return ExitCode.PARTIAL
        if self.held_deletions:
            return ExitCode.HELD
        return ExitCode.OK

    def figures(self) -> dict[str, int | float]:
        """The run's counts, for the summary line and JSON logs."""
        return {
            "pods_seen": self.pods_seen,
            "pods_counted": self.pods_counted,
            "services": self.services,
            "created": self.created,
            "updated": self.updated,
            "adopted": self.adopted,
            "deleted": self.deleted,
            "unchanged": self.unchanged,
            "failed": len(self.failed),
            "deletions_held": len(self.held_deletions),
            "warnings": self.warnings,
            "duration": round(self.duration, 3),
        }

    def summary(self) -> str:
        f = self.figures()
        return (
            f"sync done: pods seen {f['pods_seen']}, counted {f['pods_counted']}, services {f['services']}; "
            f"created {f['created']}, updated {f['updated']}, adopted {f['adopted']}, deleted {f['deleted']}, "
            f"unchanged {f['unchanged']}, failed {f['failed']}, deletions held {f['deletions_held']}; "
            f"warnings {f['warnings']}; {self.duration:.3f}s"
        )


def desired_nodes(state: DesiredState, config_lines: tuple[str, ...]) -> tuple[dict[str, bytes], dict[str, str]]:
    """Node data per service, and the services whose data is too large to write.

    ZooKeeper answers an oversized write by dropping the connection, which
    would fail every other write in flight, so the check happens here.
    """
    nodes: dict[str, bytes] = {}
    held: dict[str, str] = {}
    for name, ips in state.services.items():
        data = encode_node(config_lines, ips)
        if len(data) > MAX_NODE_BYTES:
            held[name] = f"node data of {len(data)} bytes exceeds ZooKeeper's limit of {MAX_NODE_BYTES}"
        else:
            nodes[name] = data
    return nodes, held


def describe_change(zk_path: str, change: Change) -> str:
    before = decode_servers(change.old) or []
    after = decode_servers(change.new) or []
    if change.action is Action.FORGET:
        return f"dropped stale ownership record of {zk_path}/{change.service}"
    verb = {Action.CREATE: "created", Action.UPDATE: "updated", Action.ADOPT: "adopted", Action.DELETE: "deleted"}
    return f"{verb[change.action]} {zk_path}/{change.service}: servers {before} -> {after}"


def report_problems(problems: Iterable[Problem]) -> None:
    for problem in problems:
        what = "refused claim" if problem.denied else "invalid rpc-service annotation"
        log.warning("%s on %s", what, problem, extra={"pod": problem.pod})


def reconcile(
    cfg: Config, registry: Registry, state: DesiredState, only: Iterable[str] | None = None, owned: int | None = None
) -> SyncReport:
    """Make the owned nodes match ``state``: all of them (a full sync), or
    only the services named in ``only`` (an incremental one, which passes the
    number of ``owned`` services its deletion budget is relative to).
    With --dry-run the plan is returned and nothing is written."""
    started = time.monotonic()
    desired, held = desired_nodes(state, cfg.node_config)
    for name, reason in held.items():
        log.error("service %s not written: %s", name, reason, extra={"service": name})

    # Reads are idempotent: retried across a connection loss. Writes are not
    # retried blindly; their conflicts are re-planned by the registry.
    if only is None:
        current = registry.zk.retry(registry.read, desired)
    else:
        only = set(only)
        current = registry.zk.retry(registry.read_names, only)
    plan = compute_plan(desired, current, cfg.owner_id, adopt=cfg.adopt, keep=held, only=only)
    if owned is None:
        owned = sum(1 for o in current.owners.values() if o == cfg.owner_id)
    held_deletes = [] if cfg.force_deletions else hold_deletions(plan, owned, cfg.max_deletions)
    if held_deletes:
        log.error(
            "holding %d deletions above the deletion budget %s of %d owned services: %s; "
            "check the list and rerun with --force-deletions to proceed",
            len(held_deletes),
            cfg.max_deletions,
            owned,
            ", ".join(c.service for c in held_deletes[:20]) + (" ..." if len(held_deletes) > 20 else ""),
        )
    if cfg.dry_run:
        return SyncReport(
            pods_seen=state.pods_seen,
            pods_counted=state.pods_counted,
            services=len(state.services),
            unchanged=len(plan.unchanged),
            foreign=plan.foreign,
            problems=state.problems,
            held=held,
            held_deletions=[c.service for c in held_deletes],
            plan=plan,
            duration=time.monotonic() - started,
        )
    if only is None or plan.changes:
        registry.zk.retry(registry.prepare)
    result = registry.apply(plan.changes, desired)

    foreign = {**plan.foreign, **result.foreign}
    for name, owner in sorted(foreign.items()):
        whose = f"owned by {owner!r}" if owner else "not owned by kube2zk (use --adopt to take it over)"
        log.warning(
            "service node %s/%s is %s; left untouched",
            cfg.zk_path,
            name,
            whose,
            extra={"service": name, "owner": owner},
        )
    for change in result.applied:
        log.info(describe_change(cfg.zk_path, change), extra={"service": change.service, "action": change.action.value})
    for name, reason in sorted(result.failed.items()):
        log.error("service %s/%s failed: %s", cfg.zk_path, name, reason, extra={"service": name})

    applied = [c.action for c in result.applied]
    return SyncReport(
        pods_seen=state.pods_seen,
        pods_counted=state.pods_counted,
        services=len(state.services),
        created=applied.count(Action.CREATE),
        updated=applied.count(Action.UPDATE),
        adopted=applied.count(Action.ADOPT),
        deleted=applied.count(Action.DELETE),
        unchanged=len(plan.unchanged),
        foreign=foreign,
        problems=state.problems,
        held=held,
        held_deletions=[c.service for c in held_deletes],
        owned=owned,
        failed=result.failed,
        connection_lost=result.connection_lost,
        duration=time.monotonic() - started,
    )


def sync_once(cfg: Config, source: PodSource, registry: Registry) -> SyncReport:
    """List, plan and write everything. SourceError propagates before any
    write: a failed list never deletes anything."""
    started = time.monotonic()
    state = build_desired(source.list().pods, cfg.claim_policy)
    report_problems(state.problems)
    report = reconcile(cfg, registry, state)
    report.duration = time.monotonic() - started
    return report


def plan_lines(zk_path: str, plan: Plan) -> list[str]:
    """--dry-run's readable plan: one line per node, held deletions marked."""
    lines = [_plan_line(zk_path, c, False) for c in plan.changes]
    lines += [_plan_line(zk_path, c, True) for c in plan.held]
    lines.append(
        f"# {len(plan.changes)} changes, {len(plan.held)} deletions held, {len(plan.unchanged)} unchanged, "
        f"{len(plan.foreign)} not ours"
    )
    return lines


def _plan_line(zk_path: str, change: Change, held: bool) -> str:
    before = set(decode_servers(change.old) or [])
    after = set(decode_servers(change.new) or [])
    added = [f"+{ip}" for ip in sorted_servers(after - before)]
    removed = [f"-{ip}" for ip in sorted_servers(before - after)]
    diff = " ".join(added + removed)
    mark = "  [HELD by the deletion budget]" if held else ""
    return f"{change.action.value:7} {zk_path}/{change.service}  {diff}".rstrip() + mark


def plan_document(zk_path: str, plan: Plan) -> dict[str, object]:
    """--dry-run's plan as JSON."""

    def item(change: Change, held: bool) -> dict[str, object]:
        return {
            "action": change.action.value,
            "path": f"{zk_path}/{change.service}",
            "before": decode_servers(change.old),
            "after": decode_servers(change.new),
            "held": held,
        }

    return {
        "changes": [item(c, False) for c in plan.changes] + [item(c, True) for c in plan.held],
        "unchanged": sorted(plan.unchanged),
        "foreign": dict(sorted(plan.foreign.items())),
    }


def service_map_document(zk_path: str, nodes: Mapping[str, bytes]) -> dict[str, object]:
    """What -mockregistry prints as JSON: the nodes that would be written."""
    return {f"{zk_path}/{name}": json.loads(data) for name, data in sorted(nodes.items())}
