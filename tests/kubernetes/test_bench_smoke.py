"""The benchmark harness keeps working: a smoke-size run on a private bed.
It prints figures; nothing here asserts on a timing."""

from __future__ import annotations

import subprocess
import sys

from helpers import REPO


def test_benchmark_smoke_run_prints_its_table(testbed_env, tmp_path):
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run.py"), "--smoke", "--state", str(tmp_path / "bed")],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    for figure in ("cold sync", "no-op sync", "floor", "change→ZooKeeper", "rolling update"):
        assert figure in out, f"{figure!r} missing from the table:\n{out[-3000:]}"
    assert not (tmp_path / "bed" / "env").exists(), "the smoke run must take its private bed down"
