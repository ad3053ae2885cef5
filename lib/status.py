"""The ``status`` command: who holds what in ZooKeeper, read only.

Per installation (owner): whether a writer of it is live, when it last
finished a sync and how, what its deletion budget holds and which declared
services it found owned by nobody. Per service: the servers its node lists
and each owner's contribution, or the instance nodes of each owner, and the
nodes no kube2zk owns. Attention is called to stale owners, held deletions
and unowned nodes that shadow declared services; the exit status says so
too, so the command fits a check in a script or a probe.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lib.layouts import Layouts
from lib.model import Current, OwnerState
from lib.plan.owners import judge
from lib.plan.shares import contribution, vouches_for
from lib.settings.groups import SyncSettings
from lib.zk.registry import Registry

# Exit statuses, as a run's: held deletions (6) before a stale owner (1)
# before an unowned node shadowing a declared service (7).
HELD, STALE, NOT_OWNED = 6, 1, 7


@dataclass
class ServiceStatus:
    layout: str
    service: str
    path: str
    servers: list[str] = field(default_factory=list)  # what the node lists (seed)
    owners: dict[str, list[str]] = field(default_factory=dict)  # owner -> its servers or instance nodes
    unowned: list[str] = field(default_factory=list)  # nodes (or the node) no kube2zk vouches for


@dataclass
class Status:
    owners: list[dict[str, Any]] = field(default_factory=list)
    services: list[ServiceStatus] = field(default_factory=list)
    attention: list[str] = field(default_factory=list)
    exit_code: int = 0

    def document(self) -> dict[str, Any]:
        return {
            "owners": self.owners,
            "services": [vars(s) for s in self.services],
            "attention": self.attention,
            "exit": self.exit_code,
        }

    def lines(self) -> list[str]:
        out = ["owners:"]
        for o in self.owners:
            state = "live" if o["live"] else ("STALE" if o["stale"] else "idle")
            last = _ago(o["lastSync"], o["now"])
            out.append(
                f"  {o['owner']}: {state}; last sync {last} (exit {o['exit']}), last success "
                f"{_ago(o['lastSuccess'], o['now'])}; held {len(o['held'])}; not owned {len(o['notOwned'])}"
            )
        for s in self.services:
            shares = "; ".join(f"{owner}: {', '.join(items)}" for owner, items in sorted(s.owners.items()))
            unowned = f"; not owned by kube2zk: {', '.join(s.unowned)}" if s.unowned else ""
            listed = f" [{', '.join(s.servers)}]" if s.layout == "seed" else ""
            out.append(f"{s.layout} {s.service}{listed}: {shares or '-'}{unowned}")
        out += [f"attention: {a}" for a in self.attention] or ["attention: none"]
        return out


def _ago(at: float | None, now: float) -> str:
    if at is None:
        return "never"
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
    return f"{stamp} ({max(0, round(now - at))}s ago)"


def collect(registry: Registry, layout: Layouts, settings: SyncSettings, now: float | None = None) -> Status:
    now = time.time() if now is None else now
    status = Status()
    states = registry.owner_states()
    verdict = judge(states, "", now, stale_after=settings.owner_stale_after)
    for owner, state in sorted(states.items()):
        status.owners.append(_owner(state, owner in verdict.stale, now))
    if layout.shared is not None:
        _shared(registry.read_shared(layout.shared.base), layout, status)
    for root in layout.folder_roots():
        folders = {f"{root}/{name}" for name in registry.children(root)}
        _per_instance(registry.read(folders, (), everything=folders), layout, root, status)
    _attend(status, verdict.stale)
    return status


def _owner(state: OwnerState, stale: bool, now: float) -> dict[str, Any]:
    beat: Mapping[str, Any] = state.heartbeat or {}
    return {
        "owner": state.owner,
        "live": state.live,
        "stale": stale,
        "now": now,
        "lastSync": state.beat_at,
        "lastSuccess": beat.get("lastSuccess"),
        "exit": beat.get("exit"),
        "writer": beat.get("writer"),
        "held": list(beat.get("held") or []),
        "notOwned": list(beat.get("notOwned") or []),
    }


def _shared(current: Current, layout: Layouts, status: Status) -> None:
    for path in sorted(set(current.nodes) | set(current.shares)):
        node = current.nodes.get(path)
        listed = layout.shared.servers_of(node.data) if node is not None and layout.shared else []
        service = ServiceStatus("seed", layout.service_of(path), path, listed)
        valid = False
        for owner, record in sorted(current.shares.get(path, {}).items()):
            if node is not None and vouches_for(record) == node.czxid:
                service.owners[owner] = contribution(record, listed)
                valid = True
        if node is not None and not valid:
            service.unowned = [path]
        if node is not None or service.owners:
            status.services.append(service)


def _per_instance(current: Current, layout: Layouts, root: str, status: Status) -> None:
    by_folder: dict[str, ServiceStatus] = {}
    name = next((x.name for x in layout.layouts if root in x.roots()), "instances")
    for path in sorted(set(current.nodes) | set(current.owners)):
        folder = path.rpartition("/")[0]
        service = by_folder.setdefault(folder, ServiceStatus(name, layout.service_of(path), folder))
        owner = current.owners.get(path)
        if owner is None:
            service.unowned.append(path.rpartition("/")[2])
        else:
            service.owners.setdefault(owner, []).append(path.rpartition("/")[2])
    status.services += [by_folder[f] for f in sorted(by_folder)]


def _attend(status: Status, stale: Mapping[str, float | None]) -> None:
    codes: list[int] = []
    for owner, silent in stale.items():
        since = "never left a heartbeat" if silent is None else f"silent for {round(silent)}s"
        status.attention.append(f"owner {owner} is stale: no live writer, {since}")
        codes.append(STALE)
    for o in status.owners:
        if o["held"]:
            status.attention.append(f"owner {o['owner']} holds {len(o['held'])} deletions: {', '.join(o['held'])}")
            codes.append(HELD)
        if o["notOwned"]:
            status.attention.append(
                f"owner {o['owner']} declares services whose nodes no kube2zk owns: {', '.join(o['notOwned'])} "
                "(run it with -adopt)"
            )
            codes.append(NOT_OWNED)
    for preferred in (HELD, STALE, NOT_OWNED):
        if preferred in codes:
            status.exit_code = preferred
            break
