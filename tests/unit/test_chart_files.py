"""The chart's values and its monitoring files, read as files: every option
has a value, and the alerts and the dashboard read only metrics that --loop
really exposes (tests/kubernetes/test_helm.py and test_alerts.py render,
install and evaluate them)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client import generate_latest

from lib.daemon.metrics import Metrics
from lib.settings import OPTIONS

CHART = Path(__file__).resolve().parents[2] / "charts" / "kube2zk"
# Set by the chart from other values (mode, metrics.port), not under `config`.
CHART_OWNED = {"loop", "metrics-addr"}
# The manifests' values, which the chart keeps.
MANIFEST_VALUES = {"zkservers": "zookeeper:2181", "zkpath": "/rpc_v2", "owner-id": "default"}


def exposed_metrics() -> set[str]:
    """Every series name /metrics can show (a histogram's _bucket, _count...)."""
    metrics = Metrics()
    metrics.last_success.labels("full")
    metrics.sync_duration.labels("full")
    metrics.zk_ops.labels("create", "ok")
    metrics.watch_restarts.labels("gone")
    text = generate_latest(metrics.registry).decode()
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line.startswith("kube2zk_")}


def metric_names(text: str) -> set[str]:
    return set(re.findall(r"\bkube2zk_[a-z_]+", text)) - {"kube2zk_job"}


def test_values_list_every_option_with_kube2zks_own_default() -> None:
    config = yaml.safe_load((CHART / "values.yaml").read_text())["config"]
    assert set(config) == {o.flag for o in OPTIONS} - CHART_OWNED
    for option in OPTIONS:
        if option.flag in CHART_OWNED:
            continue
        value = config[option.flag]
        if option.flag in MANIFEST_VALUES:
            assert value == MANIFEST_VALUES[option.flag]
        elif isinstance(value, list):
            assert option.parse(json.dumps(value)) == option.parse(option.default)
        else:
            assert str(value).lower() == option.default.lower(), option.flag


def test_chart_maps_each_option_to_its_own_variable() -> None:
    helpers = (CHART / "templates" / "_helpers.tpl").read_text()
    block = helpers.split('{{- define "kube2zk.optionEnv" -}}', 1)[1].split("{{- end }}", 1)[0]
    assert yaml.safe_load(block) == {o.flag: o.env for o in OPTIONS}


def test_alerts_read_only_metrics_that_loop_exposes() -> None:
    groups = yaml.safe_load((CHART / "files" / "alerts.yaml").read_text())["groups"]
    loop = next(g for g in groups if g["name"] == "kube2zk-loop")
    read = {name for rule in loop["rules"] for name in metric_names(rule["expr"])}
    assert read and read <= exposed_metrics(), read - exposed_metrics()


def test_dashboard_reads_only_metrics_that_loop_exposes() -> None:
    dashboard = json.loads((CHART / "files" / "dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    read = {name for expr in exprs for name in metric_names(expr)}
    assert read <= exposed_metrics(), read - exposed_metrics()
    assert len(read) >= 10  # every metric of --loop has a panel
