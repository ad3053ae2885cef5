"""The one-shot job against the real test bed: seed parity, ownership, bad
input, failures."""

from __future__ import annotations

import json
import time
from pathlib import Path

import yaml
from helpers import REPO, Cluster, free_port, is_ready, kubeconfig_for_token, read_node, service_account_token
from kazoo.client import KazooClient
from kubernetes import client

SEED_CONFIG = ["zone kg 8M", "kg_round_robin broken_tries=2 health_checks=5 max_uri_slots=0", "keepalive 32"]


def ip_key(ip: str) -> tuple[int, ...]:
    return tuple(int(part) for part in ip.split("."))


def expected_bytes(ips: set[str]) -> bytes:
    servers = ",".join(f'"{ip}"' for ip in sorted(ips, key=ip_key))
    config = ",".join(f'"{line}"' for line in SEED_CONFIG)
    return f'{{"config":[{config}],"servers":[{servers}]}}'.encode()


def seed(cluster: Cluster) -> set[str]:
    cluster.deploy("test-service-1", 2)
    cluster.deploy("test-service-2", 3)
    cluster.wait_ready("app=test-service-1", 2)
    cluster.wait_ready("app=test-service-2", 3)
    return cluster.ready_ips("rpc-service=true")


def test_seed_scenario_registers_both_services_with_all_five_pod_ips(job, cluster, zk: KazooClient, zk_root):
    ips = seed(cluster)
    assert len(ips) == 5

    proc = job()

    assert proc.returncode == 0, proc.stderr
    base = f"{zk_root}/rpc_v2"
    assert sorted(zk.get_children(base)) == ["test-rpc-server-1", "test-rpc-server-2"]
    for service in ("test-rpc-server-1", "test-rpc-server-2"):
        data, _ = zk.get(f"{base}/{service}")
        assert data == expected_bytes(ips)
    assert "created 2" in proc.stderr


def test_second_run_writes_nothing(job, cluster, zk: KazooClient, zk_root):
    seed(cluster)
    assert job().returncode == 0
    base = f"{zk_root}/rpc_v2"
    before = {s: zk.get(f"{base}/{s}")[1] for s in zk.get_children(base)}

    proc = job()

    assert proc.returncode == 0, proc.stderr
    after = {s: zk.get(f"{base}/{s}")[1] for s in zk.get_children(base)}
    assert {s: (st.mzxid, st.version) for s, st in after.items()} == {
        s: (st.mzxid, st.version) for s, st in before.items()
    }
    assert "unchanged 2" in proc.stderr and "created 0, updated 0" in proc.stderr


def test_scale_down_and_up_follow_the_ready_pods(job, cluster, zk, zk_root):
    seed(cluster)
    assert job().returncode == 0
    node = f"{zk_root}/rpc_v2/test-rpc-server-1"

    cluster.scale("test-service-2", 0)
    cluster.wait_for("test-service-2 gone", lambda: not cluster.pods("app=test-service-2"))
    assert job().returncode == 0
    assert set(read_node(zk, node)["servers"]) == cluster.ready_ips("app=test-service-1")
    assert len(read_node(zk, node)["servers"]) == 2

    cluster.scale("test-service-2", 4)
    cluster.wait_ready("app=test-service-2", 4)
    assert job().returncode == 0
    assert set(read_node(zk, node)["servers"]) == cluster.ready_ips("rpc-service=true")
    assert len(read_node(zk, node)["servers"]) == 6


def test_deleting_every_provider_removes_the_node_and_its_ownership_record(job, cluster, zk, zk_root):
    seed(cluster)
    assert job().returncode == 0

    cluster.delete("test-service-1")
    cluster.delete("test-service-2")
    cluster.wait_for("all pods gone", lambda: not cluster.pods("rpc-service=true"))
    proc = job()

    assert proc.returncode == 0, proc.stderr
    assert zk.get_children(f"{zk_root}/rpc_v2") == []
    records = f"{zk_root}/kube2zk/owners/default/{'%2F' + zk_root[1:] + '%2Frpc_v2'}"
    assert zk.get_children(records) == []
    assert "deleted 2" in proc.stderr


def test_annotation_edit_that_drops_a_service_removes_only_that_node(job, cluster, zk, zk_root):
    cluster.deploy("svc", 2)
    cluster.wait_ready("app=svc", 2)
    assert job().returncode == 0

    cluster.set_annotation("svc", '[{"serviceName": "test-rpc-server-1", "version": "v0"}]')
    cluster.wait_for(
        "rollout to the new annotation",
        lambda: (
            len(cluster.pods("app=svc")) == 2
            and all(is_ready_with(p, "test-rpc-server-2", present=False) for p in cluster.pods("app=svc"))
        ),
    )
    proc = job()

    assert proc.returncode == 0, proc.stderr
    assert zk.get_children(f"{zk_root}/rpc_v2") == ["test-rpc-server-1"]
    assert set(read_node(zk, f"{zk_root}/rpc_v2/test-rpc-server-1")["servers"]) == cluster.ready_ips("app=svc")


def is_ready_with(pod: client.V1Pod, service: str, *, present: bool) -> bool:
    annotation = (pod.metadata.annotations or {}).get("rpc-service", "")
    return is_ready(pod) and ((service in annotation) == present)


def test_not_ready_and_terminating_pods_are_not_registered(job, cluster, core, namespace, zk, zk_root):
    cluster.deploy("svc", 3)
    ips = cluster.wait_ready("app=svc", 3)
    pods = cluster.pods("app=svc")
    unready, terminating = pods[0], pods[1]
    # The pod stays Running but its readiness fails.
    conditions = [
        {"type": c.type, "status": "False" if c.type in ("Ready", "ContainersReady") else c.status}
        for c in unready.status.conditions
    ]
    core.patch_namespaced_pod_status(unready.metadata.name, namespace, {"status": {"conditions": conditions}})
    # A finalizer holds the deleted pod in Terminating.
    core.patch_namespaced_pod(terminating.metadata.name, namespace, {"metadata": {"finalizers": ["test/hold"]}})
    core.delete_namespaced_pod(terminating.metadata.name, namespace)
    try:
        cluster.wait_for(
            "pod terminating",
            lambda: core.read_namespaced_pod(terminating.metadata.name, namespace).metadata.deletion_timestamp,
        )
        proc = job()
        assert proc.returncode == 0, proc.stderr
        servers = set(read_node(zk, f"{zk_root}/rpc_v2/test-rpc-server-1")["servers"])
        assert unready.status.pod_ip not in servers
        assert terminating.status.pod_ip not in servers
        assert pods[2].status.pod_ip in servers
        assert servers <= ips | cluster.ready_ips("app=svc")
    finally:
        core.patch_namespaced_pod(terminating.metadata.name, namespace, {"metadata": {"finalizers": None}})


def test_foreign_nodes_are_left_untouched_and_adopt_takes_unowned_ones(job, cluster, zk: KazooClient, zk_root):
    seed(cluster)
    base = f"{zk_root}/rpc_v2"
    zk.create(f"{base}/test-rpc-server-1", b"hand-made", makepath=True)
    zk.create(f"{base}/unrelated", b"someone else's")

    proc = job()

    assert proc.returncode == 7, proc.stderr  # a declared service no kube2zk owns
    assert zk.get(f"{base}/test-rpc-server-1")[0] == b"hand-made"
    assert zk.get(f"{base}/unrelated")[0] == b"someone else's"
    assert "test-rpc-server-1 is not owned by kube2zk" in proc.stderr
    assert read_node(zk, f"{base}/test-rpc-server-2") is not None

    proc = job("--adopt")

    assert proc.returncode == 0, proc.stderr
    assert set(read_node(zk, f"{base}/test-rpc-server-1")["servers"]) == cluster.ready_ips("rpc-service=true")
    assert zk.get(f"{base}/unrelated")[0] == b"someone else's"
    # Adopted means owned: once no pod provides it, it goes.
    cluster.delete("test-service-1")
    cluster.delete("test-service-2")
    cluster.wait_for("all pods gone", lambda: not cluster.pods("rpc-service=true"))
    assert job().returncode == 0
    assert zk.get_children(base) == ["unrelated"]


def test_a_second_owner_contributes_to_the_first_owners_nodes_and_takes_only_its_share_away(
    job, cluster, zk: KazooClient, zk_root
):
    seed(cluster)
    assert job("--owner-id", "cluster-a").returncode == 0
    base = f"{zk_root}/rpc_v2"
    before = json.loads(zk.get(f"{base}/test-rpc-server-1")[0])

    # cluster-b sees the same pods (same namespace): it joins without -adopt,
    # and the union is what a listed.
    proc = job("--owner-id", "cluster-b")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(zk.get(f"{base}/test-rpc-server-1")[0]) == before

    # cluster-b with an empty namespace view (nothing desired) withdraws its
    # share only: a's servers stay.
    proc = job("--owner-id", "cluster-b", "-namespace", "no-such-namespace")
    assert proc.returncode == 0, proc.stderr
    assert sorted(zk.get_children(base)) == ["test-rpc-server-1", "test-rpc-server-2"]
    assert json.loads(zk.get(f"{base}/test-rpc-server-1")[0]) == before


BAD_ANNOTATIONS = {
    "not-json": "{not json",
    "object": '{"serviceName": "x"}',
    "null": "null",
    "number": "42",
    "string": '"svc"',
    "nested-lists": '[["svc"]]',
    "entry-not-object": '["svc"]',
    "no-name": '[{"version": "v1"}]',
    "name-number": '[{"serviceName": 42}]',
    "name-null": '[{"serviceName": null}]',
    "name-list": '[{"serviceName": ["a"]}]',
    "empty-name": '[{"serviceName": ""}]',
    "dot": '[{"serviceName": "."}]',
    "dot-dot": '[{"serviceName": ".."}]',
    "slash": '[{"serviceName": "a/b"}]',
    "escape": '[{"serviceName": "../../escaped"}]',
    "absolute": '[{"serviceName": "/abs"}]',
    "control-char": '[{"serviceName": "bad\\u0001name"}]',
    "nul": '[{"serviceName": "bad\\u0000name"}]',
    "del": '[{"serviceName": "bad\\u007fname"}]',
    "c1-control": '[{"serviceName": "bad\\u0085name"}]',
    "private-use": '[{"serviceName": "bad\\ue000name"}]',
    "noncharacter": '[{"serviceName": "bad\\uffffname"}]',
    "lone-surrogate": '[{"serviceName": "bad\\ud800name"}]',
    "astral": json.dumps([{"serviceName": "smile-\U0001f600"}], ensure_ascii=False),
    "too-long": json.dumps([{"serviceName": "x" * 300}]),
    "reserved": '[{"serviceName": "zookeeper"}]',
    "padded": '[{"serviceName": " padded "}]',
    "empty-annotation": "",
    "blank-annotation": "   ",
    "nan": '[{"serviceName": "nan-svc", "weight": NaN}]',
    "deep-nesting": "[" * 5000 + "]" * 5000,
}
# Not errors: handled and registered.
ACCEPTED = {
    "bom": ('\ufeff[{"serviceName": "bom-ok"}]', "bom-ok"),
    "unknown-fields": ('[{"serviceName": "extra-ok", "version": "v2", "weight": 5, "lb": {"algo": "rr"}}]', "extra-ok"),
    "duplicates": ('[{"serviceName": "dup-ok"}, {"serviceName": "dup-ok"}]', "dup-ok"),
}


def test_each_bad_annotation_is_reported_and_isolated(job, cluster, zk: KazooClient, zk_root):
    cluster.deploy("good", 2, '[{"serviceName": "good-service"}]')
    for name, annotation in BAD_ANNOTATIONS.items():
        cluster.deploy(f"bad-{name}", 1, annotation)
    cluster.deploy("bad-label-without-annotation", 1, None)
    cluster.deploy("unlabelled", 1, '[{"serviceName": "not-labelled"}]', labelled=False)
    for name, (annotation, _) in ACCEPTED.items():
        cluster.deploy(f"ok-{name}", 1, annotation)
    # One pod mixes a good and a bad entry: the good one still counts.
    cluster.deploy("mixed", 1, '[{"serviceName": "mixed-ok"}, {"serviceName": "../x"}]')
    expected_pods = 2 + len(BAD_ANNOTATIONS) + 1 + len(ACCEPTED) + 1
    cluster.wait_for("all pods ready", lambda: len(cluster.ready_ips("rpc-service=true")) == expected_pods, timeout=120)
    assert len(BAD_ANNOTATIONS) + 1 >= 30

    proc = job()

    assert proc.returncode == 0, proc.stderr
    base = f"{zk_root}/rpc_v2"
    wanted = ["good-service", "mixed-ok", *(service for _, service in ACCEPTED.values())]
    assert sorted(zk.get_children(base)) == sorted(wanted)
    assert set(read_node(zk, f"{base}/good-service")["servers"]) == cluster.ready_ips("app=good")
    for name in [*BAD_ANNOTATIONS, "label-without-annotation"]:
        pod = cluster.pods(f"app=bad-{name}")[0].metadata.name
        lines = [line for line in proc.stderr.splitlines() if f"{cluster.namespace}/{pod}" in line]
        assert lines, f"no warning names the pod of bad-{name}"
    assert "not-labelled" not in proc.stderr  # not listed at all: no label, no business of ours
    # Nothing was written anywhere but the base path and the ownership records.
    assert sorted(zk.get_children(zk_root)) == ["kube2zk", "rpc_v2"]
    assert not zk.exists("/escaped") and not zk.exists(f"{zk_root}/escaped") and not zk.exists("/abs")

    strict = job("--strict")
    assert strict.returncode == 1


def test_environment_variables_configure_the_job(job, cluster, testbed_env, namespace, zk, zk_root):
    cluster.deploy("svc", 1, '[{"serviceName": "from-env"}]')
    cluster.wait_ready("app=svc", 1)
    env = {
        "namespace": namespace,
        "zkservers": testbed_env["ZK_HOSTS"],
        "zkpath": f"{zk_root}/env_path",
        "KUBE2ZK_OWNER_ROOT": f"{zk_root}/owners",
    }

    proc = job(env=env, defaults=False)

    assert proc.returncode == 0, proc.stderr
    assert zk.get_children(f"{zk_root}/env_path") == ["from-env"]
    # A flag beats its variable.
    proc = job("-zkpath", f"{zk_root}/flag_path", env=env, defaults=False)
    assert proc.returncode == 0, proc.stderr
    assert zk.get_children(f"{zk_root}/flag_path") == ["from-env"]


def test_mock_registry_prints_the_map_and_writes_nothing(job, cluster, zk: KazooClient, zk_root):
    ips = seed(cluster)

    proc = job("-mockregistry", "--output", "json")

    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc == {
        f"{zk_root}/rpc_v2/test-rpc-server-1": {"config": SEED_CONFIG, "servers": sorted(ips, key=ip_key)},
        f"{zk_root}/rpc_v2/test-rpc-server-2": {"config": SEED_CONFIG, "servers": sorted(ips, key=ip_key)},
    }
    assert not zk.exists(zk_root)
    text = job("-mockregistry=true")
    assert f"{zk_root}/rpc_v2/test-rpc-server-1: " in text.stdout
    assert not zk.exists(zk_root)


closed_port = free_port  # a port nothing listens on


def test_zookeeper_unreachable_fails_fast_with_exit_4(job, cluster):
    # Bounded: a run that hung would raise TimeoutExpired here.
    proc = job("-zkservers", f"127.0.0.1:{closed_port()}", "--zk-timeout", "2s", timeout=60)

    assert proc.returncode == 4, proc.stderr
    assert "cannot reach ZooKeeper" in proc.stderr


def test_forbidden_list_exits_3_and_deletes_nothing(job, cluster, core, namespace, testbed_env, zk, zk_root, tmp_path):
    seed(cluster)
    assert job().returncode == 0
    before = sorted(zk.get_children(f"{zk_root}/rpc_v2"))
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "nobody"}})
    kubeconfig = kubeconfig_for_token(
        testbed_env["KUBECONFIG"], service_account_token(core, namespace, "nobody"), tmp_path / "kubeconfig"
    )

    proc = job("--kubeconfig", kubeconfig)

    assert proc.returncode == 3, proc.stderr
    assert "403" in proc.stderr and "nothing was changed" in proc.stderr
    assert sorted(zk.get_children(f"{zk_root}/rpc_v2")) == before


def test_cronjob_service_account_rbac_is_enough_for_a_run(job, cluster, core, namespace, manifest_account, zk, zk_root):
    """cronjob.yaml's ServiceAccount and RBAC (renamed into the test's namespace)
    are enough to list pods across namespaces and create Events."""
    seed(cluster)
    cluster.deploy("broken", 1, "{not json")
    cluster.wait_ready("app=broken", 1)
    kubeconfig = manifest_account(REPO / "cronjob.yaml")
    # RBAC changes take a moment to reach the authorizer's cache.
    deadline = time.monotonic() + 30
    while True:
        proc = job("--kubeconfig", kubeconfig)
        if proc.returncode != 3 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert proc.returncode == 0, proc.stderr
    assert sorted(zk.get_children(f"{zk_root}/rpc_v2")) == ["test-rpc-server-1", "test-rpc-server-2"]
    assert "cannot create Events" not in proc.stderr
    events = [e for e in core.list_namespaced_event(namespace).items if e.reason == "InvalidRPCServiceAnnotation"]
    assert len(events) == 1
    # ... and also across all namespaces, which is the manifest's default.
    proc = job("--kubeconfig", kubeconfig, "-namespace", "")
    assert proc.returncode == 0, proc.stderr


def test_json_log_format_gives_one_object_per_line_with_a_summary(job, cluster, zk_root):
    seed(cluster)
    proc = job("--log-format", "json")
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in proc.stderr.splitlines()]
    created = [r for r in records if r.get("action") == "create"]
    assert sorted(r["service"] for r in created) == ["test-rpc-server-1", "test-rpc-server-2"]
    summary = next(r["summary"] for r in records if "summary" in r)
    assert summary["created"] == 2 and summary["pods_counted"] == 5


def test_kubernetes_unreachable_exits_3_and_deletes_nothing(job, cluster, zk, zk_root, testbed_env, tmp_path):
    seed(cluster)
    assert job().returncode == 0
    admin = yaml.safe_load(Path(testbed_env["KUBECONFIG"]).read_text())
    admin["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{closed_port()}"
    kubeconfig = tmp_path / "unreachable"
    kubeconfig.write_text(yaml.safe_dump(admin))

    proc = job("--kubeconfig", str(kubeconfig), "--kube-timeout", "3s")

    assert proc.returncode == 3, proc.stderr
    assert "nothing was changed" in proc.stderr
    assert sorted(zk.get_children(f"{zk_root}/rpc_v2")) == ["test-rpc-server-1", "test-rpc-server-2"]
