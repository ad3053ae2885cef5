"""Refuse to write where an ACL cannot protect what kube2zk writes.

ZooKeeper checks CREATE and DELETE on a node's parent. Under a base path that
the world may create and delete children of (the original daemon's
``world:anyone:cdrwa`` ``/rpc_v2``), anyone can delete a kube2zk node and
create their own in its place, whatever ACL kube2zk gave it. So when a
credential is set (the user asked for protection), a world-open base path or
ownership folder is a setup error, with the ``setAcl`` that fixes it.
"""

from __future__ import annotations

from collections.abc import Iterable

from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError
from kazoo.security import Permissions

from lib.zk.calls import result
from lib.zk.errors import RegistrySetupError

_OPEN_CHILDREN = Permissions.CREATE | Permissions.DELETE


def check_parents(zk: KazooClient, folders: Iterable[str], timeout: float) -> None:
    """Raise RegistrySetupError naming the first folder whose children the
    world may create or delete; folders that do not exist yet are fine
    (kube2zk creates them with its own ACL)."""
    pending = [(path, zk.get_acls_async(path)) for path in folders]
    for path, pending_acls in pending:
        try:
            acls, _ = result(pending_acls, timeout)
        except NoNodeError:
            continue
        for acl in acls:
            if acl.id.scheme == "world" and acl.id.id == "anyone" and acl.perms & _OPEN_CHILDREN:
                raise RegistrySetupError(
                    f"{path} lets world:anyone create and delete its children, so anyone could replace the "
                    "nodes kube2zk writes there whatever their ACL; restrict it first, e.g. in zkCli.sh "
                    f"(authenticated as the kube2zk credential): setAcl {path} auth::cdrwa,world:anyone:r"
                )
