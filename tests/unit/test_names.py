"""Service names and ZooKeeper paths (lib/names.py)."""

import posixpath

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from lib.desired.names import MAX_NAME_BYTES, node_name_error, overlaps, path_error


def zookeeper_accepts(path: str) -> bool:
    """ZooKeeper's PathUtils.validatePath, which the server applies to every
    create: it walks Java chars, i.e. UTF-16 code units."""
    raw = path.encode("utf-16-le", "surrogatepass")
    chars = [int.from_bytes(raw[i : i + 2], "little") for i in range(0, len(raw), 2)]
    if not chars or chars[0] != ord("/"):
        return False
    if len(chars) == 1:
        return True
    if chars[-1] == ord("/"):
        return False
    slash, dot = ord("/"), ord(".")
    last = slash
    for i in range(1, len(chars)):
        c = chars[i]
        end_of_name = i + 1 == len(chars) or chars[i + 1] == slash
        if c == 0:
            return False
        if c == slash and last == slash:
            return False
        if c == dot and last == dot:
            if chars[i - 2] == slash and end_of_name:
                return False
        elif c == dot:
            if chars[i - 1] == slash and end_of_name:
                return False
        elif 0 < c < 0x1F or 0x7F < c < 0x9F or 0xD800 < c < 0xF8FF or 0xFFF0 < c < 0xFFFF:
            return False
        last = c
    return True


@pytest.mark.parametrize(
    "name",
    [
        "test-rpc-server-1",
        "a",
        "...",
        ".hidden",
        "a.b",
        "with space inside",
        "UPPER_lower-09",
        "\u00e9t\u00e9",
        "\u4e2d\u6587\u670d\u52a1",
        "a" * MAX_NAME_BYTES,
        "\u00e9" * (MAX_NAME_BYTES // 2),
        "zookeeper2",
        "Zookeeper",
    ],
)
def test_valid_service_name_is_accepted(name):
    assert node_name_error(name) is None


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "empty"),
        (".", "relative"),
        ("..", "relative"),
        ("a/b", "'/'"),
        ("../x", "'/'"),
        ("/", "'/'"),
        ("a\x00b", "U+0000"),
        ("a\x1fb", "U+001F"),
        ("a\x7fb", "U+007F"),
        ("a\x9fb", "U+009F"),
        ("a\ud800b", "U+D800"),
        ("a\udfffb", "U+DFFF"),
        ("a\ue000b", "U+E000"),
        ("a\uf8ffb", "U+F8FF"),
        ("a\ufff0b", "U+FFF0"),
        ("a\uffffb", "U+FFFF"),
        ("zookeeper", "reserved"),
        (" a", "white space"),
        ("a ", "white space"),
        ("\ta", "white space"),
        ("a\n", "white space"),
        ("a" * (MAX_NAME_BYTES + 1), "longer"),
        ("\u00e9" * (MAX_NAME_BYTES // 2 + 1), "longer"),
    ],
)
def test_invalid_service_name_is_rejected_with_the_reason(name, why):
    error = node_name_error(name)
    assert error is not None
    assert why in error


@pytest.mark.parametrize("name", ["svc-\U0001f600", "\U00010000", "rpc-\U00020000"])
def test_name_outside_the_basic_plane_is_rejected(name):
    assert node_name_error(name) is not None


@settings(deadline=None, max_examples=500)
@given(st.text())
@example("..")
@example("a/../../b")
@example("zookeeper")
def test_accepted_name_is_always_one_direct_child_of_the_base_path(name):
    if node_name_error(name) is not None:
        return
    path = posixpath.normpath("/rpc_v2/" + name)
    assert posixpath.dirname(path) == "/rpc_v2"
    assert path == "/rpc_v2/" + name


@settings(deadline=None, max_examples=500)
@given(st.text(alphabet=st.characters(max_codepoint=0xFFFF)))
@example("\x1f")
@example("\ud800")
@example("\uffff")
def test_accepted_basic_plane_name_is_accepted_by_zookeeper(name):
    if node_name_error(name) is None:
        assert zookeeper_accepts("/rpc_v2/" + name)


# -- paths ------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/rpc_v2", "/a/b/c", "/zookeeperx", "/a/zookeeper", "/a/...", "/.a", "/a b"])
def test_valid_path_is_accepted(path):
    assert path_error(path) is None


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("", "absolute"),
        ("rpc_v2", "absolute"),
        ("/", "root"),
        ("/rpc_v2/", "end with"),
        ("/a//b", "'//'"),
        ("//a", "'//'"),
        ("/.", "'.'"),
        ("/..", "'.'"),
        ("/a/./b", "'.'"),
        ("/a/../b", "'.'"),
        ("/zookeeper", "/zookeeper"),
        ("/zookeeper/quota", "/zookeeper"),
        ("/a\x00", "U+0000"),
        ("/a/\ue000", "U+E000"),
    ],
)
def test_invalid_path_is_rejected_with_the_reason(path, why):
    error = path_error(path)
    assert error is not None
    assert why in error


@settings(deadline=None, max_examples=500)
@given(st.text(alphabet="/.az\x00\ue000", max_size=12))
def test_accepted_path_is_normalised_absolute_and_outside_zookeeper(path):
    if path_error(path) is not None:
        return
    assert posixpath.normpath(path) == path
    assert path.startswith("/")
    assert path != "/"
    assert not overlaps(path, "/zookeeper")
    assert zookeeper_accepts(path)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("/a", "/a", True),
        ("/a", "/a/b", True),
        ("/a/b", "/a", True),
        ("/a", "/ab", False),
        ("/ab", "/a", False),
        ("/a/b", "/a/c", False),
        ("/rpc_v2", "/kube2zk", False),
    ],
)
def test_overlaps_is_true_only_for_equal_or_nested_paths(a, b, expected):
    assert overlaps(a, b) is expected


_segment = st.text(alphabet="ab", min_size=1, max_size=3)
_paths = st.lists(_segment, min_size=1, max_size=4).map(lambda parts: "/" + "/".join(parts))


@settings(deadline=None)
@given(_paths, _paths)
def test_overlaps_is_symmetric_and_means_one_is_an_ancestor_of_the_other(a, b):
    assert overlaps(a, b) == overlaps(b, a)
    a_parts, b_parts = a.split("/"), b.split("/")
    shorter = min(len(a_parts), len(b_parts))
    assert overlaps(a, b) == (a_parts[:shorter] == b_parts[:shorter])
