"""What can go wrong on the ZooKeeper side, as the rest of kube2zk sees it."""

from __future__ import annotations


class RegistryError(Exception):
    """ZooKeeper could not be reached or failed as a whole (exit 4)."""


class RegistrySetupError(RegistryError):
    """A configuration or permission problem (credential, ACL, TLS files):
    retrying will not fix it, so --loop gives up too."""


class RegistryTimeout(RegistryError):
    """A ZooKeeper call did not complete within -zk-timeout (the server is
    down, frozen or unreachable); nothing waits longer than that."""


class LeadershipLost(RegistryError):
    """The writer lock's node is gone: another process may be writing now."""
