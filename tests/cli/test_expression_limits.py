"""``podium run``: a runaway expression fails its own task within the budget while the tasks beside
it go on, and jq in a flow sees none of the process's secrets (issue 15)."""
from __future__ import annotations

import base64
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.cli.conftest import PODIUM, ROOT, Podium, write

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


def _run(podium: Podium, flow: Path, exit_code: int = 0, **variables: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PODIUM_", "SECRET_"))}
    env.update(PYTHONPATH=str(ROOT), **variables)
    result = subprocess.run([*PODIUM, "run", str(flow), "--json", "--data-dir", str(podium.data_dir)],
                            cwd=podium.cwd, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == exit_code, result.stderr
    assert "Traceback" not in result.stderr
    document: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return document


def test_a_runaway_expression_fails_its_task_and_the_parallel_one_ends(podium: Podium, tmp_path: Path) -> None:
    flow = write(tmp_path, "runaway.yaml", PARALLEL)
    started = time.monotonic()
    document = _run(podium, flow, 1, PODIUM_EXPRESSIONS__TIMEOUT_SECONDS="2")  # 1: the execution FAILED
    assert time.monotonic() - started < 150  # the regex alone would take hours
    runs = {r["taskId"]: r for r in document["taskRunList"]}
    assert runs["quick"]["state"]["current"] == "SUCCESS"
    assert runs["quick"]["outputs"] == {"value": "done"}
    assert runs["stuck"]["state"]["current"] == "FAILED"
    assert document["state"]["current"] == "FAILED"
    errors = [log["message"] for log in document["logs"] if log["taskId"] == "stuck" and log["level"] == "ERROR"]
    assert any("time budget of 2 s" in m and "expressions.timeout_seconds" in m and "split(" in m
               for m in errors), errors
    assert all("\n" not in m and "Traceback" not in m for m in errors)


def test_jq_in_a_flow_sees_no_environment(podium: Podium, tmp_path: Path) -> None:
    flow = write(tmp_path, "jq_env.yaml", JQ_ENV)
    key = base64.b64encode(b"k" * 32).decode()
    secret = base64.b64encode(b"the-secret-value").decode()
    document = _run(podium, flow, PODIUM_ENCRYPTION_KEY=key, SECRET_TOKEN=secret, KESTRA_VISIBLE="shown")
    assert document["state"]["current"] == "SUCCESS"
    text = json.dumps(document)
    for leaked in (key, secret, "the-secret-value", "PODIUM_ENCRYPTION_KEY", "SECRET_TOKEN", "PATH"):
        assert leaked not in text
    assert document["outputs"] == {"seen": "[[{},{}]]"}
    assert ("env", "INFO", "[{}] [{}]") in [(log["taskId"], log["level"], log["message"]) for log in document["logs"]]
