"""The service-name claim policy: which namespaces may register which names.

Without a policy any pod may register any name (the original's behaviour).
A policy file (YAML, mountable from a ConfigMap) lists rules that reserve
name patterns to namespace patterns:

    default: allow          # or deny: names no rule mentions
    rules:
      - services: ["pay-*", "billing-api"]
        namespaces: ["payments", "payments-*"]

A name matched by some rule may be claimed only from a namespace of one of
the rules that match it; a name no rule matches follows ``default``.
Patterns are shell globs (``*``, ``?``, ``[...]``), matched whole.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

import yaml


class PolicyError(Exception):
    """The policy file is unreadable or malformed; the message says where."""


@dataclass(frozen=True)
class Rule:
    services: tuple[str, ...]
    namespaces: tuple[str, ...]

    def covers(self, service: str) -> bool:
        return any(fnmatch.fnmatchcase(service, p) for p in self.services)

    def admits(self, namespace: str) -> bool:
        return any(fnmatch.fnmatchcase(namespace, p) for p in self.namespaces)


@dataclass(frozen=True)
class ClaimPolicy:
    rules: tuple[Rule, ...] = ()
    default_allow: bool = True

    def allows(self, namespace: str, service: str) -> bool:
        covering = [rule for rule in self.rules if rule.covers(service)]
        if not covering:
            return self.default_allow
        return any(rule.admits(namespace) for rule in covering)

    def describe(self) -> str:
        """One line for the start-up log: an empty policy file is valid and
        means open, which an operator expecting a strict policy must see."""
        if not self.rules:
            if self.default_allow:
                return "open: any namespace may register any service"
            return "closed: no rules and default deny, so no namespace may register any service"
        count = f"{len(self.rules)} rule{'s' if len(self.rules) != 1 else ''}"
        return f"{count}; names no rule mentions are {'allowed' if self.default_allow else 'refused'}"


OPEN = ClaimPolicy()


def _patterns(value: object, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise PolicyError(f"{where} must be a non-empty list of name patterns")
    return tuple(value)


def parse_policy(text: str, source: str = "policy") -> ClaimPolicy:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"{source}: not valid YAML: {exc}") from None
    if doc is None:
        return OPEN
    if not isinstance(doc, dict):
        raise PolicyError(f"{source}: must be a mapping with 'default' and 'rules'")
    unknown = set(doc) - {"default", "rules"}
    if unknown:
        raise PolicyError(f"{source}: unknown keys {sorted(map(str, unknown))}")
    default = doc.get("default", "allow")
    if default not in ("allow", "deny"):
        raise PolicyError(f"{source}: default must be 'allow' or 'deny', not {default!r}")
    raw_rules = doc.get("rules")
    if raw_rules is None:
        raw_rules = []
    if not isinstance(raw_rules, list):
        raise PolicyError(f"{source}: rules must be a list")
    rules = []
    for index, raw in enumerate(raw_rules):
        where = f"{source}: rules[{index}]"
        if not isinstance(raw, dict) or set(raw) - {"services", "namespaces"}:
            raise PolicyError(f"{where} must have exactly 'services' and 'namespaces'")
        rules.append(
            Rule(
                _patterns(raw.get("services"), f"{where}.services"),
                _patterns(raw.get("namespaces"), f"{where}.namespaces"),
            )
        )
    return ClaimPolicy(tuple(rules), default == "allow")


def load_policy(path: str) -> ClaimPolicy:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise PolicyError(f"cannot read claim policy {path!r}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise PolicyError(f"claim policy {path!r} is not UTF-8 text") from None
    return parse_policy(text, path)
