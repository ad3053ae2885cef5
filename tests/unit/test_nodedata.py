"""The service node's data, byte-for-byte the original's (lib/nodedata.py)."""

import ipaddress
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib.layouts.seed import DEFAULT_CONFIG, decode_servers, encode_node, ip_sort_key, sorted_servers

SEED_CONFIG = ["zone kg 8M", "kg_round_robin broken_tries=2 health_checks=5 max_uri_slots=0", "keepalive 32"]


def test_default_config_is_the_seed_three_lines():
    assert list(DEFAULT_CONFIG) == SEED_CONFIG


def test_encoding_is_the_original_compact_go_json_byte_for_byte():
    data = encode_node(DEFAULT_CONFIG, ["172.16.1.44", "172.16.0.251", "172.16.0.67", "172.16.0.251"])
    assert data == (
        b'{"config":["zone kg 8M","kg_round_robin broken_tries=2 health_checks=5 max_uri_slots=0","keepalive 32"],'
        b'"servers":["172.16.0.67","172.16.0.251","172.16.1.44"]}'
    )


def test_seed_example_servers_come_out_in_numeric_order():
    seed_order = ["172.16.0.251", "172.16.1.46", "172.16.1.44", "172.16.1.45", "172.16.0.67"]
    doc = json.loads(encode_node(DEFAULT_CONFIG, seed_order))
    assert doc["servers"] == ["172.16.0.67", "172.16.0.251", "172.16.1.44", "172.16.1.45", "172.16.1.46"]


def test_config_comes_before_servers_and_there_are_no_spaces_outside_strings():
    data = encode_node(["a b"], ["10.0.0.1"])
    assert data == b'{"config":["a b"],"servers":["10.0.0.1"]}'


def test_no_servers_is_an_empty_list():
    assert encode_node(DEFAULT_CONFIG[:1], []) == b'{"config":["zone kg 8M"],"servers":[]}'


@pytest.mark.parametrize(
    ("line", "encoded"),
    [
        ("a<b>c", b'"a\\u003cb\\u003ec"'),
        ("x&y", b'"x\\u0026y"'),
        ("\u2028\u2029", b'"\\u2028\\u2029"'),
        ('say "hi"', b'"say \\"hi\\""'),
        ("back\\slash", b'"back\\\\slash"'),
        ("tab\there", b'"tab\\there"'),
        ("new\nline", b'"new\\nline"'),
        ("\x01", b'"\\u0001"'),
        ("\x1f", b'"\\u001f"'),
        ("\x7f", b'"\x7f"'),
        ("zone \u00e9t\u00e9", '"zone \u00e9t\u00e9"'.encode()),
        ("\u4e2d\u6587", '"\u4e2d\u6587"'.encode()),
        ("\U0001f600", '"\U0001f600"'.encode()),
        ("/", b'"/"'),
    ],
)
def test_strings_are_escaped_as_go_encoding_json_does(line, encoded):
    assert encode_node([line], []) == b'{"config":[' + encoded + b'],"servers":[]}'


def test_non_ascii_is_written_as_utf8_not_escaped():
    data = encode_node(["caf\u00e9"], [])
    assert "caf\u00e9".encode() in data
    assert b"\\u00e9" not in data


@pytest.mark.parametrize(
    ("servers", "expected"),
    [
        (["10.0.0.10", "10.0.0.9", "10.0.0.100"], ["10.0.0.9", "10.0.0.10", "10.0.0.100"]),
        (["9.255.255.255", "10.0.0.0"], ["9.255.255.255", "10.0.0.0"]),
        (["fd00::1", "10.0.0.1", "::1"], ["10.0.0.1", "::1", "fd00::1"]),
        (["fd00::10", "fd00::9"], ["fd00::9", "fd00::10"]),
        (["10.0.0.1", "10.0.0.1", "10.0.0.1"], ["10.0.0.1"]),
        (["not-an-ip", "10.0.0.1", "::1"], ["10.0.0.1", "::1", "not-an-ip"]),
        (["b", "a"], ["a", "b"]),
        ([], []),
    ],
)
def test_servers_are_unique_ipv4_then_ipv6_in_numeric_order_then_the_rest(servers, expected):
    assert sorted_servers(servers) == expected
    assert json.loads(encode_node([], servers))["servers"] == expected


def test_servers_may_be_any_iterable():
    assert json.loads(encode_node([], {"10.0.0.2", "10.0.0.1"}))["servers"] == ["10.0.0.1", "10.0.0.2"]
    assert json.loads(encode_node([], (ip for ip in ["10.0.0.2", "10.0.0.1"])))["servers"] == ["10.0.0.1", "10.0.0.2"]


def test_encoding_does_not_depend_on_input_order():
    ips = ["10.1.0.1", "10.0.0.2", "fd00::1", "10.0.0.1"]
    assert encode_node(DEFAULT_CONFIG, ips) == encode_node(DEFAULT_CONFIG, list(reversed(ips)))


_ips = st.ip_addresses().map(str)
_servers = st.lists(_ips | st.text(alphabet=st.characters(codec="utf-8"), max_size=10), max_size=20)
_config = st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=20), max_size=4)


@settings(deadline=None, max_examples=300)
@given(_config, _servers)
def test_encoded_node_decodes_to_sorted_unique_servers_and_the_same_config(config, servers):
    data = encode_node(config, servers)
    decoded = decode_servers(data)
    assert decoded == sorted_servers(servers)
    assert set(decoded) == set(servers)
    assert len(decoded) == len(set(decoded))
    keys = [ip_sort_key(s) for s in decoded]
    assert keys == sorted(keys)
    assert json.loads(data)["config"] == config


@settings(deadline=None, max_examples=300)
@given(st.lists(_ips, max_size=20))
def test_ipv4_addresses_precede_ipv6_and_each_family_is_numerically_ascending(servers):
    decoded = decode_servers(encode_node([], servers))
    addrs = [ipaddress.ip_address(s) for s in decoded]
    versions = [a.version for a in addrs]
    assert versions == sorted(versions)
    for family in (4, 6):
        numbers = [int(a) for a in addrs if a.version == family]
        assert numbers == sorted(numbers)


@settings(deadline=None, max_examples=300)
@given(_config)
def test_encoded_node_never_contains_raw_html_characters_or_spaces_between_tokens(config):
    text = encode_node(config, ["10.0.0.1"]).decode()
    assert not {"<", ">", "&", "\u2028", "\u2029"} & set(text)
    assert text == json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False).translate(
        {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026", 0x2028: "\\u2028", 0x2029: "\\u2029"}
    )


@pytest.mark.parametrize(
    ("data", "servers"),
    [
        (None, None),
        (b"", None),
        (b"not json", None),
        (b"\xff\xfe", None),
        (b"null", None),
        (b"[]", None),
        (b'["10.0.0.1"]', None),
        (b'{"config":[]}', None),
        (b'{"servers":"10.0.0.1"}', None),
        (b'{"servers":null}', None),
        (b'{"servers":[]}', []),
        (b'{"servers":["10.0.0.1", 7, null, "10.0.0.2"]}', ["10.0.0.1", "10.0.0.2"]),
        (b'{"config":["x"],"servers":["10.0.0.2","10.0.0.1"]}', ["10.0.0.2", "10.0.0.1"]),
    ],
)
def test_decode_servers_returns_the_list_or_none_when_not_our_shape(data, servers):
    assert decode_servers(data) == servers


def test_decode_servers_of_deeply_nested_foreign_data_is_none():
    assert decode_servers(b"[" * 100_000) is None


def _ipaddress_key(ip: str) -> tuple[int, int, str]:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return (9, 0, ip)
    return (addr.version, int(addr), ip)


_addresses = st.one_of(
    st.ip_addresses().map(str),
    st.ip_addresses(v=6).map(lambda a: f"{a}%eth0"),
    st.lists(st.integers(0, 999), min_size=3, max_size=5).map(lambda p: ".".join(map(str, p))),
    st.text(alphabet="0123456789abcdef:.% x", max_size=24),
)


@given(_addresses)
def test_the_sort_key_is_ipaddress_order_for_any_text(ip):
    assert ip_sort_key(ip) == _ipaddress_key(ip)
