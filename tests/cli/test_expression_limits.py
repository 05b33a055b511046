"""``podium run``: a runaway expression fails its own task within the budget while the tasks beside
it go on, and jq in a flow sees none of the process's secrets (issue 15)."""
from __future__ import annotations

import base64
import json
import time
from pathlib import Path

from tests.cli.conftest import Podium, log_messages, write

CATASTROPHIC = "'" + "a" * 40 + "!' | split('(a|aa)+$')"

PARALLEL = f"""\
id: runaway
namespace: tests.limits
tasks:
  - id: both
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: stuck
        type: io.kestra.plugin.core.debug.Return
        format: "{{{{ {CATASTROPHIC} }}}}"
      - id: quick
        type: io.kestra.plugin.core.debug.Return
        format: "done"
"""

JQ_ENV = """\
id: jq_env
namespace: tests.limits
tasks:
  - id: env
    type: io.kestra.plugin.core.log.Log
    message: "{{ {} | jq('$ENV') }} {{ {} | jq('env') }}"
  - id: keep
    type: io.kestra.plugin.core.debug.Return
    format: "{{ {} | jq('[$ENV, env]') }}"
outputs:
  - id: seen
    type: STRING
    value: "{{ outputs.keep.value }}"
"""


def test_a_runaway_expression_fails_its_task_and_the_parallel_one_ends(podium: Podium, tmp_path: Path) -> None:
    flow = write(tmp_path, "runaway.yaml", PARALLEL)
    started = time.monotonic()
    document = podium.run_json(flow, exit_code=1, env={"PODIUM_EXPRESSIONS__TIMEOUT_SECONDS": "2"}, unset=("SECRET_",),
                               timeout=180)  # 1: the execution FAILED
    assert time.monotonic() - started < 150  # the regex alone would take hours
    runs = {r["taskId"]: r for r in document["taskRunList"]}
    assert runs["quick"]["state"]["current"] == "SUCCESS"
    assert runs["quick"]["outputs"] == {"value": "done"}
    assert runs["stuck"]["state"]["current"] == "FAILED"
    assert document["state"]["current"] == "FAILED"
    errors = log_messages(document, "stuck", "ERROR")
    assert any("time budget of 2 s" in m and "expressions.timeout_seconds" in m and "split(" in m
               for m in errors), errors
    assert all("\n" not in m and "Traceback" not in m for m in errors)


def test_jq_in_a_flow_sees_no_environment(podium: Podium, tmp_path: Path) -> None:
    flow = write(tmp_path, "jq_env.yaml", JQ_ENV)
    key = base64.b64encode(b"k" * 32).decode()
    secret = base64.b64encode(b"the-secret-value").decode()
    env = {"PODIUM_ENCRYPTION_KEY": key, "SECRET_TOKEN": secret, "KESTRA_VISIBLE": "shown"}
    document = podium.run_json(flow, env=env, unset=("SECRET_",), timeout=180)
    assert document["state"]["current"] == "SUCCESS"
    text = json.dumps(document)
    for leaked in (key, secret, "the-secret-value", "PODIUM_ENCRYPTION_KEY", "SECRET_TOKEN", "PATH"):
        assert leaked not in text
    assert document["outputs"] == {"seen": "[[{},{}]]"}
    assert ("env", "INFO", "[{}] [{}]") in [(log["taskId"], log["level"], log["message"]) for log in document["logs"]]
