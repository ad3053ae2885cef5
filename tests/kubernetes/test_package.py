"""`pip install .`: the wheel built from pyproject.toml, installed into a fresh
virtual environment, gives a working ``kube2zk`` command.

Offline and quick: the wheel is built with the setuptools of the test's own
environment (no build isolation, no index), installed without dependencies,
and the fresh environment sees the already installed requirements through a
.pth file. Everything runs outside the checkout, so only what the wheel
installed can be imported.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from helpers import REPO, Cluster

SOURCES = ["pyproject.toml", "README.md", "kube2zk_job.py", "lib"]


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("package")
    src = tmp / "src"
    src.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(REPO / name, src / name)
    proc = run(
        sys.executable,
        *("-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "--no-cache-dir"),
        *("-w", tmp / "dist", src),
        cwd=tmp,
    )
    assert proc.returncode == 0, proc.stderr
    (built,) = (tmp / "dist").glob("kube2zk-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path) -> Path:
    """A fresh virtual environment with the wheel installed; its bin directory."""
    root = wheel.parent.parent / "venv"
    proc = run(sys.executable, "-m", "venv", "--without-pip", root, cwd=wheel.parent)
    assert proc.returncode == 0, proc.stderr
    (site,) = (root / "lib").glob("python3.*/site-packages")
    (site / "requirements.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    proc = run(
        root / "bin" / "python",
        *("-m", "pip", "install", "--no-deps", "--no-index", "--no-cache-dir", wheel),
        cwd=wheel.parent,
    )
    assert proc.returncode == 0, proc.stderr
    return root / "bin"


def test_wheel_holds_the_code_its_command_and_its_dependencies(wheel: Path):
    with zipfile.ZipFile(wheel) as whl:
        names = set(whl.namelist())
        info = next(n for n in names if n.endswith(".dist-info/METADATA")).rsplit("/", 1)[0]
        entry_points = whl.read(f"{info}/entry_points.txt").decode()
        metadata = whl.read(f"{info}/METADATA").decode()
    code = {str(p.relative_to(REPO)) for p in (REPO / "lib").rglob("*.py")} | {"kube2zk_job.py"}
    assert code <= names
    assert not {n for n in names if n.startswith(("tests/", "bench/", "testbed/", "demo/"))}
    assert "kube2zk = lib.app:main" in entry_points
    requires = {
        line.split(": ", 1)[1].split(">=")[0] for line in metadata.splitlines() if line.startswith("Requires-Dist:")
    }
    pinned = {line.split("==")[0] for line in (REPO / "requirements.txt").read_text().split()}
    assert requires == pinned


def test_the_command_runs_from_the_install_not_the_checkout(venv: Path, tmp_path: Path):
    where = run(
        venv / "python", "-c", "import lib, kube2zk_job; print(lib.__file__, kube2zk_job.__file__)", cwd=tmp_path
    )
    assert where.returncode == 0, where.stderr
    assert all(path.startswith(str(venv.parent)) for path in where.stdout.split()), where.stdout

    proc = run(venv / "kube2zk", "-h", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: kube2zk ")
    bad = run(venv / "kube2zk", "-syncperiod", "soon", cwd=tmp_path)
    assert bad.returncode == 2 and "kube2zk: error:" in bad.stderr


def test_the_command_lists_the_cluster(venv: Path, cluster: Cluster, namespace, testbed_env, zk_root, tmp_path: Path):
    cluster.deploy("svc", 2)
    ips = cluster.wait_ready("app=svc", 2)

    proc = run(
        venv / "kube2zk",
        *("-mockregistry", "--output", "json", "-namespace", namespace, "-zkpath", f"{zk_root}/rpc_v2"),
        *("-kubeconfig", testbed_env["KUBECONFIG"]),
        cwd=tmp_path,
    )

    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert set(doc[f"{zk_root}/rpc_v2/test-rpc-server-1"]["servers"]) == ips
