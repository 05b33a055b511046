"""http.Request and http.Download against a real HTTP server on 127.0.0.1."""
from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest

from engine.state import State
from tests.tasks.conftest import Run
from tests.tasks.helpers import World
from tests.tasks.http_server import CSV, LocalHttpServer, serve

REQUEST = "io.kestra.plugin.core.http.Request"
DOWNLOAD = "io.kestra.plugin.core.http.Download"


@pytest.fixture
def server() -> Iterator[LocalHttpServer]:
    with serve() as running:
        yield running


def test_json_body_is_parsed_and_headers_kept(run: Run, server: LocalHttpServer) -> None:
    outcome = run({"type": REQUEST, "uri": server.url + "/json"})
    assert outcome.state is State.SUCCESS
    assert outcome.outputs["code"] == 200
    assert outcome.outputs["body"] == {"hello": "world", "n": [1, 2]}
    assert outcome.outputs["headers"]["X-Custom"] == ["yes"]
    assert outcome.outputs["uri"] == server.url + "/json"


def test_text_body_stays_text(run: Run, server: LocalHttpServer) -> None:
    assert run({"type": REQUEST, "uri": server.url + "/text"}).outputs["body"] == "plain words"


def test_post_sends_rendered_body_headers_and_content_type(run: Run, server: LocalHttpServer) -> None:
    outcome = run({"type": "io.kestra.plugin.fs.http.Request", "uri": server.url + "/echo", "method": "POST",
                   "body": '{"user": "{{ inputs.user }}"}', "headers": {"X-Trace": "{{ task.id }}"}},
                  variables={"inputs": {"user": "ana"}})
    echo = outcome.outputs["body"]
    assert echo["method"] == "POST"
    assert json.loads(echo["body"]) == {"user": "ana"}
    assert echo["headers"]["X-Trace"] == "task"
    assert echo["headers"]["Content-Type"] == "application/json"


def test_form_data_is_url_encoded_and_returned(run: Run, server: LocalHttpServer) -> None:
    outcome = run({"type": REQUEST, "uri": server.url + "/echo", "method": "POST",
                   "contentType": "application/x-www-form-urlencoded", "formData": {"user": "a b", "n": 1}})
    assert outcome.outputs["body"]["body"] == "user=a+b&n=1"
    assert outcome.outputs["formData"] == {"user": "a b", "n": 1}


def test_multipart_form_sends_storage_files(run: Run, world: World, server: LocalHttpServer) -> None:
    uri = world.storage.put("kestra:///company/team/flow/executions/exec1/inputs/f/up.txt", b"FILE-CONTENT")
    outcome = run({"type": REQUEST, "uri": server.url + "/echo", "method": "POST",
                   "contentType": "multipart/form-data", "formData": {"file": uri, "note": "hi"}})
    sent = outcome.outputs["body"]["body"]
    assert 'filename="up.txt"' in sent and "FILE-CONTENT" in sent and "hi" in sent


def test_404_fails_unless_allow_failed(run: Run, server: LocalHttpServer) -> None:
    failed = run({"type": REQUEST, "uri": server.url + "/status/404"})
    assert failed.state is State.FAILED
    assert failed.error == "Failed http request with response code '404'"
    allowed = run({"type": REQUEST, "uri": server.url + "/status/500", "options": {"allowFailed": True}})
    assert allowed.state is State.SUCCESS and allowed.outputs["code"] == 500
    legacy = run({"type": REQUEST, "uri": server.url + "/status/404", "allowFailed": True})
    assert legacy.state is State.SUCCESS and legacy.outputs["body"] == {"error": "nope"}


def test_redirects_are_followed_unless_disabled(run: Run, server: LocalHttpServer) -> None:
    followed = run({"type": REQUEST, "uri": server.url + "/redirect"})
    assert followed.outputs["code"] == 200 and followed.outputs["body"]["hello"] == "world"
    kept = run({"type": REQUEST, "uri": server.url + "/redirect", "options": {"followRedirects": False}})
    assert kept.outputs["code"] == 302 and kept.outputs["headers"]["Location"] == ["/json"]


@pytest.mark.parametrize("options", [
    {"basicAuthUser": "user", "basicAuthPassword": "pass"},
    {"auth": {"type": "BASIC", "username": "user", "password": "{{ secret('PW') }}"}},
])
def test_basic_auth(run: Run, world: World, server: LocalHttpServer, options: dict[str, object]) -> None:
    world.environ["SECRET_PW"] = base64.b64encode(b"pass").decode()
    assert run({"type": REQUEST, "uri": server.url + "/basic", "options": options}).outputs["body"] == {"auth": "ok"}
    assert run({"type": REQUEST, "uri": server.url + "/basic"}).state is State.FAILED


def test_bearer_auth(run: Run, server: LocalHttpServer) -> None:
    outcome = run({"type": REQUEST, "uri": server.url + "/bearer",
                   "options": {"auth": {"type": "BEARER", "token": "tok"}}})
    assert outcome.state is State.SUCCESS


def test_read_timeout_fails(run: Run, server: LocalHttpServer) -> None:
    outcome = run({"type": REQUEST, "uri": server.url + "/slow", "options": {"timeout": {"readIdleTimeout": "PT0.2S"}}})
    assert outcome.state is State.FAILED and "ReadTimeout" in (outcome.error or "")


def test_task_timeout_stops_waiting(run: Run, server: LocalHttpServer) -> None:
    outcome = run({"type": REQUEST, "uri": server.url + "/slow", "timeout": "PT0.3S"})
    assert outcome.state is State.FAILED and outcome.error == "Timeout after PT0.3S"


def test_download_stores_the_file(run: Run, world: World, server: LocalHttpServer) -> None:
    outcome = run({"type": "io.kestra.plugin.fs.http.Download", "uri": server.url + "/download"})
    assert outcome.state is State.SUCCESS
    assert outcome.outputs["code"] == 200 and outcome.outputs["length"] == len(CSV)
    assert outcome.outputs["uri"].endswith("/orders.csv")  # the server's folder part is dropped
    assert world.storage.get(outcome.outputs["uri"]) == CSV
    assert outcome.outputs["headers"]["Content-Type"] == ["text/csv"]


def test_download_of_an_empty_response(run: Run, world: World, server: LocalHttpServer) -> None:
    failed = run({"type": DOWNLOAD, "uri": server.url + "/empty"})
    assert failed.state is State.FAILED and failed.error == "No response from server"
    allowed = run({"type": DOWNLOAD, "uri": server.url + "/empty", "failOnEmptyResponse": False})
    assert allowed.state is State.SUCCESS and allowed.outputs["length"] == 0
    assert any("is empty" in m for m in world.messages())


def test_download_404_fails(run: Run, server: LocalHttpServer) -> None:
    outcome = run({"type": DOWNLOAD, "uri": server.url + "/missing"})
    assert outcome.state is State.FAILED and outcome.error == "Failed http request with response code '404'"


def test_secret_in_url_is_masked_in_outputs(run: Run, world: World, server: LocalHttpServer) -> None:
    world.environ["SECRET_KEY"] = base64.b64encode(b"k3y-value").decode()
    outcome = run({"type": REQUEST, "uri": server.url + "/json?api_key={{ secret('KEY') }}"})
    assert outcome.outputs["uri"] == server.url + "/json?api_key=******"
