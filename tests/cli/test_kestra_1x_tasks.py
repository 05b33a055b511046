"""Kestra 1.x tasks as a user meets them: ``podium run`` of small flows (Assert, Exit,
SetVariables/UnsetVariables, PurgeKV, taskCache) and ``podium flow validate`` (warningOnStdErr)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.cli.conftest import Podium, write

CORE = "io.kestra.plugin.core."


def _run(podium: Podium, flow: Path, *args: str) -> dict[str, Any]:
    """The execution JSON, whatever state it ended in (exit 0, or 1 for FAILED/KILLED/CANCELLED)."""
    result = podium.process("run", str(flow), "--json", "--data-dir", str(podium.data_dir), *args)
    assert result.returncode in (0, 1), result.stderr
    assert "Traceback" not in result.stderr
    [line] = result.stdout.strip().splitlines()
    document: dict[str, Any] = json.loads(line)
    return document


def _states(document: dict[str, Any]) -> dict[str, str]:
    return {run["taskId"]: run["state"]["current"] for run in document["taskRunList"]}


def _messages(document: dict[str, Any], task_id: str, level: str | None = None) -> list[str]:
    return [log["message"] for log in document["logs"]
            if log["taskId"] == task_id and (level is None or log["level"] == level)]


def test_assert_fails_the_execution_with_each_failed_condition(podium: Podium, tmp_path: Path) -> None:
    flow = write(tmp_path, "assert.yaml", f"""\
id: assert
namespace: tests.cli
inputs:
  - id: param
    type: STRING
tasks:
  - id: check
    type: {CORE}execution.Assert
    errorMessage: "param is {{{{ inputs.param }}}}"
    conditions:
      - "{{{{ inputs.param == 'ok' }}}}"
      - "{{{{ 1 + 1 == 3 }}}}"
      - "{{{{ 1 + 1 == 2 }}}}"
  - id: after
    type: {CORE}log.Log
    message: never
""")
    document = _run(podium, flow, "--inputs", '{"param": "ko"}')
    assert document["state"]["current"] == "FAILED" and _states(document) == {"check": "FAILED"}
    errors = _messages(document, "check", "ERROR")
    assert "Assertion `{{ inputs.param == 'ok' }}` failed!" in errors
    assert "Assertion `{{ 1 + 1 == 3 }}` failed!" in errors
    assert "2 assertions failed!\nparam is ko" in errors
    passed = _run(podium, flow, "--inputs", '{"param": "ok"}')
    assert passed["state"]["current"] == "FAILED"  # 1 + 1 == 3 still fails
    assert "1 assertion failed!\nparam is ok" in _messages(passed, "check", "ERROR")


def test_exit_ends_the_execution_in_its_state_and_later_tasks_never_run(podium: Podium, tmp_path: Path) -> None:
    flow = write(tmp_path, "exit.yaml", f"""\
id: exit
namespace: tests.cli
inputs:
  - id: state
    type: SELECT
    values: [CONTINUE, END]
    defaults: CONTINUE
tasks:
  - id: if
    type: {CORE}flow.If
    condition: "{{{{ inputs.state == 'CONTINUE' }}}}"
    then:
      - id: hello
        type: {CORE}log.Log
        message: I'm continuing
    else:
      - id: exit
        type: {CORE}execution.Exit
        state: WARNING
  - id: end
    type: {CORE}log.Log
    message: I'm ending
""")
    ended = _run(podium, flow, "--inputs", '{"state": "END"}')
    assert ended["state"]["current"] == "WARNING"
    assert _states(ended) == {"if": "WARNING", "exit": "WARNING"}
    went_on = _run(podium, flow)
    assert went_on["state"]["current"] == "SUCCESS"
    assert _states(went_on) == {"if": "SUCCESS", "hello": "SUCCESS", "end": "SUCCESS"}


def test_set_and_unset_variables_change_what_later_tasks_read(podium: Podium, tmp_path: Path) -> None:
    flow = write(tmp_path, "variables.yaml", f"""\
id: variables
namespace: tests.cli
variables:
  name: World
tasks:
  - id: set_vars
    type: {CORE}execution.SetVariables
    variables:
      message: Hello
      name: Loïc
  - id: hello
    type: {CORE}log.Log
    message: "{{{{ vars.message }}}} {{{{ vars.name }}}}"
  - id: unset_variables
    type: {CORE}execution.UnsetVariables
    variables:
      - message
  - id: after
    type: {CORE}log.Log
    message: "{{{{ vars.message ?? 'no message' }}}}, {{{{ vars.name }}}}"
""")
    document = _run(podium, flow)
    assert document["state"]["current"] == "SUCCESS"
    assert _messages(document, "hello") == ["Hello Loïc"]
    assert _messages(document, "after") == ["no message, Loïc"]
    assert document["variables"] == {"name": "Loïc"}


def test_purge_kv_purges_its_own_namespace_tree_and_refuses_others(podium: Podium, tmp_path: Path) -> None:
    for namespace, key in [("tests.cli", "AI_one"), ("tests.cli.child", "AI_two"), ("tests.cli", "keep"),
                           ("tests.other", "AI_three")]:
        podium.invoke("kv", "set", namespace, key, "1")
    podium.invoke("kv", "set", "tests.cli", "old", "1", "--ttl", "PT0.001S")
    flow = write(tmp_path, "purge.yaml", f"""\
id: purge
namespace: tests.cli
tasks:
  - id: expired
    type: {CORE}kv.PurgeKV
  - id: by_pattern
    type: {CORE}kv.PurgeKV
    keyPattern: "AI_*"
    behavior:
      type: key
      expiredOnly: false
""")
    document = _run(podium, flow)
    assert document["state"]["current"] == "SUCCESS"
    outputs = {run["taskId"]: run["outputs"] for run in document["taskRunList"]}
    assert outputs == {"expired": {"size": 1}, "by_pattern": {"size": 2}}
    assert "purging 2 namespaces: [tests.cli, tests.cli.child]" in _messages(document, "by_pattern")
    listed = json.loads(podium.invoke("kv", "list", "tests.cli", "--json").output)
    assert [entry["key"] for entry in listed] == ["keep"]
    assert json.loads(podium.invoke("kv", "list", "tests.other", "--json").output)[0]["key"] == "AI_three"

    refused = _run(podium, write(tmp_path, "refused.yaml", f"""\
id: refused
namespace: tests.cli
tasks:
  - id: other
    type: {CORE}kv.PurgeKV
    namespaces: [tests.other]
"""))
    assert refused["state"]["current"] == "FAILED"
    [error] = _messages(refused, "other", "ERROR")
    assert error.startswith("PurgeKV can purge only the flow's namespace 'tests.cli' and its child namespaces; "
                            "'tests.other' is outside it")
    assert json.loads(podium.invoke("kv", "list", "tests.other", "--json").output)[0]["key"] == "AI_three"


def test_task_cache_reuses_the_outputs_of_the_previous_run(podium: Podium, tmp_path: Path) -> None:
    flow = write(tmp_path, "cache.yaml", f"""\
id: cache
namespace: tests.cli
tasks:
  - id: read
    type: {CORE}kv.Get
    key: counter
    taskCache:
      enabled: true
      ttl: PT1H
  - id: write
    type: {CORE}kv.Set
    key: counter
    value: "{{{{ execution.id }}}}"
""")
    first = _run(podium, flow)
    second = _run(podium, flow)
    assert first["state"]["current"] == second["state"]["current"] == "SUCCESS"
    assert _read(first) == _read(second) != {"value": first["id"]}  # the first run's outputs, reused
    assert "Uploading a cache entry for task 'read'" in _messages(first, "read")
    assert _messages(second, "read") == ["Skipping task execution for task 'read' as there is an existing "
                                         "cache entry for it"]
    changed = write(tmp_path, "cache.yaml", flow.read_text().replace("PT1H", "PT2H"))
    assert _read(_run(podium, changed)) == {"value": second["id"]}  # another task definition, another key


def _read(document: dict[str, Any]) -> dict[str, Any]:
    outputs: dict[str, Any] = next(r for r in document["taskRunList"] if r["taskId"] == "read").get("outputs", {})
    return outputs


def test_warning_on_std_err_is_accepted_on_script_tasks(podium: Podium, tmp_path: Path) -> None:
    flow = write(tmp_path, "scripts.yaml", """\
id: scripts
namespace: tests.cli
tasks:
  - id: shell
    type: io.kestra.plugin.scripts.shell.Commands
    warningOnStdErr: false
    commands:
      - echo hi >&2
  - id: python
    type: io.kestra.plugin.scripts.python.Script
    warningOnStdErr: "{{ true }}"
    script: print('hi')
""")
    result = podium.process("flow", "validate", str(flow))
    assert result.returncode == 0, result.stderr
    wrong = write(tmp_path, "wrong.yaml", flow.read_text().replace("warningOnStdErr: false", "warningOnStdErr: maybe"))
    refused = podium.process("flow", "validate", str(wrong))
    assert refused.returncode != 0 and "'maybe' is not a boolean" in refused.stderr
