"""The API server's side of a sync: the server floor, its own CPU and request
counters, and where it serves a pod list from.

The server floor is the time to receive the pages the product asks for
(same path, selector, page size and headers: protobuf, through the same
``KubeApi``) with nothing decoded: only the ``continue`` token is cut out of
each page's head. What a sync spends above it is the client's own work.

CPU comes from the API server's ``process_cpu_seconds_total`` and requests
from ``apiserver_request_total`` (its admin ``/metrics``), each as the
difference around a run. The server does other work meanwhile (kwok's node
heartbeats, controllers) and a scrape costs CPU of its own, so an idle
baseline (the cost of a scrape, and CPU per second with nothing running) is
measured next to every floor and subtracted to give a net figure.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass
from statistics import median
from typing import Any

from bed import SELECTOR, Bed

from lib.kube import protobuf
from lib.kube.client import JSON, KubeApi, pods_path
from lib.kube.pods import LIST_ACCEPT
from lib.settings import Settings

PAGE = Settings().kube.page_size  # the product's page size

_LABEL = re.compile(r'(\w+)="([^"]*)"')
_CONTINUE = re.compile(rb'"continue":"([^"]*)"')


@dataclass
class ApiCounters:
    """The API server's counters that a pod list moves."""

    cpu: float = 0.0  # process_cpu_seconds_total
    lists: float = 0.0  # apiserver_request_total, verb LIST, resource pods (all codes and scopes)
    cache_lists: float = 0.0  # apiserver_cache_list_total, pods: lists served by the watch cache
    etcd_lists: float = 0.0  # etcd_request_duration_seconds_count, list/listWithCount of pods: reads from etcd
    consistent_reads: float = 0.0  # apiserver_watch_cache_consistent_read_total, pods (any outcome)

    def __sub__(self, other: ApiCounters) -> ApiCounters:
        return ApiCounters(**{k: v - getattr(other, k) for k, v in asdict(self).items()})


def scrape(bed: Bed) -> ApiCounters:
    """GET /metrics of the API server (the bed's kubeconfig is admin)."""
    assert bed.api is not None
    url = bed.api.configuration.host + "/metrics"
    resp = bed.api.rest_client.pool_manager.request("GET", url, timeout=30)
    if resp.status != 200:
        raise RuntimeError(f"GET /metrics of the API server: HTTP {resp.status}")
    out = ApiCounters()
    for line in resp.data.decode().splitlines():
        if line.startswith("process_cpu_seconds_total "):
            out.cpu = float(line.split()[1])
            continue
        name, _, rest = line.partition("{")
        if name not in (
            "apiserver_request_total",
            "apiserver_cache_list_total",
            "etcd_request_duration_seconds_count",
            "apiserver_watch_cache_consistent_read_total",
        ):
            continue
        labels_text, _, value = rest.rpartition("} ")
        labels = dict(_LABEL.findall(labels_text))
        if labels.get("resource") != "pods" or labels.get("group") or labels.get("subresource"):
            continue
        if name == "apiserver_request_total" and labels.get("verb") == "LIST":
            out.lists += float(value)
        elif name == "apiserver_cache_list_total":
            out.cache_lists += float(value)
        elif name == "etcd_request_duration_seconds_count" and labels.get("operation") in ("list", "listWithCount"):
            out.etcd_lists += float(value)
        elif name == "apiserver_watch_cache_consistent_read_total":
            out.consistent_reads += float(value)
    return out


@dataclass
class Idle:
    """What the API server spends with no run going: per scrape pair and per second."""

    scrape_cpu: float
    cpu_per_s: float

    def net(self, delta: ApiCounters, seconds: float) -> float:
        return max(0.0, delta.cpu - self.scrape_cpu - self.cpu_per_s * seconds)


def idle_baseline(bed: Bed, seconds: float = 3.0, reps: int = 3) -> Idle:
    """Back-to-back scrapes give a scrape's own cost; scrapes ``seconds``
    apart add the background work. (process_cpu_seconds_total moves in
    10 ms steps, hence the medians.)"""
    pairs, spaced = [], []
    for _ in range(reps):
        a = scrape(bed)
        pairs.append((scrape(bed) - a).cpu)
    for _ in range(max(1, reps - 1)):
        a = scrape(bed)
        started = time.perf_counter()
        time.sleep(seconds)
        b = scrape(bed)
        spaced.append(((b - a).cpu, time.perf_counter() - started))
    scrape_cpu = median(pairs)
    rate = median([max(0.0, cpu - scrape_cpu) / s for cpu, s in spaced])
    return Idle(scrape_cpu, rate)


def _varint(data: bytes, at: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, at


def _field(data: bytes, at: int, end: int, wanted: int) -> tuple[int, int] | None:
    """(start, end) of the first length-delimited field ``wanted`` in data[at:end]."""
    while at < end:
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, at = _varint(data, at)
            continue
        if wire != 2:
            raise ValueError(f"unexpected wire type {wire}")
        length, at = _varint(data, at)
        if number == wanted:
            return at, at + length
        at += length
    return None


def protobuf_token(body: bytes) -> str | None:
    """The continue token of a protobuf page, cut out of its head (the
    envelope's raw object, its ListMeta, field 3) without decoding the pods."""
    raw = _field(body, len(protobuf.MAGIC), len(body), 2)
    meta = raw and _field(body, raw[0], raw[1], 1)
    token = meta and _field(body, meta[0], meta[1], 3)
    return body[token[0] : token[1]].decode() if token else None


def receive_pages(
    bed: Bed, namespace: str, page_size: int = PAGE, resource_version: str | None = None, accept: str = LIST_ACCEPT
) -> tuple[int, int]:
    """Every page of the labelled pods read into memory, not decoded, asked
    for as the product asks (``accept``: protobuf, else JSON). Returns
    (pages, bytes). ``resource_version`` is sent with the first page only
    (the API server refuses it next to a continue token)."""
    assert bed.api is not None
    kube = KubeApi(bed.api)
    token = None
    pages = size = 0
    while True:
        query: list[tuple[str, Any]] = [("labelSelector", SELECTOR)]
        if page_size:
            query.append(("limit", page_size))
        if token:
            query.append(("continue", token))
        elif resource_version is not None:
            query.append(("resourceVersion", resource_version))
        response = kube.request("GET", pods_path(namespace), query, timeout=60, accept=accept)
        try:
            body = response.data
        finally:
            response.release_conn()
        pages += 1
        size += len(body)
        if body.startswith(protobuf.MAGIC):
            token = protobuf_token(body)
        else:
            found = _CONTINUE.search(body, 0, 4096)  # ListMeta comes before the items
            token = found.group(1).decode() if found else None
        if not token:
            return pages, size


def server_floor(bed: Bed, namespace: str, reps: int) -> dict[str, Any]:
    times = []
    pages = size = 0
    for _ in range(reps):
        started = time.perf_counter()
        pages, size = receive_pages(bed, namespace)
        times.append(time.perf_counter() - started)
    return {"seconds": median(times), "samples": times, "pages": pages, "bytes": size}


LIST_MODES = {
    "unset": (None, PAGE, LIST_ACCEPT),  # the product's list: consistent read, paginated, protobuf
    "unset-json": (None, PAGE, JSON),  # the same in JSON
    "unset-500": (None, 500, LIST_ACCEPT),  # pages of 500 (kubectl's, and the product's before)
    "rv0": ("0", PAGE, LIST_ACCEPT),  # any resourceVersion: the watch cache, limit sent
    "rv0-nolimit": ("0", 0, LIST_ACCEPT),  # any resourceVersion, one answer
}


def list_modes(bed: Bed, namespace: str, reps: int, idle: Idle) -> dict[str, Any]:
    """The same labelled list with resourceVersion unset and with
    resourceVersion=0 (with and without ``limit``): latency, pages, bytes,
    API server CPU (net of the idle baseline) and where it was served from."""
    out: dict[str, Any] = {}
    for mode, (rv, limit, accept) in LIST_MODES.items():
        times, cpus, deltas = [], [], []
        pages = size = 0
        for _ in range(reps):
            before = scrape(bed)
            started = time.perf_counter()
            pages, size = receive_pages(bed, namespace, page_size=limit, resource_version=rv, accept=accept)
            seconds = time.perf_counter() - started
            delta = scrape(bed) - before
            times.append(seconds)
            cpus.append(idle.net(delta, seconds))
            deltas.append(delta)
        out[mode] = {
            "resource_version": rv,
            "limit": limit,
            "accept": accept,
            "seconds": median(times),
            "api_cpu": median(cpus),
            "pages": pages,
            "bytes": size,
            "lists": median([d.lists for d in deltas]),
            "cache_lists": median([d.cache_lists for d in deltas]),
            "etcd_lists": median([d.etcd_lists for d in deltas]),
            "consistent_reads": median([d.consistent_reads for d in deltas]),
        }
    return out
