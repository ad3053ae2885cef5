"""From pods to the desired service map (lib/desired/index.py)."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib.desired.index import PodIndex, build_desired
from lib.model import PodInfo


def pod(
    name: str = "p",
    *,
    namespace: str = "ns",
    phase: str | None = "Running",
    ready: bool = True,
    deleting: bool = False,
    ip: str | None = "10.0.0.1",
    annotation: str | None = '[{"serviceName": "svc"}]',
) -> PodInfo:
    return PodInfo(
        namespace=namespace,
        name=name,
        phase=phase,
        ready=ready,
        deleting=deleting,
        pod_ip=ip,
        annotation=annotation,
    )


def declares(*names: str) -> str:
    return json.dumps([{"serviceName": n} for n in names])


def test_running_ready_addressed_pod_counts():
    assert pod().serving is True


@pytest.mark.parametrize(
    "changes",
    [
        {"phase": "Pending"},
        {"phase": "Succeeded"},
        {"phase": "Failed"},
        {"phase": "Unknown"},
        {"phase": None},
        {"phase": "running"},
        {"ready": False},
        {"deleting": True},
        {"ip": None},
        {"ip": ""},
    ],
)
def test_pod_that_is_not_running_ready_live_and_addressed_does_not_count(changes):
    assert pod(**changes).serving is False


def test_services_map_to_the_ips_of_counted_pods():
    state = build_desired(
        [
            pod("a", ip="10.0.0.1", annotation=declares("svc-1", "svc-2")),
            pod("b", ip="10.0.0.2", annotation=declares("svc-1")),
            pod("c", ip="10.0.0.3", annotation=declares("svc-2"), ready=False),
        ]
    )
    assert state.services == {"svc-1": {"10.0.0.1", "10.0.0.2"}, "svc-2": {"10.0.0.1"}}
    assert state.pods_seen == 3
    assert state.pods_counted == 2
    assert state.problems == []


def test_service_with_no_counted_pod_is_absent():
    state = build_desired([pod(ready=False), pod("q", deleting=True), pod("r", ip=None)])
    assert state.services == {}
    assert state.pods_seen == 3
    assert state.pods_counted == 0


def test_two_pods_sharing_an_ip_give_one_server():
    state = build_desired([pod("a", ip="10.0.0.1"), pod("b", ip="10.0.0.1")])
    assert state.services == {"svc": {"10.0.0.1"}}
    assert state.pods_counted == 2


def test_declarations_are_kept_per_service_with_the_pod_key():
    index = PodIndex()
    index.load([pod("a", namespace="team", annotation='[{"serviceName": "svc", "version": "v3"}]')])
    [(key, decl)] = index.declarations("svc")
    assert key == "team/a"
    assert decl.version == "v3"


def test_bad_annotation_is_a_problem_naming_namespace_and_pod():
    state = build_desired([pod("web-1", namespace="team-a", annotation="not json")])
    assert len(state.problems) == 1
    assert state.problems[0].pod == "team-a/web-1"
    assert "not valid JSON" in state.problems[0].reason
    assert str(state.problems[0]).startswith("pod team-a/web-1: ")


def test_missing_annotation_is_a_problem():
    state = build_desired([pod("web-1", annotation=None)])
    assert [p.pod for p in state.problems] == ["ns/web-1"]
    assert state.services == {}
    assert state.pods_counted == 1


def test_bad_annotation_on_one_pod_does_not_affect_other_pods_services():
    good = [pod("a", ip="10.0.0.1", annotation=declares("svc")), pod("b", ip="10.0.0.2", annotation=declares("svc"))]
    broken = pod("c", ip="10.0.0.3", annotation='[{"serviceName": "svc"')
    assert build_desired([good[0], broken, good[1]]).services == build_desired(good).services


def test_bad_entry_does_not_affect_the_good_entries_of_the_same_pod():
    state = build_desired([pod(annotation='[{"serviceName": "../etc"}, {"serviceName": "svc"}]')])
    assert state.services == {"svc": {"10.0.0.1"}}
    assert len(state.problems) == 1
    assert "entry 0" in state.problems[0].reason


def test_annotation_of_a_pod_that_does_not_count_is_still_reported():
    state = build_desired([pod("starting", phase="Pending", ip=None, annotation="{}")])
    assert [p.pod for p in state.problems] == ["ns/starting"]
    assert state.pods_counted == 0


def test_one_problem_per_bad_entry():
    state = build_desired([pod(annotation=declares("", "zookeeper", "ok"))])
    assert len(state.problems) == 2
    assert state.services == {"ok": {"10.0.0.1"}}


def test_no_pods_is_an_empty_state():
    state = build_desired([])
    assert (state.services, state.pods_seen, state.pods_counted, state.problems) == ({}, 0, 0, [])


def test_pods_may_be_a_generator():
    state = build_desired(pod(f"p{i}", ip=f"10.0.0.{i}") for i in range(1, 4))
    assert state.services == {"svc": {"10.0.0.1", "10.0.0.2", "10.0.0.3"}}


_pods = st.builds(
    pod,
    name=st.sampled_from(["a", "b", "c", "d"]),
    phase=st.sampled_from(["Running", "Pending", None]),
    ready=st.booleans(),
    deleting=st.booleans(),
    ip=st.sampled_from([None, "", "10.0.0.1", "10.0.0.2", "fd00::1"]),
    annotation=st.sampled_from([None, "x", "[]", declares("s1"), declares("s1", "s2"), declares("s2", "")]),
)


def declared(p: PodInfo) -> set[str]:
    if not (p.annotation or "").startswith("["):
        return set()
    return {e["serviceName"] for e in json.loads(p.annotation)} - {""}


@settings(deadline=None, max_examples=300)
@given(st.lists(_pods, max_size=8, unique_by=lambda p: p.key))
def test_servers_are_exactly_the_ips_of_counted_pods_declaring_the_service(pods):
    state = build_desired(pods)
    assert state.pods_seen == len(pods)
    assert state.pods_counted == sum(1 for p in pods if p.serving)
    expected: dict[str, set[str]] = {}
    for p in pods:
        if p.serving:
            for name in declared(p):
                expected.setdefault(name, set()).add(p.pod_ip)
    assert state.services == expected
    assert len(state.problems) == sum(1 for p in pods if p.annotation in (None, "x")) + sum(
        1 for p in pods if p.annotation == declares("s2", "")
    )


def test_ipv6_and_dual_stack_pods_register_their_primary_address():
    from lib.layouts.seed import decode_servers, encode_node

    v6_only = PodInfo("ns", "a", "Running", True, False, "fd00::2", '[{"serviceName": "svc"}]')
    dual_v4_primary = PodInfo("ns", "b", "Running", True, False, "10.0.0.9", '[{"serviceName": "svc"}]')
    state = build_desired([v6_only, dual_v4_primary])
    assert state.services == {"svc": {"fd00::2", "10.0.0.9"}}
    assert decode_servers(encode_node((), state.services["svc"])) == ["10.0.0.9", "fd00::2"]


_events = st.lists(st.tuples(st.sampled_from(["ADDED", "MODIFIED", "DELETED"]), _pods), max_size=30)


@settings(deadline=None, max_examples=300)
@given(st.lists(_pods, max_size=6, unique_by=lambda p: p.key), _events)
def test_any_sequence_of_events_gives_the_map_of_the_final_pod_list(start, events):
    """The loop's incremental index and a one-shot run's full list agree, and
    every service whose servers changed was reported as touched."""
    index = PodIndex()
    index.load(start)
    final = {p.key: p for p in start}
    touched: set[str] = set()
    for kind, p in events:
        before = index.desired().services
        names, _ = index.apply(kind, p)
        touched |= names
        after = index.desired().services
        changed = {n for n in set(before) | set(after) if before.get(n) != after.get(n)}
        assert changed <= names
        if kind == "DELETED":
            final.pop(p.key, None)
        else:
            final[p.key] = p
    rebuilt = build_desired(final.values())
    assert index.desired().services == rebuilt.services
    assert index.desired().pods_counted == rebuilt.pods_counted
    assert index.invalid == {p.pod for p in rebuilt.problems}


def test_desired_of_some_names_leaves_out_the_rest():
    index = PodIndex()
    index.load([pod("a", annotation=declares("s1", "s2")), pod("b", ip="10.0.0.2", annotation=declares("s2"))])
    assert index.desired(["s2"]).services == {"s2": {"10.0.0.1", "10.0.0.2"}}
    assert index.desired(["gone"]).services == {}
