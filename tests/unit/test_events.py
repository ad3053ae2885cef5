"""Events on pods with an invalid annotation (lib/kube/events.py)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from lib.kube.events import MAX_NAME, REASON_DENIED, REASON_INVALID, SENT_LIMIT, EventRecorder, event_name
from lib.model import PodInfo, Problem

# Kubernetes' IsDNS1123Subdomain.
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


class FakeKube:
    """KubeApi.request as the recorder uses it: answers every POST with
    ``status`` (201 or an API error) and keeps the bodies it was sent."""

    def __init__(self, status: int = 201):
        self.status = status
        self.posts: list[tuple[str, dict[str, Any]]] = []

    def request(self, method: str, path: str, query: Any = None, body: Any = None, timeout: Any = None) -> FakeKube:
        assert method == "POST"
        assert body is not None
        self.posts.append((path, body))
        if self.status >= 300:
            raise ApiException(status=self.status)
        return self

    def release_conn(self) -> None:
        pass

    def names(self) -> list[str]:
        return [body["metadata"]["name"] for _, body in self.posts]


def pod(name: str = "web-0", annotation: str | None = "[", uid: str = "uid-1", namespace: str = "team") -> PodInfo:
    return PodInfo(
        namespace=namespace,
        name=name,
        phase="Running",
        ready=True,
        deleting=False,
        pod_ip="10.0.0.1",
        annotation=annotation,
        uid=uid,
    )


def problem(source: PodInfo, reason: str = "not valid JSON", denied: bool = False) -> Problem:
    return Problem(pod=source.key, reason=reason, source=source, denied=denied)


def valid_name(name: str) -> bool:
    return len(name) <= MAX_NAME and DNS_SUBDOMAIN.fullmatch(name) is not None


LONGEST = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])  # 253 characters


@pytest.mark.parametrize(
    "name",
    [
        "web-0",
        LONGEST,
        "a" * 253,
        "a" * 227 + "-" + "b" * 25,  # the cut falls right after a '-'
        "a" * 227 + "." + "b" * 25,  # ... right after a '.'
        "a" * 200 + "." + "b" * 52,  # ... inside a label
        "a" * 225 + "--" + "b" * 26,
        "a" + "-" * 250 + "b",
        "a" * 228 + "b" * 25,
    ],
)
def test_event_name_is_a_dns_subdomain_of_at_most_253_characters(name):
    assert valid_name(name)
    event = event_name(REASON_INVALID, "uid-1", "[", name)
    assert valid_name(event), event
    assert event.startswith(name[:1])


def test_event_name_keeps_a_short_pod_name_whole():
    event = event_name(REASON_INVALID, "uid-1", "[", "web-0")
    assert event.startswith("web-0.kube2zk.")


def test_event_name_of_the_longest_pod_name_is_exactly_253_characters():
    event = event_name(REASON_INVALID, "uid-1", "[", "a" * 253)
    assert len(event) == MAX_NAME
    assert event.startswith("a" * 228 + ".kube2zk.")


def test_event_name_differs_with_reason_uid_and_annotation_even_when_the_pod_name_is_cut():
    base = (REASON_INVALID, "uid-1", "[", LONGEST)
    variants = [
        base,
        (REASON_DENIED, "uid-1", "[", LONGEST),
        (REASON_INVALID, "uid-2", "[", LONGEST),
        (REASON_INVALID, "uid-1", "{", LONGEST),
        (REASON_INVALID, "uid-1", None, LONGEST),
    ]
    assert len({event_name(*v) for v in variants}) == len(variants)
    assert event_name(*base) == event_name(*base)


def test_longest_pod_name_gets_a_valid_event_posted():
    kube = FakeKube()
    source = pod(name=LONGEST)
    EventRecorder(None, kube=kube).problems([problem(source)])
    [(path, body)] = kube.posts
    assert path == "/api/v1/namespaces/team/events"
    assert valid_name(body["metadata"]["name"])
    assert body["involvedObject"]["name"] == LONGEST
    assert body["involvedObject"]["uid"] == "uid-1"
    assert body["reason"] == REASON_INVALID


def test_one_post_per_pod_annotation_and_kind_however_often_it_is_reported():
    kube = FakeKube()
    recorder = EventRecorder(None, kube=kube)
    web, api = pod("web-0"), pod("api-0", uid="uid-2")
    batch = [
        problem(web, "entry 0: has no serviceName"),
        problem(web, "entry 1: has no serviceName"),
        problem(web, "claim refused", denied=True),
        problem(api),
    ]
    for _ in range(5):
        recorder.problems(batch)
    assert len(kube.posts) == 3
    bodies = {(b["involvedObject"]["name"], b["reason"]): b for _, b in kube.posts}
    assert set(bodies) == {("web-0", REASON_INVALID), ("web-0", REASON_DENIED), ("api-0", REASON_INVALID)}
    assert bodies["web-0", REASON_INVALID]["message"] == "entry 0: has no serviceName; entry 1: has no serviceName"


def test_changed_annotation_gets_a_new_event():
    kube = FakeKube()
    recorder = EventRecorder(None, kube=kube)
    recorder.problems([problem(pod(annotation="["))])
    recorder.problems([problem(pod(annotation="{"))])
    recorder.problems([problem(pod(annotation="["))])
    assert len(set(kube.names())) == 2
    assert len(kube.posts) == 2


def test_memory_of_sent_events_stays_bounded_after_100000_distinct_problems():
    kube = FakeKube()
    recorder = EventRecorder(None, kube=kube)
    for i in range(100_000):
        recorder.problems([problem(pod(f"web-{i}", uid=f"uid-{i}"))])
    assert len(kube.posts) == 100_000
    assert len(recorder.sent) == SENT_LIMIT


def test_recently_seen_events_are_kept_and_the_least_recent_forgotten():
    kube = FakeKube()
    recorder = EventRecorder(None, kube=kube, remember=3)
    a, b, c, d = (problem(pod(n, uid=n)) for n in "abcd")
    for batch in ([a], [b], [c], [a], [d]):  # a is seen again, so b is the oldest when d comes
        recorder.problems(batch)
    assert len(kube.posts) == 4
    recorder.problems([a])
    recorder.problems([c])
    assert len(kube.posts) == 4
    recorder.problems([b])  # forgotten: posted again, and the API server answers 409
    assert len(kube.posts) == 5


@pytest.mark.parametrize("status", [403, 409, 422, 500])
def test_api_errors_are_not_raised_and_not_retried_for_the_same_event(status):
    kube = FakeKube(status)
    recorder = EventRecorder(None, kube=kube)
    recorder.problems([problem(pod())])
    recorder.problems([problem(pod())])
    assert len(kube.posts) == 1


def test_disabled_recorder_sends_nothing():
    kube = FakeKube()
    EventRecorder(None, enabled=False, kube=kube).problems([problem(pod())])
    assert kube.posts == []


def test_problem_without_a_pod_sends_nothing():
    kube = FakeKube()
    EventRecorder(None, kube=kube).problems([Problem(pod="team/web-0", reason="x")])
    assert kube.posts == []


def test_event_name_of_an_annotation_with_a_lone_surrogate_does_not_raise():
    assert valid_name(event_name(REASON_INVALID, "uid-1", '[{"serviceName": "\ud800"}]', "web-0"))
