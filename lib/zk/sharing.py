"""The parts of ZooKeeper that several installations share: the seed
layout's service nodes with every owner's record of them, and each owner's
liveness (its writer lock and its heartbeat)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from kazoo.exceptions import KazooException, NoNodeError
from kazoo.handlers.threading import KazooTimeoutError

from lib.model import Current, OwnerState, RecordState
from lib.zk.errors import RegistryTimeout
from lib.zk.reading import READ_WINDOW, Reader

log = logging.getLogger(__name__)


class SharedReads(Reader):
    def read_shared(self, directory: str, paths: Iterable[str] | None = None, *, records: bool = True) -> Current:
        """Shared nodes (the seed layout) and who contributes to them: all of
        ``directory``'s children (a full sync) or ``paths`` only. Each
        owner's record is read too unless ``records`` is False (then
        ``Current.recorders`` says whose records exist, for the caller to
        read those it needs with ``read_records``).

        The nodes are read first and the records after: an owner changes its
        record only in a transaction that also writes the node, so a record
        read after its node is never older than the node's version, and the
        write that follows, conditional on that version, cannot drop a
        contribution made in between."""
        only = None if paths is None else sorted(set(paths))
        return self._retried(lambda: self._read_shared(directory, only, records))

    def _read_shared(self, directory: str, only: list[str] | None, records: bool) -> Current:
        paths = [f"{directory}/{name}" for name in sorted(self._children(directory))] if only is None else only
        nodes = self._collect(paths)
        owners = sorted(self._children(self.paths.owners_root))
        recorders: dict[str, set[str]] = {}
        if only is None or len(only) * len(owners) > READ_WINDOW:
            listings = [(o, self.zk.get_children_async(self.paths.records(directory, o))) for o in owners]
            wanted = None if only is None else set(only)
            for owner, reply in listings:
                try:
                    names = self._wait(reply)
                except NoNodeError:
                    continue
                for name in names:
                    path = f"{directory}/{name}"
                    if wanted is None or path in wanted:
                        recorders.setdefault(path, set()).add(owner)
        else:
            recorders = {p: set(owners) for p in paths}
        shares = self._records(recorders) if records else {}
        found = {p: frozenset(o) for p, o in recorders.items()} if not records else {}
        return Current(nodes, {}, shares=shares, recorders=found)

    def read_records(self, recorders: Mapping[str, Iterable[str]]) -> dict[str, dict[str, RecordState]]:
        """The records of some owners of some shared nodes (path -> owners),
        read after their nodes (see ``read_shared``)."""
        return self._retried(lambda: self._records(recorders))

    def _records(self, recorders: Mapping[str, Iterable[str]]) -> dict[str, dict[str, RecordState]]:
        wanted = [(p, o) for p, owners in sorted(recorders.items()) for o in sorted(owners)]
        shares: dict[str, dict[str, RecordState]] = {}
        for start in range(0, len(wanted), READ_WINDOW):
            window = wanted[start : start + READ_WINDOW]
            for path, owner, reply in [(p, o, self.zk.get_async(self.paths.record(p, o))) for p, o in window]:
                try:
                    data, stat = self._wait(reply)
                except NoNodeError:
                    continue
                shares.setdefault(path, {})[owner] = RecordState(data or b"", stat.czxid)
        return shares

    def owner_states(self) -> dict[str, OwnerState]:
        """Every installation that has written here, with its liveness."""
        return self._retried(self._owner_states)

    def _owner_states(self) -> dict[str, OwnerState]:
        owners = sorted(self._children(self.paths.owners_root))
        locks = [(o, self.zk.get_children_async(self.paths.lock_of(o))) for o in owners]
        beats = [(o, self.zk.get_async(self.paths.status(o))) for o in owners]
        live = {}
        for owner, reply in locks:
            try:
                live[owner] = bool(self._wait(reply))
            except NoNodeError:
                live[owner] = False
        states = {}
        for owner, reply in beats:
            doc: dict[str, Any] | None = None
            at = None
            try:
                data, stat = self._wait(reply)
                at = stat.mtime / 1000
                loaded = json.loads(data) if data else None
                doc = loaded if isinstance(loaded, dict) else None
            except NoNodeError:
                pass
            except ValueError:
                doc = {}
            states[owner] = OwnerState(owner, live[owner], doc, at)
        return states

    def write_heartbeat(self, doc: Mapping[str, Any]) -> None:
        """Leave this owner's status document (see lib.status). Only a
        report: a failure is logged, never fatal."""
        data = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
        path = self.paths.status()
        try:
            try:
                self._wait(self.zk.set_async(path, data))
            except NoNodeError:
                self._wait(self.zk.create_async(path, data, makepath=True))
        except (KazooException, RegistryTimeout, KazooTimeoutError) as exc:
            log.warning("could not write the status node %s: %s", path, type(exc).__name__)
