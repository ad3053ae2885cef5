"""What one sync did, and the exit status of a run: counted by the
reconcile path, read by the summary line, the metrics and the heartbeat."""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from lib.model import Action, Plan, Problem
from lib.settings.groups import DeletionBudget
from lib.zk.registry import ApplyResult

log = logging.getLogger(__name__)


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
    stale_owners: dict[str, float | None] = field(default_factory=dict)  # owner -> seconds silent
    reaped: dict[str, int] = field(default_factory=dict)  # stopped owner -> contributions removed
    refused_reaps: dict[str, str] = field(default_factory=dict)  # owner named to reap -> why not
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
        if self.failed or self.oversized or self.refused_reaps or (strict and self.problems):
            return ExitCode.PARTIAL
        if self.not_owned:
            return ExitCode.NOT_OWNED
        return ExitCode.OK

    def count(self, result: ApplyResult) -> None:
        for change in result.applied:
            for owner in change.reaped:
                self.reaped[owner] = self.reaped.get(owner, 0) + 1
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


def log_outcome(report: SyncReport, budget: DeletionBudget, owned: int) -> None:
    """Say what a sync left undone or found wrong, one line per node or owner."""
    for owner, silent in report.stale_owners.items():
        since = "it never left a heartbeat" if silent is None else f"silent for {silent:.0f}s"
        log.warning(
            "owner %s is stale: no writer holds its lock, %s; its contributions stay "
            "(-reap-owners-after or the reap command removes them)",
            owner,
            since,
            extra={"owner": owner},
        )
    for owner, count in sorted(report.reaped.items()):
        log.warning("removed the contributions of stopped owner %s from %d nodes", owner, count)
    for owner, reason in sorted(report.refused_reaps.items()):
        log.error("not reaping owner %s: %s", owner, reason, extra={"owner": owner})
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
            budget,
            owned,
            ", ".join(report.held_deletions[:20]) + (" ..." if len(report.held_deletions) > 20 else ""),
        )
    for path, owner in sorted(report.foreign.items()):
        whose = f"owned by {owner!r}" if owner else "not owned by kube2zk (use --adopt to take it over)"
        if path in report.recreated:
            whose = "deleted and created again by someone else since kube2zk wrote it (use --adopt to take it over)"
        log.warning("service node %s is %s; left untouched", path, whose, extra={"node": path, "owner": owner})
    for path, reason in sorted(report.failed.items()):
        log.error("%s failed: %s", path, reason, extra={"node": path})
