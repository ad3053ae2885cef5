"""The consumer-library harness without a JVM or a server (tests/helpers/consumers.py):
the hand-written formats, and requests that never hang."""

import json
from pathlib import Path

import pytest
from helpers.consumers import (
    ConsumerError,
    ConsumerProcess,
    curator_node,
    dubbo_params,
    dubbo_provider_path,
    dubbo_url,
    java_url_encode,
)


def test_java_url_encode_is_java_urlencoder():
    # URLEncoder keeps letters, digits and . - * _, writes a space as + and escapes the rest (~ included).
    assert java_url_encode("a b~c*d.e-f_g/h:i,j&k=l%é") == "a+b%7Ec*d.e-f_g%2Fh%3Ai%2Cj%26k%3Dl%25%C3%A9"


def test_dubbo_url_and_its_node_path():
    url = dubbo_url("10.1.2.3:20880", "com.example.Greeter", methods="hello,bye", version="")
    assert url == (
        "dubbo://10.1.2.3:20880/com.example.Greeter?anyhost=true&application=a&category=providers&dynamic=false"
        "&interface=com.example.Greeter&methods=hello,bye&side=provider&timestamp=1"
    )  # sorted by key, empty parameters left out
    assert dubbo_provider_path("/dubbo", url) == (
        "/dubbo/com.example.Greeter/providers/dubbo%3A%2F%2F10.1.2.3%3A20880%2Fcom.example.Greeter%3Fanyhost%3Dtrue"
        "%26application%3Da%26category%3Dproviders%26dynamic%3Dfalse%26interface%3Dcom.example.Greeter"
        "%26methods%3Dhello%2Cbye%26side%3Dprovider%26timestamp%3D1"
    )
    assert dubbo_params(url)[1]["methods"] == "hello,bye"


def test_curator_node_has_the_nine_keys_in_order():
    node = json.loads(curator_node("myapp", "pod-1", "10.1.2.3", 8080, metadata={"instance_status": "UP"}))
    assert list(node) == [
        "name",
        "id",
        "address",
        "port",
        "sslPort",
        "payload",
        "registrationTimeUTC",
        "serviceType",
        "uriSpec",
    ]
    assert list(node["payload"]) == ["@class", "id", "name", "metadata"]


class Fake(ConsumerProcess):
    def __init__(self, tmp_path: Path, *argv: str):
        super().__init__("curator", tmp_path, tmp_path / "fake.log", timeout=0.5)
        self.argv = list(argv)

    def command(self) -> list[str]:
        return self.argv


def test_a_request_that_gets_no_answer_times_out_and_the_process_is_killed(tmp_path: Path):
    fake = Fake(tmp_path, "sleep", "30")
    with pytest.raises(ConsumerError, match="did not answer"):
        fake.request("ping")
    assert fake._proc is None
    fake.close()


def test_a_process_that_exits_fails_the_request(tmp_path: Path):
    fake = Fake(tmp_path, "sh", "-c", "echo gone >&2")
    with pytest.raises(ConsumerError, match=r"exited during ping(.|\n)*gone"):
        fake.request("ping")


def test_error_answers_raise_and_close_ends_the_process(tmp_path: Path):
    fake = Fake(tmp_path, "sh", "-c", 'read line; echo \'{"error": "x.Boom: no"}\'; read line')
    with pytest.raises(ConsumerError, match=r"x\.Boom") as failed:
        fake.call("query")
    assert failed.value.answer == {"error": "x.Boom: no"}
    proc = fake._proc
    assert proc is not None
    fake.close()
    assert proc.poll() is not None
