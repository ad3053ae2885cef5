"""The claim policy: which namespaces may register which service names."""

from __future__ import annotations

import pytest

from lib.desired.index import build_desired
from lib.desired.policy import OPEN, PolicyError, load_policy, parse_policy
from lib.model import PodInfo

POLICY = """
default: allow
rules:
  - services: ["pay-*", "billing-api"]
    namespaces: ["payments", "payments-*"]
  - services: ["shared-*"]
    namespaces: ["team-a"]
  - services: ["shared-*"]
    namespaces: ["team-b"]
"""


@pytest.mark.parametrize(
    "namespace, service, allowed",
    [
        ("payments", "pay-api", True),
        ("payments-eu", "billing-api", True),
        ("shop", "pay-api", False),
        ("shop", "billing-api", False),
        ("shop", "shop-api", True),  # no rule covers it: default allow
        ("team-a", "shared-cache", True),
        ("team-b", "shared-cache", True),  # two rules cover it: either namespace may
        ("team-c", "shared-cache", False),
        ("payments", "PAY-api", True),  # patterns are case-sensitive: not covered, default
    ],
)
def test_reserved_names_only_from_their_namespaces(namespace, service, allowed):
    assert parse_policy(POLICY).allows(namespace, service) is allowed


def test_default_deny_refuses_every_name_no_rule_grants():
    policy = parse_policy('default: deny\nrules:\n  - services: ["a-*"]\n    namespaces: ["*"]\n')
    assert policy.allows("any", "a-1")
    assert not policy.allows("any", "b-1")


def test_empty_policy_is_open():
    assert parse_policy("") == OPEN
    assert OPEN.allows("anything", "anything")


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("default: maybe", "default"),
        ("- a", "mapping"),
        ("rules: {}", "list"),
        ("rules:\n  - services: []\n    namespaces: [a]", "services"),
        ("rules:\n  - services: [a]", "namespaces"),
        ("rules:\n  - services: [a]\n    namespaces: [b]\n    extra: 1", "exactly"),
        ("colour: red", "unknown keys"),
        ("rules: [", "YAML"),
    ],
)
def test_malformed_policy_names_the_problem(text, fragment):
    with pytest.raises(PolicyError, match=fragment):
        parse_policy(text, "p.yaml")


def test_unreadable_policy_file_is_an_error(tmp_path):
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(str(tmp_path / "missing.yaml"))


def test_refused_claim_is_a_problem_and_not_registered_while_allowed_ones_are():
    policy = parse_policy(POLICY)
    pod = PodInfo(
        "shop", "web-1", "Running", True, False, "10.0.0.1", '[{"serviceName": "pay-api"}, {"serviceName": "shop-api"}]'
    )
    state = build_desired([pod], policy)
    assert state.services == {"shop-api": {"10.0.0.1"}}
    assert len(state.problems) == 1
    problem = state.problems[0]
    assert problem.denied and problem.pod == "shop/web-1" and "pay-api" in problem.reason
