"""The Helm chart (charts/kube2zk): it lints, renders objects a real API
server accepts, maps every option onto its environment variable, and an
installed release grants exactly what the plain manifests grant, enough for
kube2zk to run with the release's own ServiceAccount."""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import REPO, eventually, kubeconfig_for_token, manifest_objects, service_account_token
from helpers.tools import CHART, by_kind, container_env, helm_template
from kubernetes import client

from lib.settings import OPTIONS, load_settings

MANIFEST = {"cronjob": REPO / "cronjob.yaml", "deployment": REPO / "k8s" / "kube2zk.yaml"}
# Set by the chart from other values (mode, metrics.port), not under `config`.
CHART_OWNED = {"loop", "metrics-addr"}
# Every optional object on, with the Secret and ConfigMap the chart mounts.
EVERYTHING = [
    "--set=podDisruptionBudget.enabled=true",
    "--set=metrics.service.enabled=true",
    "--set=metrics.serviceMonitor.enabled=true",
    "--set=prometheusRule.enabled=true",
    "--set=zookeeper.auth.existingSecret=zk-credential",
    "--set=zookeeper.tls.existingSecret=zk-tls",
    "--set=zookeeper.tls.certKey=tls.crt",
    "--set=zookeeper.tls.keyKey=tls.key",
    "--set=claimPolicy.policy.default=deny",
    "--set=grafanaDashboard.enabled=true",
]
MONITORING = "monitoring.coreos.com/v1"


def workload_pod(objects: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The pod template of the CronJob or the Deployment."""
    if "CronJob" in objects:
        return objects["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]
    return objects["Deployment"]["spec"]["template"]


@pytest.mark.parametrize("mode", ["cronjob", "deployment"])
def test_chart_lints_in_each_mode(helm, mode):
    proc = subprocess.run(
        [str(helm), "lint", "--strict", str(CHART), f"--set=mode={mode}", *EVERYTHING],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in proc.stdout


@pytest.mark.parametrize("mode", ["cronjob", "deployment"])
def test_rendered_chart_passes_a_server_side_dry_run(helm, monitoring_crds, testbed_env, namespace, mode):
    objects = helm_template(helm, f"--set=mode={mode}", *EVERYTHING, namespace=namespace)
    kinds = {o["kind"] for o in objects}
    assert {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap"} <= kinds
    assert ("CronJob" if mode == "cronjob" else "Deployment") in kinds
    # The monitoring objects too: the bed serves the Prometheus Operator's types.
    assert {o["kind"] for o in objects if o["apiVersion"] == MONITORING} == (
        {"PrometheusRule"} if mode == "cronjob" else {"PrometheusRule", "ServiceMonitor"}
    )
    if mode == "deployment":
        # The ServiceMonitor scrapes the metrics Service's named port.
        rendered = by_kind(objects)
        monitor, service = rendered["ServiceMonitor"], rendered["Service"]
        selector = monitor["spec"]["selector"]["matchLabels"]
        assert selector.items() <= service["metadata"]["labels"].items()
        assert [e["port"] for e in monitor["spec"]["endpoints"]] == [p["name"] for p in service["spec"]["ports"]]
    proc = subprocess.run(
        ["kubectl", "apply", "--dry-run=server", "-n", namespace, "-f", "-"],
        input=yaml.safe_dump_all(objects),
        env=testbed_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("(server dry run)") == len(objects)


@pytest.mark.parametrize("mode", ["cronjob", "deployment"])
def test_prometheus_rule_of_each_mode_passes_promtool_check(helm, promtool, tmp_path, mode):
    rule = by_kind(
        helm_template(helm, f"--set=mode={mode}", "--set=prometheusRule.enabled=true", "--set=config.syncperiod=90s")
    )["PrometheusRule"]
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(rule["spec"]))
    proc = subprocess.run([str(promtool), "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    groups = [g["name"] for g in rule["spec"]["groups"]]
    assert groups == ["kube2zk-cronjob" if mode == "cronjob" else "kube2zk-loop"]
    text = "\n".join(r["expr"] for g in rule["spec"]["groups"] for r in g["rules"])
    assert 'namespace="default"' in text and 'namespace=~".+"' not in text
    if mode == "deployment":
        assert "> 2 * 90\n" in text  # the period in seconds, from config.syncperiod
    else:
        assert 'cronjob="kube2zk"' in text and "2 * 60" in text


def test_every_option_renders_into_its_environment_variable(helm):
    overrides = {o.flag: f"value-of-{o.flag}" for o in OPTIONS if o.flag not in CHART_OWNED | {"node-config"}}
    args = [f"--set-string=config.{flag}={value}" for flag, value in overrides.items()]
    args += ["--set=config.node-config={a,b}", "--set=metrics.port=9090"]
    env = container_env(workload_pod(by_kind(helm_template(helm, *args)))["spec"])
    for option in OPTIONS:
        if option.flag in overrides:
            assert env[option.env] == overrides[option.flag], option.flag
    assert env["KUBE2ZK_NODE_CONFIG"] == '["a","b"]'
    assert env["KUBE2ZK_METRICS_ADDR"] == ":9090"
    assert "KUBE2ZK_LOOP" not in env  # the Deployment passes --loop, as the manifest does


@pytest.mark.parametrize("mode", ["cronjob", "deployment"])
def test_default_environment_reads_as_kube2zks_defaults_but_the_manifests_three(helm, mode):
    """kube2zk itself parses the rendered environment: every value is one it
    accepts, and all but the manifests' zkservers, zkpath and owner-id are its
    defaults."""
    pod = workload_pod(by_kind(helm_template(helm, f"--set=mode={mode}")))
    env = container_env(pod["spec"])
    manifest = workload_pod(by_kind(manifest_objects(MANIFEST[mode])))
    assert {k: v for k, v in container_env(manifest["spec"]).items() if v}.items() <= env.items()
    rendered, defaults = load_settings([], env), load_settings([], {})
    assert rendered.zk.servers == "zookeeper:2181"
    assert dataclasses.replace(rendered.zk, servers=defaults.zk.servers) == defaults.zk
    assert rendered.kube == defaults.kube
    assert rendered.output == defaults.output
    assert rendered.sync == defaults.sync
    assert rendered.loop == defaults.loop  # the Deployment's -metrics-addr :8080 is the default too
    assert (pod["spec"]["containers"][0].get("args") or []) == (["--loop"] if mode == "deployment" else [])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set=config.nope=1"], "kube2zk has no option -nope"),
        (["--set=config.loop=true"], "config.loop: set by the chart"),
        (["--set=zookeeper.auth.existingSecret=s", "--set=config.zk-auth-file=/x"], "config.zk-auth-file is set"),
        (["--set=claimPolicy.existingConfigMap=p", "--set=config.claim-policy=/x"], "config.claim-policy is set"),
        (["--set=mode=daemonset"], "mode must be cronjob or deployment"),
    ],
)
def test_chart_refuses_unknown_options_and_double_settings(helm, args, message):
    proc = subprocess.run([str(helm), "template", "r", str(CHART), *args], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert message in proc.stderr


@pytest.fixture
def release(helm, testbed_env, namespace) -> Iterator[Any]:
    """``helm install`` into the test's namespace; uninstalled afterwards (the
    cluster-wide RBAC outlives a namespace)."""
    installed: list[str] = []

    def install(name: str, *args: str) -> subprocess.CompletedProcess[str]:
        installed.append(name)
        return subprocess.run(
            [str(helm), "install", name, str(CHART), "--namespace", namespace, "--wait", "--timeout", "180s", *args],
            env=testbed_env,
            capture_output=True,
            text=True,
            timeout=240,
        )

    yield install
    for name in installed:
        subprocess.run(
            [str(helm), "uninstall", name, "--namespace", namespace, "--wait"],
            env=testbed_env,
            capture_output=True,
            timeout=120,
        )


def contains(stored: Any, written: Any) -> bool:
    """``written`` (a manifest's part) is in ``stored`` (what the API server
    keeps of the release's), which may add the server's defaults."""
    if isinstance(written, dict):
        return isinstance(stored, dict) and all(contains(stored.get(k), v) for k, v in written.items())
    return stored == written


def rbac_rules(rules: list[Any]) -> list[dict[str, Any]]:
    """Rules as plain dicts without the API's empty fields."""
    as_dicts = [r if isinstance(r, dict) else client.ApiClient().sanitize_for_serialization(r) for r in rules]
    return [{k: v for k, v in r.items() if v} for r in as_dicts]


def run_with_account(job, loop, mode: str, kubeconfig: str, cluster, core, namespace, zk, zk_root) -> None:
    """kube2zk, with nothing but the release's ServiceAccount, registers a
    Deployment's pods and puts an Event on a pod with a broken annotation."""
    cluster.deploy("svc", 2)
    cluster.deploy("broken", 1, "[{}]")
    cluster.wait_ready("app=svc", 2)
    cluster.wait_ready("app=broken", 1)
    base = f"{zk_root}/rpc_v2/test-rpc-server-1"
    if mode == "cronjob":
        proc = job("--kubeconfig", kubeconfig)
        assert proc.returncode == 0, proc.stderr
        log = proc.stderr
    else:
        loop_proc = loop("--kubeconfig", kubeconfig)
        eventually("registered", lambda: zk.exists(base))
        log = loop_proc.log()
    assert zk.exists(base)
    eventually(
        "an Event on the broken pod",
        lambda: [e for e in core.list_namespaced_event(namespace).items if e.reason == "InvalidRPCServiceAnnotation"],
    )
    assert "403" not in log


@pytest.mark.parametrize("mode", ["cronjob", "deployment"])
def test_installed_release_grants_what_the_manifest_grants(
    release, api, core, namespace, testbed_env, tmp_path, job, loop, cluster, zk, zk_root, mode
):
    proc = release(
        "k2z",
        f"--set=mode={mode}",
        "--set=cronjob.suspend=true",
        "--set=podDisruptionBudget.enabled=true",
        "--set=metrics.service.enabled=true",
    )
    assert proc.returncode == 0, proc.stderr
    rbac = client.RbacAuthorizationV1Api(api)
    manifest = by_kind(manifest_objects(MANIFEST[mode]))
    role = rbac.read_cluster_role(f"k2z-kube2zk-{namespace}")
    assert rbac_rules(role.rules) == rbac_rules(manifest["ClusterRole"]["rules"])
    binding = rbac.read_cluster_role_binding(f"k2z-kube2zk-{namespace}")
    assert [(s.kind, s.name, s.namespace) for s in binding.subjects] == [("ServiceAccount", "k2z-kube2zk", namespace)]

    # The workload runs as the manifest's does: non-root, read-only root
    # filesystem, the same resources (and probes in Deployment mode).
    if mode == "cronjob":
        workload = client.BatchV1Api(api).read_namespaced_cron_job("k2z-kube2zk", namespace)
        pod = workload.spec.job_template.spec.template
        assert workload.spec.concurrency_policy == manifest["CronJob"]["spec"]["concurrencyPolicy"]
    else:
        workload = client.AppsV1Api(api).read_namespaced_deployment("k2z-kube2zk", namespace)
        pod = workload.spec.template
        assert workload.status.ready_replicas == manifest["Deployment"]["spec"]["replicas"] == 2
        # The PodDisruptionBudget and the metrics Service select both replicas.
        policy = client.PolicyV1Api(api)
        eventually(
            "the budget counts both replicas",
            lambda: policy.read_namespaced_pod_disruption_budget("k2z-kube2zk", namespace).status.expected_pods == 2,
        )
        discovery = client.DiscoveryV1Api(api)

        def endpoints() -> int:
            slices = discovery.list_namespaced_endpoint_slice(
                namespace, label_selector="kubernetes.io/service-name=k2z-kube2zk-metrics"
            ).items
            return sum(len(s.endpoints or []) for s in slices)

        eventually("both replicas behind the metrics Service", lambda: endpoints() == 2)
    pod = client.ApiClient().sanitize_for_serialization(pod)
    want = workload_pod(manifest)
    assert contains(pod["spec"]["securityContext"], want["spec"]["securityContext"])
    ours, theirs = pod["spec"]["containers"][0], want["spec"]["containers"][0]
    for key in ("securityContext", "resources", "livenessProbe", "readinessProbe", "args"):
        assert contains(ours.get(key), theirs.get(key)), (key, ours.get(key), theirs.get(key))
    assert (ours.get("livenessProbe") is None) == (mode == "cronjob")

    token = service_account_token(core, namespace, "k2z-kube2zk")
    kubeconfig = kubeconfig_for_token(testbed_env["KUBECONFIG"], token, tmp_path / "release.kubeconfig")
    run_with_account(job, loop, mode, kubeconfig, cluster, core, namespace, zk, zk_root)


def test_release_watching_one_namespace_gets_a_role_there_only(
    release, api, core, namespace, testbed_env, tmp_path, job, loop, cluster, zk, zk_root
):
    proc = release("one", f"--set=config.namespace={namespace}", "--set=config.events=false")
    assert proc.returncode == 0, proc.stderr
    rbac = client.RbacAuthorizationV1Api(api)
    role = rbac.read_namespaced_role("one-kube2zk", namespace)
    # events=false drops the Events rule, as the manifests' comments say.
    assert rbac_rules(role.rules) == rbac_rules(
        by_kind(manifest_objects(MANIFEST["deployment"]))["ClusterRole"]["rules"][:1]
    )
    with pytest.raises(client.ApiException) as err:
        rbac.read_cluster_role(f"one-kube2zk-{namespace}")
    assert err.value.status == 404

    token = service_account_token(core, namespace, "one-kube2zk")
    kubeconfig = kubeconfig_for_token(testbed_env["KUBECONFIG"], token, tmp_path / "release.kubeconfig")
    proc_loop = loop("--kubeconfig", kubeconfig, "--events=false")
    cluster.deploy("svc", 2)
    cluster.wait_ready("app=svc", 2)
    eventually("registered", lambda: zk.exists(f"{zk_root}/rpc_v2/test-rpc-server-1"))
    assert "403" not in proc_loop.log()


def test_claim_policy_from_the_charts_configmap_is_what_kube2zk_reads(
    helm, tmp_path, job, cluster, zk, zk_root, namespace
):
    """The ConfigMap's data is a policy kube2zk loads and enforces: only the
    allowed name is registered."""
    objects = helm_template(
        helm,
        "--set=claimPolicy.policy.default=deny",
        "--set=claimPolicy.policy.rules[0].services={test-rpc-server-1}",
        f"--set=claimPolicy.policy.rules[0].namespaces={{{namespace}}}",
    )
    config_map = by_kind(objects)["ConfigMap"]
    pod = workload_pod(by_kind(objects))
    mount = pod["spec"]["containers"][0]["volumeMounts"][0]
    assert pod["spec"]["volumes"][0]["configMap"]["name"] == config_map["metadata"]["name"]
    ((key, policy),) = config_map["data"].items()
    assert container_env(pod["spec"])["KUBE2ZK_CLAIM_POLICY"] == f"{mount['mountPath']}/{key}"

    path = Path(tmp_path / key)
    path.write_text(policy)
    cluster.deploy("seed", 1)
    cluster.wait_ready("app=seed", 1)
    proc = job("--claim-policy", str(path))
    assert proc.returncode == 0, proc.stderr
    assert zk.exists(f"{zk_root}/rpc_v2/test-rpc-server-1")
    assert not zk.exists(f"{zk_root}/rpc_v2/test-rpc-server-2")
