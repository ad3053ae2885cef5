"""The dubbo layout's provider nodes (lib/layouts/dubbo.py): Dubbo's own URL
string and Java's URL encoding, stable per pod, refusals named."""

from __future__ import annotations

from urllib.parse import unquote_plus

from lib.layouts.dubbo import DubboLayout, java_url_encode
from lib.model import DesiredState, PodInfo, ServiceDecl

POD = PodInfo(
    "shop", "greeter-1", "Running", True, False, "10.244.1.7", "", created="2025-11-29T21:00:00Z",
    ports=(("dubbo", 20880),),
)  # fmt: skip


def state(decl: ServiceDecl, pod: PodInfo = POD) -> DesiredState:
    return DesiredState(services={decl.name: {pod.pod_ip or ""}}, endpoints={decl.name: [(pod, decl)]})


def test_java_url_encoding():
    assert java_url_encode("a b*~.-_/:?=&,") == "a+b*%7E.-_%2F%3A%3F%3D%26%2C"


def test_a_provider_is_dubbos_full_url_sorted_without_empty_parameters():
    decl = ServiceDecl(
        "greeter", "1.0.0", {"port": "dubbo", "interface": "com.example.Greeter", "methods": ["hello", "bye"]}
    )
    nodes, problems = DubboLayout("/dubbo").nodes(state(decl))
    assert problems == []
    [(path, data)] = nodes.items()
    folder, _, name = path.rpartition("/")
    assert folder == "/dubbo/com.example.Greeter/providers" and data == b""
    assert unquote_plus(name) == (
        "dubbo://10.244.1.7:20880/com.example.Greeter?anyhost=true&application=greeter&category=providers"
        "&dynamic=false&interface=com.example.Greeter&methods=hello,bye&side=provider&timestamp=1764450000000"
        "&version=1.0.0"
    )


def test_interface_defaults_to_the_service_name_and_group_protocol_are_used():
    decl = ServiceDecl("greeter", None, {"port": 1234, "group": "blue", "protocol": "tri"})
    [path] = DubboLayout("/r").nodes(state(decl))[0]
    url = unquote_plus(path.rpartition("/")[2])
    assert path.startswith("/r/greeter/providers/")
    assert url.startswith("tri://10.244.1.7:1234/greeter?") and "&group=blue&" in url and "version" not in url


def test_entries_it_cannot_render_are_refused_naming_the_field():
    layout = DubboLayout("/dubbo")
    for extra, needle in (
        ({}, 'no "port"'),
        ({"port": 1, "group": "a&b"}, "group"),
        ({"port": 1, "methods": 3}, "methods"),
    ):
        nodes, [problem] = layout.nodes(state(ServiceDecl("greeter", None, extra)))
        assert nodes == {} and needle in problem.reason and "(dubbo layout)" in problem.reason


def test_the_folders_a_service_wrote_stay_in_scope_after_its_interface_changes():
    layout = DubboLayout("/dubbo")
    layout.nodes(state(ServiceDecl("greeter", None, {"port": 1, "interface": "a.Old"})))
    covered = layout.scope(["greeter"])
    layout.nodes(state(ServiceDecl("greeter", None, {"port": 1, "interface": "a.New"})))
    assert covered == (set(), {"/dubbo/a.Old/providers", "/dubbo/greeter/providers"})
    assert layout.scope(["greeter"])[1] == {"/dubbo/a.New/providers", "/dubbo/greeter/providers"}


def test_mock_and_dry_run_output_show_each_providers_url():
    from lib.model import Action, Change, Plan
    from lib.render import plan_lines, service_map_lines

    decl = ServiceDecl("greeter", "1.0.0", {"port": 20880})
    [(path, data)] = DubboLayout("/dubbo").nodes(state(decl))[0].items()
    plan = Plan(changes=[Change(Action.CREATE, path, None, data, -1, True)])
    assert service_map_lines(plan, 1, 1)[0].endswith(": dubbo://10.244.1.7:20880/greeter")
    assert "+dubbo://10.244.1.7:20880/greeter" in plan_lines(plan)[0]
