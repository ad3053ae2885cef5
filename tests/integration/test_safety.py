"""Safety on the real test bed: dry run, deletion budget, claim policy,
SIGKILL and ZooKeeper restarts in the middle of a run, and property-based
proof that no annotation writes outside the base path."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from urllib.parse import quote

import pytest
from conftest import JOB, REPO, eventually, free_port, zookeeper
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kazoo.client import KazooClient

from lib.settings.options import load_config
from lib.sync import reconcile
from lib.model import PodInfo
from lib.layouts.seed import DEFAULT_CONFIG, encode_node
from lib.zk.registry import Registry
from lib.desired.servicemap import build_desired


def claims_dir(zk_root: str, owner: str = "default") -> str:
    return f"{zk_root}/kube2zk/owners/{owner}/{quote(zk_root + '/rpc_v2', safe='')}"


def tree(zk: KazooClient, path: str) -> dict[str, tuple[bytes, int]]:
    """Every node below ``path`` with its data and mzxid."""
    out: dict[str, tuple[bytes, int]] = {}
    if not zk.exists(path):
        return out
    stack = [path]
    while stack:
        node = stack.pop()
        data, stat = zk.get(node)
        out[node] = (data, stat.mzxid)
        stack.extend(f"{node}/{child}" if node != "/" else f"/{child}" for child in zk.get_children(node))
    return out


def services(n: int, prefix: str = "svc") -> str:
    return json.dumps([{"serviceName": f"{prefix}-{i:03d}"} for i in range(n)])


# -- plan before acting -------------------------------------------------------------


def test_dry_run_prints_the_plan_and_writes_nothing(job, cluster, zk: KazooClient, zk_root):
    cluster.deploy("a", 2, services(2, "a"))
    cluster.wait_ready("app=a", 2)
    assert job().returncode == 0
    cluster.deploy("b", 1, services(1, "b"))
    cluster.wait_ready("app=b", 1)
    cluster.scale("a", 1)
    cluster.wait_for("a scaled", lambda: len(cluster.pods("app=a")) == 1)
    before = tree(zk, zk_root)

    proc = job("--dry-run", "--output", "json")

    assert proc.returncode == 0, proc.stderr
    assert tree(zk, zk_root) == before
    plan = json.loads(proc.stdout)
    actions = {c["path"].rsplit("/", 1)[1]: c["action"] for c in plan["changes"]}
    assert actions == {"a-000": "update", "a-001": "update", "b-000": "create"}
    update = next(c for c in plan["changes"] if c["action"] == "update")
    assert len(update["before"]) == 2 and len(update["after"]) == 1
    text = job("--dry-run")
    assert "create  " in text.stdout and "b-000" in text.stdout and "+" in text.stdout
    assert tree(zk, zk_root) == before


# -- deletion budget ----------------------------------------------------------------


def test_deletion_budget_holds_a_mass_wipe_and_force_lets_it_through(job, cluster, zk: KazooClient, zk_root):
    cluster.deploy("many", 1, services(12))
    cluster.wait_ready("app=many", 1)
    assert job().returncode == 0
    base = f"{zk_root}/rpc_v2"
    assert len(zk.get_children(base)) == 12

    # A wrong namespace looks exactly like every pod gone.
    held = job("-namespace", f"typo-{uuid.uuid4().hex[:6]}")
    assert held.returncode == 6, held.stderr
    assert "holding 12 deletions" in held.stderr
    assert len(zk.get_children(base)) == 12
    dry = job("-namespace", "typo", "--dry-run", "--output", "json")
    assert all(c["held"] for c in json.loads(dry.stdout)["changes"])

    forced = job("-namespace", f"typo-{uuid.uuid4().hex[:6]}", "--force-deletions")
    assert forced.returncode == 0, forced.stderr
    assert zk.get_children(base) == []


def test_deletion_budget_lets_a_normal_scale_to_zero_through(job, cluster, zk, zk_root):
    cluster.deploy("keep", 1, services(3, "keep"))
    cluster.deploy("gone", 1, services(2, "gone"))
    cluster.wait_ready("rpc-service=true", 2)
    assert job().returncode == 0

    cluster.scale("gone", 0)
    cluster.wait_for("gone scaled to zero", lambda: not cluster.pods("app=gone"))
    proc = job()

    assert proc.returncode == 0, proc.stderr
    assert sorted(zk.get_children(f"{zk_root}/rpc_v2")) == ["keep-000", "keep-001", "keep-002"]


# -- claim policy -------------------------------------------------------------------


def test_claim_policy_refuses_names_reserved_to_other_namespaces(
    job, cluster, core, namespace, zk: KazooClient, zk_root, tmp_path
):
    policy = tmp_path / "policy.yaml"
    policy.write_text('default: allow\nrules:\n  - services: ["pay-*"]\n    namespaces: ["payments"]\n')
    cluster.deploy("thief", 1, '[{"serviceName": "pay-api"}, {"serviceName": "open-api"}]')
    cluster.wait_ready("app=thief", 1)
    pod = cluster.pods("app=thief")[0].metadata.name

    proc = job("--claim-policy", str(policy))

    assert proc.returncode == 0, proc.stderr
    assert zk.get_children(f"{zk_root}/rpc_v2") == ["open-api"]
    assert f"{namespace}/{pod}" in proc.stderr and "pay-api" in proc.stderr and "claim policy" in proc.stderr
    events = [e for e in core.list_namespaced_event(namespace).items if e.reason == "ServiceClaimDenied"]
    assert len(events) == 1 and events[0].involved_object.name == pod and "pay-api" in events[0].message

    strict = tmp_path / "strict.yaml"
    strict.write_text("default: deny\nrules: []\n")
    assert job("--claim-policy", str(strict)).returncode == 0
    assert zk.get_children(f"{zk_root}/rpc_v2") == []


def test_malformed_claim_policy_is_a_usage_error(job, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("default: maybe\n")
    proc = job("--claim-policy", str(bad))
    assert proc.returncode == 2
    assert "-claim-policy" in proc.stderr and "default" in proc.stderr


# -- crashes and restarts in the middle of a run --------------------------------------


def popen_job(scoped, *args: str, zk_hosts: str | None = None) -> subprocess.Popen[str]:
    flags, env = scoped(zk_hosts)
    return subprocess.Popen(
        [sys.executable, str(JOB), *flags, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )


def assert_whole(zk: KazooClient, zk_root: str, expected: bytes) -> set[str]:
    """Every service node exists exactly with its ownership record and holds
    complete data: a crash left each one as before or as intended."""
    nodes = set(zk.get_children(f"{zk_root}/rpc_v2")) if zk.exists(f"{zk_root}/rpc_v2") else set()
    records = set(zk.get_children(claims_dir(zk_root))) if zk.exists(claims_dir(zk_root)) else set()
    assert nodes == records
    for name in nodes:
        assert zk.get(f"{zk_root}/rpc_v2/{name}")[0] == expected
    return nodes


def test_sigkill_in_the_middle_of_a_large_run_leaves_nodes_whole_and_a_rerun_converges(
    job, cluster, scoped, zk: KazooClient, zk_root
):
    count = 4000
    cluster.deploy("many", 1, services(count))
    ips = cluster.wait_ready("app=many", 1)
    expected = encode_node(DEFAULT_CONFIG, ips)
    base = f"{zk_root}/rpc_v2"

    proc = popen_job(scoped)
    seen = 0
    deadline = time.monotonic() + 60
    while deadline > time.monotonic() and proc.poll() is None:
        if zk.exists(base) and (seen := zk.get_children(base, include_data=True)[1].numChildren) > 0:
            break
    proc.send_signal(signal.SIGKILL)
    proc.communicate()

    partial = assert_whole(zk, zk_root, expected)
    print(f"killed with {seen} of {count} nodes seen, {len(partial)} present after the kill")
    rerun = job()
    assert rerun.returncode == 0, rerun.stderr
    assert len(assert_whole(zk, zk_root, expected)) == count


def test_zookeeper_restart_in_the_middle_of_a_run_then_the_rerun_converges(job, cluster, scoped, zk_root):
    count = 4000
    cluster.deploy("many", 1, services(count))
    ips = cluster.wait_ready("app=many", 1)
    expected = encode_node(DEFAULT_CONFIG, ips)
    name, port = f"midrun-{os.getpid()}-{zk_root[3:]}", free_port()
    zookeeper("start", name, str(port))
    try:
        own = KazooClient(hosts=f"127.0.0.1:{port}")
        own.start(timeout=15)
        proc = popen_job(scoped, "--zk-timeout", "4s", zk_hosts=f"127.0.0.1:{port}")
        eventually(
            "the run to reach ZooKeeper",
            lambda: own.exists(f"{zk_root}/kube2zk") or proc.poll() is not None,
            interval=0.005,
        )
        zookeeper("halt", name)
        zookeeper("resume", name)
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode in (0, 4), stderr  # finished after reconnecting, or gave up cleanly

        own.stop()
        own.start(timeout=30)
        assert_whole(own, zk_root, expected)
        rerun = job("-zkservers", f"127.0.0.1:{port}")
        assert rerun.returncode == 0, rerun.stderr
        assert len(assert_whole(own, zk_root, expected)) == count
        own.stop()
    finally:
        zookeeper("stop", name)


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


@pytest.fixture(scope="module")
def bare_zk(testbed_env) -> KazooClient:
    zk = KazooClient(hosts=testbed_env["ZK_HOSTS"])
    zk.start(timeout=15)
    yield zk
    zk.stop()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pods=st.lists(annotations, min_size=1, max_size=4), rival=st.lists(names, max_size=3))
def test_no_annotation_writes_outside_the_base_path_or_into_another_owners_records(bare_zk, testbed_env, pods, rival):
    zk = bare_zk
    root = f"/prop-{uuid.uuid4().hex[:10]}"
    base, owners = f"{root}/rpc_v2", f"{root}/kube2zk"
    # A rival owner already registered some names.
    other = Registry(zk, base, owners, "rival")
    other.prepare()
    for name in {n for n in rival if n and "/" not in n and n not in (".", "..", "zookeeper") and "\x00" not in n}:
        try:
            zk.create(f"{base}/{name}", b"rival")
            zk.create(other.claim_path(name), b"")
        except Exception:
            pass
    top_before = set(zk.get_children("/"))
    rival_before = tree(zk, f"{owners}/owners/rival")
    rival_nodes = {k: v for k, v in tree(zk, base).items() if v[0] == b"rival"}
    try:
        cfg = load_config(["-zkpath", base, "--owner-root", owners], {})
        infos = [PodInfo("ns", f"p{i}", "Running", True, False, f"10.1.0.{i + 1}", text) for i, text in enumerate(pods)]
        report = reconcile(cfg, Registry(zk, base, owners, "default"), build_desired(infos))
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


def in_process(zk: KazooClient, root: str, *args: str, env: dict[str, str] | None = None):
    cfg = load_config(["-zkpath", f"{root}/rpc_v2", "--owner-root", f"{root}/kube2zk", *args], env or {})
    return cfg, Registry(zk, cfg.zk_path, cfg.owner_root, cfg.owner_id)


def pods_for(services: dict[str, list[str]]) -> list[PodInfo]:
    return [
        PodInfo("ns", f"p-{ip}", "Running", True, False, ip, json.dumps([{"serviceName": s} for s in names]))
        for ip, names in services.items()
    ]


def test_a_version_conflict_is_re_read_and_re_planned(bare_zk: KazooClient):
    zk, root = bare_zk, f"/conflict-{uuid.uuid4().hex[:10]}"
    try:
        cfg, registry = in_process(zk, root)
        state = build_desired(pods_for({"10.0.0.1": ["a", "b"], "10.0.0.2": ["a"]}))
        assert not reconcile(cfg, registry, state).failed
        # The plan below is made, then someone writes the node before it is applied.
        state = build_desired(pods_for({"10.0.0.1": ["a", "b"]}))
        desired = {name: encode_node(DEFAULT_CONFIG, ips) for name, ips in state.services.items()}
        from lib.plan.diff import compute_plan

        plan = compute_plan(desired, registry.read(desired), cfg.owner_id)
        zk.set(f"{root}/rpc_v2/a", b"changed meanwhile")
        result = registry.apply(plan.changes, desired)
        assert not result.failed
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
        cfg, registry = in_process(zk, root, env={"KUBE2ZK_NODE_CONFIG": big})
        state = build_desired(pods_for({"10.0.0.1": ["huge"]}))
        report = reconcile(cfg, registry, state)
        assert "huge" in report.held and not report.failed and not report.connection_lost
        assert zk.get_children(f"{root}/rpc_v2") == []
        assert zk.connected
        # The same service with normal data is written.
        cfg, registry = in_process(zk, root)
        assert not reconcile(cfg, registry, state).failed
        assert zk.get_children(f"{root}/rpc_v2") == ["huge"]
    finally:
        zk.delete(root, recursive=True)
