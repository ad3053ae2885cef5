"""The README's configuration reference names every option and its variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from lib.settings.options import OPTIONS

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


@pytest.mark.parametrize("option", OPTIONS, ids=lambda o: o.flag)
def test_every_option_is_documented_with_its_environment_variable(option):
    row = next((line for line in README.splitlines() if line.startswith(f"| `-{option.flag}` |")), None)
    assert row is not None, f"-{option.flag} missing from the README's configuration table"
    assert f"`{option.env}`" in row


def test_help_renders_every_option():
    """argparse %-formats help texts; one stray % (as in 5,10%) crashes --help."""
    from lib.settings.options import _parser

    text = _parser().format_help()
    for option in OPTIONS:
        assert f"-{option.flag}" in text and option.env in text
