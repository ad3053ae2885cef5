"""A ZooKeeper that stops answering without closing its connections.

A frozen server (SIGSTOP: a long GC pause, a hung VM, a partition that drops
packets) keeps every TCP connection open and answers nothing, so only
kube2zk's own bounds end its waits. Each test freezes a private ZooKeeper at a
chosen moment and checks that the run still ends as documented; the
subprocess timeout is the bound under test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from helpers import JOB, REPO, STATE, LoopProcess, eventually, free_port, zookeeper
from kazoo.client import KazooClient

ZK_TIMEOUT = 3.0  # -zk-timeout of the runs under test
# What a run may take beyond -zk-timeout once ZooKeeper froze: kazoo's
# heartbeat noticing the silence (2/3 of the 4 s minimum session), a retry
# deadline, the bounded close, and process start-up.
SLACK = 12.0


@dataclass
class FrozenZooKeeper:
    """A private ZooKeeper the test can freeze and thaw."""

    name: str
    port: int
    frozen: bool = False

    @property
    def hosts(self) -> str:
        return f"127.0.0.1:{self.port}"

    def pid(self) -> int:
        return int((STATE / f"zk-{self.name}" / "pid").read_text())

    def freeze(self) -> None:
        os.kill(self.pid(), signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        if self.frozen:
            os.kill(self.pid(), signal.SIGCONT)
            self.frozen = False


@pytest.fixture
def private_zk(testbed_env: dict[str, str], zk_root: str) -> Iterator[FrozenZooKeeper]:
    server = FrozenZooKeeper(f"frozen-{os.getpid()}-{zk_root[3:]}", free_port())
    zookeeper("start", server.name, str(server.port))
    try:
        yield server
    finally:
        server.thaw()  # a stopped JVM would ignore the SIGTERM of stop
        zookeeper("stop", server.name)


@pytest.fixture
def own_client(private_zk: FrozenZooKeeper) -> Iterator[KazooClient]:
    client = KazooClient(hosts=private_zk.hosts, timeout=10)
    client.start(timeout=15)
    yield client
    private_zk.thaw()
    client.stop()
    client.close()


class Run:
    """A one-shot ``kube2zk_job.py`` whose log is followed line by line."""

    def __init__(self, args: list[str], env: dict[str, str]):
        self.lines: list[str] = []
        self._seen = threading.Condition()
        self.proc = subprocess.Popen(
            [sys.executable, str(JOB), *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._seen:
                self.lines.append(line)
                self._seen.notify_all()
        with self._seen:
            self._seen.notify_all()

    def log(self) -> str:
        with self._seen:
            return "".join(self.lines)

    def wait_for_line(self, text: str, timeout: float = 60) -> None:
        """Block until the log shows ``text``; fail when the run ends first."""
        with self._seen:
            found = self._seen.wait_for(
                lambda: any(text in line for line in self.lines) or not self._reader.is_alive(), timeout
            )
            if not found or not any(text in line for line in self.lines):
                pytest.fail(f"the run never logged {text!r} (exit {self.proc.poll()}):\n{''.join(self.lines)}")

    def exit_code(self, timeout: float) -> int:
        """The exit status, or a failure when the run outlives ``timeout``."""
        started = time.monotonic()
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self._reader.join(5)
            pytest.fail(f"still running {timeout:g}s after ZooKeeper froze; log:\n{self.log()}")
        self._reader.join(5)
        print(f"exit {code} {time.monotonic() - started:.1f}s after the freeze")
        return code


@pytest.fixture
def one_shot(scoped: Callable[..., tuple[list[str], dict[str, str]]]) -> Iterator[Callable[..., Run]]:
    runs: list[Run] = []

    def start(zk_hosts: str, *args: str) -> Run:
        flags, env = scoped(zk_hosts)
        run = Run([*flags, "-zk-timeout", f"{ZK_TIMEOUT:g}s", *args], env)
        runs.append(run)
        return run

    yield start
    for run in runs:
        if run.proc.poll() is None:
            run.proc.kill()
            run.proc.wait()


def test_run_waiting_for_the_lock_exits_4_when_zookeeper_freezes(
    one_shot, private_zk: FrozenZooKeeper, own_client: KazooClient, zk_root: str
):
    holder = own_client.Lock(f"{zk_root}/kube2zk/owners/default/lock", "test-holder")
    assert holder.acquire(timeout=10)
    run = one_shot(private_zk.hosts, "-lock-timeout", "60s")
    run.wait_for_line("waiting for the writer lock")

    private_zk.freeze()

    # Exit 4 (ZooKeeper lost), not 5: nobody was seen holding the lock longer.
    assert run.exit_code(timeout=ZK_TIMEOUT + SLACK) == 4, run.log()


def test_run_exits_4_when_zookeeper_freezes_right_after_it_took_the_lock(
    one_shot, private_zk: FrozenZooKeeper, cluster
):
    cluster.deploy("svc", 1)
    cluster.wait_ready("app=svc", 1)
    run = one_shot(private_zk.hosts, "-log-level", "debug")
    run.wait_for_line("holding the writer lock")

    private_zk.freeze()

    assert run.exit_code(timeout=ZK_TIMEOUT + SLACK) == 4, run.log()


def test_loop_stops_on_sigterm_while_zookeeper_is_frozen(loop, private_zk: FrozenZooKeeper):
    proc: LoopProcess = loop("-zk-timeout", f"{ZK_TIMEOUT:g}s", "-syncperiod", "1s", zk_hosts=private_zk.hosts)
    eventually("the first sync", lambda: proc.get("/readyz")[0] == 200 or proc.proc.poll() is not None, timeout=60)
    assert proc.proc.poll() is None, proc.log()

    private_zk.freeze()
    # Let the next full sync (every second) get stuck on the silent server.
    time.sleep(2.5)
    proc.proc.send_signal(signal.SIGTERM)

    started = time.monotonic()
    try:
        code = proc.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        pytest.fail(f"--loop ignored SIGTERM for 15s while ZooKeeper was frozen; log:\n{proc.log()}")
    print(f"exit {code} {time.monotonic() - started:.1f}s after SIGTERM")
    assert code == 0, proc.log()
