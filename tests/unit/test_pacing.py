"""When the loop writes a pending service (lib/daemon/pacing.py)."""

import itertools

from lib.daemon.pacing import BURST_PODS, MAX_STRETCH, Pacer


def burst(pacer: Pacer, name: str, now: float, pods: int = BURST_PODS) -> None:
    for i in range(pods):
        pacer.changed([name], f"ns/p{i}", now)


def test_a_single_pod_change_is_due_at_once_even_right_after_a_write():
    pacer = Pacer(burst_interval=2.0)
    pacer.written(["svc"], 10.0)
    pacer.changed(["svc"], "ns/p0", 10.1)
    assert pacer.ready({"svc"}, 10.1) == {"svc"}


def test_a_burst_is_written_at_most_once_per_interval():
    pacer = Pacer(burst_interval=2.0)
    burst(pacer, "svc", 10.0)
    assert pacer.ready({"svc"}, 10.0) == {"svc"}  # never written: at once
    pacer.written(["svc"], 10.0)
    burst(pacer, "svc", 10.5)
    assert pacer.ready({"svc"}, 10.5) == set()
    assert pacer.next_due({"svc"}, 10.5, default=5.0) == 1.5
    assert pacer.ready({"svc"}, 12.0) == {"svc"}


def test_zero_burst_interval_writes_every_batch():
    pacer = Pacer(burst_interval=0)
    pacer.written(["svc"], 10.0)
    burst(pacer, "svc", 10.1)
    assert pacer.ready({"svc"}, 10.1) == {"svc"}


def test_a_failed_service_backs_off_alone_and_longer_each_time():
    pacer = Pacer(burst_interval=2.0, first_backoff=0.5, max_backoff=4.0)
    assert pacer.failed(["bad"], 0.0) == 0.5
    assert pacer.ready({"bad", "good"}, 0.1) == {"good"}
    assert pacer.ready({"bad"}, 0.5) == {"bad"}
    delays = [pacer.failed(["bad"], t) for t in (1.0, 2.0, 3.0, 4.0, 5.0)]
    assert delays == [1.0, 2.0, 4.0, 4.0, 4.0]
    pacer.written(["bad"], 10.0)
    assert pacer.failures == {}


def test_next_due_never_exceeds_the_default_and_is_never_negative():
    pacer = Pacer(burst_interval=2.0)
    pacer.failed(["a"], 0.0)
    assert pacer.next_due({"a"}, 0.0, default=0.2) == 0.2
    assert pacer.next_due({"a"}, 100.0, default=0.2) == 0.0
    assert pacer.next_due(set(), 0.0, default=0.5) == 0.5


def test_pruning_keeps_memory_flat_over_many_services():
    pacer = Pacer(burst_interval=2.0)
    for i in range(10_000):
        pacer.changed([f"svc-{i}"], "ns/p", float(i))
        pacer.written([f"svc-{i}"], float(i))
        pacer.prune(float(i))
    horizon = 2.0 * MAX_STRETCH  # the longest a burst's pause can be
    assert len(pacer.recent) <= horizon + 1 and len(pacer.last_write) <= horizon + 1 and not pacer.streak


def test_a_long_burst_stretches_the_interval_to_a_bounded_handful_of_writes():
    """A 30 s rollout (a pod changing every 50 ms): the first changes show at
    once until five pods make it a burst, then the pause grows by half an
    interval per write, up to 2.5 intervals: 11 writes where a fixed 2 s
    interval makes 18."""
    pacer = Pacer(burst_interval=2.0)
    writes = []
    for step in range(600):
        now = step * 0.05
        pacer.changed(["svc"], f"ns/p{step}", now)
        if pacer.ready({"svc"}, now):
            pacer.written(["svc"], now)
            writes.append(now)
    gaps = [round(b - a, 2) for a, b in itertools.pairwise(writes)]
    assert gaps == [0.05, 0.05, 0.05, 2.0, 3.0, 4.0, 5.0, 5.0, 5.0, 5.0]


def test_the_stretch_ends_with_the_burst():
    pacer = Pacer(burst_interval=2.0)
    for t in (0.0, 2.0, 5.0):
        burst(pacer, "svc", t)
        pacer.written(["svc"], t)
    assert pacer.interval("svc") == 4.0
    pacer.changed(["svc"], "ns/p0", 20.0)  # the burst is over: a lone change
    assert pacer.ready({"svc"}, 20.0) == {"svc"}
    pacer.written(["svc"], 20.0)
    assert pacer.interval("svc") == 2.0
