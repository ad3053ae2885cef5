"""The reconcile path without a server (lib/sync.py): node data per
service, oversized nodes, kept config lines, conflicts re-planned, the
deletion budget and the exit code policy. The registry here is an in-memory
stand-in; the real one is proved against ZooKeeper in the other tiers."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from lib.layouts import Layouts
from lib.layouts.seed import DEFAULT_CONFIG, SeedLayout, encode_node
from lib.model import (
    MAX_NODE_BYTES,
    Action,
    Change,
    Current,
    DesiredState,
    NodeState,
    OwnerState,
    Paths,
    Problem,
    RecordOp,
    RecordState,
)
from lib.plan.budget import DeletionWindow
from lib.render import describe_change
from lib.report import ExitCode, SyncReport
from lib.settings.groups import DeletionBudget, SyncSettings
from lib.sync import Reconciler
from lib.zk.registry import ApplyResult

PATHS = Paths("/rpc_v2", "/kube2zk", "default")


def state(services: dict[str, set[str]]) -> DesiredState:
    return DesiredState(services=services)


def reconciler(registry=None, config=DEFAULT_CONFIG, **settings) -> Reconciler:
    sync = SyncSettings(**settings)
    layout = Layouts([SeedLayout(PATHS, config, enforce_config=sync.enforce_config)])
    return Reconciler(sync, layout, registry, DeletionWindow(sync.max_deletions, force=sync.force_deletions))


class MemoryRegistry:
    """Nodes in a dict; ``interfere`` runs once before the first write, like
    another writer changing a node between our read and our write."""

    def __init__(self, nodes: dict[str, bytes] | None = None, owners: dict[str, str] | None = None, interfere=None):
        self.nodes = {p: NodeState(d, 0) for p, d in (nodes or {}).items()}
        self.owners = dict(owners or {})
        self.interfere = interfere
        self.writes = 0
        self.record_reads = 0
        self.vouched: dict[str, int] = {}

    def owned_directories(self, roots: Iterable[str], owners: Iterable[str] = ()) -> set[str]:
        return set()

    def read(self, directories: Iterable[str], wanted: Iterable[str], everything: Iterable[str] = ()) -> Current:
        folders = set(directories)
        return Current(
            {p: n for p, n in self.nodes.items() if p.rpartition("/")[0] in folders},
            {p: o for p, o in self.owners.items() if p.rpartition("/")[0] in folders},
        )

    def read_paths(self, paths: Iterable[str]) -> Current:
        paths = set(paths)
        return Current(
            {p: n for p, n in self.nodes.items() if p in paths}, {p: o for p, o in self.owners.items() if p in paths}
        )

    def read_shared(self, directory: str, paths: Iterable[str] | None = None, *, records: bool = True) -> Current:
        """Each owner's record vouches for the czxid its node had when recorded
        (a record of the older format: it contributes what the node lists)."""
        wanted = set(paths) if paths is not None else {p for p in self.nodes if p.rpartition("/")[0] == directory}
        wanted |= {p for p in self.owners if paths is None and p.rpartition("/")[0] == directory}
        nodes = {p: n for p, n in self.nodes.items() if p in wanted}
        recorders = {p: frozenset({o}) for p, o in self.owners.items() if p in wanted}
        if not records:
            return Current(nodes, {}, recorders=recorders)
        return Current(nodes, {}, shares=self.read_records(recorders))

    def read_records(self, recorders) -> dict[str, dict[str, RecordState]]:
        self.record_reads += len(recorders)
        return {
            p: {o: RecordState(str(self.vouched.get(p, 0)).encode(), 0) for o in owners}
            for p, owners in recorders.items()
        }

    def prepare(self, directories: Iterable[str]) -> None:
        pass

    def owner_states(self) -> dict[str, OwnerState]:
        return {}

    def write_heartbeat(self, doc: object) -> None:
        self.heartbeat = doc

    def recorded_czxids(self, paths: Iterable[str]) -> dict[str, int]:
        """Every record vouches for the czxid its node had when recorded."""
        return {p: self.vouched.get(p, 0) for p in paths if self.owners.get(p) == "default"}

    def apply(self, changes: list[Change]) -> ApplyResult:
        if self.interfere:
            self.interfere(self)
            self.interfere = None
        result = ApplyResult()
        for c in changes:
            node = self.nodes.get(c.path)
            if c.action is not Action.FORGET and (node.version if node else -1) != c.version:
                result.conflicts.append(c)
                continue
            self.writes += 1
            if c.action is Action.FORGET or (c.records and c.records[0].op is RecordOp.DELETE):
                self.owners.pop(c.path, None)
                if c.new is not None:
                    self.nodes[c.path] = NodeState(c.new, c.version + 1, node.czxid if node else 0)
                elif c.action is not Action.FORGET:
                    self.nodes.pop(c.path, None)
            elif c.new is None:
                self.nodes.pop(c.path, None)
                self.owners.pop(c.path, None)
            else:
                czxid = node.czxid if node else 100 + self.writes
                self.nodes[c.path] = NodeState(c.new, c.version + 1, czxid)
                self.owners[c.path] = "default"
                self.vouched[c.path] = czxid
            result.applied.append(c)
        return result


def test_each_service_gets_its_encoded_node_data():
    report = reconciler().run(state({"a": {"10.0.0.2", "10.0.0.1"}, "b": {"10.0.0.3"}}))
    assert {c.path: c.new for c in report.plan.changes} == {
        "/rpc_v2/a": encode_node(DEFAULT_CONFIG, ["10.0.0.1", "10.0.0.2"]),
        "/rpc_v2/b": encode_node(DEFAULT_CONFIG, ["10.0.0.3"]),
    }
    assert report.oversized == {}


def test_node_config_lines_are_used():
    report = reconciler(config=("keepalive 8",)).run(state({"a": {"10.0.0.1"}}))
    assert report.plan.changes[0].new == b'{"config":["keepalive 8"],"servers":["10.0.0.1"]}'


def test_no_services_gives_no_nodes():
    assert reconciler().run(state({})).plan.changes == []


def padded_config(total_bytes: int) -> tuple[str, ...]:
    """A one-line config whose node, with one server, is ``total_bytes`` long."""
    overhead = len(encode_node(("",), ["10.0.0.1"]))
    return ("x" * (total_bytes - overhead),)


def test_node_data_of_exactly_the_limit_is_written():
    report = reconciler(config=padded_config(MAX_NODE_BYTES)).run(state({"big": {"10.0.0.1"}}))
    assert len(report.plan.changes[0].new) == MAX_NODE_BYTES
    assert report.oversized == {}


def test_oversized_node_data_is_held_with_the_reason_and_not_written():
    report = reconciler(config=padded_config(MAX_NODE_BYTES + 1)).run(state({"big": {"10.0.0.1"}}))
    assert report.plan.changes == []
    assert set(report.oversized) == {"/rpc_v2/big"}
    assert f"{MAX_NODE_BYTES + 1} bytes" in report.oversized["/rpc_v2/big"]
    assert str(MAX_NODE_BYTES) in report.oversized["/rpc_v2/big"]


def test_only_the_oversized_service_is_held():
    many = {f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" for i in range(80_000)}
    report = reconciler().run(state({"huge": many, "small": {"10.0.0.1"}}))
    assert [c.path for c in report.plan.changes] == ["/rpc_v2/small"]
    assert set(report.oversized) == {"/rpc_v2/huge"}


def test_limit_leaves_room_below_zookeepers_one_mib_packet():
    assert MAX_NODE_BYTES < 1024 * 1024


# -- config lines of existing nodes ----------------------------------------------------

TUNED = b'{"config":["keepalive 64"],"servers":["10.0.0.9"]}'


def test_an_update_keeps_the_nodes_own_config_lines():
    registry = MemoryRegistry({"/rpc_v2/a": TUNED}, {"/rpc_v2/a": "default"})
    reconciler(registry).run(state({"a": {"10.0.0.1"}}))
    assert registry.nodes["/rpc_v2/a"].data == b'{"config":["keepalive 64"],"servers":["10.0.0.1"]}'


def test_adopting_keeps_the_config_lines_the_original_daemon_wrote():
    registry = MemoryRegistry({"/rpc_v2/a": TUNED})
    report = reconciler(registry, adopt=True).run(state({"a": {"10.0.0.1"}}))
    assert report.adopted == 1
    assert registry.nodes["/rpc_v2/a"].data == b'{"config":["keepalive 64"],"servers":["10.0.0.1"]}'


@pytest.mark.parametrize("old", [b'{"config":"x","servers":[]}', b'{"config":[1],"servers":[]}', b"not json"])
def test_config_that_is_not_a_list_of_strings_is_replaced(old):
    registry = MemoryRegistry({"/rpc_v2/a": old}, {"/rpc_v2/a": "default"})
    reconciler(registry).run(state({"a": {"10.0.0.1"}}))
    assert registry.nodes["/rpc_v2/a"].data == encode_node(DEFAULT_CONFIG, ["10.0.0.1"])


def test_enforced_config_overwrites_the_nodes_config():
    registry = MemoryRegistry({"/rpc_v2/a": TUNED}, {"/rpc_v2/a": "default"})
    reconciler(registry, enforce_config=True).run(state({"a": {"10.0.0.9"}}))
    assert registry.nodes["/rpc_v2/a"].data == encode_node(DEFAULT_CONFIG, ["10.0.0.9"])


# -- conflicts, budget, dry run -----------------------------------------------------


def test_a_create_that_meets_an_unowned_node_under_adopt_adopts_it():
    """The re-plan after a conflict follows the configured -adopt."""

    def someone_creates(registry: MemoryRegistry) -> None:
        registry.nodes["/rpc_v2/a"] = NodeState(b'{"config":[],"servers":["10.9.9.9"]}', 0)

    registry = MemoryRegistry(interfere=someone_creates)
    report = reconciler(registry, adopt=True).run(state({"a": {"10.0.0.1"}}))
    assert report.foreign == {}
    assert report.adopted == 1
    assert registry.owners["/rpc_v2/a"] == "default"


def test_a_create_that_meets_an_unowned_node_without_adopt_is_reported_not_owned():
    def someone_creates(registry: MemoryRegistry) -> None:
        registry.nodes["/rpc_v2/a"] = NodeState(b"hand-made", 0)

    registry = MemoryRegistry(interfere=someone_creates)
    report = reconciler(registry).run(state({"a": {"10.0.0.1"}}))
    assert report.not_owned == ["/rpc_v2/a"]
    assert registry.nodes["/rpc_v2/a"].data == b"hand-made"
    assert report.exit_code() is ExitCode.NOT_OWNED


def test_dry_run_plans_and_writes_nothing_and_exits_as_a_real_run_would():
    owned = {f"/rpc_v2/s{i}": "default" for i in range(12)}
    registry = MemoryRegistry(dict.fromkeys(owned, b"x"), owned)
    report = reconciler(registry, dry_run=True).run(state({}))
    assert registry.writes == 0
    assert len(report.plan.held) == 12
    assert report.exit_code() is ExitCode.HELD


# -- exit codes ----------------------------------------------------------------

PROBLEM = Problem("ns/pod", "annotation 'rpc-service' is not valid JSON")


@pytest.mark.parametrize(
    ("report", "strict", "code"),
    [
        (SyncReport(), False, ExitCode.OK),
        (SyncReport(), True, ExitCode.OK),
        (SyncReport(created=3, updated=1, deleted=2, unchanged=9), False, ExitCode.OK),
        (SyncReport(foreign={"svc": "other"}), True, ExitCode.OK),
        (SyncReport(foreign={"svc": ""}), False, ExitCode.NOT_OWNED),
        (SyncReport(problems=[PROBLEM]), False, ExitCode.OK),
        (SyncReport(problems=[PROBLEM]), True, ExitCode.PARTIAL),
        (SyncReport(failed={"svc": "version conflict"}), False, ExitCode.PARTIAL),
        (SyncReport(oversized={"svc": "too large"}), False, ExitCode.PARTIAL),
        (SyncReport(failed={"a": "x"}, foreign={"svc": ""}), False, ExitCode.PARTIAL),
        (SyncReport(failed={"a": "x"}, held_deletions=["b"]), False, ExitCode.HELD),
        (SyncReport(connection_lost=True), False, ExitCode.REGISTRY),
        (SyncReport(connection_lost=True, failed={"svc": "lost"}, problems=[PROBLEM]), True, ExitCode.REGISTRY),
    ],
)
def test_exit_code_reflects_the_worst_outcome(report, strict, code):
    assert report.exit_code(strict) is code


def test_exit_code_numbers_are_the_documented_ones():
    codes = [ExitCode.OK, ExitCode.PARTIAL, ExitCode.USAGE, ExitCode.SOURCE, ExitCode.REGISTRY]
    assert [*codes, ExitCode.LOCKED, ExitCode.HELD, ExitCode.NOT_OWNED] == list(range(8))


def test_warnings_count_problems_foreign_and_oversized():
    report = SyncReport(problems=[PROBLEM, PROBLEM], foreign={"a": ""}, oversized={"b": "big"}, failed={"c": "x"})
    assert report.warnings == 4


def test_budget_counts_deletions_against_the_nodes_owned():
    owned = {f"/rpc_v2/s{i}": "default" for i in range(12)}
    registry = MemoryRegistry(dict.fromkeys(owned, b"x"), owned)
    r = reconciler(registry, max_deletions=DeletionBudget(5, 0.5))
    report = r.run(state({}))
    assert report.deleted == 0 and len(report.held_deletions) == 12
    assert r.run(state({f"s{i}": {"10.0.0.1"} for i in range(6)})).deleted == 6


# -- change descriptions -----------------------------------------------------

OLD = encode_node([], ["10.0.0.1"])
NEW = encode_node([], ["10.0.0.1", "10.0.0.2"])


@pytest.mark.parametrize(
    ("change", "text"),
    [
        (
            Change(Action.CREATE, "/rpc_v2/svc", None, NEW, -1, True),
            "created /rpc_v2/svc: servers [] -> ['10.0.0.1', '10.0.0.2']",
        ),
        (
            Change(Action.UPDATE, "/rpc_v2/svc", OLD, NEW, 3, False),
            "updated /rpc_v2/svc: servers ['10.0.0.1'] -> ['10.0.0.1', '10.0.0.2']",
        ),
        (Change(Action.DELETE, "/rpc_v2/svc", OLD, None, 3, True), "deleted /rpc_v2/svc: servers ['10.0.0.1'] -> []"),
        (Change(Action.FORGET, "/rpc_v2/svc", None, None, -1, True), "dropped stale ownership record of /rpc_v2/svc"),
        pytest.param(
            Change(Action.ADOPT, "/rpc_v2/svc", OLD, NEW, 3, True),
            "adopted /rpc_v2/svc: servers ['10.0.0.1'] -> ['10.0.0.1', '10.0.0.2']",
        ),
    ],
)
def test_change_is_described_with_its_verb_path_and_servers(change, text):
    assert describe_change(change) == text


def test_a_node_made_again_by_someone_else_is_not_ours_to_change():
    registry = MemoryRegistry()
    reconciler(registry).run(state({"a": {"10.0.0.1"}, "b": {"10.0.0.2"}}))
    # Someone deletes both nodes and creates them again with their own data.
    for path in ("/rpc_v2/a", "/rpc_v2/b"):
        registry.nodes[path] = NodeState(b'{"config":[],"servers":["6.6.6.6"]}', 0, czxid=999)

    report = reconciler(registry).run(state({"a": {"10.0.0.3"}}))

    assert report.recreated == ["/rpc_v2/a"]
    assert report.not_owned == ["/rpc_v2/a"] and report.exit_code() is ExitCode.NOT_OWNED
    assert registry.nodes["/rpc_v2/a"].data == b'{"config":[],"servers":["6.6.6.6"]}'
    # b is no longer declared: only our record goes, their node stays.
    assert registry.nodes["/rpc_v2/b"].czxid == 999
    assert [c.action for c in report.plan.changes] == [Action.FORGET]

    adopted = reconciler(registry, adopt=True).run(state({"a": {"10.0.0.3"}}))
    assert adopted.adopted == 1
    assert json_servers(registry.nodes["/rpc_v2/a"].data) == ["10.0.0.3"]


def json_servers(data: bytes) -> list[str]:
    import json

    return json.loads(data)["servers"]


def test_a_no_op_full_sync_reads_no_records_of_nodes_only_we_contribute_to():
    registry = MemoryRegistry()
    reconciler(registry).run(state({"a": {"10.0.0.1"}, "b": {"10.0.0.2"}}))
    registry.record_reads = 0

    report = reconciler(registry).run(state({"a": {"10.0.0.1"}, "b": {"10.0.0.2"}}))
    assert report.plan.changes == [] and report.unchanged == 2 and registry.record_reads == 0

    # A node about to change has its record read first (for the union and its vouching).
    report = reconciler(registry).run(state({"a": {"10.0.0.1"}, "b": {"10.0.0.3"}}))
    assert registry.record_reads == 1 and [c.path for c in report.plan.changes] == ["/rpc_v2/b"]
