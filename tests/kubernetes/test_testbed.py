"""The Kubernetes half of the local test bed works: Deployments get scheduled
onto the fake kwok Nodes, their pods turn Running and Ready with distinct IPs,
and scaling, deletion and rolling updates behave as on a real cluster.

Uses the fixtures `k8s_env` (environment with KUBECONFIG and a PATH holding the
bed's kubectl) and `namespace` (a fresh namespace, removed afterwards).
"""

import json
import subprocess

import yaml
from helpers import bed_script, deployment, eventually, pod_ready

TIMEOUT = 120  # seconds for any single wait below
POLL = 0.5

RPC_ANNOTATION = [
    {"serviceName": "test-rpc-server-1", "version": "v0"},
    {"serviceName": "test-rpc-server-2", "version": "v1"},
]


def sample_deployment(name, replicas):
    """One of the project's sample Deployments (k8s/test-rpc-service.yaml), as YAML."""
    return yaml.safe_dump(deployment(name, replicas))


def kubectl(env, *args, stdin=None, timeout=60):
    result = subprocess.run(["kubectl", *args], env=env, input=stdin, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return result.stdout


def get_json(env, *args):
    return json.loads(kubectl(env, "get", *args, "-o", "json"))


def pods(env, namespace, selector=None):
    args = ["pods", "-n", namespace] + (["-l", selector] if selector else [])
    return get_json(env, *args)["items"]


def wait_for(what, probe, timeout=TIMEOUT):
    """Poll probe() until it returns a truthy value; return that value."""
    return eventually(what, probe, timeout, interval=POLL)


def ready_pods(env, namespace, selector, count):
    """Wait until exactly `count` pods match and all of them are ready."""

    def probe():
        found = pods(env, namespace, selector)
        if len(found) == count and all(pod_ready(p) for p in found):
            return found
        return None

    return wait_for(f"{count} ready pods matching {selector!r} in {namespace}", probe)


def no_pods(env, namespace, selector=None):
    wait_for(f"no pods matching {selector!r} in {namespace}", lambda: not pods(env, namespace, selector))


def summary(pod):
    return (pod["metadata"]["name"], pod["spec"].get("nodeName"), pod["status"].get("podIP"))


def test_sample_deployments_run_scale_and_delete(k8s_env, namespace):
    manifest = "---\n".join([sample_deployment("test-service-1", 2), sample_deployment("test-service-2", 3)])
    kubectl(k8s_env, "apply", "-n", namespace, "-f", "-", stdin=manifest)

    running = ready_pods(k8s_env, namespace, "rpc-service=true", 5)
    ips = [p["status"]["podIP"] for p in running]
    assert len(set(ips)) == 5, [summary(p) for p in running]
    by_app = {}
    for pod in running:
        by_app.setdefault(pod["metadata"]["labels"]["app"], []).append(pod)
        assert pod["spec"]["nodeName"].startswith("kwok-node-"), summary(pod)
        assert json.loads(pod["metadata"]["annotations"]["rpc-service"]) == RPC_ANNOTATION
        assert [c["containerPort"] for c in pod["spec"]["containers"][0]["ports"]] == [5000]
    assert {app: len(ps) for app, ps in by_app.items()} == {"test-service-1": 2, "test-service-2": 3}

    kubectl(k8s_env, "scale", "-n", namespace, "deployment/test-service-1", "--replicas=0")
    no_pods(k8s_env, namespace, "app=test-service-1")
    remaining = ready_pods(k8s_env, namespace, "app=test-service-2", 3)
    assert {p["metadata"]["uid"] for p in remaining} == {p["metadata"]["uid"] for p in by_app["test-service-2"]}

    kubectl(k8s_env, "delete", "-n", namespace, "deployment", "test-service-1", "test-service-2")
    no_pods(k8s_env, namespace)


def rollout_status(env, namespace, name):
    kubectl(
        env, "rollout", "status", "-n", namespace, f"deployment/{name}", f"--timeout={TIMEOUT}s", timeout=TIMEOUT + 10
    )


def test_rolling_update_replaces_pods(k8s_env, namespace):
    name = "rolling"
    kubectl(k8s_env, "apply", "-n", namespace, "-f", "-", stdin=sample_deployment(name, 3))
    rollout_status(k8s_env, namespace, name)
    old = ready_pods(k8s_env, namespace, f"app={name}", 3)
    old_names = {p["metadata"]["name"] for p in old}
    old_hashes = {p["metadata"]["labels"]["pod-template-hash"] for p in old}
    assert len(old_hashes) == 1

    patch = {"spec": {"template": {"metadata": {"annotations": {"testbed/revision": "2"}}}}}
    kubectl(k8s_env, "patch", "-n", namespace, f"deployment/{name}", "-p", json.dumps(patch))
    rollout_status(k8s_env, namespace, name)

    # The ReplicaSet of revision 2 carries the new template hash.
    def new_hash():
        for rs in get_json(k8s_env, "replicasets", "-n", namespace, "-l", f"app={name}")["items"]:
            if rs["metadata"]["annotations"].get("deployment.kubernetes.io/revision") == "2":
                return rs["metadata"]["labels"]["pod-template-hash"]
        return None

    new = wait_for("the ReplicaSet of revision 2", new_hash)
    assert new not in old_hashes

    # Old pods terminate and are gone; exactly three new, ready pods remain.
    def replaced():
        found = pods(k8s_env, namespace, f"app={name}")
        if (
            len(found) == 3
            and all(pod_ready(p) for p in found)
            and {p["metadata"]["labels"]["pod-template-hash"] for p in found} == {new}
            and not old_names & {p["metadata"]["name"] for p in found}
        ):
            return found
        return None

    current = wait_for("the old pods to be replaced by 3 new ready pods", replaced)
    for pod in current:
        assert pod["metadata"]["annotations"]["testbed/revision"] == "2"
    assert len({p["status"]["podIP"] for p in current}) == 3


def test_a_private_bed_comes_up_and_down_leaves_no_process(k8s_env, tmp_path):
    """A second bed in its own state dir (the shared one keeps running): up
    brings every component up, down stops every pid it recorded."""
    from pathlib import Path

    env = {**k8s_env, "KUBE2ZK_TESTBED_STATE": str(tmp_path / "bed"), "TESTBED_NODES": "1"}
    up = bed_script("up.sh", env=env, timeout=600)
    try:
        assert up.returncode == 0, up.stderr
        state = tmp_path / "bed"
        pids = {p.stem: int(p.read_text()) for p in (state / "pids").glob("*.pid")}
        pids["zookeeper"] = int((state / "zk-main" / "pid").read_text())
        assert set(pids) == {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "zookeeper"}
        assert all(Path(f"/proc/{pid}").exists() for pid in pids.values())
        bed_env = dict(
            line.removeprefix("export ").split("=", 1)
            for line in (state / "env").read_text().splitlines()
            if line.startswith("export ") and "PATH" not in line
        )
        nodes = kubectl({**env, "KUBECONFIG": bed_env["KUBECONFIG"].strip("'\"")}, "get", "nodes", "-o", "name")
        assert nodes.strip() == "node/kwok-node-1"
    finally:
        down = bed_script("down.sh", env=env, timeout=120)
    assert down.returncode == 0, down.stderr

    def alive(pid: int) -> bool:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return False
        return "\nState:\tZ" not in status  # a zombie is stopped, just not yet reaped

    assert [name for name, pid in pids.items() if alive(pid)] == []
    assert not (tmp_path / "bed" / "env").exists()
