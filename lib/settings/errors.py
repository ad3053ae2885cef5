"""The one way a bad setting ends a run: a single line naming the flag or
variable at fault, and exit status 2, before anything is contacted."""

from __future__ import annotations

import sys
from typing import NoReturn


class UsageError(Exception):
    """A bad flag or environment value; the message names it."""


def usage_error_exit(message: str) -> NoReturn:
    print(f"kube2zk: error: {message} (see --help)", file=sys.stderr)
    raise SystemExit(2)
