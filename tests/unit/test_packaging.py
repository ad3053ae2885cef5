"""pyproject.toml's dependencies and requirements.txt name the same packages:
the image installs the pins, `pip install .` the lower bounds, and a pin below
its bound would ship an image nobody tested the package with (or the reverse)."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def test_every_pinned_requirement_is_a_dependency_at_or_above_its_lower_bound() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    bounds = dict(dep.split(">=") for dep in project["dependencies"])
    pins = dict(line.split("==") for line in (REPO / "requirements.txt").read_text().split())
    assert bounds.keys() == pins.keys()
    assert all(version(pins[name]) >= version(bound) for name, bound in bounds.items()), (pins, bounds)


def test_the_console_command_is_the_scripts_entry_point() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["scripts"] == {"kube2zk": "lib.app:main"}
    assert "from lib.app import main" in (REPO / "kube2zk_job.py").read_text()
