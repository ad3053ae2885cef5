"""The ZooKeeper tier's own set-up works: its server answers and keeps what is
written, and testbed/zookeeper.sh's halt and resume (the fault tests' tools)
keep an instance's data and port."""

from __future__ import annotations

import os

from helpers import answers, four_letter, free_port, zookeeper, zookeeper_sh
from kazoo.client import KazooClient


def test_the_tier_zookeeper_answers_and_keeps_nodes(zk_hosts: str, zk: KazooClient, zk_root: str):
    assert answers(zk_hosts)
    assert "Mode: standalone" in four_letter(zk_hosts, "srvr")
    zk.create(f"{zk_root}/rpc_v2/svc", b"data", makepath=True)
    assert zk.get(f"{zk_root}/rpc_v2/svc")[0] == b"data"


def test_zookeeper_sh_halt_and_resume_keep_data_and_port(zk_root: str):
    name, port = f"halt-{os.getpid()}-{zk_root[3:]}", free_port()
    hosts = f"127.0.0.1:{port}"
    zookeeper("start", name, str(port))
    try:
        own = KazooClient(hosts=hosts, timeout=10)
        own.start(timeout=15)
        own.create("/kept", b"before the halt")
        own.stop()
        zookeeper("halt", name)
        assert not answers(hosts)
        assert zookeeper_sh("status", name).returncode != 0
        zookeeper("resume", name)
        assert answers(hosts)
        own.start(timeout=15)
        assert own.get("/kept")[0] == b"before the halt"
        own.stop()
        own.close()
    finally:
        zookeeper("stop", name)
    assert not answers(hosts)
