"""The README's configuration reference names every option and its variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from lib.config import OPTIONS

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


@pytest.mark.parametrize("option", OPTIONS, ids=lambda o: o.flag)
def test_every_option_is_documented_with_its_environment_variable(option):
    row = next((line for line in README.splitlines() if line.startswith(f"| `-{option.flag}` |")), None)
    assert row is not None, f"-{option.flag} missing from the README's configuration table"
    assert f"`{option.env}`" in row
