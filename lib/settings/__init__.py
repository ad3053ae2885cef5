"""The run's settings: flags and environment variables read, checked and
resolved once by ``load_settings`` into groups, one per concern."""

from lib.settings.errors import UsageError, usage_error_exit
from lib.settings.groups import (
    DeletionBudget,
    KubeSettings,
    LoopSettings,
    OutputSettings,
    Settings,
    SyncSettings,
    ZkSettings,
)
from lib.settings.load import load_settings
from lib.settings.options import OPTIONS
from lib.settings.spec import DERIVED, Option
from lib.settings.values import parse_budget, parse_duration

__all__ = [
    "DERIVED",
    "OPTIONS",
    "DeletionBudget",
    "KubeSettings",
    "LoopSettings",
    "Option",
    "OutputSettings",
    "Settings",
    "SyncSettings",
    "UsageError",
    "ZkSettings",
    "load_settings",
    "parse_budget",
    "parse_duration",
    "usage_error_exit",
]
