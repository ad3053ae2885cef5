"""The shipped manifests are valid for a real API server (server-side dry run)."""

from __future__ import annotations

import subprocess

import pytest
from conftest import REPO, manifest_objects

MANIFESTS = ["cronjob.yaml", "k8s/kube2zk.yaml", "k8s/zookeeper.yaml", "k8s/test-rpc-service.yaml"]


@pytest.mark.parametrize("manifest", MANIFESTS)
def test_manifest_passes_a_server_side_dry_run(testbed_env, manifest):
    proc = subprocess.run(
        ["kubectl", "apply", "--dry-run=server", "-n", "default", "-f", str(REPO / manifest)],
        env=testbed_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("(server dry run)") == len(manifest_objects(REPO / manifest))


@pytest.mark.parametrize("manifest", ["cronjob.yaml", "k8s/kube2zk.yaml"])
def test_kube2zk_manifests_set_the_original_environment_and_run_as_non_root(manifest):
    docs = {d["kind"]: d for d in manifest_objects(REPO / manifest)}
    workload = docs.get("CronJob") or docs["Deployment"]
    pod = (
        workload["spec"]["jobTemplate"]["spec"]["template"]
        if "jobTemplate" in workload["spec"]
        else (workload["spec"]["template"])
    )
    container = pod["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert {"namespace", "zkservers", "zkpath"} <= set(env)
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert "limits" in container["resources"]
