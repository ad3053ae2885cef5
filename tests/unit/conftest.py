"""Shared set-up of the unit tests: the repository root on sys.path, so that
``lib`` imports whichever way pytest is started."""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
