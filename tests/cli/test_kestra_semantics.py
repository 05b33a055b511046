"""Where Kestra's semantics are subtle, as a user meets them through ``podium run``: Switch cases
keyed by any YAML scalar, log.Fetch counts, ForEachItem's internal task runs, WorkingDirectory
inside Parallel and ForEach."""
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
    [line] = result.stdout.strip().splitlines()
    document: dict[str, Any] = json.loads(line)
    return document


def _task_ids(document: dict[str, Any]) -> list[str]:
    return [run["taskId"] for run in document["taskRunList"]]


def _run_of(document: dict[str, Any], task_id: str) -> dict[str, Any]:
    return next(run for run in document["taskRunList"] if run["taskId"] == task_id)


def test_switch_cases_keyed_by_numbers_and_booleans_match_the_rendered_value(podium: Podium,
                                                                             tmp_path: Path) -> None:
    flow = write(tmp_path, "switch.yaml", f"""\
id: switch-scalars
namespace: tests.cli
inputs:
  - id: v
    type: STRING
tasks:
  - id: switch
    type: {CORE}flow.Switch
    value: "{{{{ inputs.v }}}}"
    cases:
      1:
        - id: one
          type: {CORE}log.Log
          message: one
      true:
        - id: yes
          type: {CORE}log.Log
          message: "yes"
      2.5:
        - id: two-and-a-half
          type: {CORE}log.Log
          message: "2.5"
""")
    validated = podium.process("flow", "validate", str(flow))
    assert validated.returncode == 0, validated.stderr
    for value, task in (("1", "one"), ("true", "yes"), ("2.5", "two-and-a-half")):
        document = _run(podium, flow, "--inputs", json.dumps({"v": value}))
        assert document["state"]["current"] == "SUCCESS"
        assert _task_ids(document) == ["switch", task]
    # 1 and true are two keys, as they are two texts in Kestra (Python's 1 == True is not)
    assert _run(podium, flow, "--inputs", '{"v": "True"}')["state"]["current"] == "FAILED"


def test_fetch_counts_every_line_of_the_execution_at_info_or_above(podium: Podium, tmp_path: Path) -> None:
    flow = write(tmp_path, "fetch.yaml", f"""\
id: fetch-count
namespace: tests.cli
tasks:
  - id: hello
    type: {CORE}log.Log
    message: hello
  - id: quiet
    type: {CORE}log.Log
    level: DEBUG
    message: not fetched at INFO
  - id: nap
    type: {CORE}flow.Sleep
    duration: PT0.01S
  - id: fetch
    type: {CORE}log.Fetch
  - id: fetch-debug
    type: {CORE}log.Fetch
    level: DEBUG
    tasksId: [quiet, nap]
""")
    document = _run(podium, flow)
    assert document["state"]["current"] == "SUCCESS"
    nap_logs = [log["message"] for log in document["logs"] if log["taskId"] == "nap"]
    assert nap_logs == ["Waiting for PT0.01S"]  # Kestra's Sleep logs its duration at INFO
    assert _run_of(document, "fetch")["outputs"]["size"] == 2  # hello, Waiting for PT0.01S
    assert _run_of(document, "fetch-debug")["outputs"]["size"] == 2
