"""Safety on the real test bed: dry run, deletion budget, claim policy,
SIGKILL and ZooKeeper restarts in the middle of a run. (The in-process
safety tests against ZooKeeper alone are in tests/zookeeper/test_registry_safety.py.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from urllib.parse import quote

from helpers import REPO, eventually, free_port, job_command, tree, zookeeper
from kazoo.client import KazooClient

from lib.layouts.seed import DEFAULT_CONFIG, encode_node


def claims_dir(zk_root: str, owner: str = "default") -> str:
    return f"{zk_root}/kube2zk/owners/{owner}/{quote(zk_root + '/rpc_v2', safe='')}"


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


# -- crashes and restarts in the middle of a run --------------------------------------


def popen_job(scoped, *args: str, zk_hosts: str | None = None) -> subprocess.Popen[str]:
    flags, env = scoped(zk_hosts)
    return subprocess.Popen(
        job_command(*flags, *args), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO
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
