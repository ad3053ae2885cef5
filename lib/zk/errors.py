"""What can go wrong on the ZooKeeper side, as the rest of kube2zk sees it."""

from __future__ import annotations

from kazoo.exceptions import ConnectionLoss


class RegistryError(Exception):
    """ZooKeeper could not be reached or failed as a whole (exit 4)."""


class RegistrySetupError(RegistryError):
    """A configuration or permission problem (credential, ACL, TLS files):
    retrying will not fix it, so --loop gives up too."""


class RegistryTimeout(RegistryError):
    """A ZooKeeper call did not complete within -zk-timeout (the server is
    down, frozen or unreachable); nothing waits longer than that."""


class ZooKeeperUnreachable(ConnectionLoss, RegistryTimeout):
    """A request kazoo held back while reconnecting, failed because ZooKeeper
    had been unreachable for longer than -zk-timeout (``lib.zk.calls``).

    Raised inside kazoo's own code too (its retries, the lock recipe), hence
    a ``ConnectionLoss``: kazoo retries it within its deadline and cleans up
    as after any connection loss. Being a ``RegistryTimeout`` as well, it
    ends a run with exit 4 wherever it surfaces.
    """


class LeadershipLost(RegistryError):
    """The writer lock's node is gone: another process may be writing now."""
