"""kube2zk_job.py runs that end at a usage error before contacting anything:
no server needed (the ``job`` fixture of this tier reaches none)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    "args, message",
    [
        (["-zkpath", "relative"], "flag -zkpath"),
        (["-zkservers", ""], "flag -zkservers"),
        (["-syncperiod", "1d"], "flag -syncperiod"),
        (["-nope"], "-nope"),
    ],
)
def test_usage_errors_exit_2_without_contacting_anything(job, args, message):
    proc = job(*args, env={"KUBECONFIG": "/nonexistent"})
    assert proc.returncode == 2
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_malformed_claim_policy_is_a_usage_error(job, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("default: maybe\n")
    proc = job("--claim-policy", str(bad))
    assert proc.returncode == 2
    assert "-claim-policy" in proc.stderr and "default" in proc.stderr


def test_a_busy_metrics_port_is_a_usage_error_before_anything_is_contacted(job):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = job("--loop", "-metrics-addr", f"127.0.0.1:{port}", timeout=30)
    assert proc.returncode == 2, proc.stderr
    assert "flag -metrics-addr" in proc.stderr and "already in use" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args", [["-zk-auth-file", "LATIN1"], ["-metrics-addr", "[::1]:notaport"]])
def test_bad_files_and_addresses_are_one_line_naming_the_flag(job, tmp_path, args):
    if args[1] == "LATIN1":
        latin1 = tmp_path / "auth"
        latin1.write_bytes(b"user:p\xe4ssword\n")
        args = [args[0], str(latin1)]
    proc = job(*args)
    assert proc.returncode == 2, proc.stderr
    assert f"flag {args[0]}" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
