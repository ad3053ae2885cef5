"""The alert rules (charts/kube2zk/files/alerts.yaml) against what kube2zk
really exposes: a running --loop is brought into each state an alert is for,
its /metrics is scraped, and ``promtool test rules`` replays the samples and
says which alerts fire."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from typing import Any

from helpers import Cluster, LoopProcess, eventually
from helpers.kube import hold_mass_deletion
from helpers.tools import ALERTS, alert_rules, expected_alert, input_series, promtool_test
from kazoo.client import KazooClient

LOOP_ALERTS = alert_rules(group="kube2zk-loop")
CRONJOB_ALERTS = alert_rules(group="kube2zk-cronjob")


def scrape(proc: LoopProcess) -> tuple[str, float]:
    status, text = proc.get("/metrics")
    assert status == 200
    return text, time.time()


def loop_checks(namespace: str, firing: dict[str, set[str]]) -> list[dict[str, Any]]:
    """An alert_rule_test for every loop alert at each eval time: exactly the
    alerts named for that time fire, the others do not."""
    return [
        {
            "eval_time": at,
            "alertname": name,
            "exp_alerts": [expected_alert(rule, {"namespace": namespace})] if name in names else [],
        }
        for at, names in firing.items()
        for name, rule in LOOP_ALERTS.items()
    ]


def replay(promtool: Path, tmp_path: Path, series: list[dict[str, str]], checks: list[dict[str, Any]]) -> None:
    proc = promtool_test(
        promtool, tmp_path, ALERTS, [{"interval": "1m", "input_series": series, "alert_rule_test": checks}]
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_rules_file_passes_promtool_check(promtool):
    proc = subprocess.run([str(promtool), "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(LOOP_ALERTS) + len(CRONJOB_ALERTS)} rules found" in proc.stdout


def test_every_metric_the_rules_read_is_exposed_by_a_running_loop(loop, zk_root):
    proc = loop()
    eventually("first sync done", lambda: proc.get("/readyz")[0] == 200)
    text, _ = scrape(proc)
    exposed = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line.startswith("kube2zk_")}
    read = {word for rule in LOOP_ALERTS.values() for word in _metric_names(rule["expr"])}
    assert read and read <= exposed, read - exposed


def _metric_names(expr: str) -> set[str]:
    return set(re.findall(r"\bkube2zk_[a-z_]+", expr))


def test_held_deletions_fire_and_a_stale_sync_fires_after_twice_the_period(
    promtool, tmp_path, loop, cluster: Cluster, zk: KazooClient, zk_root, namespace
):
    proc = loop()
    hold_mass_deletion(cluster, zk, f"{zk_root}/rpc_v2", proc.metric)

    # The scraped state, unchanged for four hours: the hourly full sync
    # (-syncperiod 1h) would have stamped a newer time, so its absence is
    # what a stuck leader looks like.
    series = input_series([(*scrape(proc), 240)], {"namespace": namespace, "instance": "a"})
    replay(
        promtool,
        tmp_path,
        series,
        loop_checks(
            namespace,
            {
                "5m": set(),
                "15m": {"Kube2zkDeletionsHeld"},
                "1h": {"Kube2zkDeletionsHeld"},
                "2h10m": {"Kube2zkDeletionsHeld", "Kube2zkSyncStale"},
            },
        ),
    )


def test_a_rise_of_invalid_annotations_fires_for_a_while(
    promtool, tmp_path, loop, cluster: Cluster, zk, zk_root, namespace
):
    proc = loop()
    cluster.deploy("svc", 1)
    cluster.wait_ready("app=svc", 1)
    eventually("registered", lambda: proc.metric("kube2zk_services_registered") == 2.0)
    before = scrape(proc)
    assert proc.metric("kube2zk_invalid_annotations") == 0.0

    cluster.deploy("broken", 1, "{not json")
    eventually("invalid annotation counted", lambda: proc.metric("kube2zk_invalid_annotations") == 1.0)
    after = scrape(proc)

    # 40 minutes as before, then the broken pod: the rise shows for half an
    # hour (the rule compares with 30 minutes earlier) once it held for 10.
    series = input_series([(*before, 40), (*after, 80)], {"namespace": namespace, "instance": "a"})
    replay(
        promtool,
        tmp_path,
        series,
        loop_checks(
            namespace,
            {"30m": set(), "45m": set(), "55m": {"Kube2zkInvalidAnnotationsRising"}, "1h30m": set()},
        ),
    )


def test_services_not_owned_fire_after_half_an_hour(
    promtool, tmp_path, loop, cluster: Cluster, zk: KazooClient, zk_root, namespace
):
    zk.create(f"{zk_root}/rpc_v2/test-rpc-server-1", b"hand-made", makepath=True)
    cluster.deploy("seed", 1)
    cluster.wait_ready("app=seed", 1)
    proc = loop()
    eventually("not-owned metric", lambda: proc.metric("kube2zk_services_not_owned") == 1.0, timeout=60)

    series = input_series([(*scrape(proc), 60)], {"namespace": namespace, "instance": "a"})
    replay(
        promtool,
        tmp_path,
        series,
        loop_checks(namespace, {"20m": set(), "45m": {"Kube2zkServicesNotOwned"}}),
    )


def test_no_leader_fires_only_when_no_scraped_replica_leads(promtool, tmp_path, loop, zk_root, namespace):
    leader = loop("--zk-timeout", "4s")
    eventually("first is leader", lambda: leader.metric("kube2zk_leader") == 1.0)
    standby = loop("--zk-timeout", "4s")
    eventually("second is up as standby", lambda: standby.get("/readyz")[0] == 200)
    assert standby.metric("kube2zk_leader") == 0.0
    lead, stand = scrape(leader), scrape(standby)

    both = input_series([(*lead, 30)], {"namespace": namespace, "instance": "a"}) + input_series(
        [(*stand, 30)], {"namespace": namespace, "instance": "b"}
    )
    replay(promtool, tmp_path, both, loop_checks(namespace, {"10m": set()}))

    # The leader gone (its series stop), the standby still standing by.
    alone = input_series([(*stand, 30)], {"namespace": namespace, "instance": "b"})
    replay(promtool, tmp_path, alone, loop_checks(namespace, {"3m": set(), "10m": {"Kube2zkNoLeader"}}))


def test_cronjob_alert_reads_kube_state_metrics(promtool, tmp_path):
    """kube-state-metrics is not part of the bed: its two series are written
    here as it exports them for the plain manifest's CronJob."""
    rule = CRONJOB_ALERTS["Kube2zkCronJobNoSuccess"]
    labels = {"namespace": "default", "cronjob": "kube2zk"}
    created = {"series": 'kube_cronjob_created{namespace="default", cronjob="kube2zk"}', "values": "0x60"}
    # A success every minute for 20 minutes, then none.
    ok = {
        "series": 'kube_cronjob_status_last_successful_time{namespace="default", cronjob="kube2zk"}',
        "values": "0+60x19 1140x40",
    }
    never = [{"eval_time": "10m", "alertname": rule["alert"], "exp_alerts": [expected_alert(rule, labels)]}]
    stopped = [
        {"eval_time": "15m", "alertname": rule["alert"], "exp_alerts": []},
        {"eval_time": "21m", "alertname": rule["alert"], "exp_alerts": []},
        {"eval_time": "25m", "alertname": rule["alert"], "exp_alerts": [expected_alert(rule, labels)]},
    ]
    proc = promtool_test(
        promtool,
        tmp_path,
        ALERTS,
        [
            {"interval": "1m", "input_series": [created], "alert_rule_test": never},
            {"interval": "1m", "input_series": [created, ok], "alert_rule_test": stopped},
        ],
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_stale_owner_fires_after_a_quarter_hour(
    promtool, tmp_path, loop, job, cluster: Cluster, zk: KazooClient, zk_root, namespace
):
    cluster.deploy("seed", 1)
    cluster.wait_ready("app=seed", 1)
    assert job("-owner-id", "gone").returncode == 0  # another installation, which then stops
    proc = loop("-owner-stale-after", "1s", "-syncperiod", "2s")
    eventually("stale owner counted", lambda: proc.metric("kube2zk_owners_stale") == 1.0, timeout=60)

    series = input_series([(*scrape(proc), 60)], {"namespace": namespace, "instance": "a"})
    replay(promtool, tmp_path, series, loop_checks(namespace, {"10m": set(), "20m": {"Kube2zkOwnerStale"}}))
