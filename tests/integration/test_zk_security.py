"""ZooKeeper security on real servers: digest authentication (the credential
is never printed), the ACLs of every node kube2zk creates, TLS to a
ZooKeeper with a secure client port and a CA made here, and a chroot in the
connect string."""

from __future__ import annotations

import logging
import subprocess
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from conftest import REPO, free_port, read_node
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError
from kazoo.security import ACL, OPEN_ACL_UNSAFE, make_digest_acl

from lib.settings.options import UsageError, load_config
from lib.plan.diff import compute_plan
from lib.zk.registry import Registry
from lib.zk.connect import RegistryError, connect, disconnect

ZOOKEEPER_SH = REPO / "testbed" / "zookeeper.sh"

# Distinctive enough that a hit in any output can only be a leak; fixed, so
# that the tree of an interrupted run can still be deleted by a later one.
ALICE_PASSWORD = "alice-pw-7d1c9e04b2f3"
BOB_PASSWORD = "bob-pw-52a8f0c6e9d1"
ALICE = f"alice:{ALICE_PASSWORD}"
BOB = f"bob:{BOB_PASSWORD}"

ANNOTATION = '[{"serviceName": "sec-svc", "version": "v1"}]'


def acl_set(acls: list[ACL]) -> set[tuple[int, str, str]]:
    return {(a.perms, a.id.scheme, a.id.id) for a in acls}


ALICE_ALL = (31, "digest", make_digest_acl("alice", ALICE_PASSWORD, all=True).id.id)
WORLD_READ = (1, "world", "anyone")
WORLD_ALL = (31, "world", "anyone")
ACLS = {
    "creator-all+world-read": {ALICE_ALL, WORLD_READ},
    "creator-all": {ALICE_ALL},
    "open": {WORLD_ALL},
}


def created_paths(zk_root: str, service: str, zk_path: str | None = None) -> list[str]:
    """Every node a first sync creates under a fresh ``zk_root``."""
    zk_path = zk_path or f"{zk_root}/rpc_v2"
    owners = f"{zk_root}/kube2zk/owners"
    claims = f"{owners}/default/{quote(zk_path, safe='')}"
    return [
        zk_root,
        zk_path,
        f"{zk_path}/{service}",
        f"{zk_root}/kube2zk",
        owners,
        f"{owners}/default",
        claims,
        f"{claims}/{service}",
        f"{owners}/default/lock",
    ]


@pytest.fixture
def cleanup(zk_hosts: str, zk_root: str) -> Iterator[None]:
    """Delete the test's tree as its owners: the plain ``zk`` client may not
    delete nodes whose ACL leaves the world only READ (or nothing)."""
    yield
    admin = KazooClient(hosts=zk_hosts, timeout=10, auth_data=[("digest", ALICE), ("digest", BOB)])
    admin.start(timeout=15)
    try:
        admin.delete(zk_root, recursive=True)
    finally:
        admin.stop()
        admin.close()


@pytest.fixture
def alice(zk_hosts: str) -> Iterator[KazooClient]:
    """A client with the writer's credential. ZooKeeper shows an ACL's digest
    hash only to a client with ADMIN on the node (others see ``alice:x``)."""
    client = connect(zk_hosts, 10, auth=ALICE)
    yield client
    disconnect(client)


def assert_clean_failure(proc: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    for needle in needles:
        assert needle in proc.stderr, proc.stderr


def assert_secret_absent(*texts: str) -> None:
    for text in texts:
        assert ALICE_PASSWORD not in text
        assert BOB_PASSWORD not in text


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


def test_help_does_not_print_the_credential(job):
    proc = job("--help", env={"KUBE2ZK_ZK_AUTH": ALICE})
    assert_secret_absent(proc.stdout, proc.stderr)
    assert proc.returncode == 0, proc.stderr
    assert "--zk-auth-file" in proc.stdout and "KUBE2ZK_ZK_AUTH" in proc.stdout


def test_credential_is_not_in_the_config_repr(tmp_path: Path):
    cfg = load_config([], {"KUBE2ZK_ZK_AUTH": ALICE})
    assert cfg.zk_auth == ALICE
    assert_secret_absent(repr(cfg), str(cfg))
    auth_file = tmp_path / "zk-auth"
    auth_file.write_text(f" {BOB}\n")
    cfg = load_config(["--zk-auth-file", str(auth_file)], {"KUBE2ZK_ZK_AUTH": ALICE})
    assert cfg.zk_auth == BOB  # the file wins over the environment
    assert_secret_absent(repr(cfg))
    with pytest.raises(UsageError) as err:
        load_config([], {"KUBE2ZK_ZK_AUTH": f":{ALICE_PASSWORD}"})
    assert_secret_absent(str(err.value))


def test_kazoo_debug_log_of_the_auth_packet_is_redacted(zk_hosts: str, caplog: pytest.LogCaptureFixture):
    """kazoo logs every request it sends at DEBUG, the auth packet included."""
    caplog.set_level(logging.DEBUG, logger="kazoo")
    zk = connect(zk_hosts, 10, auth=ALICE)
    disconnect(zk)
    auth_lines = [r.getMessage() for r in caplog.records if "Auth(" in r.getMessage()]
    assert auth_lines, "kazoo no longer logs the auth request: the check below proves nothing"
    assert all("auth='***'" in line for line in auth_lines), auth_lines
    assert_secret_absent(caplog.text)


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
    alice.create(f"{zk_root}/bob-owner", b"", acl=OPEN_ACL_UNSAFE)
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


@pytest.mark.parametrize("mode", ["auto", "creator-all+world-read", "creator-all", "open"])
def test_every_created_node_gets_the_configured_acl(
    mode: str, alice: KazooClient, zk_hosts: str, zk_root: str, cleanup
):
    """The same through the library: base path, its missing parents, service
    node, ownership records and the writer lock's nodes."""
    from lib.zk.lock import Leadership, lock_path

    writer = connect(zk_hosts, 10, auth=ALICE, acl_mode=mode)
    try:
        leadership = Leadership(writer, lock_path(f"{zk_root}/kube2zk", "default"))
        assert leadership.acquire(threading.Event(), timeout=10)
        registry = Registry(writer, f"{zk_root}/rpc_v2", f"{zk_root}/kube2zk", "default")
        registry.fence = leadership.fence
        registry.prepare()
        desired = {"sec-svc": b'{"config":[],"servers":["10.0.0.1"]}'}
        plan = compute_plan(desired, registry.read(desired), "default")
        result = registry.apply(plan.changes, desired)
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


def test_acl_without_credential():
    with pytest.raises(RegistryError, match="needs a ZooKeeper credential"):
        connect("127.0.0.1:1", 1, acl_mode="creator-all")


# -- TLS ----------------------------------------------------------------------


def openssl(*args: str, cwd: Path) -> None:
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"openssl {' '.join(args)}:\n{proc.stderr}"


def make_ca(directory: Path, name: str) -> None:
    openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2", "-subj", f"/CN=kube2zk test {name}",
        cwd=directory,
    )  # fmt: skip


def make_cert(directory: Path, name: str, ca: str, extensions: str) -> None:
    """``name``.pem and an unencrypted PKCS#8 ``name``.key signed by ``ca``."""
    openssl(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}",
        cwd=directory,
    )  # fmt: skip
    (directory / f"{name}.ext").write_text(extensions)
    openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key", "-CAcreateserial",
        "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext",
        cwd=directory,
    )  # fmt: skip


@dataclass(frozen=True)
class TlsZooKeeper:
    name: str
    port: int  # plain, for the test's own reads
    secure_port: int
    certs: Path

    def file(self, name: str) -> str:
        return str(self.certs / name)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ca.pem signs the server (named localhost only) and the client;
    other-ca.pem signs nothing the server knows."""
    directory = tmp_path_factory.mktemp("zk-tls")
    make_ca(directory, "ca")
    make_ca(directory, "other-ca")
    make_cert(directory, "server", "ca", "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n")
    make_cert(directory, "client", "ca", "extendedKeyUsage=clientAuth\n")
    make_cert(directory, "rogue-client", "other-ca", "extendedKeyUsage=clientAuth\n")
    return directory


def zookeeper_sh(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(ZOOKEEPER_SH), *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def tls_zk(certs: Path) -> Iterator[TlsZooKeeper]:
    """Our own ZooKeeper with a TLS client port that requires client certificates."""
    name = f"tls-{uuid.uuid4().hex[:8]}"
    port = free_port()
    secure_port = free_port()
    while secure_port == port:
        secure_port = free_port()
    proc = zookeeper_sh("start-tls", name, str(port), str(secure_port), str(certs))
    try:
        assert proc.returncode == 0, proc.stderr
        yield TlsZooKeeper(name, port, secure_port, certs)
    finally:
        zookeeper_sh("stop", name)


def tls_args(tls_zk: TlsZooKeeper, host: str = "localhost", *, ca: str = "ca.pem", client: str = "client") -> list[str]:
    args = ["-zkservers", f"{host}:{tls_zk.secure_port}", "--zk-timeout", "3s"]
    if ca:
        args += ["--zk-ca-file", tls_zk.file(ca)]
    else:
        args += ["--zk-tls"]
    if client:
        args += ["--zk-cert-file", tls_zk.file(f"{client}.pem"), "--zk-key-file", tls_zk.file(f"{client}.key")]
    return args


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
        proc = job(*tls_args(tls_zk), "-zkpath", f"{zk_root}/rpc_auth", env={"KUBE2ZK_ZK_AUTH": ALICE})
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
