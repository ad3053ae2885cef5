"""The rpc-service pod annotation (lib/annotation.py)."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib.desired.annotation import MAX_ANNOTATION_BYTES, go_field, parse_annotation
from lib.desired.names import node_name_error
from lib.model import ServiceDecl

SEED_ANNOTATION = (
    '[{"serviceName": "test-rpc-server-1", "version": "v0" }, { "serviceName": "test-rpc-server-2", "version": "v1"}]'
)


def parse(text: str | None) -> tuple[list[ServiceDecl], list[str]]:
    decls, errors = parse_annotation(text)
    return list(decls), list(errors)


def names(decls) -> list[str]:
    return [d.name for d in decls]


def entries(*service_names: object) -> str:
    return json.dumps([{"serviceName": n} for n in service_names])


def test_seed_annotation_declares_both_services_with_their_versions():
    decls, errors = parse(SEED_ANNOTATION)
    assert errors == []
    assert [(d.name, d.version) for d in decls] == [("test-rpc-server-1", "v0"), ("test-rpc-server-2", "v1")]


def test_label_without_annotation_is_reported():
    decls, errors = parse(None)
    assert decls == []
    assert len(errors) == 1
    assert "missing" in errors[0]


def test_empty_list_declares_nothing_and_is_not_a_problem():
    assert parse("[]") == ([], [])


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("   \n", "empty"),
        ("\ufeff", "empty"),
        ("not json", "not valid JSON"),
        ("[{'serviceName': 'a'}]", "not valid JSON"),
        ('[{"serviceName": "a"}', "not valid JSON"),
        ('[{"serviceName": "a"}] trailing', "not valid JSON"),
        ('{"serviceName": "a"}', "got dict"),
        ("null", "got NoneType"),
        ("42", "got int"),
        ('"test-rpc-server-1"', "got str"),
        ("true", "got bool"),
    ],
)
def test_annotation_that_is_not_a_json_list_declares_nothing(text, why):
    decls, errors = parse(text)
    assert decls == []
    assert len(errors) == 1
    assert why in errors[0]


@pytest.mark.parametrize(
    "text",
    [
        '[{"serviceName": "a", "weight": NaN}]',
        '[{"serviceName": "a", "version": Infinity}]',
        '[{"serviceName": "a", "weight": -Infinity}]',
    ],
)
def test_non_standard_json_constants_make_the_annotation_invalid(text):
    decls, errors = parse(text)
    assert decls == []
    assert errors


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        ('"test-rpc-server-1"', "must be a JSON object, got str"),
        ("[]", "must be a JSON object, got list"),
        ('[{"serviceName": "nested"}]', "must be a JSON object, got list"),
        ("null", "must be a JSON object, got NoneType"),
        ("7", "must be a JSON object, got int"),
        ("{}", "has no serviceName"),
        ('{"version": "v1"}', "has no serviceName"),
        ('{"serviceName": null}', "has no serviceName"),
        ('{"serviceName": 7}', "must be a string, got int"),
        ('{"serviceName": 1.5}', "must be a string, got float"),
        ('{"serviceName": ["a"]}', "must be a string, got list"),
        ('{"serviceName": {"a": 1}}', "must be a string, got dict"),
        ('{"serviceName": true}', "must be a string, got bool"),
        ('{"serviceName": ""}', "empty"),
        ('{"serviceName": "."}', "relative"),
        ('{"serviceName": ".."}', "relative"),
        ('{"serviceName": "a/b"}', "'/'"),
        ('{"serviceName": "../x"}', "'/'"),
        ('{"serviceName": "/abs"}', "'/'"),
        ('{"serviceName": "a\\u0000b"}', "U+0000"),
        ('{"serviceName": "a\\u001fb"}', "U+001F"),
        ('{"serviceName": "a\\u007fb"}', "U+007F"),
        ('{"serviceName": "a\\uffffb"}', "U+FFFF"),
        ('{"serviceName": "a\\ue000b"}', "U+E000"),
        ('{"serviceName": "a\\ud800b"}', "U+D800"),
        ('{"serviceName": "zookeeper"}', "reserved"),
        ('{"serviceName": " svc"}', "white space"),
        ('{"serviceName": "svc "}', "white space"),
        ('{"serviceName": "svc\\n"}', "white space"),
        ('{"serviceName": "' + "x" * 256 + '"}', "longer than 255 bytes"),
        ('{"serviceName": "' + "\u00e9" * 128 + '"}', "longer than 255 bytes"),
    ],
)
def test_bad_entry_is_reported_and_skipped_while_its_siblings_are_kept(entry, why):
    text = f'[{{"serviceName": "before"}}, {entry}, {{"serviceName": "after"}}]'
    decls, errors = parse(text)
    assert names(decls) == ["before", "after"]
    assert len(errors) == 1
    assert errors[0].startswith("entry 1: ")
    assert why in errors[0]


def test_each_bad_entry_is_reported_with_its_index():
    decls, errors = parse(entries("ok", "", "a/b", "ok2", None))
    assert names(decls) == ["ok", "ok2"]
    assert [e.split(":")[0] for e in errors] == ["entry 1", "entry 2", "entry 4"]


@pytest.mark.parametrize(
    "name", ["a" * 255, "\u00e9" * 127, "svc.v2", "...", "UPPER", "\u670d\u52a1-1", "with inner space"]
)
def test_unusual_but_valid_name_is_accepted(name):
    assert names(parse(entries(name))[0]) == [name]


def test_name_declared_twice_in_one_pod_counts_once_keeping_the_first():
    text = '[{"serviceName": "a", "version": "v1"}, {"serviceName": "b"}, {"serviceName": "a", "version": "v2"}]'
    decls, errors = parse(text)
    assert errors == []
    assert [(d.name, d.version) for d in decls] == [("a", "v1"), ("b", None)]


def test_unknown_fields_are_kept_in_extra():
    decls, _ = parse('[{"serviceName": "a", "version": "v0", "lb": "round_robin", "weight": 3}]')
    assert decls[0].extra == {"lb": "round_robin", "weight": 3}
    assert decls[0].version == "v0"


def test_missing_version_is_none():
    decls, _ = parse('[{"serviceName": "a"}]')
    assert decls[0].version is None
    assert decls[0].extra == {}


@pytest.mark.parametrize(
    ("raw", "version"),
    [("1", "1"), ("1.5", "1.5"), ("true", "true"), ("[1, 2]", "[1, 2]"), ('{"major": 2}', '{"major": 2}')],
)
def test_non_string_version_is_kept_as_its_json_text(raw, version):
    decls, errors = parse(f'[{{"serviceName": "a", "version": {raw}}}]')
    assert errors == []
    assert decls[0].version == version


def test_null_version_is_none():
    assert parse('[{"serviceName": "a", "version": null}]')[0][0].version is None


@pytest.mark.parametrize("prefix", ["\ufeff", "\ufeff\ufeff", "\ufeff \n", "  \n\t"])
def test_byte_order_mark_and_surrounding_white_space_are_ignored(prefix):
    decls, errors = parse(prefix + SEED_ANNOTATION + "\n")
    assert errors == []
    assert names(decls) == ["test-rpc-server-1", "test-rpc-server-2"]


def test_thousands_of_entries_are_all_parsed():
    wanted = [f"svc-{i:05d}" for i in range(5000)]
    decls, errors = parse(entries(*wanted))
    assert errors == []
    assert names(decls) == wanted


def test_annotation_of_exactly_the_size_limit_is_parsed():
    body = entries("a", "b")
    text = body + " " * (MAX_ANNOTATION_BYTES - len(body))
    assert len(text.encode()) == MAX_ANNOTATION_BYTES
    assert names(parse(text)[0]) == ["a", "b"]


@pytest.mark.parametrize("filler", [" ", "\u00e9"])
def test_annotation_over_256_kib_is_rejected_whole_with_the_reason(filler):
    body = entries("a")
    text = body[:-1] + ', {"serviceName": "b", "pad": "' + filler * MAX_ANNOTATION_BYTES + '"}]'
    assert len(text.encode()) > MAX_ANNOTATION_BYTES
    decls, errors = parse(text)
    assert decls == []
    assert len(errors) == 1
    assert "larger than 262144 bytes" in errors[0]


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000,
        "[" * 100_000 + "]" * 100_000,
        '[{"serviceName": "a", "x": ' + "[" * 50_000 + "]" * 50_000 + "}]",
    ],
)
def test_deeply_nested_annotation_is_reported_not_raised(text):
    assert len(text.encode()) <= MAX_ANNOTATION_BYTES
    _, errors = parse(text)
    assert errors


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
_entry = st.one_of(
    st.fixed_dictionaries({"serviceName": st.text(max_size=12)}, optional={"version": _json, "extra": _json}),
    st.fixed_dictionaries({"serviceName": st.sampled_from(["a", "b", ".", "zookeeper", " c"])}),
    _json,
)


@settings(deadline=None, max_examples=300)
@given(st.lists(_entry, max_size=12))
def test_every_entry_yields_a_declaration_a_duplicate_or_one_error(data):
    decls, errors = parse(json.dumps(data))
    valid = [
        e["serviceName"]
        for e in data
        if isinstance(e, dict) and isinstance(e.get("serviceName"), str) and node_name_error(e["serviceName"]) is None
    ]
    assert names(decls) == list(dict.fromkeys(valid))
    assert len(errors) == len(data) - len(valid)
    assert all(isinstance(d.version, str | None) for d in decls)


@settings(deadline=None, max_examples=300)
@given(st.text(max_size=64))
def test_arbitrary_text_never_raises_and_yields_only_valid_unique_names(text):
    decls, errors = parse(text)
    assert all(node_name_error(n) is None for n in names(decls))
    assert len(set(names(decls))) == len(decls)
    if not decls and not errors:
        assert json.loads(text.lstrip("\ufeff")) == []


# Keys are matched to the fields as Go's encoding/json (the original's
# decoder) matches them: an exact match of the field's name is preferred, a
# case-insensitive one (simple Unicode case folding) accepted, and every
# matching key sets the field in turn, so the last one in the object wins.

KELVIN = "\u212a"  # folds to k
LONG_S = "\u017f"  # folds to s


def test_keys_of_any_case_declare_services_as_the_original_does():
    decls, errors = parse('[{"ServiceName":"a"},{"servicename":"b"},{"SERVICENAME":"c","version":1}]')
    assert errors == []
    assert [(d.name, d.version, d.extra) for d in decls] == [("a", None, {}), ("b", None, {}), ("c", "1", {})]


@pytest.mark.parametrize(
    "key",
    [
        "serviceName",
        "ServiceName",
        "servicename",
        "SERVICENAME",
        "sErViCeNaMe",
        f"{LONG_S}erviceName",
        f"{LONG_S}ERVICENAME",
    ],
)
def test_service_name_key_matches_when_it_folds_to_the_field_name(key):
    decls, errors = parse(json.dumps([{key: "a"}]))
    assert errors == []
    assert [(d.name, d.extra) for d in decls] == [("a", {})]


@pytest.mark.parametrize("key", ["version", "Version", "VERSION", "vErSiOn", f"ver{LONG_S}ion", f"VER{LONG_S}ION"])
def test_version_key_matches_when_it_folds_to_the_field_name(key):
    decls, errors = parse(json.dumps([{"serviceName": "a", key: "v1"}]))
    assert errors == []
    assert [(d.version, d.extra) for d in decls] == [("v1", {})]


@pytest.mark.parametrize(
    "key",
    [
        "service_name",
        "service-name",
        "serviceNam",
        "serviceNamee",
        " serviceName",
        "serviceName ",
        "serviceName\u0000",
        "serv\u0131ceName",  # dotless i: upper-cases to I but does not fold to it
        "serv\u0130ceName",  # dotted capital I: lower-cases to i but does not fold to it
        "\uff33erviceName",  # fullwidth S
        f"{KELVIN}serviceName",
        "s\u0301erviceName",
    ],
)
def test_service_name_key_that_is_not_a_fold_is_an_unknown_field(key):
    decls, errors = parse(json.dumps([{key: "a"}]))
    assert decls == []
    assert errors == ["entry 0: has no serviceName"]
    assert parse(json.dumps([{"serviceName": "b", key: "a"}]))[0][0].extra == {key: "a"}


@pytest.mark.parametrize("key", ["versions", "vers1on", "ver_sion", f"version{KELVIN}", "v\u0435rsion"])
def test_version_key_that_is_not_a_fold_is_an_unknown_field(key):
    decls, errors = parse(json.dumps([{"serviceName": "a", key: "v1"}]))
    assert errors == []
    assert [(d.version, d.extra) for d in decls] == [(None, {key: "v1"})]


@pytest.mark.parametrize(
    ("obj", "name"),
    [
        ('{"serviceName": "exact", "ServiceName": "folded"}', "folded"),
        ('{"ServiceName": "folded", "serviceName": "exact"}', "exact"),
        ('{"SERVICENAME": "a", "servicename": "b", "ServiceName": "c"}', "c"),
        ('{"serviceName": "a", "serviceName": "b"}', "b"),
        ('{"serviceName": "a", "SERVICENAME": "b", "serviceName": "c"}', "c"),
        ('{"serviceName": "a", "serviceName": "b", "SERVICENAME": "c"}', "c"),
        ('{"\u017ferviceName": "a", "serviceName": "b", "\u017fERVICENAME": "c"}', "c"),
    ],
)
def test_last_key_matching_the_service_name_field_wins(obj, name):
    decls, errors = parse(f"[{obj}]")
    assert errors == []
    assert [(d.name, d.extra) for d in decls] == [(name, {})]


@pytest.mark.parametrize(
    ("fields", "version"),
    [
        ('"version": "v1", "Version": "v2"', "v2"),
        ('"VERSION": "v2", "version": "v1"', "v1"),
        ('"version": "v1", "version": "v2"', "v2"),
        ('"version": "v1", "VERSION": "v2", "version": "v3"', "v3"),
        ('"version": "v1", "Version": 2', "2"),
        ('"version": 2, "Version": "v1"', "v1"),
        ('"version": "v1", "VERSION": null', None),
    ],
)
def test_last_key_matching_the_version_field_wins(fields, version):
    decls, errors = parse(f'[{{"serviceName": "a", {fields}}}]')
    assert errors == []
    assert [(d.version, d.extra) for d in decls] == [(version, {})]


def test_null_service_name_leaves_an_earlier_one_as_it_is():
    # Go leaves a string field untouched when it decodes null into it.
    assert names(parse('[{"serviceName": "a", "SERVICENAME": null}]')[0]) == ["a"]
    assert parse('[{"SERVICENAME": null, "serviceName": null}]') == ([], ["entry 0: has no serviceName"])


@pytest.mark.parametrize(
    ("obj", "why"),
    [
        ('{"serviceName": 7, "ServiceName": "a"}', "must be a string, got int"),
        ('{"ServiceName": "a", "serviceName": ["b"]}', "must be a string, got list"),
        ('{"serviceName": "a", "serviceName": true}', "must be a string, got bool"),
        ('{"SERVICENAME": {"a": 1}, "serviceName": null}', "must be a string, got dict"),
    ],
)
def test_non_string_under_any_matching_key_makes_the_entry_invalid(obj, why):
    decls, errors = parse(f'[{{"serviceName": "before"}}, {obj}, {{"serviceName": "after"}}]')
    assert names(decls) == ["before", "after"]
    assert len(errors) == 1
    assert errors[0].startswith("entry 1: ")
    assert why in errors[0]


def test_extra_keeps_every_key_that_matches_no_field():
    decls, errors = parse(
        '[{"ServiceName": "a", "VERSION": "v", "servicename": "b", "lb": "rr", "service_name": "z", "lb": "wrr"}]'
    )
    assert errors == []
    assert [(d.name, d.version, d.extra) for d in decls] == [("b", "v", {"lb": "wrr", "service_name": "z"})]


def test_nested_objects_are_left_as_they_are():
    decls, _ = parse('[{"serviceName": "a", "meta": {"ServiceName": "x", "serviceName": "y"}, "version": {"B": 1}}]')
    assert decls[0].extra == {"meta": {"ServiceName": "x", "serviceName": "y"}}
    assert decls[0].version == '{"B": 1}'


@pytest.mark.parametrize(
    ("key", "field"),
    [
        ("kind", "kind"),
        ("KIND", "kind"),
        (f"{KELVIN}ind", "kind"),
        (f"{LONG_S}ort", "sort"),
        (f"{LONG_S}ORT", "sort"),
        ("k\u0131nd", None),
        ("kinds", None),
        ("\u212bind", None),
    ],
)
def test_go_field_folds_kelvin_sign_and_long_s_to_ascii(key, field):
    assert go_field(key, ("kind", "sort")) == field


def test_go_field_prefers_an_exact_match_then_the_first_folded_field():
    fields = ("name", "NAME", "Name")
    assert go_field("NAME", fields) == "NAME"
    assert go_field("Name", fields) == "Name"
    assert go_field("nAmE", fields) == "name"


def test_object_dropped_as_a_duplicate_value_never_lends_its_keys_to_another():
    # The first value of a duplicate key is discarded by the decoder; a later
    # object must not be mistaken for it.
    text = "[" + ", ".join(f'{{"x": {{"serviceName": "stale"}}, "x": 1}}, {{"n": {i}}}' for i in range(200)) + "]"
    decls, errors = parse(text)
    assert decls == []
    assert len(errors) == 400
