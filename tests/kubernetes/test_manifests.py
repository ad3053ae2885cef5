"""The shipped manifests are valid for a real API server (server-side dry run)."""

from __future__ import annotations

import subprocess

import pytest
from helpers import REPO, manifest_objects

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
