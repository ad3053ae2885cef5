"""The shipped manifests, read as files: the kube2zk ones keep the original's
environment and run non-root; the sample Deployments carry the annotation the
tests seed with. (tests/kubernetes/test_manifests.py checks them against a
real API server.)"""

from __future__ import annotations

import pytest
from helpers import REPO, SEED_ANNOTATION, manifest_objects


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


def test_seed_annotation_constant_matches_the_sample_manifest():
    docs = manifest_objects(REPO / "k8s" / "test-rpc-service.yaml")
    assert [d["spec"]["replicas"] for d in docs] == [2, 3]
    for doc in docs:
        template = doc["spec"]["template"]["metadata"]
        assert template["labels"]["rpc-service"] == "true"
        assert template["annotations"]["rpc-service"] == SEED_ANNOTATION
