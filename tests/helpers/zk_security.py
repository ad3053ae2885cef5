"""Credentials, ACLs and TLS material of the ZooKeeper security tests (the
ZooKeeper tier's and the Kubernetes tier's): constants, checks and fixtures.
A tier's conftest imports the fixtures to offer them."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from kazoo.client import KazooClient
from kazoo.security import ACL, make_digest_acl

from lib.settings import load_settings
from lib.zk.connect import connect as zk_connect
from lib.zk.connect import disconnect

from .common import free_port
from .zookeeper import zookeeper_sh

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


def connect(
    hosts: str,
    timeout: float,
    *,
    auth: str | None = None,
    acl_mode: str = "auto",
    tls: bool = False,
    ca_file: str = "",
    cert_file: str = "",
    key_file: str = "",
) -> KazooClient:
    """kube2zk's own connection, configured exactly as its flags configure it."""
    argv = ["-zkservers", hosts, "-zk-timeout", f"{timeout:g}s", "-zk-acl", acl_mode]
    if tls:
        argv.append("-zk-tls")
    for flag, value in (("-zk-ca-file", ca_file), ("-zk-cert-file", cert_file), ("-zk-key-file", key_file)):
        if value:
            argv += [flag, value]
    settings = load_settings(argv, {"KUBE2ZK_ZK_AUTH": auth} if auth else {})
    return zk_connect(settings.zk)


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
