"""Cutting a raw API pod down to what a sync needs (lib/kube/pods.py), through
the same msgspec schema the list and the watch decode with."""

import json

import pytest

from lib.kube.schema import decode_pod
from lib.model import PodInfo


def pod_info(raw: dict) -> PodInfo:
    return decode_pod(json.dumps(raw).encode())


ANNOTATION = '[{"serviceName": "test-rpc-server-1", "version": "v0"}]'


def raw_pod(**overrides):
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "test-service-7d9f-abcde",
            "namespace": "default",
            "uid": "0b6f-11",
            "labels": {"app": "test-service", "rpc-service": "true"},
            "annotations": {"rpc-service": ANNOTATION, "other": "x"},
        },
        "spec": {"containers": [{"name": "c", "image": "i"}]},
        "status": {
            "phase": "Running",
            "podIP": "172.16.0.67",
            "podIPs": [{"ip": "172.16.0.67"}, {"ip": "fd00::67"}],
            "conditions": [
                {"type": "Initialized", "status": "True"},
                {"type": "Ready", "status": "True"},
                {"type": "ContainersReady", "status": "True"},
                {"type": "PodScheduled", "status": "True"},
            ],
        },
    }
    for path, value in overrides.items():
        section, _, key = path.partition(".")
        if value is None:
            pod[section].pop(key, None)
        else:
            pod[section][key] = value
    return pod


def test_running_ready_pod_is_cut_to_its_fields():
    info = pod_info(raw_pod())
    assert info.namespace == "default"
    assert info.name == "test-service-7d9f-abcde"
    assert info.key == "default/test-service-7d9f-abcde"
    assert info.phase == "Running"
    assert info.ready is True
    assert info.deleting is False
    assert info.pod_ip == "172.16.0.67"
    assert info.annotation == ANNOTATION
    assert info.has_label is True


@pytest.mark.parametrize(
    ("conditions", "ready"),
    [
        ([{"type": "Ready", "status": "True"}], True),
        ([{"type": "Ready", "status": "False"}], False),
        ([{"type": "Ready", "status": "Unknown"}], False),
        ([{"type": "Ready", "status": "true"}], False),
        ([{"type": "ContainersReady", "status": "True"}], False),
        ([{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "True"}], True),
        ([], False),
        (None, False),
    ],
)
def test_ready_comes_from_the_ready_condition_only(conditions, ready):
    assert pod_info(raw_pod(**{"status.conditions": conditions})).ready is ready


def test_pod_with_deletion_timestamp_is_deleting():
    assert pod_info(raw_pod(**{"metadata.deletionTimestamp": "2024-01-01T00:00:00Z"})).deleting is True


def test_pod_without_deletion_timestamp_is_not_deleting():
    assert pod_info(raw_pod(**{"metadata.deletionTimestamp": None})).deleting is False


@pytest.mark.parametrize(("pod_ip", "expected"), [("10.1.2.3", "10.1.2.3"), ("fd00::1", "fd00::1"), ("", None)])
def test_pod_ip_is_the_primary_address(pod_ip, expected):
    assert pod_info(raw_pod(**{"status.podIP": pod_ip})).pod_ip == expected


def test_pod_without_pod_ip_has_none_even_when_pod_ips_is_set():
    assert pod_info(raw_pod(**{"status.podIP": None})).pod_ip is None


def test_missing_annotation_is_none():
    assert pod_info(raw_pod(**{"metadata.annotations": {"other": "x"}})).annotation is None
    assert pod_info(raw_pod(**{"metadata.annotations": None})).annotation is None


def test_annotation_text_is_kept_verbatim():
    text = "\ufeff  not json at all "
    assert pod_info(raw_pod(**{"metadata.annotations": {"rpc-service": text}})).annotation == text


@pytest.mark.parametrize(
    ("labels", "has_label"),
    [
        ({"rpc-service": "true"}, True),
        ({"rpc-service": "false"}, False),
        ({"rpc-service": "True"}, False),
        ({"app": "x"}, False),
        ({}, False),
        (None, False),
    ],
)
def test_has_label_only_for_rpc_service_true(labels, has_label):
    assert pod_info(raw_pod(**{"metadata.labels": labels})).has_label is has_label


@pytest.mark.parametrize("phase", ["Pending", "Running", "Succeeded", "Failed", "Unknown"])
def test_phase_is_copied(phase):
    assert pod_info(raw_pod(**{"status.phase": phase})).phase == phase


def test_pod_without_status_is_not_ready_and_has_no_ip():
    raw = raw_pod()
    del raw["status"]
    info = pod_info(raw)
    assert (info.phase, info.ready, info.pod_ip) == (None, False, None)


def test_empty_object_gives_empty_fields_instead_of_raising():
    info = pod_info({})
    assert (info.namespace, info.name, info.phase, info.ready, info.deleting, info.pod_ip, info.annotation) == (
        "",
        "",
        None,
        False,
        False,
        None,
        None,
    )
    assert info.has_label is False
