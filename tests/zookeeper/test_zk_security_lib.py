"""ZooKeeper security through the library and testbed/zookeeper.sh, on real
ZooKeeper servers and no Kubernetes: the auth packet is redacted from kazoo's
log, every created node gets the configured ACL, TLS with client
certificates, unusable TLS files, a missing chroot. (Runs of the job are in
tests/kubernetes/test_zk_security.py.)"""

from __future__ import annotations

import logging
import subprocess
import threading
import uuid
from pathlib import Path

import pytest
from helpers import zookeeper_sh
from helpers.zk_security import (
    ACLS,
    ALICE,
    ALICE_ALL,
    WORLD_READ,
    TlsZooKeeper,
    acl_set,
    assert_secret_absent,
    connect,
    created_paths,
    openssl,
)
from kazoo.client import KazooClient

from lib.model import Paths
from lib.plan.diff import compute_plan
from lib.zk.connect import disconnect
from lib.zk.errors import RegistryError
from lib.zk.lock import Leadership
from lib.zk.registry import Registry


def test_kazoo_debug_log_of_the_auth_packet_is_redacted(zk_hosts: str, caplog: pytest.LogCaptureFixture):
    """kazoo logs every request it sends at DEBUG, the auth packet included."""
    caplog.set_level(logging.DEBUG, logger="kazoo")
    zk = connect(zk_hosts, 10, auth=ALICE)
    disconnect(zk)
    auth_lines = [r.getMessage() for r in caplog.records if "Auth(" in r.getMessage()]
    assert auth_lines, "kazoo no longer logs the auth request: the check below proves nothing"
    assert all("auth='***'" in line for line in auth_lines), auth_lines
    assert_secret_absent(caplog.text)


@pytest.mark.parametrize("mode", ["auto", "creator-all+world-read", "creator-all", "open"])
def test_every_created_node_gets_the_configured_acl(
    mode: str, alice: KazooClient, zk_hosts: str, zk_root: str, cleanup
):
    """The same through the library: base path, its missing parents, service
    node, ownership records and the writer lock's nodes."""
    writer = connect(zk_hosts, 10, auth=ALICE, acl_mode=mode)
    try:
        paths = Paths(f"{zk_root}/rpc_v2", f"{zk_root}/kube2zk", "default")
        leadership = Leadership(writer, paths.lock, timeout=10)
        assert leadership.acquire(threading.Event(), timeout=10)
        registry = Registry(writer, paths, timeout=10, fence=lambda: leadership.fence)
        registry.prepare([paths.zk_path])
        desired = {paths.service("sec-svc"): b'{"config":[],"servers":["10.0.0.1"]}'}
        plan = compute_plan(desired, registry.read([paths.zk_path], desired), "default")
        result = registry.apply(plan.changes)
        assert not result.failed and len(result.applied) == 1
        expected = ACLS["creator-all+world-read" if mode == "auto" else mode]
        for path in created_paths(zk_root, "sec-svc"):
            assert acl_set(alice.get_acls(path)[0]) == expected, path
        lock_nodes = alice.get_children(f"{zk_root}/kube2zk/owners/default/lock")
        assert lock_nodes
        for name in lock_nodes:
            assert acl_set(alice.get_acls(f"{zk_root}/kube2zk/owners/default/lock/{name}")[0]) == expected
        leadership.release()
    finally:
        disconnect(writer)


def test_zookeeper_sh_start_tls_serves_tls_on_the_secure_port(tls_zk: TlsZooKeeper):
    assert zookeeper_sh("status", tls_zk.name).returncode == 0
    status = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{tls_zk.secure_port}", "-CAfile", tls_zk.file("ca.pem"),
         "-cert", tls_zk.file("client.pem"), "-key", tls_zk.file("client.key"), "-verify_return_error"],
        input="", capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert "Verify return code: 0 (ok)" in status.stdout, status.stdout + status.stderr


def test_library_connects_over_tls_with_a_client_certificate(tls_zk: TlsZooKeeper):
    zk = connect(
        f"localhost:{tls_zk.secure_port}",
        10,
        ca_file=tls_zk.file("ca.pem"),
        cert_file=tls_zk.file("client.pem"),
        key_file=tls_zk.file("client.key"),
    )
    try:
        assert zk.use_ssl
        path = f"/lib-{uuid.uuid4().hex[:8]}"
        zk.create(path, b"over tls")
        plain = KazooClient(hosts=f"127.0.0.1:{tls_zk.port}", timeout=10)
        plain.start(timeout=15)
        try:
            assert plain.get(path)[0] == b"over tls"
        finally:
            plain.stop()
            plain.close()
    finally:
        disconnect(zk)


def test_unusable_tls_files_fail_at_once(tls_zk: TlsZooKeeper, tmp_path: Path):
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("not a certificate\n")
    hosts = f"localhost:{tls_zk.secure_port}"
    with pytest.raises(RegistryError, match=r"--zk-ca-file .*not a usable PEM CA bundle"):
        connect(hosts, 10, tls=True, ca_file=str(not_pem))
    with pytest.raises(RegistryError, match="not a usable PEM certificate and matching key"):
        connect(hosts, 10, ca_file=tls_zk.file("ca.pem"), cert_file=tls_zk.file("client.pem"), key_file=str(not_pem))
    with pytest.raises(RegistryError, match="not a usable PEM certificate and matching key"):
        connect(
            hosts,
            10,
            ca_file=tls_zk.file("ca.pem"),
            cert_file=tls_zk.file("client.pem"),
            key_file=tls_zk.file("rogue-client.key"),
        )
    encrypted = tmp_path / "encrypted.key"
    openssl(
        "pkcs8", "-topk8", "-in", tls_zk.file("client.key"), "-out", str(encrypted), "-passout", "pass:secret",
        cwd=tmp_path,
    )  # fmt: skip
    with pytest.raises(RegistryError, match="encrypted keys are not supported"):
        connect(hosts, 10, ca_file=tls_zk.file("ca.pem"), cert_file=tls_zk.file("client.pem"), key_file=str(encrypted))


def test_missing_chroot_is_created_with_the_node_acl_or_refused_cleanly(
    alice: KazooClient, zk_hosts: str, zk_root: str, cleanup
):
    writer = connect(f"{zk_hosts}{zk_root}/chroot", 10, auth=ALICE)
    try:
        writer.ensure_path("/rpc_v2")
    finally:
        disconnect(writer)
    for path in (zk_root, f"{zk_root}/chroot", f"{zk_root}/chroot/rpc_v2"):
        assert acl_set(alice.get_acls(path)[0]) == {ALICE_ALL, WORLD_READ}, path
    # Without the credential nothing may be created under alice's tree.
    with pytest.raises(RegistryError, match=f"chroot {zk_root}/chroot/inner does not exist and this client may not"):
        connect(f"{zk_hosts}{zk_root}/chroot/inner", 10)
    assert alice.exists(f"{zk_root}/chroot/inner") is None
