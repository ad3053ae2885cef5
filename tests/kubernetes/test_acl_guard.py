"""With a credential, kube2zk's ACLs must mean something: a base path the
world may create and delete children of is refused, and the nodes kube2zk
updates or adopts get its ACL back."""

from __future__ import annotations

import json

from helpers.zk_security import ALICE, ALICE_ALL, ANNOTATION, WORLD_READ, acl_set, assert_clean_failure
from kazoo.client import KazooClient
from kazoo.security import OPEN_ACL_UNSAFE, READ_ACL_UNSAFE, make_acl

ORIGINAL = b'{"config":["keepalive 32"],"servers":["10.9.9.9"]}'
AUTH = {"KUBE2ZK_ZK_AUTH": ALICE}


def test_a_world_open_base_path_is_refused_with_the_fix_and_nothing_is_written(
    job, cluster, alice: KazooClient, zk_root: str, cleanup
):
    base = f"{zk_root}/rpc_v2"
    alice.create(f"{base}/sec-svc", ORIGINAL, makepath=True, acl=OPEN_ACL_UNSAFE)  # as the original left it
    alice.set_acls(base, OPEN_ACL_UNSAFE)
    cluster.deploy("svc", 1, ANNOTATION)
    cluster.wait_ready("app=svc", 1)

    proc = job("--adopt", env=AUTH)

    assert_clean_failure(proc, 4, f"{base} lets world:anyone create and delete", "setAcl")
    assert alice.get(f"{base}/sec-svc")[0] == ORIGINAL
    assert not alice.exists(f"{zk_root}/kube2zk")

    # The documented fix: the base path restricted with kube2zk's credential.
    alice.set_acls(base, [make_acl("auth", "", all=True), *READ_ACL_UNSAFE])
    proc = job("--adopt", env=AUTH)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(alice.get(f"{base}/sec-svc")[0])["servers"] == sorted(cluster.ready_ips("app=svc"))
    assert acl_set(alice.get_acls(f"{base}/sec-svc")[0]) == {ALICE_ALL, WORLD_READ}  # adopted: our ACL


def test_a_node_whose_acl_was_opened_gets_kube2zks_acl_back_on_its_next_update(
    job, cluster, alice: KazooClient, zk_root: str, cleanup
):
    node = f"{zk_root}/rpc_v2/sec-svc"
    cluster.deploy("svc", 1, ANNOTATION)
    cluster.wait_ready("app=svc", 1)
    assert job(env=AUTH).returncode == 0
    alice.set_acls(node, OPEN_ACL_UNSAFE)

    cluster.scale("svc", 2)
    ips = cluster.wait_ready("app=svc", 2)
    assert job(env=AUTH).returncode == 0

    assert set(json.loads(alice.get(node)[0])["servers"]) == ips
    assert acl_set(alice.get_acls(node)[0]) == {ALICE_ALL, WORLD_READ}
