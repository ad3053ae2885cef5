"""Flags, environment variables and their validation (lib/config.py)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kazoo.hosts import collect_hosts

from lib.settings.options import UsageError, load_config, parse_duration, validate_zk_servers
from lib.layouts.seed import DEFAULT_CONFIG, encode_node

NO_ENV: dict[str, str] = {}


def usage_error(argv, environ=NO_ENV) -> str:
    with pytest.raises(UsageError) as info:
        load_config(argv, environ)
    return str(info.value)


# -- defaults -------------------------------------------------------------


def test_defaults_match_the_original_daemon():
    cfg = load_config([], NO_ENV)
    assert cfg.namespace == ""
    assert cfg.zk_servers == "127.0.0.1:2181"
    assert cfg.zk_path == "/rpc_v2"
    assert cfg.sync_period == 3600.0
    assert cfg.mock_registry is False


def test_defaults_of_the_new_options():
    cfg = load_config([], NO_ENV)
    assert cfg.kubeconfig is None
    assert cfg.node_config == DEFAULT_CONFIG
    assert cfg.owner_id == "default"
    assert cfg.owner_root == "/kube2zk"
    assert cfg.adopt is False
    assert cfg.strict is False
    assert cfg.output == "text"
    assert cfg.log_format == "text"
    assert cfg.log_level == "info"
    assert cfg.zk_timeout == 15.0
    assert cfg.kube_timeout == 30.0
    assert cfg.page_size == 500


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
    assert load_config(argv, NO_ENV).namespace == "team-a"


@pytest.mark.parametrize(
    ("argv", "field", "expected"),
    [
        (["-zkservers", "zk-0:2181,zk-1:2181"], "zk_servers", "zk-0:2181,zk-1:2181"),
        (["--zkservers=zk:2182"], "zk_servers", "zk:2182"),
        (["-zkpath", "/services/rpc"], "zk_path", "/services/rpc"),
        (["--zkpath=/x"], "zk_path", "/x"),
        (["-syncperiod", "90s"], "sync_period", 90.0),
        (["--syncperiod=1h30m"], "sync_period", 5400.0),
        (["-syncperiod=1h0m0s"], "sync_period", 3600.0),
        (["-mockregistry"], "mock_registry", True),
        (["--mockregistry"], "mock_registry", True),
        (["-mockregistry=true"], "mock_registry", True),
        (["-mockregistry=false"], "mock_registry", False),
        (["--mockregistry=1"], "mock_registry", True),
        (["-mockregistry=0"], "mock_registry", False),
    ],
)
def test_seed_flag_sets_its_option(argv, field, expected):
    assert getattr(load_config(argv, NO_ENV), field) == expected


@pytest.mark.parametrize(
    ("argv", "field", "expected"),
    [
        (["--kubeconfig", "/etc/kube/config"], "kubeconfig", "/etc/kube/config"),
        (["--node-config", '["keepalive 16"]'], "node_config", ("keepalive 16",)),
        (["--node-config", "[]"], "node_config", ()),
        (["--owner-id", "cluster-a.prod_1"], "owner_id", "cluster-a.prod_1"),
        (["-owner-root=/kube2zk-b"], "owner_root", "/kube2zk-b"),
        (["--adopt"], "adopt", True),
        (["--strict=true"], "strict", True),
        (["--output", "json"], "output", "json"),
        (["--log-format=json"], "log_format", "json"),
        (["--log-level", "debug"], "log_level", "debug"),
        (["--zk-timeout", "2s"], "zk_timeout", 2.0),
        (["--kube-timeout=1m"], "kube_timeout", 60.0),
        (["--page-size", "50"], "page_size", 50),
    ],
)
def test_added_flag_sets_its_option(argv, field, expected):
    assert getattr(load_config(argv, NO_ENV), field) == expected


def test_empty_kubeconfig_means_the_default_lookup():
    assert load_config(["--kubeconfig="], NO_ENV).kubeconfig is None


# -- environment ----------------------------------------------------------


@pytest.mark.parametrize(
    ("var", "value", "field", "expected"),
    [
        ("namespace", "team-b", "namespace", "team-b"),
        ("zkservers", "zookeeper:2181", "zk_servers", "zookeeper:2181"),
        ("zkpath", "/rpc_v3", "zk_path", "/rpc_v3"),
        ("syncperiod", "5m", "sync_period", 300.0),
        ("mockregistry", "true", "mock_registry", True),
        ("mockregistry", "false", "mock_registry", False),
        ("KUBECONFIG", "/tmp/kubeconfig", "kubeconfig", "/tmp/kubeconfig"),
        ("KUBE2ZK_NODE_CONFIG", '["zone x 1M"]', "node_config", ("zone x 1M",)),
        ("KUBE2ZK_OWNER_ID", "cluster-b", "owner_id", "cluster-b"),
        ("KUBE2ZK_OWNER_ROOT", "/owners-b", "owner_root", "/owners-b"),
        ("KUBE2ZK_ADOPT", "true", "adopt", True),
        ("KUBE2ZK_STRICT", "1", "strict", True),
        ("KUBE2ZK_OUTPUT", "json", "output", "json"),
        ("KUBE2ZK_LOG_FORMAT", "json", "log_format", "json"),
        ("KUBE2ZK_LOG_LEVEL", "error", "log_level", "error"),
        ("KUBE2ZK_ZK_TIMEOUT", "3s", "zk_timeout", 3.0),
        ("KUBE2ZK_KUBE_TIMEOUT", "45s", "kube_timeout", 45.0),
        ("KUBE2ZK_PAGE_SIZE", "20", "page_size", 20),
    ],
)
def test_environment_variable_sets_its_option(var, value, field, expected):
    assert getattr(load_config([], {var: value}), field) == expected


@pytest.mark.parametrize(
    ("var", "field"),
    [
        ("namespace", "namespace"),
        ("zkservers", "zk_servers"),
        ("zkpath", "zk_path"),
        ("syncperiod", "sync_period"),
        ("mockregistry", "mock_registry"),
        ("KUBE2ZK_OWNER_ID", "owner_id"),
        ("KUBE2ZK_PAGE_SIZE", "page_size"),
    ],
)
def test_empty_environment_variable_counts_as_unset(var, field):
    assert getattr(load_config([], {var: ""}), field) == getattr(load_config([], NO_ENV), field)


def test_upper_case_spelling_of_a_seed_variable_is_not_read():
    assert load_config([], {"ZKPATH": "/other"}).zk_path == "/rpc_v2"


@pytest.mark.parametrize(
    ("argv", "environ", "field", "expected"),
    [
        (["-zkpath", "/from-flag"], {"zkpath": "/from-env"}, "zk_path", "/from-flag"),
        (["-namespace="], {"namespace": "from-env"}, "namespace", ""),
        (["-mockregistry=false"], {"mockregistry": "true"}, "mock_registry", False),
        (["-syncperiod", "10s"], {"syncperiod": "20s"}, "sync_period", 10.0),
        (["--owner-id", "flag"], {"KUBE2ZK_OWNER_ID": "env"}, "owner_id", "flag"),
        ([], {"zkservers": "env-host:2181"}, "zk_servers", "env-host:2181"),
    ],
)
def test_flag_wins_over_environment_which_wins_over_default(argv, environ, field, expected):
    assert getattr(load_config(argv, environ), field) == expected


def test_invalid_environment_value_is_ignored_when_the_flag_is_given():
    assert load_config(["-zkpath", "/ok"], {"zkpath": "relative"}).zk_path == "/ok"


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
    cfg = load_config(["-zkpath", zk_path, "--owner-root", owner_root], NO_ENV)
    assert (cfg.zk_path, cfg.owner_root) == (zk_path, owner_root)


def test_default_owner_root_overlapping_a_zkpath_is_a_usage_error():
    assert "-owner-root" in usage_error(["-zkpath", "/kube2zk/rpc"])


def test_owner_id_zookeeper_is_accepted_or_a_usage_error_never_a_crash():
    try:
        cfg = load_config(["--owner-id", "zookeeper"], NO_ENV)
    except UsageError as exc:
        assert "-owner-id" in str(exc)
    else:
        assert cfg.owner_id == "zookeeper"


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
    assert load_config(["-zkservers", servers], NO_ENV).zk_servers == servers.strip()


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
def test_server_list_accepted_by_load_config_is_understood_by_kazoo(servers):
    """KazooClient raises ValueError for a list its host parser rejects, so an
    accepted value that kazoo cannot parse crashes the run instead of exiting 2."""
    try:
        cfg = load_config(["-zkservers", servers], NO_ENV)
    except UsageError:
        return
    collect_hosts(cfg.zk_servers)


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


def test_node_config_accepted_by_load_config_can_always_be_encoded():
    try:
        cfg = load_config(["--node-config", '["zone \\ud800 8M"]'], NO_ENV)
    except UsageError:
        return
    assert encode_node(cfg.node_config, ["10.0.0.1"]).startswith(b'{"config":["zone ')


def test_node_config_with_non_ascii_text_is_kept():
    assert load_config(["--node-config", '["zone \u00e9t\u00e9 8M"]'], NO_ENV).node_config == ("zone \u00e9t\u00e9 8M",)
