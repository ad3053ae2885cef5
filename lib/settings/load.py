"""``load_settings``: every option read, every check spanning several options
made, every derived value resolved, once. Nothing reads the environment or
re-checks a setting after this module; a bad value stops the run here, before
anything is contacted, as one line naming the flag or variable at fault.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import Any

from lib.desired.names import overlaps
from lib.desired.policy import OPEN, ClaimPolicy, PolicyError, load_policy
from lib.settings.cli import Given, read_options
from lib.settings.errors import UsageError
from lib.settings.groups import Settings, SyncSettings, ZkSettings
from lib.settings.options import OPTIONS
from lib.settings.spec import GROUP_NAMES, ZK_AUTH_ENV
from lib.settings.values import owner_id

_NEEDS_CREDENTIAL = ("creator-all", "creator-all+world-read")


def load_settings(
    argv: Sequence[str], environ: Mapping[str, str] | None = None, *, reap: Sequence[str] = ()
) -> Settings:
    """Parse ``argv`` (without the program name) against ``environ``
    (``os.environ`` when None); ``reap`` are the owners the reap command
    names. Raises UsageError naming the flag or variable at fault; -h prints
    the help and exits 0."""
    env = os.environ if environ is None else environ
    given = read_options(argv, env)
    fields: dict[type, dict[str, Any]] = {group: {} for group in GROUP_NAMES}
    for opt in OPTIONS:
        value = given[opt.flag].value
        fields[opt.group].update(zip(opt.fields, value if len(opt.fields) > 1 else (value,), strict=True))
    _check_owner_root(given["zkpath"], given["owner-root"])
    _check_layout_paths(given)
    _check_tls_files(given)
    zk = fields[ZkSettings]
    zk["auth"] = _zk_auth(given["zk-auth-file"], env.get(ZK_AUTH_ENV) or None)
    zk["tls"] = zk["tls"] or bool(zk["ca_file"] or zk["cert_file"])
    zk["acl"] = _resolve_acl(given["zk-acl"], zk["auth"] is not None)
    fields[SyncSettings]["claim_policy"] = _claim_policy(given["claim-policy"])
    fields[SyncSettings]["reap_owners"] = _reap_owners(reap, given["owner-id"].value)
    return _assemble(fields)


def _assemble(fields: dict[type, dict[str, Any]]) -> Settings:
    """Build the groups, refusing to fall back on a dataclass default for a
    field nothing set: that would hide an option missing from the table."""
    groups: dict[str, Any] = {}
    for group, values in fields.items():
        missing = {f.name for f in dataclasses.fields(group)} - set(values)
        if missing:
            raise RuntimeError(f"{group.__name__}: no option or derivation sets {', '.join(sorted(missing))}")
        groups[GROUP_NAMES[group]] = group(**values)
    return Settings(**groups)


def _label(given: Given, flag: str) -> str:
    """The source of a value, naming the flag even when it came from the
    environment, for messages about how two options relate."""
    return given.source if flag in given.source else f"{given.source} (-{flag})"


def _check_owner_root(zk_path: Given, owner_root: Given) -> None:
    if overlaps(zk_path.value, owner_root.value):
        raise UsageError(
            f"{_label(owner_root, 'owner-root')}: {owner_root.value} must not overlap -zkpath {zk_path.value} "
            "(ownership records live outside the service path)"
        )


def _check_layout_paths(given: Mapping[str, Given]) -> None:
    """Each layout writes under its own base, apart from the others and from
    the ownership records."""
    layouts = given["layouts"].value
    bases = [("owner-root", given["owner-root"])]
    for layout, flag in (("seed", "zkpath"), ("curator", "curator-path"), ("dubbo", "dubbo-root")):
        if layout in layouts:
            bases.append((flag, given[flag]))
    for i, (flag, base) in enumerate(bases):
        for other_flag, other in bases[:i]:
            if overlaps(base.value, other.value):
                raise UsageError(f"{_label(base, flag)}: {base.value} must not overlap -{other_flag} {other.value}")


def _check_tls_files(given: Mapping[str, Given]) -> None:
    cert, key = given["zk-cert-file"], given["zk-key-file"]
    if bool(cert.value) != bool(key.value):
        lone, flag = (cert, "zk-cert-file") if cert.value else (key, "zk-key-file")
        raise UsageError(f"{_label(lone, flag)}: -zk-cert-file and -zk-key-file go together")
    for flag in ("zk-ca-file", "zk-cert-file", "zk-key-file"):
        path = given[flag].value
        if path and not os.path.isfile(path):
            raise UsageError(f"{given[flag].source}: no such file {path!r}")


def _resolve_acl(acl: Given, authenticated: bool) -> str:
    """``auto`` becomes a concrete mode here, so no later stage decides it:
    consumers read service nodes without credentials, hence world-read."""
    if acl.value == "auto":
        return "creator-all+world-read" if authenticated else "open"
    if acl.value in _NEEDS_CREDENTIAL and not authenticated:
        raise UsageError(
            f"{_label(acl, 'zk-acl')}: {acl.value} needs a ZooKeeper credential (KUBE2ZK_ZK_AUTH or -zk-auth-file)"
        )
    return acl.value


def _zk_auth(auth_file: Given, from_env: str | None) -> str | None:
    """The digest credential (see DERIVED); no message ever contains it."""
    if auth_file.value:
        source = auth_file.source
        try:
            with open(auth_file.value, encoding="utf-8") as fh:
                secret = fh.read().strip()
        except OSError as exc:
            raise UsageError(f"{source}: cannot read {auth_file.value!r}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise UsageError(f"{source}: {auth_file.value!r} is not UTF-8 text") from None
    elif from_env:
        secret, source = from_env.strip(), f"environment variable {ZK_AUTH_ENV}"
    else:
        return None
    try:
        secret.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes in the environment
        raise UsageError(f"{source}: the credential is not UTF-8 text") from None
    user, sep, password = secret.partition(":")
    if not sep or not user or not password:
        raise UsageError(f"{source}: the credential must have the form user:password")
    return secret


def _reap_owners(owners: Sequence[str], own: str) -> tuple[str, ...]:
    for owner in owners:
        try:
            owner_id(owner)
        except ValueError as exc:
            raise UsageError(f"reap {owner!r}: {exc}") from None
        if owner == own:
            raise UsageError(f"reap {owner!r}: that is this installation's own -owner-id")
    return tuple(owners)


def _claim_policy(path: Given) -> ClaimPolicy:
    if not path.value:
        return OPEN
    try:
        return load_policy(path.value)
    except PolicyError as exc:
        raise UsageError(f"{path.source}: {exc}") from None
