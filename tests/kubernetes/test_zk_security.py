"""ZooKeeper security in runs of the job on the test bed: digest
authentication (the credential is never printed), the ACLs of every node
kube2zk creates, TLS to a ZooKeeper with a secure client port and a CA made
here, and a chroot in the connect string. (What needs no API server is in
tests/zookeeper/test_zk_security_lib.py and tests/unit/test_credentials.py.)"""

from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from helpers import free_port, read_node
from helpers.zk_security import (
    ALICE,
    ALICE_ALL,
    ALICE_PASSWORD,
    ANNOTATION,
    BOB,
    BOB_PASSWORD,
    WORLD_ALL,
    WORLD_READ,
    TlsZooKeeper,
    acl_set,
    assert_clean_failure,
    assert_secret_absent,
    connect,
    created_paths,
    tls_args,
)
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError
from kazoo.security import make_digest_acl

from lib.zk.connect import disconnect

# -- digest authentication: the credential is never printed ------------------


def test_credential_is_never_printed(job, cluster, alice: KazooClient, zk_root: str, tmp_path: Path, cleanup):
    cluster.deploy("svc", 1, ANNOTATION)
    cluster.wait_ready("app=svc", 1)
    env = {"KUBE2ZK_ZK_AUTH": ALICE}
    auth_file = tmp_path / "zk-auth"
    auth_file.write_text(BOB + "\n")
    runs = {
        "sync, debug, text": job("--log-level", "debug", env=env),
        "sync, debug, json": job("--log-level", "debug", "--log-format", "json", env=env),
        "dry run, auth file": job("--dry-run", "--zk-auth-file", str(auth_file), "--log-level", "debug"),
        "unreachable": job(
            "-zkservers", f"127.0.0.1:{free_port()}", "--zk-timeout", "1s", "--log-level", "debug", env=env
        ),
    }
    for what, proc in runs.items():
        assert_secret_absent(proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr, (what, proc.stderr)
    assert runs["sync, debug, text"].returncode == 0, runs["sync, debug, text"].stderr
    # The credential was used, not just ignored.
    assert ALICE_ALL in acl_set(alice.get_acls(f"{zk_root}/rpc_v2/sec-svc")[0])
    assert runs["sync, debug, json"].returncode == 0
    assert runs["dry run, auth file"].returncode == 0, runs["dry run, auth file"].stderr
    assert runs["unreachable"].returncode == 4

    # Malformed credentials are named by their source, never echoed.
    bad = f"no-colon-{ALICE_PASSWORD}"
    auth_file.write_text(bad)
    for proc in (job(env={"KUBE2ZK_ZK_AUTH": bad}), job("--zk-auth-file", str(auth_file))):
        assert_clean_failure(proc, 2, "user:password")
        assert_secret_absent(proc.stdout, proc.stderr)


# -- ACLs ---------------------------------------------------------------------


def test_authenticated_sync_nodes_are_world_readable_but_only_the_writer_may_change_them(
    job, cluster, zk: KazooClient, alice: KazooClient, zk_hosts: str, zk_root: str, cleanup
):
    cluster.deploy("svc", 2, ANNOTATION)
    ips = cluster.wait_ready("app=svc", 2)
    base = f"{zk_root}/rpc_v2"
    node = f"{base}/sec-svc"

    proc = job(env={"KUBE2ZK_ZK_AUTH": ALICE})

    assert proc.returncode == 0, proc.stderr
    for path in created_paths(zk_root, "sec-svc"):
        assert acl_set(alice.get_acls(path)[0]) == {ALICE_ALL, WORLD_READ}, path
    # The unauthenticated client (a consumer) reads, but cannot write.
    assert set(read_node(zk, node)["servers"]) == ips
    data, stat = zk.get(node)
    # Neither it nor another digest user can write.
    bob = connect(zk_hosts, 10, auth=BOB)
    try:
        for client in (zk, bob):
            with pytest.raises(NoAuthError):
                client.set(node, b"hijacked")
            with pytest.raises(NoAuthError):
                client.delete(node)
            with pytest.raises(NoAuthError):
                client.create(f"{base}/fake-service", b"{}")
    finally:
        disconnect(bob)
    # Nor a kube2zk run with the other credential: not when it would adopt and
    # rewrite the node (its own ownership records elsewhere see it as unowned) ...
    # (bob's own owner root, closed to the world: kube2zk refuses a world-open one)
    alice.create(f"{zk_root}/bob-owner", b"", acl=[make_digest_acl("bob", BOB_PASSWORD, all=True)])
    proc = job(
        "--owner-root",
        f"{zk_root}/bob-owner",
        "--adopt",
        "--node-config",
        '["keepalive 1"]',
        env={"KUBE2ZK_ZK_AUTH": BOB},
    )
    assert_clean_failure(proc, 1, "NoAuthError")
    assert zk.get(node) == (data, stat)
    assert zk.get_children(f"{zk_root}/bob-owner/owners/default/{quote(base, safe='')}") == []
    # ... nor when, sharing the writer's records, it wants the node gone (its
    # namespace view has no pods left).
    cluster.delete("svc")
    cluster.wait_for("pods gone", lambda: not cluster.pods("app=svc"))
    proc = job("--lock-timeout", "2s", "--force-deletions", env={"KUBE2ZK_ZK_AUTH": BOB})
    # A permission problem is said as one, at once: not "another run holds the lock".
    assert_clean_failure(proc, 4, "not allowed to create the writer lock")
    assert zk.get(node) == (data, stat)
    # The writer itself still manages its nodes under that ACL.
    proc = job(env={"KUBE2ZK_ZK_AUTH": ALICE})
    assert proc.returncode == 0, proc.stderr
    assert zk.exists(node) is None
    assert "deleted 1" in proc.stderr


def test_creator_all_acl_hides_the_nodes_from_the_world(
    job, cluster, zk: KazooClient, alice: KazooClient, zk_root, cleanup
):
    cluster.deploy("svc", 1, ANNOTATION)
    ips = cluster.wait_ready("app=svc", 1)
    node = f"{zk_root}/rpc_v2/sec-svc"

    proc = job("--zk-acl", "creator-all", env={"KUBE2ZK_ZK_AUTH": ALICE})

    assert proc.returncode == 0, proc.stderr
    assert acl_set(alice.get_acls(node)[0]) == {ALICE_ALL}
    with pytest.raises(NoAuthError):
        zk.get(node)
    with pytest.raises(NoAuthError):
        zk.get_children(f"{zk_root}/rpc_v2")
    assert set(read_node(alice, node)["servers"]) == ips


def test_without_a_credential_nodes_stay_world_open_and_restricted_acls_are_refused(
    job, cluster, zk: KazooClient, zk_root
):
    cluster.deploy("svc", 1, ANNOTATION)
    cluster.wait_ready("app=svc", 1)

    proc = job()

    assert proc.returncode == 0, proc.stderr
    for path in created_paths(zk_root, "sec-svc"):
        assert acl_set(zk.get_acls(path)[0]) == {WORLD_ALL}, path
    proc = job("--zk-acl", "creator-all+world-read")
    assert_clean_failure(proc, 2, "needs a ZooKeeper credential")


# -- TLS ----------------------------------------------------------------------


def test_job_syncs_over_tls(job, cluster, zk_root: str, tls_zk: TlsZooKeeper):
    cluster.deploy("svc", 2, ANNOTATION)
    ips = cluster.wait_ready("app=svc", 2)

    proc = job(*tls_args(tls_zk))

    assert proc.returncode == 0, proc.stderr
    plain = KazooClient(hosts=f"127.0.0.1:{tls_zk.port}", timeout=10)
    plain.start(timeout=15)
    try:
        assert set(read_node(plain, f"{zk_root}/rpc_v2/sec-svc")["servers"]) == ips
        # TLS and digest together: creator-all grants every identity of the
        # writer, the digest user and the client certificate (ZooKeeper's x509
        # provider). The plain reader sees the digest as alice:x.
        # (its own owner root: the first run left a world-open one, which a
        # run with a credential refuses)
        auth_paths = ["-zkpath", f"{zk_root}/rpc_auth", "--owner-root", f"{zk_root}/kube2zk_auth"]
        proc = job(*tls_args(tls_zk), *auth_paths, env={"KUBE2ZK_ZK_AUTH": ALICE})
        assert proc.returncode == 0, proc.stderr
        assert acl_set(plain.get_acls(f"{zk_root}/rpc_auth/sec-svc")[0]) == {
            (31, "digest", "alice:x"),
            (31, "x509", "CN=client"),
            WORLD_READ,
        }
    finally:
        plain.stop()
        plain.close()
    # The secure port really is TLS: a plain client gets nowhere.
    proc = job("-zkservers", f"localhost:{tls_zk.secure_port}", "--zk-timeout", "3s")
    assert_clean_failure(proc, 4, "cannot reach ZooKeeper", "--zk-tls")


@pytest.mark.parametrize(
    ("case", "needles"),
    [
        ("no CA", ["CERTIFICATE_VERIFY_FAILED", "--zk-ca-file"]),
        ("wrong CA", ["CERTIFICATE_VERIFY_FAILED", "--zk-ca-file"]),
        ("server name not in its certificate", ["CERTIFICATE_VERIFY_FAILED", "mismatch"]),
        ("no client certificate", ["TLS handshake failed"]),
        ("client certificate from another CA", ["TLS handshake failed"]),
    ],
)
def test_tls_failures_exit_4_with_a_clear_message(job, tls_zk: TlsZooKeeper, case: str, needles: list[str]):
    args = {
        "no CA": tls_args(tls_zk, ca=""),
        "wrong CA": tls_args(tls_zk, ca="other-ca.pem"),
        "server name not in its certificate": tls_args(tls_zk, "127.0.0.1"),
        "no client certificate": tls_args(tls_zk, client=""),
        "client certificate from another CA": tls_args(tls_zk, client="rogue-client"),
    }[case]
    proc = job(*args, timeout=60)  # a run that retried forever would raise TimeoutExpired

    assert_clean_failure(proc, 4, f"cannot reach ZooKeeper at {args[1]} within 3s", *needles)


# -- chroot -------------------------------------------------------------------


def test_chroot_in_the_connect_string(job, cluster, zk: KazooClient, zk_hosts: str, zk_root: str):
    service = f"chroot-{uuid.uuid4().hex[:8]}"
    cluster.deploy("svc", 2, f'[{{"serviceName": "{service}", "version": "v1"}}]')
    ips = cluster.wait_ready("app=svc", 2)
    chroot = f"{zk_root}/chroot"
    inside = ["-zkservers", f"{zk_hosts}{chroot}", "-zkpath", "/rpc_v2", "--owner-root", "/kube2zk"]

    # A dry run writes nothing, not even the missing chroot.
    proc = job(*inside, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert f"/rpc_v2/{service}" in proc.stdout
    assert zk.exists(chroot) is None

    proc = job(*inside)

    assert proc.returncode == 0, proc.stderr
    assert set(read_node(zk, f"{chroot}/rpc_v2/{service}")["servers"]) == ips
    assert zk.get_children(f"{chroot}/kube2zk/owners/default/{quote('/rpc_v2', safe='')}") == [service]
    assert zk.exists(f"/rpc_v2/{service}") is None
    assert zk.exists(f"/kube2zk/owners/default/{quote('/rpc_v2', safe='')}/{service}") is None
    # A second run finds its own nodes through the chroot.
    proc = job(*inside)
    assert proc.returncode == 0, proc.stderr
    assert "unchanged 1" in proc.stderr
