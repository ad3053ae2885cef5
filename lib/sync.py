"""One reconcile path for every mode: desired state -> layout -> plan ->
deletion budget -> registry writes -> one re-plan of conflicts -> report.

A one-shot run calls it once with the whole desired state; ``--loop`` calls
it for its full syncs and, with ``only``, for the services a batch of pod
events touched. Dry run and mock mode build the same plan and only differ in
what happens to it: printed instead of applied (mock mode plans against an
empty registry, without contacting ZooKeeper).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor

from lib.kube.events import EventRecorder
from lib.layouts import Layouts
from lib.liveness import Liveness
from lib.model import MAX_NODE_BYTES, Action, Change, Current, DesiredState, Plan, RecordState
from lib.plan.budget import DeletionWindow
from lib.plan.diff import compute_plan, drop_recreated
from lib.plan.shares import SharedPlan, encode_record, plan_shared
from lib.render import describe_change
from lib.report import SyncReport, log_outcome, report_problems
from lib.settings.groups import SyncSettings
from lib.zk.registry import Registry

log = logging.getLogger(__name__)

CONFLICT_ROUNDS = 3


def too_big(data: bytes) -> str:
    """Why ``data`` cannot be written ("" when it can)."""
    if len(data) <= MAX_NODE_BYTES:
        return ""
    return f"node data of {len(data)} bytes exceeds ZooKeeper's limit of {MAX_NODE_BYTES}"


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
        self.reap: set[str] = set()  # owners whose contributions this sync removes
        self.liveness = Liveness(settings)

    def full(self, load: Callable[[], DesiredState]) -> SyncReport:
        """A full sync of the state ``load`` lists, with the reads that do
        not depend on it (every shared node) made while it lists: the list
        waits on the API server, and ZooKeeper's answers arrive meanwhile.

        Reading early is safe: this owner's writer lock keeps its own nodes
        still, and every write is conditional on the version read, so a
        change by another owner in between ends in a re-plan, not a lost
        contribution. A failed ``load`` raises before anything is written.
        """
        if self.registry is None or self.layout.shared is None:
            return self.run(load())
        registry, roots = self.registry, sorted(self.layout.shared_roots())
        with ThreadPoolExecutor(1, thread_name_prefix="zk-read-ahead") as pool:
            listed = pool.submit(lambda: [registry.read_shared(root, records=False) for root in roots])
            return self.run(load(), listed=listed)

    def run(
        self,
        state: DesiredState,
        only: Iterable[str] | None = None,
        listed: Future[list[Current]] | None = None,
    ) -> SyncReport:
        """Sync every service (a full sync) or the services named in ``only``;
        ``listed`` holds the shared nodes when ``full`` read them already.

        Raises RegistryError when ZooKeeper cannot be read; a failed write is
        reported per node, never raised.
        """
        started = time.monotonic()
        # What an incremental sync covers, asked before rendering: a layout
        # may learn from the render where a service's nodes go from now on.
        covered = None if only is None else self.layout.scope(only)
        desired, problems = self.layout.nodes(state)
        # Our servers of each shared node, as the planner of shared nodes takes them.
        mine = self.layout.shared.contributions(state) if self.layout.shared is not None else {}
        report = SyncReport(
            state.pods_seen, state.pods_counted, len(state.services), problems=state.problems + problems
        )
        report_problems(report.problems)
        self.reap = set()
        if only is None and self.registry is not None:
            self.reap = self.liveness.judge(self.registry, report)
        current, scope = self._read(desired, mine, state, covered, listed)
        self._check_foreign(current, report)
        report.plan = self._plan(desired, mine, current, scope, report)
        if self.registry is not None and not self.settings.dry_run:
            self._apply(report, desired, mine, full=scope is None)
            self.liveness.beat(self.registry, report, sorted(self.budget.held), full=scope is None)
        log_outcome(report, self.budget.budget, self.owned)
        if self.events is not None:
            self.events.problems(report.problems)
        report.duration = time.monotonic() - started
        return report

    def _read(
        self,
        desired: dict[str, bytes],
        mine: Mapping[str, list[str]],
        state: DesiredState,
        covered: tuple[set[str], set[str]] | None,
        listed: Future[list[Current]] | None = None,
    ) -> tuple[Current, set[str] | None]:
        """What ZooKeeper holds of the nodes in question, and the paths an
        incremental sync covers (None: a full sync covers everything)."""
        if self.registry is None:
            return Current({}, {}), None if covered is None else set(desired)
        shared_roots = set(self.layout.shared_roots())
        if covered is None:
            owned = self.registry.owned_directories(self.layout.folder_roots(), self.reap)
            folders = self.layout.directories(state) | owned
            roots = set(self.layout.roots()) - shared_roots
            everything = folders - set(self.layout.roots())
            current = self.registry.read((folders - shared_roots) | roots, desired, everything=everything)
            parts = (
                listed.result()
                if listed is not None
                else [self.registry.read_shared(root, records=False) for root in sorted(shared_roots)]
            )
            return self._with_shares(current, [self._settle(part, desired, mine) for part in parts]), None
        paths, folders = covered
        shared = {p for p in paths if self.layout.is_shared(p)}
        current = self.registry.read_paths(paths - shared)
        if folders:
            more = self.registry.read(folders, desired, everything=folders)
            current = Current({**current.nodes, **more.nodes}, {**current.owners, **more.owners}, current.vouched)
            paths |= {p for p in (*desired, *more.nodes, *more.owners) if p.rpartition("/")[0] in folders}
        return self._with_shares(current, self._read_shared(shared)), paths

    def _settle(self, listed: Current, desired: Mapping[str, bytes], mine: Mapping[str, list[str]]) -> Current:
        """Read the records a full sync's plan needs. A node that only we
        contribute to and that already holds exactly what we would write
        needs none: the record written with it in one transaction holds the
        same servers. Skipping those keeps a no-op sync to one read per node."""
        assert self.registry is not None and self.layout.shared is not None
        layout, me = self.layout.shared, self.settings.owner_id
        assumed: dict[str, Mapping[str, RecordState]] = {}
        needed: dict[str, frozenset[str]] = {}
        for path, owners in listed.recorders.items():
            node, data = listed.nodes.get(path), desired.get(path)
            if owners == {me} and node is not None and data is not None and layout.merge(data, node.data) == node.data:
                record = encode_record(mine[path], node.czxid)
                assumed[path] = {me: RecordState(record, node.czxid)}
            else:
                needed[path] = owners
        shares = {**self.registry.read_records(needed), **assumed}
        return Current(listed.nodes, {}, shares=shares)

    def _read_shared(self, paths: set[str]) -> list[Current]:
        assert self.registry is not None
        by_root: dict[str, set[str]] = {}
        for path in paths:
            by_root.setdefault(path.rpartition("/")[0], set()).add(path)
        return [self.registry.read_shared(root, group) for root, group in sorted(by_root.items())]

    @staticmethod
    def _with_shares(current: Current, shared: list[Current]) -> Current:
        nodes = dict(current.nodes)
        shares: dict[str, Mapping[str, RecordState]] = {}
        for part in shared:
            nodes.update(part.nodes)
            shares.update(part.shares)
        return Current(nodes, current.owners, current.vouched, shares)

    def _check_foreign(self, current: Current, report: SyncReport) -> None:
        """Nodes of others in a folder we write to that their readers cannot
        parse: a Curator query fails for the whole service on one of them."""
        for path, node in current.nodes.items():
            if current.owners.get(path) != self.settings.owner_id and self.layout.per_folder(path):
                reason = self.layout.unreadable(path, node.data)
                if reason:
                    report.unreadable[path] = reason

    def _plan(
        self,
        desired: dict[str, bytes],
        mine: Mapping[str, list[str]],
        current: Current,
        scope: set[str] | None,
        report: SyncReport,
    ) -> Plan:
        """Merge, size-check, diff and budget."""
        owner = self.settings.owner_id
        exclusive_desired = {}
        for path, data in desired.items():
            if self.layout.is_shared(path):
                continue
            node = current.nodes.get(path)
            exclusive_desired[path] = data = self.layout.merge(path, data, node.data if node else None)
            if reason := too_big(data):
                report.oversized[path] = reason
        desired.update(exclusive_desired)
        exclusive = None if scope is None else {p for p in scope if not self.layout.is_shared(p)}
        plan = compute_plan(
            exclusive_desired,
            current,
            owner,
            adopt=self.settings.adopt,
            only=exclusive,
            keep=report.oversized,
            reap=self.reap,
        )
        report.recreated = self._recreated(plan, current)
        owned = self._plan_shared(mine, current, scope, plan, report)
        if scope is None:
            self.owned = owned + sum(1 for o in current.owners.values() if o == owner)
        held = self.budget.hold(plan, self.owned, scope)
        report.held_deletions = [c.path for c in held]
        report.unchanged = len(plan.unchanged)
        report.foreign = dict(plan.foreign)
        return plan

    def _shared_plan(self, mine: Mapping[str, list[str]], current: Current, paths: Iterable[str]) -> SharedPlan:
        """The plan of the shared nodes in ``paths`` (see lib.plan.shares)."""
        layout = self.layout.shared
        if layout is None:
            return SharedPlan()
        return plan_shared(
            mine,
            current,
            self.settings.owner_id,
            layout.combine,
            layout.servers_of,
            paths=paths,
            adopt=self.settings.adopt,
            reap=self.reap,
        )

    def _plan_shared(
        self, mine: Mapping[str, list[str]], current: Current, scope: set[str] | None, plan: Plan, report: SyncReport
    ) -> int:
        """Add the shared nodes' changes to ``plan``; the number we contribute to."""
        owner = self.settings.owner_id
        if scope is None:
            involved = set(self.reap) | {owner}
            paths = set(mine) | {p for p, records in current.shares.items() if involved & set(records)}
        else:
            paths = {p for p in scope if self.layout.is_shared(p)}
        result = self._shared_plan(mine, current, paths)
        for change in result.plan.changes:
            reason = too_big(change.new or b"")
            if reason:
                report.oversized[change.path] = reason
            else:
                plan.changes.append(change)
        plan.unchanged += result.plan.unchanged
        plan.foreign.update(result.plan.foreign)
        report.recreated += result.recreated
        return result.owned

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

    def _apply(
        self, report: SyncReport, desired: dict[str, bytes], mine: Mapping[str, list[str]], *, full: bool
    ) -> None:
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
            shared = {p for p in paths if self.layout.is_shared(p)}
            current = self._with_shares(self.registry.read_paths(paths - shared), self._read_shared(shared))
            again = compute_plan(
                {p: d for p, d in desired.items() if p not in shared},
                current,
                self.settings.owner_id,
                adopt=self.settings.adopt,
                only=paths - shared,
            )
            redo = self._shared_plan({p: mine[p] for p in shared if p in mine}, current, shared).plan
            again.changes += redo.changes
            again.foreign.update(redo.foreign)
            report.foreign.update(again.foreign)
            report.held_deletions += [c.path for c in self.budget.hold(again, self.owned, paths)]
            changes = again.changes
        else:
            for change in result.conflicts:
                report.failed[change.path] = f"still conflicting after {CONFLICT_ROUNDS} re-reads"

    def _account(self, applied: list[Change]) -> None:
        deleted = sum(1 for c in applied if c.action is Action.DELETE)
        self.budget.record(sum(c.removes for c in applied))
        self.owned += sum(1 for c in applied if c.action in (Action.CREATE, Action.ADOPT)) - deleted
