"""Kestra 1.x tasks as a user meets them: ``podium run`` of small flows (Assert, Exit,
SetVariables/UnsetVariables, PurgeKV, taskCache) and ``podium flow validate`` (warningOnStdErr)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.cli.conftest import ENDED, Podium, log_messages, task_run, task_states, write

CORE = "io.kestra.plugin.core."


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
    document = podium.run_json(flow, "--inputs", '{"param": "ko"}', exit_code=ENDED)
    assert document["state"]["current"] == "FAILED" and task_states(document) == {"check": "FAILED"}
    errors = log_messages(document, "check", "ERROR")
    assert "Assertion `{{ inputs.param == 'ok' }}` failed!" in errors
    assert "Assertion `{{ 1 + 1 == 3 }}` failed!" in errors
    assert "2 assertions failed!\nparam is ko" in errors
    passed = podium.run_json(flow, "--inputs", '{"param": "ok"}', exit_code=ENDED)
    assert passed["state"]["current"] == "FAILED"  # 1 + 1 == 3 still fails
    assert "1 assertion failed!\nparam is ok" in log_messages(passed, "check", "ERROR")


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
    ended = podium.run_json(flow, "--inputs", '{"state": "END"}', exit_code=ENDED)
    assert ended["state"]["current"] == "WARNING"
    assert task_states(ended) == {"if": "WARNING", "exit": "WARNING"}
    went_on = podium.run_json(flow, exit_code=ENDED)
    assert went_on["state"]["current"] == "SUCCESS"
    assert task_states(went_on) == {"if": "SUCCESS", "hello": "SUCCESS", "end": "SUCCESS"}


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
    document = podium.run_json(flow, exit_code=ENDED)
    assert document["state"]["current"] == "SUCCESS"
    assert log_messages(document, "hello") == ["Hello Loïc"]
    assert log_messages(document, "after") == ["no message, Loïc"]
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
    document = podium.run_json(flow, exit_code=ENDED)
    assert document["state"]["current"] == "SUCCESS"
    outputs = {run["taskId"]: run["outputs"] for run in document["taskRunList"]}
    assert outputs == {"expired": {"size": 1}, "by_pattern": {"size": 2}}
    assert "purging 2 namespaces: [tests.cli, tests.cli.child]" in log_messages(document, "by_pattern")
    listed = json.loads(podium.invoke("kv", "list", "tests.cli", "--json").output)
    assert [entry["key"] for entry in listed] == ["keep"]
    assert json.loads(podium.invoke("kv", "list", "tests.other", "--json").output)[0]["key"] == "AI_three"

    refused = podium.run_json(write(tmp_path, "refused.yaml", f"""\
id: refused
namespace: tests.cli
tasks:
  - id: other
    type: {CORE}kv.PurgeKV
    namespaces: [tests.other]
"""), exit_code=ENDED)
    assert refused["state"]["current"] == "FAILED"
    [error] = log_messages(refused, "other", "ERROR")
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
    first = podium.run_json(flow, exit_code=ENDED)
    second = podium.run_json(flow, exit_code=ENDED)
    assert first["state"]["current"] == second["state"]["current"] == "SUCCESS"
    assert _read(first) == _read(second) != {"value": first["id"]}  # the first run's outputs, reused
    assert "Uploading a cache entry for task 'read'" in log_messages(first, "read")
    assert log_messages(second, "read") == ["Skipping task execution for task 'read' as there is an existing "
                                         "cache entry for it"]
    changed = write(tmp_path, "cache.yaml", flow.read_text().replace("PT1H", "PT2H"))
    # another task definition, another key
    assert _read(podium.run_json(changed, exit_code=ENDED)) == {"value": second["id"]}


def _read(document: dict[str, Any]) -> dict[str, Any]:
    outputs: dict[str, Any] = task_run(document, "read").get("outputs", {})
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
