"""One reconcile path for every mode: desired state -> layout -> plan ->
deletion budget -> registry writes -> one re-plan of conflicts -> report.

A one-shot run calls it once with the whole desired state; ``--loop`` calls
it for its full syncs and, with ``only``, for the services a batch of pod
events touched. Dry run and mock mode build the same plan and only differ in
what happens to it: printed instead of applied (mock mode plans against an
empty registry, without contacting ZooKeeper).
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from lib.kube.events import EventRecorder
from lib.layouts import Layouts
from lib.model import MAX_NODE_BYTES, Action, Change, Current, DesiredState, Plan, Problem
from lib.plan.budget import DeletionWindow
from lib.plan.diff import compute_plan, drop_recreated
from lib.render import describe_change
from lib.settings.groups import SyncSettings
from lib.zk.registry import ApplyResult, Registry

log = logging.getLogger(__name__)

CONFLICT_ROUNDS = 3


class ExitCode(enum.IntEnum):
    """The exit status of a run; when several apply, the first listed in
    ``SyncReport.exit_code`` wins (and the summary line names them all)."""

    OK = 0
    PARTIAL = 1  # some nodes failed, or invalid annotations with --strict
    USAGE = 2
    SOURCE = 3  # Kubernetes unreachable, forbidden or a failed list
    REGISTRY = 4  # ZooKeeper unreachable or lost during the run
    LOCKED = 5  # another run of the same owner holds the writer lock
    HELD = 6  # deletions above the deletion budget were held
    NOT_OWNED = 7  # a declared service's node exists but no kube2zk owns it (use -adopt)


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
    foreign: dict[str, str] = field(default_factory=dict)  # path -> owner, "" when unowned
    problems: list[Problem] = field(default_factory=list)
    oversized: dict[str, str] = field(default_factory=dict)  # path -> reason
    held_deletions: list[str] = field(default_factory=list)
    recreated: list[str] = field(default_factory=list)  # recorded as ours, but made again by someone else
    unreadable: dict[str, str] = field(default_factory=dict)  # others' nodes in our folders readers cannot parse
    failed: dict[str, str] = field(default_factory=dict)  # path -> reason
    plan: Plan = field(default_factory=Plan)
    connection_lost: bool = False
    duration: float = 0.0

    @property
    def not_owned(self) -> list[str]:
        return sorted(path for path, owner in self.foreign.items() if not owner)

    @property
    def warnings(self) -> int:
        return len(self.problems) + len(self.foreign) + len(self.oversized) + len(self.unreadable)

    def exit_code(self, strict: bool = False) -> ExitCode:
        if self.connection_lost:
            return ExitCode.REGISTRY
        if self.held_deletions:
            return ExitCode.HELD
        if self.failed or self.oversized or (strict and self.problems):
            return ExitCode.PARTIAL
        if self.not_owned:
            return ExitCode.NOT_OWNED
        return ExitCode.OK

    def count(self, result: ApplyResult) -> None:
        for change in result.applied:
            if change.action is Action.CREATE:
                self.created += 1
            elif change.action is Action.UPDATE:
                self.updated += 1
            elif change.action is Action.ADOPT:
                self.adopted += 1
            elif change.action is Action.DELETE:
                self.deleted += 1
        self.failed.update(result.failed)
        self.connection_lost |= result.connection_lost

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
            "not_owned": len(self.not_owned),
            "warnings": self.warnings,
            "duration": round(self.duration, 3),
        }

    def summary(self) -> str:
        f = self.figures()
        return (
            f"sync done: pods seen {f['pods_seen']}, counted {f['pods_counted']}, services {f['services']}; "
            f"created {f['created']}, updated {f['updated']}, adopted {f['adopted']}, deleted {f['deleted']}, "
            f"unchanged {f['unchanged']}, failed {f['failed']}, deletions held {f['deletions_held']}, "
            f"not owned {f['not_owned']}; warnings {f['warnings']}; {self.duration:.3f}s"
        )


def report_problems(problems: Iterable[Problem]) -> None:
    for problem in problems:
        what = "refused claim" if problem.denied else "invalid rpc-service annotation"
        log.warning("%s on %s", what, problem, extra={"pod": problem.pod})


class Reconciler:
    """Makes the owned nodes match a desired state. Holds only what must
    outlive one call in ``--loop``: the deletion window and the number of
    nodes owned at the last full sync (the budget's base)."""

    def __init__(
        self,
        settings: SyncSettings,
        layout: Layouts,
        registry: Registry | None,
        budget: DeletionWindow,
        events: EventRecorder | None = None,
    ):
        self.settings = settings
        self.layout = layout
        self.registry = registry  # None: mock mode, nothing is read or written
        self.budget = budget
        self.events = events
        self.owned = 0

    def run(self, state: DesiredState, only: Iterable[str] | None = None) -> SyncReport:
        """Sync every service (a full sync) or the services named in ``only``.

        Raises RegistryError when ZooKeeper cannot be read; a failed write is
        reported per node, never raised.
        """
        started = time.monotonic()
        # What an incremental sync covers, asked before rendering: a layout
        # may learn from the render where a service's nodes go from now on.
        covered = None if only is None else self.layout.scope(only)
        desired, problems = self.layout.nodes(state)
        report = SyncReport(
            state.pods_seen, state.pods_counted, len(state.services), problems=state.problems + problems
        )
        report_problems(report.problems)
        current, scope = self._read(desired, state, covered)
        self._check_foreign(current, report)
        report.plan = self._plan(desired, current, scope, report)
        if self.registry is not None and not self.settings.dry_run:
            self._apply(report, desired, full=scope is None)
        self._log(report)
        if self.events is not None:
            self.events.problems(report.problems)
        report.duration = time.monotonic() - started
        return report

    def _read(
        self, desired: dict[str, bytes], state: DesiredState, covered: tuple[set[str], set[str]] | None
    ) -> tuple[Current, set[str] | None]:
        """What ZooKeeper holds of the nodes in question, and the paths an
        incremental sync covers (None: a full sync covers everything)."""
        if self.registry is None:
            return Current({}, {}), None if covered is None else set(desired)
        if covered is None:
            folders = self.layout.directories(state) | self.registry.owned_directories(self.layout.folder_roots())
            everything = folders - set(self.layout.roots())
            return self.registry.read(folders | set(self.layout.roots()), desired, everything=everything), None
        paths, folders = covered
        current = self.registry.read_paths(paths)
        if folders:
            more = self.registry.read(folders, desired, everything=folders)
            current = Current({**current.nodes, **more.nodes}, {**current.owners, **more.owners}, current.vouched)
            paths |= {p for p in (*desired, *more.nodes, *more.owners) if p.rpartition("/")[0] in folders}
        return current, paths

    def _check_foreign(self, current: Current, report: SyncReport) -> None:
        """Nodes of others in a folder we write to that their readers cannot
        parse: a Curator query fails for the whole service on one of them."""
        for path, node in current.nodes.items():
            if current.owners.get(path) != self.settings.owner_id and self.layout.per_folder(path):
                reason = self.layout.unreadable(path, node.data)
                if reason:
                    report.unreadable[path] = reason

    def _plan(self, desired: dict[str, bytes], current: Current, scope: set[str] | None, report: SyncReport) -> Plan:
        """Merge, size-check, diff and budget."""
        for path, data in list(desired.items()):
            node = current.nodes.get(path)
            data = self.layout.merge(path, data, node.data if node else None)
            desired[path] = data
            if len(data) > MAX_NODE_BYTES:
                report.oversized[path] = f"node data of {len(data)} bytes exceeds ZooKeeper's limit of {MAX_NODE_BYTES}"
        owner = self.settings.owner_id
        plan = compute_plan(desired, current, owner, adopt=self.settings.adopt, only=scope, keep=report.oversized)
        report.recreated = self._recreated(plan, current)
        if scope is None:
            self.owned = sum(1 for o in current.owners.values() if o == owner)
        held = self.budget.hold(plan, self.owned, scope)
        report.held_deletions = [c.path for c in held]
        report.unchanged = len(plan.unchanged)
        report.foreign = dict(plan.foreign)
        return plan

    def _recreated(self, plan: Plan, current: Current) -> list[str]:
        """Check the records of the nodes about to change: one deleted and
        made again by someone else is not ours to change."""
        touched = [c.path for c in plan.changes if c.action in (Action.UPDATE, Action.DELETE)]
        if self.registry is None or not touched:
            return []
        recorded = dict(current.vouched or {})
        unknown = [p for p in touched if p not in recorded]
        if unknown:
            recorded.update(self.registry.recorded_czxids(unknown))
        return drop_recreated(plan, current, recorded, adopt=self.settings.adopt)

    def _apply(self, report: SyncReport, desired: dict[str, bytes], *, full: bool) -> None:
        """Write the plan; re-read and re-plan what met a concurrent change."""
        assert self.registry is not None
        changes = report.plan.changes
        created = {c.path.rpartition("/")[0] for c in changes if c.action in (Action.CREATE, Action.ADOPT)}
        if full or created:
            self.registry.prepare(set(self.layout.roots()) | created)
        for _ in range(CONFLICT_ROUNDS + 1):
            result = self.registry.apply(changes)
            report.count(result)
            self._account(result.applied)
            for change in result.applied:
                service = self.layout.service_of(change.path)
                extra = {"node": change.path, "service": service, "action": change.action.value}
                log.info(describe_change(change), extra=extra)
            if not result.conflicts or result.connection_lost:
                break
            paths = {c.path for c in result.conflicts}
            log.info("%d nodes changed under us; re-reading them", len(paths))
            current = self.registry.read_paths(paths)
            again = compute_plan(desired, current, self.settings.owner_id, adopt=self.settings.adopt, only=paths)
            report.foreign.update(again.foreign)
            report.held_deletions += [c.path for c in self.budget.hold(again, self.owned, paths)]
            changes = again.changes
        else:
            for change in result.conflicts:
                report.failed[change.path] = f"still conflicting after {CONFLICT_ROUNDS} re-reads"

    def _account(self, applied: list[Change]) -> None:
        deleted = sum(1 for c in applied if c.action is Action.DELETE)
        self.budget.record(deleted)
        self.owned += sum(1 for c in applied if c.action in (Action.CREATE, Action.ADOPT)) - deleted

    def _log(self, report: SyncReport) -> None:
        for path, reason in sorted(report.unreadable.items()):
            log.warning(
                "%s, not written by kube2zk, cannot be read by the service's consumers (%s): their queries of this "
                "service fail until it is fixed or removed",
                path,
                reason,
                extra={"node": path},
            )
        for path, reason in sorted(report.oversized.items()):
            log.error("%s not written: %s", path, reason, extra={"node": path})
        if report.held_deletions:
            log.error(
                "holding %d deletions above the deletion budget %s of %d owned nodes: %s; "
                "check the list and rerun with --force-deletions to proceed",
                len(report.held_deletions),
                self.budget.budget,
                self.owned,
                ", ".join(report.held_deletions[:20]) + (" ..." if len(report.held_deletions) > 20 else ""),
            )
        for path, owner in sorted(report.foreign.items()):
            whose = f"owned by {owner!r}" if owner else "not owned by kube2zk (use --adopt to take it over)"
            if path in report.recreated:
                whose = "deleted and created again by someone else since kube2zk wrote it (use --adopt to take it over)"
            log.warning("service node %s is %s; left untouched", path, whose, extra={"node": path, "owner": owner})
        for path, reason in sorted(report.failed.items()):
            log.error("%s failed: %s", path, reason, extra={"node": path})
