"""The options of ZooKeeper authentication, ACLs and TLS."""

from __future__ import annotations

from lib.settings import values as v
from lib.settings.groups import ZkSettings
from lib.settings.spec import Option

ACL_MODES = ("auto", "creator-all+world-read", "creator-all", "open")

SECURITY_OPTIONS: tuple[Option, ...] = (
    Option(
        ZkSettings,
        "auth_file",
        "zk-auth-file",
        "KUBE2ZK_ZK_AUTH_FILE",
        "",
        str,
        "file holding user:password for ZooKeeper digest auth (or set KUBE2ZK_ZK_AUTH itself)",
    ),
    Option(
        ZkSettings,
        "acl",
        "zk-acl",
        "KUBE2ZK_ZK_ACL",
        "auto",
        v.choice(*ACL_MODES),
        "ACL of the nodes kube2zk creates; auto: creator-all+world-read when authenticated, else open",
    ),
    Option(
        ZkSettings,
        "tls",
        "zk-tls",
        "KUBE2ZK_ZK_TLS",
        "false",
        v.parse_bool,
        "connect to ZooKeeper over TLS (implied by --zk-ca-file)",
        is_bool=True,
    ),
    Option(ZkSettings, "ca_file", "zk-ca-file", "KUBE2ZK_ZK_CA_FILE", "", str, "CA bundle (PEM) to verify ZooKeeper"),
    Option(
        ZkSettings, "cert_file", "zk-cert-file", "KUBE2ZK_ZK_CERT_FILE", "", str, "client certificate (PEM) for TLS"
    ),
    Option(ZkSettings, "key_file", "zk-key-file", "KUBE2ZK_ZK_KEY_FILE", "", str, "client key (PEM) for TLS"),
)
