"""Reading each option from the command line or the environment.

The original daemon's flags keep their Go spelling (``-zkpath /x``,
``-zkpath=/x``) and its manifest's lower-case environment variables keep
working; every option also has a ``--`` form. Precedence: flag > environment
> default, and an empty variable counts as unset.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from lib.settings.errors import UsageError
from lib.settings.options import OPTIONS
from lib.settings.spec import Option

EPILOG = (
    "Flags take one or two dashes (-zkpath /x, --zkpath=/x). Precedence: flag > environment > default. "
    "Exit codes: 0 ok, 1 some services failed (or invalid annotations with --strict), 2 usage error, "
    "3 Kubernetes unreachable or failed, 4 ZooKeeper unreachable, frozen or refused, 5 writer lock held by "
    "another run, 6 deletions held by the deletion budget, 7 a declared service's node is owned by no kube2zk "
    "(use -adopt). When several apply: 4, then 6, then 1, then 7."
)


@dataclass(frozen=True)
class Given:
    """An option's parsed value and where it came from, so that a check
    involving several options can name the one the operator actually set."""

    value: Any
    source: str  # "flag -x", "environment variable X" or "default of -x"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _prog() -> str:
    """The name usage lines show: the installed ``kube2zk`` command calls
    itself that; every other way in (``kube2zk_job.py``, the image, tests
    building the parser) is the script of a checkout."""
    return "kube2zk" if os.path.basename(sys.argv[0]) == "kube2zk" else "kube2zk_job.py"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=_prog(),
        usage="%(prog)s [status | reap OWNER] [flags]",
        description="Register RPC services declared on Kubernetes pods (label rpc-service=true, "
        "annotation rpc-service) into ZooKeeper: one full sync, then exit (or --loop). Commands: "
        "'status' prints who holds what in ZooKeeper and writes nothing (exit 6 held deletions, "
        "1 a stale owner, 7 a declared service shadowed by an unowned node); 'reap OWNER' syncs and also "
        "removes the contributions of that stopped installation.",
        epilog=EPILOG,
        allow_abbrev=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for opt in OPTIONS:
        names = [f"-{opt.flag}", f"--{opt.flag}"]
        # argparse %-formats help texts: a literal % (as in 5,10%) must be doubled.
        help_text = f"{opt.help} (env {opt.env}; default {opt.default!r})".replace("%", "%%")
        if opt.is_bool:
            parser.add_argument(
                *names, dest=opt.dest, nargs="?", const="true", default=None, metavar="BOOL", help=help_text
            )
        else:
            parser.add_argument(*names, dest=opt.dest, default=None, metavar="VALUE", help=help_text)
    return parser


def _refuse_unknown_flags(argv: Sequence[str]) -> None:
    """argparse matches abbreviations of single-dash long options even with
    allow_abbrev=False; a typo must not silently turn on, say, -adopt."""
    takes_value = {f"{d}{o.flag}" for o in OPTIONS if not o.is_bool for d in ("-", "--")}
    known = takes_value | {f"{d}{o.flag}" for o in OPTIONS for d in ("-", "--")} | {"-h", "--help"}
    args = iter(argv)
    for arg in args:
        name = arg.split("=", 1)[0]
        if arg.startswith("-") and len(arg) > 1 and name not in known:
            raise UsageError(f"unknown flag {name}")
        if name in takes_value and "=" not in arg:
            next(args, None)  # its value, whatever it looks like


def _parse(opt: Option, raw: str, source: str) -> Given:
    try:
        return Given(opt.parse(raw), source)
    except ValueError as exc:
        raise UsageError(f"{source}: {exc}") from None


def read_options(argv: Sequence[str], environ: Mapping[str, str]) -> dict[str, Given]:
    """Every option's value, keyed by flag name. Raises UsageError naming the
    flag or variable whose value is invalid; -h prints help and exits."""
    _refuse_unknown_flags(argv)
    args = build_parser().parse_args(list(argv))
    given: dict[str, Given] = {}
    for opt in OPTIONS:
        raw = getattr(args, opt.dest)
        if raw is not None:
            given[opt.flag] = _parse(opt, raw, f"flag -{opt.flag}")
            continue
        raw = environ.get(opt.env)
        # The original's manifest sets namespace: "" for all namespaces; an
        # empty value means "unset" for every variable.
        if raw:
            given[opt.flag] = _parse(opt, raw, f"environment variable {opt.env}")
        else:
            given[opt.flag] = _parse(opt, opt.default, f"default of -{opt.flag}")
    return given
