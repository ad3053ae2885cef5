"""Connecting to ZooKeeper: bounded waits, digest auth, ACLs and TLS.

Failures to connect are a ``RegistryError`` whose message says why the last
attempt failed (refused, TLS verification, ...), never a bare time-out. The
digest credential never reaches a log line or an error message.
"""

from __future__ import annotations

import logging
import re
import ssl
import threading
import time
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException, NoAuthError
from kazoo.protocol.states import KeeperState
from kazoo.retry import KazooRetry
from kazoo.security import ACL, CREATOR_ALL_ACL, OPEN_ACL_UNSAFE, READ_ACL_UNSAFE

from lib.settings.groups import ZkSettings
from lib.zk.calls import bound_waits
from lib.zk.errors import RegistryError, RegistrySetupError

log = logging.getLogger(__name__)

# The node ACL of each mode; the settings layer has already resolved "auto"
# and refused a credential-bound mode without a credential.
_NODE_ACLS: dict[str, list[ACL]] = {
    "open": list(OPEN_ACL_UNSAFE),
    "creator-all": list(CREATOR_ALL_ACL),
    # Consumers read the service nodes without credentials.
    "creator-all+world-read": list(CREATOR_ALL_ACL) + list(READ_ACL_UNSAFE),
}

# How long disconnect() waits for ZooKeeper to confirm the session's end.
CLOSE_WAIT = 2.0


def node_acl(mode: str) -> list[ACL]:
    """The ACL of every node kube2zk creates, for a resolved ``-zk-acl``."""
    return list(_NODE_ACLS[mode])


class _KazooLog(logging.LoggerAdapter):
    """kazoo's logger for one client.

    Redacts the credential (kazoo logs every request it sends at DEBUG,
    including the auth packet) and keeps the reason the last connection
    attempt failed, which kazoo only logs, for the error message.
    """

    def __init__(self, logger: logging.Logger, secrets: list[str]):
        super().__init__(logger, {})
        self.secrets = [s for s in secrets if s]
        self.last_error: str | None = None

    def log(self, level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
        if isinstance(msg, str) and msg.startswith(("Connection dropped", "Connection time-out")) and args:
            self.last_error = self._redact(str(args[0]))
        if not self.isEnabledFor(level):
            return
        if self.secrets:
            try:
                text = str(msg) % args if args else str(msg)
            except (TypeError, ValueError):
                text = " ".join(str(part) for part in (msg, *args))
            msg, args = self._redact(text), ()
        self.logger.log(level, msg, *args, **kwargs)

    def warn(self, msg: Any, *args: Any, **kwargs: Any) -> None:  # kazoo still calls the old name
        self.log(logging.WARNING, msg, *args, **kwargs)

    def _redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


class _EncryptedKey(Exception):
    pass


def _no_password() -> str:
    # Without a callback OpenSSL would prompt on the terminal for the pass phrase.
    raise _EncryptedKey


def _check_tls_files(ca_file: str, cert_file: str, key_file: str) -> None:
    """Load the TLS files once up front: a bad file is a configuration error
    to report at once, not a handshake to retry until the time-out."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca_file:
        try:
            context.load_verify_locations(cafile=ca_file)
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise RegistrySetupError(
                f"--zk-ca-file {ca_file}: not a usable PEM CA bundle: {_ssl_reason(exc)}"
            ) from None
    if cert_file:
        try:
            context.load_cert_chain(certfile=cert_file, keyfile=key_file or None, password=_no_password)
        except _EncryptedKey:
            raise RegistrySetupError(
                f"--zk-key-file {key_file or cert_file}: encrypted keys are not supported"
            ) from None
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise RegistrySetupError(
                f"--zk-cert-file {cert_file} / --zk-key-file {key_file}: not a usable PEM certificate and "
                f"matching key: {_ssl_reason(exc)}"
            ) from None


def _ssl_reason(exc: BaseException) -> str:
    return getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _failure_hint(error: str | None, tls: bool) -> str:
    if not error:
        return "no answer"
    error = re.sub(r" \(_ssl\.c:\d+\)", "", error.removeprefix("socket connection error: "))
    if "CERTIFICATE_VERIFY_FAILED" in error:
        return f"TLS: the server's certificate was rejected ({error}); check --zk-ca-file and the server name"
    if "SSL" in error or "TLS" in error:
        return f"TLS handshake failed ({error}); check the TLS port and --zk-cert-file/--zk-key-file"
    if not tls and "connection broken" in error:
        return f"{error}; if this is a TLS port, connect with --zk-tls or --zk-ca-file"
    return error


def _create_chroot(zk: KazooClient, acl: list[ACL]) -> None:
    """Create the connect string's chroot when it is missing.

    kazoo prefixes every path with the chroot; the chroot itself is created
    with the prefix switched off, before the client is handed to anyone.
    """
    chroot = zk.chroot
    if not chroot:
        return
    try:
        if zk.exists("/") is not None:
            return
        zk.chroot = ""
        zk.ensure_path(chroot, acl=acl)
    except NoAuthError:
        raise RegistrySetupError(f"chroot {chroot} does not exist and this client may not create it") from None
    except KazooException as exc:
        raise RegistryError(f"chroot {chroot}: cannot check or create it: {type(exc).__name__}") from None
    finally:
        zk.chroot = chroot
    log.info("created the chroot %s", chroot)


def connect(settings: ZkSettings, *, create_chroot: bool = True) -> KazooClient:
    """A started KazooClient whose every wait is bounded by ``settings.timeout``
    (``lib.zk.calls``), or RegistryError after that long.

    The client's default ACL is the node ACL, so every create (including the
    parents ``ensure_path`` makes and the writer lock's nodes) gets it. A
    chroot in ``settings.servers`` (``host:port/chroot``) is applied by kazoo;
    a missing one is created with the node ACL unless ``create_chroot`` is
    false (a dry run, which must not write).

    TLS verifies the server's certificate against the CA file (and the system
    store) and its name against the host in ``settings.servers``, as
    ZooKeeper's Java client does by default.
    """
    hosts, timeout, auth = settings.servers, settings.timeout, settings.auth
    acl = node_acl(settings.acl)
    if settings.tls:
        _check_tls_files(settings.ca_file, settings.cert_file, settings.key_file)
    # The whole credential, and the password alone unless it is so short that
    # masking it would garble ordinary text.
    secrets = [auth, *[p for p in [auth.partition(":")[2]] if len(p) >= 4]] if auth else []
    kazoo_log = _KazooLog(logging.getLogger("kazoo"), secrets)
    zk = KazooClient(
        hosts=hosts,
        timeout=min(max(timeout, 4.0), 30.0),
        connection_retry=KazooRetry(max_tries=-1, max_delay=2.0),
        # zk.retry(...) rides out a connection loss (a server restart, a
        # leader election) for as long as a connect may take, then gives up.
        command_retry=KazooRetry(max_tries=-1, max_delay=2.0, deadline=timeout, ignore_expire=False),
        logger=kazoo_log,
        auth_data=[("digest", auth)] if auth else None,
        default_acl=acl,
        use_ssl=settings.tls,
        ca=settings.ca_file or None,
        certfile=settings.cert_file or None,
        keyfile=(settings.key_file or settings.cert_file) or None,
        verify_certs=True,
        check_hostname=settings.tls,
    )
    connected = zk.start_async()
    deadline = time.monotonic() + timeout
    while not connected.wait(min(0.2, max(0.0, deadline - time.monotonic()))):
        if zk.client_state == KeeperState.AUTH_FAILED or time.monotonic() >= deadline:
            break
    if not zk.connected:
        auth_failed = zk.client_state == KeeperState.AUTH_FAILED
        disconnect(zk)
        if auth_failed:
            raise RegistrySetupError(f"ZooKeeper at {hosts} rejected the credential (AUTH_FAILED)")
        reason = _failure_hint(kazoo_log.last_error, settings.tls)
        raise RegistryError(f"cannot reach ZooKeeper at {hosts} within {timeout:g}s: {reason}")
    bound_waits(zk, timeout)
    if create_chroot:
        try:
            _create_chroot(zk, acl)
        except BaseException:
            disconnect(zk)
            raise
    return zk


def disconnect(zk: KazooClient, wait: float = CLOSE_WAIT) -> None:
    """End the session, waiting at most ``wait`` seconds for ZooKeeper.

    A confirmed close removes our ephemeral nodes (the writer lock) at once,
    so a standby takes over without waiting for the session to expire. kazoo's
    stop() waits for that confirmation until its heartbeat gives up on a
    silent server (2/3 of the session timeout); past ``wait`` the session is
    left to expire on the server, which ends it the same way.
    """
    closer = threading.Thread(target=_stop, args=(zk,), name="zk-close", daemon=True)
    closer.start()
    closer.join(wait)
    if closer.is_alive():
        log.warning("ZooKeeper did not confirm the end of the session within %gs; it expires on the server", wait)


def _stop(zk: KazooClient) -> None:
    try:
        zk.stop()
    except KazooException as exc:  # its connection thread outlived kazoo's own wait
        log.debug("stopping the ZooKeeper client: %s", exc)
    finally:
        zk.close()
