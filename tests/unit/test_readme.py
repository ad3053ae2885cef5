"""The README's configuration reference names every option and its variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from lib.settings import OPTIONS, Option
from lib.settings.cli import build_parser

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def readme_row(option: Option) -> str | None:
    return next((line for line in README.splitlines() if line.startswith(f"| `-{option.flag}` |")), None)


@pytest.mark.parametrize("option", OPTIONS, ids=lambda o: o.flag)
def test_every_option_is_documented_with_its_environment_variable(option: Option) -> None:
    row = readme_row(option)
    assert row is not None, f"-{option.flag} missing from the README's configuration table"
    assert f"`{option.env}`" in row


def test_help_renders_every_option() -> None:
    """argparse %-formats help texts; one stray % (as in 5,10%) crashes --help."""
    text = build_parser().format_help()
    for option in OPTIONS:
        assert f"-{option.flag}" in text and option.env in text


def test_help_ends_with_the_exit_codes() -> None:
    text = " ".join(build_parser().format_help().split())
    assert "Exit codes: 0 ok," in text and "6 deletions held by the deletion budget" in text and "7 a declared" in text


def test_help_and_readme_say_what_the_deletion_budget_bounds_in_loop_mode() -> None:
    option = next(o for o in OPTIONS if o.flag == "max-deletions")
    assert "every -syncperiod window, over all batches and full syncs" in option.help
    row = readme_row(option)
    assert row is not None and "over all batches and full syncs" in row
