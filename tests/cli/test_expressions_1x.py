"""Kestra 1.x runtime variables and expression functions, through ``podium run`` as a user runs a
flow: kv() errors and inheritance, envs.*, http(), ksuid(), nanoId(), isIn, tasksWithState(),
execution.state and tasks.<id>.state, kestra.environment and kestra.url, secret() with subkey
and namespace, and secrets in what the executor renders (flow outputs, labels, If conditions)."""
from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import ENDED, Podium, execution_of, write

CORE = "io.kestra.plugin.core."
DB_SECRET = {"user": "admin-user", "password": "p4ssw0rd-xyz-9"}


def _run(podium: Podium, flow: Path, **env: str) -> dict[str, Any]:
    """``podium run --json`` with ``env`` added to a clean environment (no PODIUM_*, ENV_*, SECRET_*)."""
    # kept: a traceback must not reach the printed execution either (these flows log expression errors)
    result = podium.run(flow, exit_code=ENDED, env=env, unset=("ENV_", "SECRET_"))
    assert "Traceback" not in result.stdout
    return execution_of(result)


def _flow(tmp_path: Path, name: str, body: str, namespace: str = "company.team") -> Path:
    return write(tmp_path, f"{name}.yaml", f"id: {name}\nnamespace: {namespace}\n{body}")


def _outputs(document: dict[str, Any], task_id: str) -> dict[str, Any]:
    [run] = [run for run in document["taskRunList"] if run["taskId"] == task_id]
    outputs: dict[str, Any] = run.get("outputs") or {}
    return outputs


def _messages(document: dict[str, Any], level: str | None = None) -> str:
    # kept: every task's messages in one string, unlike log_messages (one task's, as a list)
    return " ".join(log["message"] for log in document["logs"] if level is None or log["level"] == level)


def test_kv_fails_on_a_missing_key_unless_asked_and_inherits_parent_namespaces(
        podium: Podium, tmp_path: Path) -> None:
    flow = _flow(tmp_path, "kv_rules", f"""tasks:
  - id: parent_value
    type: {CORE}kv.Set
    namespace: company
    key: region
    value: eu-west
  - id: read
    type: {CORE}debug.Return
    format: "{{{{ kv('region') }}}}|{{{{ kv('absent', errorOnMissing=false) ?? 'null' }}}}"
  - id: missing
    type: {CORE}debug.Return
    format: "{{{{ kv('absent') }}}}"
""")
    document = _run(podium, flow)
    assert document["state"]["current"] == "FAILED"
    assert _outputs(document, "read")["value"] == "eu-west|null"
    assert "The key 'absent' does not exist in the namespace 'company.team' nor its parent namespaces" \
        in _messages(document, "ERROR")


def test_envs_are_the_env_prefixed_variables_only(podium: Podium, tmp_path: Path) -> None:
    flow = _flow(tmp_path, "envs", f"""tasks:
  - id: show
    type: {CORE}debug.Return
    format: "{{{{ envs.greeting }}}}|{{{{ envs.legacy ?? 'none' }}}}|{{{{ envs.path ?? 'none' }}}}"
""")
    document = _run(podium, flow, ENV_GREETING="hello", KESTRA_LEGACY="old")
    assert _outputs(document, "show")["value"] == "hello|none|none"

    # Kestra 0.x's prefix, kept as a setting; a secret is never exposed, whatever the prefix
    document = _run(podium, flow, ENV_GREETING="hello", KESTRA_LEGACY="old", KESTRA_GREETING="hi",
                    PODIUM_ENV_VARS_PREFIX="KESTRA_")
    assert _outputs(document, "show")["value"] == "hi|old|none"
    secret_flow = _flow(tmp_path, "envs_secret", f"""tasks:
  - id: show
    type: {CORE}debug.Return
    format: "{{{{ envs | length }}}}"
""")
    document = _run(podium, secret_flow, SECRET_TOKEN=base64.b64encode(b"s3cr3t-value").decode(),
                    PODIUM_ENV_VARS_PREFIX="SECRET_")
    assert _outputs(document, "show")["value"] == "0"


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/slow"):
            time.sleep(5)
        body = b'{"name": "podium", "items": [1, 2, 3]}' if not self.path.startswith("/big") else b"x" * 5000
        self.send_response(200 if not self.path.startswith("/missing") else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        received = self.rfile.read(int(self.headers["Content-Length"]))
        body = json.dumps({"echo": json.loads(received), "token": self.headers.get("X-Token")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_http_reads_a_response_within_the_budget_and_the_size_cap(
        podium: Podium, tmp_path: Path, server: str) -> None:
    flow = _flow(tmp_path, "http_calls", f"""tasks:
  - id: get
    type: {CORE}debug.Return
    format: "{{{{ http(uri='{server}/data').name }}}} {{{{ http(uri='{server}/data').items | length }}}}"
  - id: post
    type: {CORE}debug.Return
    format: "{{{{ http(uri='{server}/echo', method='POST', body={{'a': 1}}, headers={{'X-Token': 't'}}) }}}}"
  - id: missing
    type: {CORE}debug.Return
    format: "{{{{ http(uri='{server}/missing') }}}}"
""")
    document = _run(podium, flow)
    assert _outputs(document, "get")["value"] == "podium 3"
    assert json.loads(_outputs(document, "post")["value"]) == {"echo": {"a": 1}, "token": "t"}
    assert f"http(): GET {server}/missing answered 404 Not Found" in _messages(document, "ERROR")

    limits = _flow(tmp_path, "http_limits", f"""tasks:
  - id: big
    type: {CORE}debug.Return
    format: "{{{{ http(uri='{server}/big') }}}}"
    allowFailure: true
  - id: slow
    type: {CORE}debug.Return
    format: "{{{{ http(uri='{server}/slow') }}}}"
""")
    started = time.monotonic()
    document = _run(podium, limits, PODIUM_EXPRESSIONS__HTTP_MAX_RESPONSE_BYTES="1000",
                    PODIUM_EXPRESSIONS__TIMEOUT_SECONDS="1")
    assert time.monotonic() - started < 60
    errors = _messages(document, "ERROR")
    assert "the response is larger than 1,000 bytes (expressions.http_max_response_bytes)" in errors
    assert "Expression stopped after its time budget of 1 s (expressions.timeout_seconds)" in errors


def test_http_can_be_turned_off(podium: Podium, tmp_path: Path, server: str) -> None:
    flow = _flow(tmp_path, "http_off", f"""tasks:
  - id: get
    type: {CORE}debug.Return
    format: "{{{{ http(uri='{server}/data') }}}}"
""")
    document = _run(podium, flow, PODIUM_EXPRESSIONS__HTTP_ENABLED="false")
    assert document["state"]["current"] == "FAILED"
    assert "http() is turned off on this Podium instance (expressions.http_enabled)" in _messages(document)


def test_ids_states_and_instance_variables(podium: Podium, tmp_path: Path) -> None:
    flow = _flow(tmp_path, "states", f"""tasks:
  - id: first
    type: {CORE}debug.Return
    format: "{{{{ ksuid() }}}} {{{{ nanoId() }}}} {{{{ nanoId(length=8, alphabet='ab') }}}}"
  - id: second
    type: {CORE}debug.Return
    format: >-
      {{{{ execution.state }}}} {{{{ tasks.first.state }}}} {{{{ execution.state isIn ['RUNNING', 'PAUSED'] }}}}
      {{{{ tasksWithState('success') | jq('.[].taskId') | first }}}} {{{{ kestra.environment }}}} {{{{ kestra.url }}}}
""")
    document = _run(podium, flow, PODIUM_ENVIRONMENT="staging", PODIUM_URL="https://podium.example.com")
    assert document["state"]["current"] == "SUCCESS", _messages(document)
    ksuid, nano, short = _outputs(document, "first")["value"].split(" ")
    assert re.fullmatch(r"[0-9A-Za-z]{27}", ksuid)
    assert re.fullmatch(r"[0-9A-Za-z_-]{21}", nano)
    assert re.fullmatch(r"[ab]{8}", short)
    assert _outputs(document, "second")["value"] == \
        "RUNNING SUCCESS true first staging https://podium.example.com"


def test_secret_subkey_and_namespace(podium: Podium, tmp_path: Path) -> None:
    flow = _flow(tmp_path, "secret_parts", f"""tasks:
  - id: length
    type: {CORE}debug.Return
    format: "{{{{ secret('DB', subkey='password') | length }}}}"
  - id: log
    type: {CORE}log.Log
    message: "user {{{{ secret('DB', subkey='user', namespace='company') }}}}"
  - id: sibling
    type: {CORE}debug.Return
    format: "{{{{ secret('DB', namespace='company.other') }}}}"
""")
    encoded = base64.b64encode(json.dumps(DB_SECRET).encode()).decode()
    document = _run(podium, flow, SECRET_DB=encoded)
    assert _outputs(document, "length")["value"] == str(len(DB_SECRET["password"]))
    assert "user ******" in _messages(document)
    assert "a flow of namespace 'company.team' reads the secrets of its own namespace, its parents and its " \
        "children only" in _messages(document, "ERROR")
    assert DB_SECRET["user"] not in json.dumps(document)


def test_secrets_in_what_the_executor_renders_are_masked(podium: Podium, tmp_path: Path) -> None:
    flow = _flow(tmp_path, "secret_executor", f"""tasks:
  - id: label
    type: {CORE}execution.Labels
    labels:
      owner: "{{{{ secret('DB', subkey='user') }}}}"
  - id: check
    type: {CORE}flow.If
    condition: "{{{{ secret('DB', subkey='password') == '{DB_SECRET['password']}' }}}}"
    then:
      - id: matched
        type: {CORE}debug.Return
        format: ok
outputs:
  - id: password
    type: STRING
    value: "is {{{{ secret('DB', subkey='password') }}}}"
""")
    encoded = base64.b64encode(json.dumps(DB_SECRET).encode()).decode()
    document = _run(podium, flow, SECRET_DB=encoded)
    assert document["state"]["current"] == "SUCCESS", _messages(document)
    assert document["outputs"] == {"password": "is ******"}
    assert {"key": "owner", "value": "******"} in document["labels"]
    assert _outputs(document, "matched")["value"] == "ok"
    assert DB_SECRET["password"] not in json.dumps(document)
    assert DB_SECRET["user"] not in json.dumps(document)
