"""The pure parts of a sync: node data per service and the exit code
(lib/controller.py)."""

import pytest

from lib.sync import ExitCode, SyncReport, describe_change, desired_nodes
from lib.model import DesiredState, Problem
from lib.layouts.seed import DEFAULT_CONFIG, MAX_NODE_BYTES, encode_node
from lib.plan.diff import Action, Change


def state(services: dict[str, set[str]]) -> DesiredState:
    return DesiredState(services=services)


def test_each_service_gets_its_encoded_node_data():
    nodes, held = desired_nodes(state({"a": {"10.0.0.2", "10.0.0.1"}, "b": {"10.0.0.3"}}), DEFAULT_CONFIG)
    assert nodes == {
        "a": encode_node(DEFAULT_CONFIG, ["10.0.0.1", "10.0.0.2"]),
        "b": encode_node(DEFAULT_CONFIG, ["10.0.0.3"]),
    }
    assert held == {}


def test_node_config_lines_are_used():
    nodes, _ = desired_nodes(state({"a": {"10.0.0.1"}}), ("keepalive 8",))
    assert nodes["a"] == b'{"config":["keepalive 8"],"servers":["10.0.0.1"]}'


def test_no_services_gives_no_nodes():
    assert desired_nodes(state({}), DEFAULT_CONFIG) == ({}, {})


def padded_config(total_bytes: int) -> tuple[str, ...]:
    """A one-line config whose node, with one server, is ``total_bytes`` long."""
    overhead = len(encode_node(("",), ["10.0.0.1"]))
    return ("x" * (total_bytes - overhead),)


def test_node_data_of_exactly_the_limit_is_written():
    config = padded_config(MAX_NODE_BYTES)
    nodes, held = desired_nodes(state({"big": {"10.0.0.1"}}), config)
    assert len(nodes["big"]) == MAX_NODE_BYTES
    assert held == {}


def test_oversized_node_data_is_held_with_the_reason_and_not_written():
    config = padded_config(MAX_NODE_BYTES + 1)
    nodes, held = desired_nodes(state({"big": {"10.0.0.1"}}), config)
    assert nodes == {}
    assert set(held) == {"big"}
    assert f"{MAX_NODE_BYTES + 1} bytes" in held["big"]
    assert str(MAX_NODE_BYTES) in held["big"]


def test_only_the_oversized_service_is_held():
    many = {f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" for i in range(80_000)}
    nodes, held = desired_nodes(state({"huge": many, "small": {"10.0.0.1"}}), DEFAULT_CONFIG)
    assert set(nodes) == {"small"}
    assert set(held) == {"huge"}


def test_limit_leaves_room_below_zookeepers_one_mib_packet():
    assert MAX_NODE_BYTES < 1024 * 1024


# -- exit codes ----------------------------------------------------------------

PROBLEM = Problem("ns/pod", "annotation 'rpc-service' is not valid JSON")


@pytest.mark.parametrize(
    ("report", "strict", "code"),
    [
        (SyncReport(), False, ExitCode.OK),
        (SyncReport(), True, ExitCode.OK),
        (SyncReport(created=3, updated=1, deleted=2, unchanged=9), False, ExitCode.OK),
        (SyncReport(foreign={"svc": "other"}), True, ExitCode.OK),
        (SyncReport(problems=[PROBLEM]), False, ExitCode.OK),
        (SyncReport(problems=[PROBLEM]), True, ExitCode.PARTIAL),
        (SyncReport(failed={"svc": "version conflict"}), False, ExitCode.PARTIAL),
        (SyncReport(held={"svc": "too large"}), False, ExitCode.PARTIAL),
        (SyncReport(connection_lost=True), False, ExitCode.REGISTRY),
        (SyncReport(connection_lost=True, failed={"svc": "lost"}, problems=[PROBLEM]), True, ExitCode.REGISTRY),
    ],
)
def test_exit_code_reflects_the_worst_outcome(report, strict, code):
    assert report.exit_code(strict) is code


def test_exit_code_numbers_are_the_documented_ones():
    assert (ExitCode.OK, ExitCode.PARTIAL, ExitCode.USAGE, ExitCode.SOURCE, ExitCode.REGISTRY) == (0, 1, 2, 3, 4)


def test_warnings_count_problems_foreign_and_held():
    report = SyncReport(problems=[PROBLEM, PROBLEM], foreign={"a": ""}, held={"b": "big"}, failed={"c": "x"})
    assert report.warnings == 4


# -- change descriptions -----------------------------------------------------

OLD = encode_node([], ["10.0.0.1"])
NEW = encode_node([], ["10.0.0.1", "10.0.0.2"])


@pytest.mark.parametrize(
    ("change", "text"),
    [
        (
            Change(Action.CREATE, "svc", None, NEW, -1, True),
            "created /rpc_v2/svc: servers [] -> ['10.0.0.1', '10.0.0.2']",
        ),
        (
            Change(Action.UPDATE, "svc", OLD, NEW, 3, False),
            "updated /rpc_v2/svc: servers ['10.0.0.1'] -> ['10.0.0.1', '10.0.0.2']",
        ),
        (Change(Action.DELETE, "svc", OLD, None, 3, True), "deleted /rpc_v2/svc: servers ['10.0.0.1'] -> []"),
        (Change(Action.FORGET, "svc", None, None, -1, True), "dropped stale ownership record of /rpc_v2/svc"),
        pytest.param(
            Change(Action.ADOPT, "svc", OLD, NEW, 3, True),
            "adopted /rpc_v2/svc: servers ['10.0.0.1'] -> ['10.0.0.1', '10.0.0.2']",
        ),
    ],
)
def test_change_is_described_with_its_verb_path_and_servers(change, text):
    assert describe_change("/rpc_v2", change) == text
