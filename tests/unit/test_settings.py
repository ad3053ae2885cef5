"""Flags, environment variables and their validation (lib/settings)."""

from __future__ import annotations

import dataclasses
import http.client
import operator
import socket
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kazoo.hosts import collect_hosts

from lib.daemon.health import Health, ListenError, serve
from lib.daemon.metrics import Metrics
from lib.layouts.seed import DEFAULT_CONFIG, encode_node
from lib.settings import (
    OPTIONS,
    DeletionBudget,
    KubeSettings,
    Option,
    Settings,
    UsageError,
    load_settings,
    parse_duration,
)
from lib.settings.spec import DERIVED, GROUP_NAMES
from lib.settings.values import validate_zk_servers

NO_ENV: dict[str, str] = {}


def pick(loaded: Settings, field: str) -> Any:
    """``pick(s, "zk.servers")`` is ``s.zk.servers``, for parametrized tests."""
    return operator.attrgetter(field)(loaded)


def usage_error(argv: Sequence[str], environ: Mapping[str, str] = NO_ENV) -> str:
    with pytest.raises(UsageError) as info:
        load_settings(argv, environ)
    return str(info.value)


# -- defaults -------------------------------------------------------------


def test_defaults_match_the_original_daemon():
    cfg = load_settings([], NO_ENV)
    assert cfg.kube.namespace == ""
    assert cfg.zk.servers == "127.0.0.1:2181"
    assert cfg.sync.zk_path == "/rpc_v2"
    assert cfg.loop.sync_period == 3600.0
    assert cfg.sync.mock_registry is False


def test_defaults_of_the_new_options():
    cfg = load_settings([], NO_ENV)
    assert cfg.kube.kubeconfig is None
    assert cfg.sync.node_config == DEFAULT_CONFIG
    assert cfg.sync.owner_id == "default"
    assert cfg.sync.owner_root == "/kube2zk"
    assert cfg.sync.adopt is False
    assert cfg.sync.strict is False
    assert cfg.output.output == "text"
    assert cfg.output.log_format == "text"
    assert cfg.output.log_level == "info"
    assert cfg.zk.timeout == 15.0
    assert cfg.kube.timeout == 30.0
    assert cfg.kube.page_size == 2000


def test_the_settings_objects_defaults_are_the_option_tables():
    """Code that builds Settings() without parsing (tools, tests) gets what a
    run with no flag gets."""
    assert load_settings([], NO_ENV) == Settings()


# -- the seed's flags in every spelling -----------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["-namespace", "team-a"],
        ["--namespace", "team-a"],
        ["-namespace=team-a"],
        ["--namespace=team-a"],
    ],
)
def test_namespace_flag_takes_one_or_two_dashes_and_a_separate_or_joined_value(argv):
    assert load_settings(argv, NO_ENV).kube.namespace == "team-a"


@pytest.mark.parametrize(
    ("argv", "field", "expected"),
    [
        (["-zkservers", "zk-0:2181,zk-1:2181"], "zk.servers", "zk-0:2181,zk-1:2181"),
        (["--zkservers=zk:2182"], "zk.servers", "zk:2182"),
        (["-zkpath", "/services/rpc"], "sync.zk_path", "/services/rpc"),
        (["--zkpath=/x"], "sync.zk_path", "/x"),
        (["-syncperiod", "90s"], "loop.sync_period", 90.0),
        (["--syncperiod=1h30m"], "loop.sync_period", 5400.0),
        (["-syncperiod=1h0m0s"], "loop.sync_period", 3600.0),
        (["-mockregistry"], "sync.mock_registry", True),
        (["--mockregistry"], "sync.mock_registry", True),
        (["-mockregistry=true"], "sync.mock_registry", True),
        (["-mockregistry=false"], "sync.mock_registry", False),
        (["--mockregistry=1"], "sync.mock_registry", True),
        (["-mockregistry=0"], "sync.mock_registry", False),
    ],
)
def test_seed_flag_sets_its_option(argv, field, expected):
    assert pick(load_settings(argv, NO_ENV), field) == expected


@pytest.mark.parametrize(
    ("argv", "field", "expected"),
    [
        (["--kubeconfig", "/etc/kube/config"], "kube.kubeconfig", "/etc/kube/config"),
        (["--node-config", '["keepalive 16"]'], "sync.node_config", ("keepalive 16",)),
        (["--node-config", "[]"], "sync.node_config", ()),
        (["--owner-id", "cluster-a.prod_1"], "sync.owner_id", "cluster-a.prod_1"),
        (["-owner-root=/kube2zk-b"], "sync.owner_root", "/kube2zk-b"),
        (["--adopt"], "sync.adopt", True),
        (["--strict=true"], "sync.strict", True),
        (["--output", "json"], "output.output", "json"),
        (["--log-format=json"], "output.log_format", "json"),
        (["--log-level", "debug"], "output.log_level", "debug"),
        (["--zk-timeout", "2s"], "zk.timeout", 2.0),
        (["--kube-timeout=1m"], "kube.timeout", 60.0),
        (["--page-size", "50"], "kube.page_size", 50),
    ],
)
def test_added_flag_sets_its_option(argv, field, expected):
    assert pick(load_settings(argv, NO_ENV), field) == expected


def test_empty_kubeconfig_means_the_default_lookup():
    assert load_settings(["--kubeconfig="], NO_ENV).kube.kubeconfig is None


# -- environment ----------------------------------------------------------


@pytest.mark.parametrize(
    ("var", "value", "field", "expected"),
    [
        ("namespace", "team-b", "kube.namespace", "team-b"),
        ("zkservers", "zookeeper:2181", "zk.servers", "zookeeper:2181"),
        ("zkpath", "/rpc_v3", "sync.zk_path", "/rpc_v3"),
        ("syncperiod", "5m", "loop.sync_period", 300.0),
        ("mockregistry", "true", "sync.mock_registry", True),
        ("mockregistry", "false", "sync.mock_registry", False),
        ("KUBECONFIG", "/tmp/kubeconfig", "kube.kubeconfig", "/tmp/kubeconfig"),
        ("KUBE2ZK_NODE_CONFIG", '["zone x 1M"]', "sync.node_config", ("zone x 1M",)),
        ("KUBE2ZK_OWNER_ID", "cluster-b", "sync.owner_id", "cluster-b"),
        ("KUBE2ZK_OWNER_ROOT", "/owners-b", "sync.owner_root", "/owners-b"),
        ("KUBE2ZK_ADOPT", "true", "sync.adopt", True),
        ("KUBE2ZK_STRICT", "1", "sync.strict", True),
        ("KUBE2ZK_OUTPUT", "json", "output.output", "json"),
        ("KUBE2ZK_LOG_FORMAT", "json", "output.log_format", "json"),
        ("KUBE2ZK_LOG_LEVEL", "error", "output.log_level", "error"),
        ("KUBE2ZK_ZK_TIMEOUT", "3s", "zk.timeout", 3.0),
        ("KUBE2ZK_KUBE_TIMEOUT", "45s", "kube.timeout", 45.0),
        ("KUBE2ZK_PAGE_SIZE", "20", "kube.page_size", 20),
    ],
)
def test_environment_variable_sets_its_option(var, value, field, expected):
    assert pick(load_settings([], {var: value}), field) == expected


@pytest.mark.parametrize(
    ("var", "field"),
    [
        ("namespace", "kube.namespace"),
        ("zkservers", "zk.servers"),
        ("zkpath", "sync.zk_path"),
        ("syncperiod", "loop.sync_period"),
        ("mockregistry", "sync.mock_registry"),
        ("KUBE2ZK_OWNER_ID", "sync.owner_id"),
        ("KUBE2ZK_PAGE_SIZE", "kube.page_size"),
    ],
)
def test_empty_environment_variable_counts_as_unset(var, field):
    assert pick(load_settings([], {var: ""}), field) == pick(load_settings([], NO_ENV), field)


def test_upper_case_spelling_of_a_seed_variable_is_not_read():
    assert load_settings([], {"ZKPATH": "/other"}).sync.zk_path == "/rpc_v2"


@pytest.mark.parametrize(
    ("argv", "environ", "field", "expected"),
    [
        (["-zkpath", "/from-flag"], {"zkpath": "/from-env"}, "sync.zk_path", "/from-flag"),
        (["-namespace="], {"namespace": "from-env"}, "kube.namespace", ""),
        (["-mockregistry=false"], {"mockregistry": "true"}, "sync.mock_registry", False),
        (["-syncperiod", "10s"], {"syncperiod": "20s"}, "loop.sync_period", 10.0),
        (["--owner-id", "flag"], {"KUBE2ZK_OWNER_ID": "env"}, "sync.owner_id", "flag"),
        ([], {"zkservers": "env-host:2181"}, "zk.servers", "env-host:2181"),
    ],
)
def test_flag_wins_over_environment_which_wins_over_default(argv, environ, field, expected):
    assert pick(load_settings(argv, environ), field) == expected


def test_invalid_environment_value_is_ignored_when_the_flag_is_given():
    assert load_settings(["-zkpath", "/ok"], {"zkpath": "relative"}).sync.zk_path == "/ok"


# -- invalid values -------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["-zkservers="], "-zkservers"),
        (["-zkservers", "a:b"], "-zkservers"),
        (["-zkservers", "a:0"], "-zkservers"),
        (["-zkservers", "a:70000"], "-zkservers"),
        (["-zkservers", "a:-1"], "-zkservers"),
        (["-zkservers", ":2181"], "-zkservers"),
        (["-zkservers", "a,,b"], "-zkservers"),
        (["-zkservers", "a:2181,"], "-zkservers"),
        (["-zkservers", "bad host:2181"], "-zkservers"),
        (["-zkservers", "-host:2181"], "-zkservers"),
        (["-zkservers", "[::1]2181"], "-zkservers"),
        (["-zkservers", "/chroot"], "-zkservers"),
        (["-zkservers", "h:2181/a//b"], "-zkservers"),
        (["-zkservers", "h:2181//a"], "-zkservers"),
        (["-zkservers", "h:2181/a/"], "-zkservers"),
        (["-zkservers", "h:2181/a/../b"], "-zkservers"),
        (["-zkservers", "h:2181/zookeeper"], "-zkservers"),
        (["-zkpath", "rpc_v2"], "-zkpath"),
        (["-zkpath", ""], "-zkpath"),
        (["-zkpath", "/rpc_v2/"], "-zkpath"),
        (["-zkpath", "/a//b"], "-zkpath"),
        (["-zkpath", "/a/./b"], "-zkpath"),
        (["-zkpath", "/a/.."], "-zkpath"),
        (["-zkpath", "/."], "-zkpath"),
        (["-zkpath", "/"], "-zkpath"),
        (["-zkpath", "/zookeeper"], "-zkpath"),
        (["-zkpath", "/zookeeper/quota"], "-zkpath"),
        (["-zkpath", "/a\x00b"], "-zkpath"),
        (["-zkpath", "/a\ue000"], "-zkpath"),
        (["-syncperiod", "1d"], "-syncperiod"),
        (["-syncperiod", "abc"], "-syncperiod"),
        (["-syncperiod="], "-syncperiod"),
        (["-syncperiod=-5s"], "-syncperiod"),
        (["-syncperiod=0s"], "-syncperiod"),
        (["-syncperiod", "60"], "-syncperiod"),
        (["-mockregistry=maybe"], "-mockregistry"),
        (["--owner-id="], "-owner-id"),
        (["--owner-id", "-lead"], "-owner-id"),
        (["--owner-id=.hidden"], "-owner-id"),
        (["--owner-id", "a/b"], "-owner-id"),
        (["--owner-id", "a b"], "-owner-id"),
        (["--owner-id", "x" * 64], "-owner-id"),
        (["--owner-root", "kube2zk"], "-owner-root"),
        (["--owner-root", "/zookeeper/k"], "-owner-root"),
        (["--node-config", "not json"], "-node-config"),
        (["--node-config", '{"config": []}'], "-node-config"),
        (["--node-config", '["ok", 1]'], "-node-config"),
        (["--node-config", '"keepalive 32"'], "-node-config"),
        (["--output", "yaml"], "-output"),
        (["--log-format", "xml"], "-log-format"),
        (["--log-level", "trace"], "-log-level"),
        (["--zk-timeout", "0s"], "-zk-timeout"),
        (["--kube-timeout", "soon"], "-kube-timeout"),
        (["--page-size", "0"], "-page-size"),
        (["--page-size", "ten"], "-page-size"),
        (["--page-size=-3"], "-page-size"),
    ],
)
def test_invalid_flag_value_is_a_usage_error_naming_the_flag(argv, named):
    assert named in usage_error(argv)


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("zkservers", "a:b"),
        ("zkpath", "relative"),
        ("zkpath", "/zookeeper"),
        ("syncperiod", "1d"),
        ("syncperiod", "-1m"),
        ("mockregistry", "maybe"),
        ("KUBE2ZK_OWNER_ID", "no spaces"),
        ("KUBE2ZK_NODE_CONFIG", "[1, 2]"),
        ("KUBE2ZK_PAGE_SIZE", "0"),
    ],
)
def test_invalid_environment_value_is_a_usage_error_naming_the_variable(var, value):
    message = usage_error([], {var: value})
    assert f"environment variable {var}" in message


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["-bogus"], "-bogus"),
        (["--bogus", "x"], "--bogus"),
        (["-zkpath", "/x", "positional"], "positional"),
        (["--mockregistries"], "--mockregistries"),
        (["-zkpathx", "/x"], "-zkpathx"),
        (["--zkp", "/x"], "--zkp"),
    ],
)
def test_unknown_flag_or_stray_argument_is_a_usage_error_naming_it(argv, named):
    assert named in usage_error(argv)


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["-zkp", "/x"], "-zkp"),
        (["-mock"], "-mock"),
        (["-a"], "-a"),
        (["-adop"], "-adop"),
    ],
)
def test_abbreviated_single_dash_flag_is_an_unknown_flag(argv, flag):
    assert flag in usage_error(argv)


def test_flag_missing_its_value_is_a_usage_error_naming_the_flag():
    assert "-zkpath" in usage_error(["-zkpath"])


@pytest.mark.parametrize(
    ("zk_path", "owner_root"),
    [
        ("/rpc_v2", "/rpc_v2"),
        ("/rpc_v2", "/rpc_v2/owners"),
        ("/a/rpc", "/a"),
    ],
)
def test_owner_root_overlapping_zkpath_is_a_usage_error(zk_path, owner_root):
    message = usage_error(["-zkpath", zk_path, "--owner-root", owner_root])
    assert "-owner-root" in message
    assert "-zkpath" in message


@pytest.mark.parametrize(("zk_path", "owner_root"), [("/rpc_v2", "/rpc_v20"), ("/rpc", "/rpc_v2"), ("/a/b", "/a/c")])
def test_owner_root_beside_zkpath_is_accepted(zk_path, owner_root):
    cfg = load_settings(["-zkpath", zk_path, "--owner-root", owner_root], NO_ENV)
    assert (cfg.sync.zk_path, cfg.sync.owner_root) == (zk_path, owner_root)


def test_default_owner_root_overlapping_a_zkpath_is_a_usage_error():
    assert "-owner-root" in usage_error(["-zkpath", "/kube2zk/rpc"])


def test_owner_id_zookeeper_is_accepted_or_a_usage_error_never_a_crash():
    try:
        cfg = load_settings(["--owner-id", "zookeeper"], NO_ENV)
    except UsageError as exc:
        assert "-owner-id" in str(exc)
    else:
        assert cfg.sync.owner_id == "zookeeper"


# -- ZooKeeper server lists -----------------------------------------------


@pytest.mark.parametrize(
    "servers",
    [
        "127.0.0.1:2181",
        "zookeeper",
        "zookeeper:2181",
        "zk-0.zk.svc.cluster.local:2181,zk-1.zk.svc.cluster.local:2181",
        "a:1,b:65535",
        "[::1]:2181",
        "[fe80::1]",
        "h:2181/chroot",
        "h:2181,g:2182/kube/rpc",
        " h:2181 ",
    ],
)
def test_well_formed_server_list_is_accepted(servers):
    assert load_settings(["-zkservers", servers], NO_ENV).zk.servers == servers.strip()


@pytest.mark.parametrize(
    "servers",
    [
        "h:2181/chroot",
        "a:1,b:65535/x/y",
        "[::1]:2181",
        pytest.param("h:\u0663"),
        pytest.param(
            "h:\uff12\uff11\uff18\uff11",
        ),
        pytest.param("[::1"),
        pytest.param("[:]:2181"),
        pytest.param("[1.2.3.4]:2181"),
    ],
)
def test_server_list_accepted_by_load_settings_is_understood_by_kazoo(servers):
    """KazooClient raises ValueError for a list its host parser rejects, so an
    accepted value that kazoo cannot parse crashes the run instead of exiting 2."""
    try:
        cfg = load_settings(["-zkservers", servers], NO_ENV)
    except UsageError:
        return
    collect_hosts(cfg.zk.servers)


_hostname = st.from_regex(
    r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?){0,3}", fullmatch=True
)
_port = st.integers(min_value=1, max_value=65535)


@settings(deadline=None)
@given(
    entries=st.lists(st.tuples(_hostname, _port), min_size=1, max_size=5),
    chroot=st.none() | st.from_regex(r"(/[a-z0-9_-]{1,8}){1,3}", fullmatch=True),
)
def test_generated_host_port_lists_are_accepted_and_parse_the_same_in_kazoo(entries, chroot):
    text = ",".join(f"{h}:{p}" for h, p in entries) + (chroot or "")
    assert validate_zk_servers(text) == text
    hosts, parsed_chroot = collect_hosts(text)
    assert hosts == entries
    assert parsed_chroot == chroot


# -- durations ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1h0m0s", 3600.0),
        ("1h", 3600.0),
        ("90s", 90.0),
        ("1h30m", 5400.0),
        ("1.5s", 1.5),
        ("300ms", 0.3),
        ("1m30s", 90.0),
        ("2h45m30.5s", 9930.5),
        ("1.5h", 5400.0),
        (".5s", 0.5),
        ("1.s", 1.0),
        ("1500us", 0.0015),
        ("7\u00b5s", 7e-6),
        ("7\u03bcs", 7e-6),
        ("250ns", 2.5e-7),
        ("0", 0.0),
        ("0s", 0.0),
        ("+5s", 5.0),
        ("-5s", -5.0),
        ("-1h30m", -5400.0),
    ],
)
def test_parse_duration_reads_go_syntax(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text",
    ["1d", "abc", "", "60", "s", "1h30", "1 h", "-", "+", ".s", "1e3s", "1H", "h1", "1.2.3s", "5sec", "00"],
)
def test_parse_duration_rejects_what_go_rejects(text):
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["+-5s", "--5s", "-+5s"])
def test_parse_duration_rejects_more_than_one_sign(text):
    with pytest.raises(ValueError):
        parse_duration(text)


# -- node config ----------------------------------------------------------


def test_node_config_accepted_by_load_settings_can_always_be_encoded():
    try:
        cfg = load_settings(["--node-config", '["zone \\ud800 8M"]'], NO_ENV)
    except UsageError:
        return
    assert encode_node(cfg.sync.node_config, ["10.0.0.1"]).startswith(b'{"config":["zone ')


def test_node_config_with_non_ascii_text_is_kept():
    assert load_settings(["--node-config", '["zone \u00e9t\u00e9 8M"]'], NO_ENV).sync.node_config == (
        "zone \u00e9t\u00e9 8M",
    )


# -- the option table -----------------------------------------------------


def test_every_field_of_every_group_is_set_by_one_option_or_one_derivation():
    for group in GROUP_NAMES:
        for field in dataclasses.fields(group):
            setters = [f"-{o.flag}" for o in OPTIONS if o.group is group and field.name in o.fields]
            if (group, field.name) in DERIVED:
                setters.append("DERIVED")
            assert len(setters) == 1, f"{group.__name__}.{field.name} is set by {setters or 'nothing'}"


def test_every_derivation_names_a_real_field():
    for group, name in DERIVED:
        assert name in {f.name for f in dataclasses.fields(group)}


def test_an_option_naming_a_field_its_group_lacks_fails_at_once():
    with pytest.raises(TypeError, match="no field zk_servers"):
        Option(KubeSettings, "zk_servers", "x", "X", "", str, "x")


def test_flags_and_variables_are_unique():
    assert len({o.flag for o in OPTIONS}) == len(OPTIONS)
    assert len({o.env for o in OPTIONS}) == len(OPTIONS)


# -- sync and loop options ------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "environ", "expected"),
    [
        ([], NO_ENV, False),
        (["-enforce-node-config"], NO_ENV, True),
        (["--enforce-node-config=false"], {"KUBE2ZK_ENFORCE_NODE_CONFIG": "true"}, False),
        ([], {"KUBE2ZK_ENFORCE_NODE_CONFIG": "true"}, True),
        ([], {"KUBE2ZK_ENFORCE_NODE_CONFIG": ""}, False),
    ],
)
def test_enforce_node_config_sets_enforce_config(argv, environ, expected):
    assert load_settings(argv, environ).sync.enforce_config is expected


def test_invalid_enforce_node_config_is_a_usage_error():
    assert "environment variable KUBE2ZK_ENFORCE_NODE_CONFIG" in usage_error([], {"KUBE2ZK_ENFORCE_NODE_CONFIG": "x"})


@pytest.mark.parametrize(("argv", "expected"), [([], False), (["-loop"], True), (["--loop=true"], True)])
def test_loop_flag_sets_loop_enabled(argv, expected):
    assert load_settings(argv, NO_ENV).loop.enabled is expected


@pytest.mark.parametrize(
    ("argv", "count", "fraction"),
    [([], 5, 0.10), (["-max-deletions", "3,50%"], 3, 0.5), (["--max-deletions=0"], 0, 0.0)],
)
def test_max_deletions_is_a_deletion_budget(argv, count, fraction):
    assert load_settings(argv, NO_ENV).sync.max_deletions == DeletionBudget(count, fraction)


@pytest.mark.parametrize("value", ["five", "-1", "101%"])
def test_invalid_max_deletions_is_a_usage_error_naming_the_flag(value):
    assert "flag -max-deletions" in usage_error(["-max-deletions", value])


# -- -metrics-addr --------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "host", "port"),
    [
        (":8080", "", 8080),
        ("0.0.0.0:8080", "0.0.0.0", 8080),
        ("127.0.0.1:9090", "127.0.0.1", 9090),
        ("localhost:9090", "localhost", 9090),
        ("[::]:8080", "::", 8080),
        ("[::1]:9090", "::1", 9090),
        ("[fe80::1]:80", "fe80::1", 80),
        (":0", "", 0),
        ("off", "", None),
        ("OFF", "", None),
    ],
)
def test_metrics_addr_is_split_into_host_and_port(value, host, port):
    loop = load_settings(["-metrics-addr", value], NO_ENV).loop
    assert (loop.metrics_host, loop.metrics_port) == (host, port)


def test_metrics_addr_defaults_to_port_8080_on_every_address():
    loop = load_settings([], NO_ENV).loop
    assert (loop.metrics_host, loop.metrics_port) == ("", 8080)


def test_empty_metrics_addr_flag_disables_the_endpoint():
    assert load_settings(["-metrics-addr="], NO_ENV).loop.metrics_port is None


@pytest.mark.parametrize(
    "value", ["8080", "host:", ":x", ":70000", "::1:8080", "[::1]", "[zz]:80", "[1.2.3.4]:80", "bad host:80", "[::1:80"]
)
def test_malformed_metrics_addr_is_a_usage_error_naming_the_flag(value):
    assert "flag -metrics-addr" in usage_error(["-metrics-addr", value])


def test_malformed_metrics_addr_in_the_environment_names_the_variable():
    assert "environment variable KUBE2ZK_METRICS_ADDR" in usage_error([], {"KUBE2ZK_METRICS_ADDR": "::1:80"})


def test_ipv6_metrics_addr_accepted_by_load_settings_is_served():
    """[::]:8080 used to pass validation, then fail in serve() with a traceback."""
    loop = load_settings(["-metrics-addr", "[::1]:0"], NO_ENV).loop
    assert loop.metrics_port is not None
    server = serve(loop.metrics_host, loop.metrics_port, Metrics(), Health(stuck_after=60))
    try:
        conn = http.client.HTTPConnection("::1", server.server_address[1], timeout=5)
        conn.request("GET", "/healthz")
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("host", "shown"), [("127.0.0.1", "127.0.0.1"), ("::1", "[::1]")])
def test_metrics_port_in_use_is_a_listen_error_naming_the_flag(host, shown):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as taken:
        taken.bind((host, 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ListenError) as info:
            serve(host, port, Metrics(), Health(stuck_after=60))
    assert str(info.value) == f"flag -metrics-addr: cannot listen on {shown}:{port}: Address already in use"


# -- ZooKeeper credential, ACL and TLS ------------------------------------

CREDENTIAL = "alice:s3cret-pw"


def test_credential_from_the_environment_resolves_auto_acl_to_creator_all_world_read():
    zk = load_settings([], {"KUBE2ZK_ZK_AUTH": CREDENTIAL}).zk
    assert (zk.auth, zk.acl) == (CREDENTIAL, "creator-all+world-read")
    assert "s3cret" not in repr(zk)


def test_without_a_credential_auto_acl_resolves_to_open():
    zk = load_settings([], NO_ENV).zk
    assert (zk.auth, zk.acl) == (None, "open")


@pytest.mark.parametrize("acl", ["open", "creator-all", "creator-all+world-read"])
def test_explicit_acl_with_a_credential_is_kept(acl):
    assert load_settings(["-zk-acl", acl], {"KUBE2ZK_ZK_AUTH": CREDENTIAL}).zk.acl == acl


@pytest.mark.parametrize(
    ("argv", "environ", "named"),
    [
        (["-zk-acl", "creator-all"], NO_ENV, "flag -zk-acl"),
        (["--zk-acl=creator-all+world-read"], NO_ENV, "flag -zk-acl"),
        ([], {"KUBE2ZK_ZK_ACL": "creator-all"}, "environment variable KUBE2ZK_ZK_ACL"),
    ],
)
def test_creator_all_acl_without_a_credential_is_a_usage_error(argv, environ, named):
    message = usage_error(argv, environ)
    assert named in message and "needs a ZooKeeper credential" in message


def test_unknown_acl_mode_is_a_usage_error_naming_the_flag():
    assert "flag -zk-acl" in usage_error(["-zk-acl", "world"])


def test_credential_file_wins_over_the_environment(tmp_path):
    path = tmp_path / "auth"
    path.write_text(" bob:other-pw\n")
    zk = load_settings(["-zk-auth-file", str(path)], {"KUBE2ZK_ZK_AUTH": CREDENTIAL}).zk
    assert (zk.auth, zk.auth_file) == ("bob:other-pw", str(path))


def test_non_utf8_credential_file_is_a_usage_error_naming_the_flag(tmp_path):
    path = tmp_path / "auth"
    path.write_bytes(b"alice:s3cret\xff\xfe")
    message = usage_error(["-zk-auth-file", str(path)])
    assert message.startswith("flag -zk-auth-file:") and "UTF-8" in message
    assert "s3cret" not in message and "\n" not in message


@pytest.mark.parametrize(
    ("argv", "environ", "named"),
    [
        (["-zk-auth-file", "/nonexistent/auth"], NO_ENV, "flag -zk-auth-file"),
        ([], {"KUBE2ZK_ZK_AUTH_FILE": "/nonexistent/auth"}, "environment variable KUBE2ZK_ZK_AUTH_FILE"),
        ([], {"KUBE2ZK_ZK_AUTH": "no-colon-s3cret"}, "environment variable KUBE2ZK_ZK_AUTH"),
        ([], {"KUBE2ZK_ZK_AUTH": ":s3cret"}, "environment variable KUBE2ZK_ZK_AUTH"),
        ([], {"KUBE2ZK_ZK_AUTH": "alice\udcffs3cret:pw"}, "environment variable KUBE2ZK_ZK_AUTH"),
    ],
)
def test_bad_credential_is_a_usage_error_naming_its_source_without_the_secret(argv, environ, named):
    message = usage_error(argv, environ)
    assert named in message and "s3cret" not in message


@pytest.fixture
def pem(tmp_path):
    """Stand-ins for PEM files: load_settings checks only that they exist."""
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text("-----BEGIN CERTIFICATE-----\n")
    return tmp_path


@pytest.mark.parametrize(
    "argv", [["-zk-ca-file", "{d}/ca.pem"], ["-zk-cert-file", "{d}/cert.pem", "-zk-key-file", "{d}/key.pem"]]
)
def test_a_ca_or_a_client_certificate_implies_tls(pem, argv):
    zk = load_settings([a.format(d=pem) for a in argv], NO_ENV).zk
    assert zk.tls is True


def test_tls_is_off_by_default_and_on_by_flag():
    assert load_settings([], NO_ENV).zk.tls is False
    assert load_settings(["-zk-tls"], NO_ENV).zk.tls is True


@pytest.mark.parametrize(
    ("argv", "named"),
    [(["-zk-cert-file", "{d}/cert.pem"], "-zk-cert-file"), (["-zk-key-file", "{d}/key.pem"], "-zk-key-file")],
)
def test_certificate_and_key_go_together(pem, argv, named):
    message = usage_error([a.format(d=pem) for a in argv])
    assert message.startswith(f"flag {named}:") and "go together" in message


@pytest.mark.parametrize("flag", ["-zk-ca-file", "-zk-cert-file", "-zk-key-file"])
def test_missing_tls_file_is_a_usage_error_naming_the_flag(pem, flag):
    argv = ["-zk-cert-file", f"{pem}/cert.pem", "-zk-key-file", f"{pem}/key.pem", flag, f"{pem}/missing.pem"]
    assert usage_error(argv).startswith(f"flag {flag}: no such file")


def test_owner_root_from_the_environment_overlapping_zkpath_names_the_variable():
    message = usage_error([], {"KUBE2ZK_OWNER_ROOT": "/rpc_v2/owners"})
    assert "environment variable KUBE2ZK_OWNER_ROOT" in message and "-zkpath" in message


# -- claim policy ---------------------------------------------------------


def test_no_claim_policy_is_open():
    sync = load_settings([], NO_ENV).sync
    assert sync.claim_policy_file == ""
    assert sync.claim_policy.describe().startswith("open:")


def test_empty_claim_policy_file_is_valid_and_described_as_open(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text("")
    sync = load_settings(["-claim-policy", str(path)], NO_ENV).sync
    assert sync.claim_policy_file == str(path)
    assert sync.claim_policy.describe() == "open: any namespace may register any service"


@pytest.mark.parametrize(
    ("text", "described"),
    [
        (
            'rules:\n  - services: ["pay-*"]\n    namespaces: ["payments"]\n',
            "1 rule; names no rule mentions are allowed",
        ),
        (
            "default: deny\nrules:\n  - {services: [a], namespaces: [x]}\n  - {services: [b], namespaces: [y]}\n",
            "2 rules; names no rule mentions are refused",
        ),
        ("default: deny\n", "closed: no rules and default deny, so no namespace may register any service"),
    ],
)
def test_claim_policy_describes_itself_in_one_line(tmp_path, text, described):
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    assert load_settings([], {"KUBE2ZK_CLAIM_POLICY": str(path)}).sync.claim_policy.describe() == described


@pytest.mark.parametrize("content", [b"default: deny\xff\n", b"1: a\nb: c\n", b"default: maybe\n"])
def test_bad_claim_policy_file_is_one_usage_error_line_naming_the_flag(tmp_path, content):
    path = tmp_path / "policy.yaml"
    path.write_bytes(content)
    message = usage_error(["-claim-policy", str(path)])
    assert message.startswith("flag -claim-policy:") and "\n" not in message


def test_missing_claim_policy_file_is_a_usage_error_naming_the_variable():
    assert "environment variable KUBE2ZK_CLAIM_POLICY" in usage_error([], {"KUBE2ZK_CLAIM_POLICY": "/nonexistent"})
