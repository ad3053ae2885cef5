"""Connecting to ZooKeeper: bounded wait, digest auth, ACLs and TLS."""

from __future__ import annotations

import logging

from kazoo.client import KazooClient
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.retry import KazooRetry
from kazoo.security import ACL, CREATOR_ALL_ACL, OPEN_ACL_UNSAFE, READ_ACL_UNSAFE

from lib.config import Config

log = logging.getLogger(__name__)


class RegistryError(Exception):
    """ZooKeeper could not be reached or failed as a whole."""


def node_acl(mode: str, authenticated: bool) -> list[ACL]:
    """The ACL of every node kube2zk creates.

    Consumers read the service nodes without credentials, so the default for
    an authenticated writer is all rights for itself and read for the world;
    without a credential only the original's world-open ACL can work.
    """
    if mode == "auto":
        mode = "creator-all+world-read" if authenticated else "open"
    if mode == "open":
        return list(OPEN_ACL_UNSAFE)
    if not authenticated:
        raise RegistryError(f"ACL {mode!r} needs a ZooKeeper credential (KUBE2ZK_ZK_AUTH or --zk-auth-file)")
    if mode == "creator-all":
        return list(CREATOR_ALL_ACL)
    return list(CREATOR_ALL_ACL) + list(READ_ACL_UNSAFE)


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
    """A started KazooClient, or RegistryError after ``timeout`` seconds.

    The client's default ACL is the node ACL, so every create (including the
    parents ``ensure_path`` makes) gets it. A chroot in ``hosts``
    (``host:port/chroot``) is handled by kazoo.
    """
    acl = node_acl(acl_mode, auth is not None)
    zk = KazooClient(
        hosts=hosts,
        timeout=min(max(timeout, 4.0), 30.0),
        connection_retry=KazooRetry(max_tries=-1, max_delay=2.0),
        command_retry=KazooRetry(max_tries=3, max_delay=1.0),
        logger=logging.getLogger("kazoo"),
        auth_data=[("digest", auth)] if auth else None,
        default_acl=acl,
        use_ssl=tls,
        ca=ca_file or None,
        certfile=cert_file or None,
        keyfile=key_file or None,
        verify_certs=True,
    )
    try:
        zk.start(timeout=timeout)
    except (KazooTimeoutError, OSError) as exc:
        zk.stop()
        zk.close()
        raise RegistryError(f"cannot reach ZooKeeper at {hosts} within {timeout:g}s: {exc}") from exc
    return zk


def connect_config(cfg: Config) -> KazooClient:
    return connect(
        cfg.zk_servers,
        cfg.zk_timeout,
        auth=cfg.zk_auth,
        acl_mode=cfg.zk_acl,
        tls=cfg.zk_tls,
        ca_file=cfg.zk_ca_file,
        cert_file=cfg.zk_cert_file,
        key_file=cfg.zk_key_file,
    )


def disconnect(zk: KazooClient) -> None:
    try:
        zk.stop()
    finally:
        zk.close()
