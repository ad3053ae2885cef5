"""Settings grouped by the concern that reads them; each group is complete
and valid once built, so no later stage re-checks a value.

Every stage takes only the group it needs: the Kubernetes client takes
``KubeSettings``, the ZooKeeper connection ``ZkSettings``, and so on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lib.desired.policy import OPEN, ClaimPolicy

# The original daemon's config lines: the default of -node-config.
DEFAULT_CONFIG: tuple[str, ...] = (
    "zone kg 8M",
    "kg_round_robin broken_tries=2 health_checks=5 max_uri_slots=0",
    "keepalive 32",
)


SPRING_PAYLOAD = "org.springframework.cloud.zookeeper.discovery.ZookeeperInstance"


@dataclass(frozen=True)
class DeletionBudget:
    """How many owned nodes may be deleted per budget window: the larger of a
    count and a fraction of the nodes owned. Above it every deletion is held,
    since a mass wipe is far likelier a wrong list (a namespace typo, a label
    change, a partial answer) than a real mass shutdown."""

    count: int = 5
    fraction: float = 0.10

    def limit(self, owned: int) -> int:
        return max(self.count, int(self.fraction * owned))

    def allows(self, deletions: int, owned: int) -> bool:
        return deletions <= self.limit(owned)

    def __str__(self) -> str:
        return f"{self.count},{self.fraction * 100:g}%"


@dataclass(frozen=True)
class KubeSettings:
    """How to reach the API server and what to read from it."""

    kubeconfig: str | None = None  # None: in-cluster, else ~/.kube/config
    namespace: str = ""  # "" is every namespace
    timeout: float = 30.0  # each API request
    page_size: int = 2000
    events: bool = True  # post Events on pods with bad annotations


@dataclass(frozen=True)
class ZkSettings:
    """How to reach ZooKeeper. ``acl`` is already resolved from ``auto``."""

    servers: str = "127.0.0.1:2181"
    timeout: float = 15.0  # bounds every wait on ZooKeeper
    acl: str = "open"  # "open", "creator-all" or "creator-all+world-read"
    tls: bool = False
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    auth_file: str = ""  # where ``auth`` was read from, if from a file
    # user:password for digest auth, from KUBE2ZK_ZK_AUTH or -zk-auth-file;
    # never a flag (process arguments are world-readable).
    auth: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class SyncSettings:
    """What one sync makes ZooKeeper hold, and the safety rules it obeys."""

    zk_path: str = "/rpc_v2"
    owner_id: str = "default"
    owner_root: str = "/kube2zk"
    node_config: tuple[str, ...] = DEFAULT_CONFIG
    enforce_config: bool = False  # overwrite a node's existing config lines too
    adopt: bool = False
    strict: bool = False
    dry_run: bool = False
    mock_registry: bool = False
    max_deletions: DeletionBudget = DeletionBudget()
    force_deletions: bool = False
    claim_policy: ClaimPolicy = OPEN
    layouts: tuple[str, ...] = ("seed",)
    curator_path: str = "/services"
    curator_payload: str = SPRING_PAYLOAD  # "" writes no payload
    dubbo_root: str = "/dubbo"
    claim_policy_file: str = ""  # where ``claim_policy`` was loaded from; "" when open by default
    lock_timeout: float = 30.0
    owner_stale_after: float = 600.0  # no lock holder and no finished sync for this long: stale
    reap_after: float = 0.0  # 0: never remove a stale owner's contributions
    reap_owners: tuple[str, ...] = ()  # owners the reap command names


@dataclass(frozen=True)
class LoopSettings:
    """``--loop`` only."""

    enabled: bool = False
    sync_period: float = 3600.0
    watch_timeout: float = 5.0
    batch_window: float = 0.05
    burst_interval: float = 2.0
    metrics_host: str = ""  # "" listens on every address
    metrics_port: int | None = 8080  # None: no HTTP endpoint


@dataclass(frozen=True)
class OutputSettings:
    output: str = "text"  # printed service maps and plans: text or json
    log_format: str = "text"
    log_level: str = "info"


@dataclass(frozen=True)
class Settings:
    kube: KubeSettings = KubeSettings()
    zk: ZkSettings = ZkSettings()
    sync: SyncSettings = SyncSettings()
    loop: LoopSettings = LoopSettings()
    output: OutputSettings = OutputSettings()
