"""ZooKeeper side of the benchmark: four-letter-word counters, the raw
write/read floors and snapshots of the nodes a run must not touch."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

from helpers import four_letter
from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError

TXN_OPS = 500  # the product's MAX_TXN_OPS


def mntr(hosts: str) -> dict[str, str]:
    return dict(line.split("\t", 1) for line in four_letter(hosts, "mntr").splitlines() if "\t" in line)


def zxid(hosts: str) -> int:
    for line in four_letter(hosts, "srvr").splitlines():
        if line.startswith("Zxid:"):
            return int(line.split(":", 1)[1].strip(), 16)
    raise ValueError("no Zxid in srvr")


def version(hosts: str) -> str:
    return mntr(hosts)["zk_version"].split(",")[0].split("-")[0]


@dataclass
class Counters:
    """Requests the server handled: reads and writes (a multi counts once)."""

    reads: int
    writes: int
    packets: int
    zxid: int

    @classmethod
    def take(cls, hosts: str) -> Counters:
        m = mntr(hosts)
        return cls(
            int(m["zk_cnt_readlatency"]), int(m["zk_cnt_updatelatency"]), int(m["zk_packets_received"]), zxid(hosts)
        )

    def __sub__(self, other: Counters) -> Counters:
        return Counters(
            self.reads - other.reads, self.writes - other.writes, self.packets - other.packets, self.zxid - other.zxid
        )


def connect(hosts: str) -> KazooClient:
    zk = KazooClient(hosts=hosts, timeout=30)
    zk.start(timeout=15)
    return zk


def write_floor(zk: KazooClient, base: str, data: dict[str, bytes]) -> float:
    """Create one node per entry under ``base`` in pipelined transactions of
    TXN_OPS creates. ``base`` must exist and be empty."""
    names = sorted(data)
    started = time.perf_counter()
    pending = []
    for i in range(0, len(names), TXN_OPS):
        txn = zk.transaction()
        for name in names[i : i + TXN_OPS]:
            txn.create(f"{base}/{name}", data[name])
        pending.append(txn.commit_async())
    for result in pending:
        outcome = result.get()
        if any(isinstance(r, Exception) for r in outcome):
            raise RuntimeError(f"write floor transaction failed: {outcome[:3]}")
    return time.perf_counter() - started


def read_floor(zk: KazooClient, base: str, names: list[str]) -> float:
    """get_async for every node, then collect all answers."""
    started = time.perf_counter()
    pending = [zk.get_async(f"{base}/{name}") for name in names]
    for result in pending:
        result.get()
    return time.perf_counter() - started


def node_stats(zk: KazooClient, base: str) -> dict[str, tuple[int, int, bytes]]:
    """name -> (version, mzxid, data) of every child of ``base``, pipelined."""
    try:
        names = zk.get_children(base)
    except NoNodeError:
        return {}
    pending = [(n, zk.get_async(f"{base}/{n}")) for n in names]
    out = {}
    for name, result in pending:
        data, stat = result.get()
        out[name] = (stat.version, stat.mzxid, data)
    return out


def tree_stats(zk: KazooClient, base: str, depth: int) -> dict[str, tuple[int, int, bytes]]:
    """relative path -> (version, mzxid, data) of every node ``depth`` levels
    below ``base`` (1: its children; 2: its children's children), pipelined."""
    level = [""]
    for _ in range(depth):
        pending = [(rel, zk.get_children_async(f"{base}/{rel}".rstrip("/"))) for rel in level]
        nxt = []
        for rel, result in pending:
            with contextlib.suppress(NoNodeError):
                nxt.extend(f"{rel}/{c}".lstrip("/") for c in result.get())
        level = nxt
    got = [(rel, zk.get_async(f"{base}/{rel}")) for rel in level]
    out = {}
    for rel, result in got:
        with contextlib.suppress(NoNodeError):
            data, stat = result.get()
            out[rel] = (stat.version, stat.mzxid, data)
    return out


def delete_tree(zk: KazooClient, path: str) -> None:
    """Delete ``path`` and everything below it, leaves first, in transactions."""
    if zk.exists(path) is None:
        return
    levels: list[list[str]] = [[path]]
    while levels[-1]:
        pending = [(p, zk.get_children_async(p)) for p in levels[-1]]
        nxt = []
        for p, result in pending:
            with contextlib.suppress(NoNodeError):
                nxt.extend(f"{p}/{c}" for c in result.get())
        levels.append(nxt)
    for level in reversed(levels):
        pending = []
        for i in range(0, len(level), TXN_OPS):
            txn = zk.transaction()
            for p in level[i : i + TXN_OPS]:
                txn.delete(p)
            pending.append(txn.commit_async())
        for result in pending:
            result.get()
