"""Safety of the ZooKeeper side, in process against a real ZooKeeper (no
Kubernetes): property-based proof that no annotation writes outside the base
path or into another owner's records, a version conflict is re-read and
re-planned, oversized node data is held. (The runs of the job are in
tests/kubernetes/test_safety.py.)"""

from __future__ import annotations

import json
import uuid

from helpers import tree
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kazoo.client import KazooClient

from lib.app import reconciler
from lib.desired.index import build_desired
from lib.layouts.seed import DEFAULT_CONFIG, encode_node
from lib.model import Change, Paths, PodInfo
from lib.settings import load_settings
from lib.sync import Reconciler
from lib.zk.registry import ApplyResult, Registry

# -- no annotation escapes the base path, checked against real ZooKeeper --------------

names = st.one_of(
    st.text(min_size=0, max_size=40),
    st.sampled_from([".", "..", "../x", "../../zookeeper", "/abs", "a/../b", "zookeeper", "x/", "%2F", "\x00"]),
    st.builds(lambda a, b: f"{a}/{b}", st.text(max_size=5), st.text(max_size=5)),
)
entries = st.one_of(
    st.fixed_dictionaries({"serviceName": names}, optional={"version": st.text(max_size=5)}),
    st.fixed_dictionaries({"serviceName": st.one_of(st.integers(), st.none(), st.lists(st.text(), max_size=2))}),
    st.text(max_size=5),
)
annotations = st.one_of(
    st.lists(entries, max_size=6).map(json.dumps),
    st.text(max_size=30),
    st.sampled_from(['{"serviceName": "../x"}', "null", "[[]]", '[{"serviceName": "ok"}]']),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pods=st.lists(annotations, min_size=1, max_size=4), rival=st.lists(names, max_size=3))
def test_no_annotation_writes_outside_the_base_path_or_into_another_owners_records(bare_zk, pods, rival):
    zk = bare_zk
    root = f"/prop-{uuid.uuid4().hex[:10]}"
    base, owners = f"{root}/rpc_v2", f"{root}/kube2zk"
    # A rival owner already registered some names.
    rival_paths = Paths(base, owners, "rival")
    Registry(zk, rival_paths, timeout=10).prepare([base])
    for name in {n for n in rival if n and "/" not in n and n not in (".", "..", "zookeeper") and "\x00" not in n}:
        try:
            zk.create(f"{base}/{name}", b"rival")
            zk.create(rival_paths.record(f"{base}/{name}"), b"")
        except Exception:
            pass
    top_before = set(zk.get_children("/"))
    rival_before = tree(zk, f"{owners}/owners/rival")
    rival_nodes = {k: v for k, v in tree(zk, base).items() if v[0] == b"rival"}
    try:
        infos = [PodInfo("ns", f"p{i}", "Running", True, False, f"10.1.0.{i + 1}", text) for i, text in enumerate(pods)]
        report = in_process(zk, root).run(build_desired(infos))
        assert not report.failed
        assert set(zk.get_children("/")) == top_before
        assert set(zk.get_children(root)) <= {"rpc_v2", "kube2zk"}
        assert set(zk.get_children(f"{owners}/owners")) <= {"default", "rival"}
        assert tree(zk, f"{owners}/owners/rival") == rival_before
        after = tree(zk, base)
        for path, value in rival_nodes.items():
            assert after[path] == value
        for path in after:
            assert path == base or path.rsplit("/", 1)[0] == base
    finally:
        zk.delete(root, recursive=True)


def in_process(
    zk: KazooClient, root: str, *args: str, env: dict[str, str] | None = None, registry=Registry
) -> Reconciler:
    settings = load_settings(["-zkpath", f"{root}/rpc_v2", "--owner-root", f"{root}/kube2zk", *args], env or {})
    paths = Paths(settings.sync.zk_path, settings.sync.owner_root, settings.sync.owner_id)
    return reconciler(settings, registry(zk, paths, timeout=10), None)


class Interfered(Registry):
    """Someone writes the node between our read and our write, once."""

    def apply(self, changes: list[Change]) -> ApplyResult:
        if not getattr(self, "done", False):
            self.done = True
            self.zk.set(f"{self.paths.zk_path}/a", b"changed meanwhile")
        return super().apply(changes)


def pods_for(services: dict[str, list[str]]) -> list[PodInfo]:
    return [
        PodInfo("ns", f"p-{ip}", "Running", True, False, ip, json.dumps([{"serviceName": s} for s in names]))
        for ip, names in services.items()
    ]


def test_a_version_conflict_is_re_read_and_re_planned(bare_zk: KazooClient):
    zk, root = bare_zk, f"/conflict-{uuid.uuid4().hex[:10]}"
    try:
        state = build_desired(pods_for({"10.0.0.1": ["a", "b"], "10.0.0.2": ["a"]}))
        assert not in_process(zk, root).run(state).failed
        # The plan is made, then someone writes the node before it is applied.
        state = build_desired(pods_for({"10.0.0.1": ["a", "b"]}))
        desired = {name: encode_node(DEFAULT_CONFIG, ips) for name, ips in state.services.items()}
        report = in_process(zk, root, registry=Interfered).run(state)
        assert not report.failed
        assert zk.get(f"{root}/rpc_v2/a")[0] == desired["a"]
    finally:
        zk.delete(root, recursive=True)


def test_node_data_over_the_zookeeper_limit_is_held_and_the_others_written(bare_zk: KazooClient):
    zk, root = bare_zk, f"/big-{uuid.uuid4().hex[:10]}"
    try:
        # A node-config of about 1.1 MB makes every node too large; with it set
        # through the environment the run still writes nothing oversized and
        # keeps its ZooKeeper connection.
        big = json.dumps(["x" * 110_000] * 10)
        state = build_desired(pods_for({"10.0.0.1": ["huge"]}))
        report = in_process(zk, root, env={"KUBE2ZK_NODE_CONFIG": big}).run(state)
        assert f"{root}/rpc_v2/huge" in report.oversized and not report.failed and not report.connection_lost
        assert zk.get_children(f"{root}/rpc_v2") == []
        assert zk.connected
        # The same service with normal data is written.
        assert not in_process(zk, root).run(state).failed
        assert zk.get_children(f"{root}/rpc_v2") == ["huge"]
    finally:
        zk.delete(root, recursive=True)


def test_a_node_deleted_and_made_again_by_someone_else_is_left_to_them(bare_zk: KazooClient):
    zk, root = bare_zk, f"/recreated-{uuid.uuid4().hex[:10]}"
    node = f"{root}/rpc_v2/a"
    try:
        assert not in_process(zk, root).run(build_desired(pods_for({"10.0.0.1": ["a"]}))).failed
        zk.delete(node)
        zk.create(node, b"theirs")
        moved = build_desired(pods_for({"10.0.0.2": ["a"]}))

        report = in_process(zk, root).run(moved)

        assert report.recreated == [node] and report.not_owned == [node]
        # An incremental sync of that service (as --loop makes) sees it too.
        assert in_process(zk, root).run(moved, only=["a"]).recreated == [node]
        assert zk.get(node)[0] == b"theirs"
        assert in_process(zk, root, "--adopt").run(moved).adopted == 1
        assert json.loads(zk.get(node)[0])["servers"] == ["10.0.0.2"]
        # Adopted again: later changes are ours to make.
        report = in_process(zk, root).run(build_desired(pods_for({"10.0.0.3": ["a"]})))
        assert report.updated == 1 and not report.recreated
    finally:
        zk.delete(root, recursive=True)
