"""What an option is: a flag, its environment variable, default and help,
and the field of the settings group it fills.

Each option names its group class and field; a name that is not a field of
that group fails at import, so the table cannot drift silently from the
groups. Fields no option sets directly are listed in ``DERIVED`` with where
their value comes from; a unit test proves every field of every group is set
exactly once, by an option or by a derivation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lib.settings.groups import Settings, SyncSettings, ZkSettings

# Settings attribute of each group class: Settings(kube=KubeSettings(), ...).
GROUP_NAMES: dict[type, str] = {type(f.default): f.name for f in dataclasses.fields(Settings)}


@dataclass(frozen=True)
class Option:
    """One flag and its variable. ``parse`` turns the text into the value of
    ``field`` (a tuple of values when ``field`` names several)."""

    group: type
    field: str | tuple[str, ...]
    flag: str  # the long name without dashes
    env: str
    default: str
    parse: Callable[[str], Any]
    help: str
    is_bool: bool = False

    def __post_init__(self) -> None:
        if self.group not in GROUP_NAMES:
            raise TypeError(f"option -{self.flag}: {self.group.__name__} is not a group of Settings")
        known = {f.name for f in dataclasses.fields(self.group)}
        unknown = [name for name in self.fields if name not in known]
        if unknown:
            raise TypeError(f"option -{self.flag}: {self.group.__name__} has no field {', '.join(unknown)}")

    @property
    def fields(self) -> tuple[str, ...]:
        return (self.field,) if isinstance(self.field, str) else self.field

    @property
    def dest(self) -> str:
        return self.flag.replace("-", "_")


# The credential's own variable: read like an option's, but never a flag,
# since process arguments are world-readable.
ZK_AUTH_ENV = "KUBE2ZK_ZK_AUTH"

# Fields no option sets directly: (group, field) -> where the value comes from.
DERIVED: dict[tuple[type, str], str] = {
    (ZkSettings, "auth"): f"{ZK_AUTH_ENV}, or the file named by -zk-auth-file (which wins); never a flag",
    (SyncSettings, "claim_policy"): "loaded from the file named by -claim-policy; open when none",
    (SyncSettings, "reap_owners"): "the owner named by the reap command",
}
