"""From pods to the desired service map: which pods count, which services
they provide.

The seed registers ``status.podIP`` (the primary address); on a dual-stack
pod that is the address of the cluster's primary family.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from lib.desired.annotation import parse_annotation
from lib.desired.policy import OPEN, ClaimPolicy
from lib.model import DesiredState, PodInfo, Problem, ServiceDecl

log = logging.getLogger(__name__)


def counts(pod: PodInfo) -> bool:
    """A pod serves traffic only when Running, Ready, not terminating and
    addressed; anything less would send callers to a dead or draining pod."""
    return pod.phase == "Running" and pod.ready and not pod.deleting and bool(pod.pod_ip)


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


def build_desired(pods: Iterable[PodInfo], policy: ClaimPolicy = OPEN) -> DesiredState:
    """Fold pods into service -> set of pod IPs.

    Annotations are parsed for every labelled pod, counted or not, so a broken
    annotation is reported as soon as the pod exists rather than only once it
    turns Ready.
    """
    state = DesiredState()
    for pod in pods:
        state.pods_seen += 1
        allowed, problems = claims(pod, policy)
        state.problems.extend(problems)
        if not counts(pod):
            continue
        state.pods_counted += 1
        assert pod.pod_ip is not None
        for decl in allowed:
            state.services.setdefault(decl.name, set()).add(pod.pod_ip)
            state.decls.setdefault(decl.name, []).append((pod.key, decl))
    return state
