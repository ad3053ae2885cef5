"""The chart and alert tooling (helm, promtool): built from source by
testbed/tools.sh on first use and cached with the bed's binaries, so a fresh
machine needs nothing installed by hand."""

from __future__ import annotations

import math
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

from .common import REPO, bed_script

CHART = REPO / "charts" / "kube2zk"
ALERTS = CHART / "files" / "alerts.yaml"


def build_tool(name: str) -> Path:
    """The path of ``name`` (helm or promtool), building it when missing; a
    cold build takes minutes, hence the generous timeout."""
    proc = bed_script("tools.sh", name, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"testbed/tools.sh {name} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return Path(proc.stdout.strip().splitlines()[-1])


def helm_template(helm: Path, *args: str, release: str = "kube2zk", namespace: str = "default") -> list[dict[str, Any]]:
    """The objects ``helm template`` renders from the chart with ``args``."""
    proc = subprocess.run(
        [str(helm), "template", release, str(CHART), "--namespace", namespace, *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if proc.returncode != 0:
        raise AssertionError(f"helm template {' '.join(args)} failed:\n{proc.stderr}")
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


def by_kind(objects: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["kind"]: o for o in objects}


def container_env(pod_spec: Mapping[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in pod_spec["containers"][0].get("env", [])}


def scraped_samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    """The samples of a /metrics text: (name, labels, value)."""
    return [
        (s.name, dict(s.labels), s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if not math.isnan(s.value)
    ]


def series_name(name: str, labels: Mapping[str, str]) -> str:
    if not labels:
        return name
    inner = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}}"


def input_series(
    segments: list[tuple[str, float, int]], labels: Mapping[str, str], interval: int = 60
) -> list[dict[str, str]]:
    """``promtool test rules`` input series from scraped /metrics texts.

    Each segment is (text, wall-clock time of the scrape, minutes): the scrape's
    samples repeat once a minute for that long, as if Prometheus had scraped an
    unchanged endpoint; a series a segment lacks is missing there. ``labels``
    are the target labels Prometheus would add (namespace, instance).
    Timestamp gauges are moved onto promtool's clock, which starts at 0: a
    value becomes its age at the scrape, counted back from the segment's start,
    so ``time() - value`` means what it meant when it was scraped.
    """
    per_segment: list[dict[str, float]] = []
    for text, scraped_at, _minutes in segments:
        samples: dict[str, float] = {}
        for name, sample_labels, value in scraped_samples(text):
            if name.endswith("_timestamp_seconds"):
                start = sum(m for *_, m in segments[: len(per_segment)]) * interval
                value = value - scraped_at + start
            samples[series_name(name, {**sample_labels, **labels})] = value
        per_segment.append(samples)
    names = sorted({name for samples in per_segment for name in samples})
    series = []
    for name in names:
        values: list[str] = []
        for samples, (_text, _at, minutes) in zip(per_segment, segments, strict=True):
            value = samples.get(name)
            values += ["_" if value is None else repr(value)] * minutes
        series.append({"series": name, "values": " ".join(values)})
    return series


def alert_rules(path: Path = ALERTS, group: str | None = None) -> dict[str, dict[str, Any]]:
    """The alerting rules of a rules file by name (of one group when named)."""
    groups = yaml.safe_load(path.read_text())["groups"]
    return {r["alert"]: r for g in groups if group in (None, g["name"]) for r in g["rules"] if "alert" in r}


def expected_alert(rule: Mapping[str, Any], labels: Mapping[str, str]) -> dict[str, Any]:
    """A firing alert of ``rule`` as ``promtool test rules`` states it: the
    rule's labels plus ``labels``, its annotations with ``$labels`` filled in."""
    annotations = {}
    for key, text in rule.get("annotations", {}).items():
        for name, value in labels.items():
            text = text.replace(f"{{{{ $labels.{name} }}}}", value)
        annotations[key] = text
    return {"exp_labels": {**rule.get("labels", {}), **labels}, "exp_annotations": annotations}


def promtool_test(
    promtool: Path, workdir: Path, rules: Path, tests: list[dict[str, Any]]
) -> subprocess.CompletedProcess[str]:
    """Run ``promtool test rules`` on ``rules`` with the given test groups."""
    (workdir / "rules.yaml").write_text(rules.read_text())
    unit = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": tests}
    (workdir / "unit.yaml").write_text(yaml.safe_dump(unit, sort_keys=False))
    return subprocess.run(
        [str(promtool), "test", "rules", str(workdir / "unit.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=workdir,
    )
