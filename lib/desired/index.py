"""From pods to the desired service map: which pods count, which services
they provide, kept as one index that a full list loads and a watch event
updates, so one-shot runs and ``--loop`` share every rule.

The seed registers ``status.podIP`` (the primary address); on a dual-stack
pod that is the address of the cluster's primary family.
"""

from __future__ import annotations

from collections.abc import Iterable

from lib.desired.annotation import parse_annotation
from lib.desired.policy import OPEN, ClaimPolicy
from lib.model import DesiredState, PodInfo, Problem, ServiceDecl


def claims(pod: PodInfo, policy: ClaimPolicy = OPEN) -> tuple[list[ServiceDecl], list[Problem]]:
    """The pod's valid declarations that the claim policy allows, and one
    problem for each entry that is invalid or refused."""
    decls, errors = parse_annotation(pod.annotation)
    problems = [Problem(pod.key, error, pod) for error in errors]
    allowed: list[ServiceDecl] = []
    for decl in decls:
        if policy is not OPEN and not policy.allows(pod.namespace, decl.name):
            reason = f"namespace {pod.namespace} may not register service {decl.name!r} (claim policy)"
            problems.append(Problem(pod.key, reason, pod, denied=True))
        else:
            allowed.append(decl)
    return allowed, problems


class PodIndex:
    """The labelled pods, indexed by the services they declare.

    Annotations are parsed for every labelled pod, serving or not, so a broken
    annotation is reported as soon as the pod exists rather than only once it
    turns Ready. A change costs in proportion to the services it touches
    (the count of serving pods is kept, not recounted per batch).
    """

    def __init__(self, policy: ClaimPolicy = OPEN):
        self.policy = policy
        self.pods: dict[str, PodInfo] = {}
        self.serving = 0  # pods in ``pods`` that serve
        self.declared: dict[str, tuple[ServiceDecl, ...]] = {}  # pod -> declarations it may register
        self.providers: dict[str, set[str]] = {}  # service -> pods declaring it
        self.invalid: set[str] = set()  # pods with a problem

    def load(self, pods: Iterable[PodInfo]) -> list[Problem]:
        """Replace the index with a full list; the problems of every pod."""
        self.pods.clear()
        self.declared.clear()
        self.providers.clear()
        self.invalid.clear()
        problems: list[Problem] = []
        for pod in pods:
            if pod.has_label:
                self.pods[pod.key] = pod
                problems.extend(self._index(pod.key, pod))
        self.serving = sum(1 for pod in self.pods.values() if pod.serving)
        return problems

    def apply(self, kind: str, pod: PodInfo) -> tuple[set[str], list[Problem]]:
        """One watch event (ADDED, MODIFIED, DELETED): the services whose
        desired servers may have changed, and the problems of a new annotation."""
        key = pod.key
        old = self.pods.get(key)
        new = None if kind == "DELETED" or not pod.has_label else pod
        before = {d.name for d in self.declared.get(key, ())}
        problems: list[Problem] = []
        self.serving += (new is not None and new.serving) - (old is not None and old.serving)
        if new is None:
            self.pods.pop(key, None)
            self._index(key, None)
        else:
            self.pods[key] = new
            if old is None or old.annotation != new.annotation:
                problems = self._index(key, new)
        if _relevant(old) == _relevant(new):
            return set(), problems
        return before | {d.name for d in self.declared.get(key, ())}, problems

    def _index(self, key: str, pod: PodInfo | None) -> list[Problem]:
        for decl in self.declared.pop(key, ()):
            keys = self.providers.get(decl.name)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self.providers[decl.name]
        self.invalid.discard(key)
        if pod is None:
            return []
        allowed, problems = claims(pod, self.policy)
        self.declared[key] = tuple(allowed)
        for decl in allowed:
            self.providers.setdefault(decl.name, set()).add(key)
        if problems:
            self.invalid.add(key)
        return problems

    def declarations(self, name: str) -> list[tuple[str, ServiceDecl]]:
        """(pod, declaration) of every pod declaring ``name``, for layouts
        that need more than the address (a version, a port)."""
        return [
            (key, next(d for d in self.declared[key] if d.name == name)) for key in sorted(self.providers.get(name, ()))
        ]

    def desired(self, names: Iterable[str] | None = None, *, endpoints: bool = False) -> DesiredState:
        """The desired state of ``names`` (every declared service when None).
        A service no serving pod provides is absent: its node goes. With
        ``endpoints``, each service's serving pods and declarations too."""
        state = DesiredState(pods_seen=len(self.pods))
        state.pods_counted = self.serving
        pods = self.pods
        for name in self.providers if names is None else names:
            ips = {pods[key].pod_ip for key in self.providers.get(name, ()) if pods[key].serving}
            if ips:
                state.services[name] = ips  # type: ignore[assignment]  # serving pods have an IP
                if endpoints:
                    state.endpoints[name] = [
                        (pods[key], decl) for key, decl in self.declarations(name) if pods[key].serving
                    ]
        return state


def _relevant(pod: PodInfo | None) -> tuple[object, ...]:
    """What of a pod can change ZooKeeper; other updates are skipped."""
    if pod is None:
        return ()
    return (pod.serving, pod.pod_ip, pod.annotation)


def build_desired(pods: Iterable[PodInfo], policy: ClaimPolicy = OPEN) -> DesiredState:
    """The desired state of a full list of pods, with every problem."""
    index = PodIndex(policy)
    problems = index.load(pods)
    state = index.desired()
    state.problems = problems
    return state
