"""The Prometheus metrics of ``--loop``, in a registry of their own (tests
run several processes' worth side by side)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.sync_duration = Histogram(
            "kube2zk_sync_duration_seconds",
            "Duration of syncs to ZooKeeper",
            ["kind"],
            registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
        )
        self.last_success = Gauge(
            "kube2zk_last_successful_sync_timestamp_seconds",
            "Unix time of the last successful sync",
            ["kind"],
            registry=r,
        )
        self.services = Gauge("kube2zk_services_registered", "Services registered in ZooKeeper", registry=r)
        self.servers = Gauge("kube2zk_servers_registered", "Server addresses registered, over all services", registry=r)
        self.zk_ops = Counter(
            "kube2zk_zookeeper_operations_total", "ZooKeeper writes by kind and result", ["op", "result"], registry=r
        )
        self.invalid = Gauge("kube2zk_invalid_annotations", "Pods with an invalid rpc-service annotation", registry=r)
        self.watch_restarts = Counter(
            "kube2zk_watch_restarts_total", "Watch streams restarted, by reason", ["reason"], registry=r
        )
        self.leader = Gauge("kube2zk_leader", "1 while this process holds the writer lock", registry=r)
        self.deletions_held = Gauge(
            "kube2zk_deletions_held", "Deletions held back by the deletion budget right now", registry=r
        )
        self.not_owned = Gauge(
            "kube2zk_services_not_owned",
            "Declared services whose node exists but is owned by no kube2zk (migration without -adopt)",
            registry=r,
        )
        self.stale_owners = Gauge(
            "kube2zk_owners_stale",
            "Other installations sharing this ZooKeeper whose writer is gone (as of the last full sync)",
            registry=r,
        )
        self.failing = Gauge(
            "kube2zk_services_failing", "Services whose last write failed and are retried with backoff", registry=r
        )
