"""The ZooKeeper credential never shows without a server: not in --help, not
in the configuration's repr; an ACL that needs a credential is refused before
connecting. (The ZooKeeper and Kubernetes tiers check logs and real runs.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.zk_security import ALICE, ALICE_PASSWORD, BOB, assert_secret_absent

from lib.settings import UsageError, load_settings


def test_help_does_not_print_the_credential(job):
    proc = job("--help", env={"KUBE2ZK_ZK_AUTH": ALICE})
    assert_secret_absent(proc.stdout, proc.stderr)
    assert proc.returncode == 0, proc.stderr
    assert "--zk-auth-file" in proc.stdout and "KUBE2ZK_ZK_AUTH" in proc.stdout


def test_credential_is_not_in_the_config_repr(tmp_path: Path):
    cfg = load_settings([], {"KUBE2ZK_ZK_AUTH": ALICE})
    assert cfg.zk.auth == ALICE
    assert_secret_absent(repr(cfg), str(cfg))
    auth_file = tmp_path / "zk-auth"
    auth_file.write_text(f" {BOB}\n")
    cfg = load_settings(["--zk-auth-file", str(auth_file)], {"KUBE2ZK_ZK_AUTH": ALICE})
    assert cfg.zk.auth == BOB  # the file wins over the environment
    assert_secret_absent(repr(cfg))
    with pytest.raises(UsageError) as err:
        load_settings([], {"KUBE2ZK_ZK_AUTH": f":{ALICE_PASSWORD}"})
    assert_secret_absent(str(err.value))


def test_acl_without_credential():
    """Checked once, with the other settings, before anything is contacted."""
    with pytest.raises(UsageError, match="needs a ZooKeeper credential"):
        load_settings(["-zkservers", "127.0.0.1:1", "-zk-acl", "creator-all"], {})
