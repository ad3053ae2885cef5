"""What the tests (all three tiers) and the benchmark share, written once.

Tests import from here (``from helpers import Cluster, eventually``); the
conftest files re-export these names, so ``from conftest import ...`` keeps
working too. ``helpers.zk_security`` (fixtures and checks of the ZooKeeper
security tests) is imported on its own: it needs pytest and lib.
"""

from .common import JOB, REPO, STATE, bed_env, bed_script, eventually, free_port
from .job import LoopProcess, job_command, job_env, run_job, scope_flags
from .kube import (
    LABEL,
    SEED_ANNOTATION,
    Cluster,
    create_namespace,
    deployment,
    is_ready,
    kubeconfig_for_token,
    manifest_objects,
    pod_ready,
    service_account_token,
)
from .zookeeper import (
    answers,
    ensure_zookeeper_installed,
    four_letter,
    read_node,
    running_bed_zk_hosts,
    tree,
    zookeeper,
    zookeeper_sh,
)

__all__ = [
    "JOB",
    "LABEL",
    "REPO",
    "SEED_ANNOTATION",
    "STATE",
    "Cluster",
    "LoopProcess",
    "answers",
    "bed_env",
    "bed_script",
    "create_namespace",
    "deployment",
    "ensure_zookeeper_installed",
    "eventually",
    "four_letter",
    "free_port",
    "is_ready",
    "job_command",
    "job_env",
    "kubeconfig_for_token",
    "manifest_objects",
    "pod_ready",
    "read_node",
    "run_job",
    "running_bed_zk_hosts",
    "scope_flags",
    "service_account_token",
    "tree",
    "zookeeper",
    "zookeeper_sh",
]
