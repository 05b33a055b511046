"""The script-task flows a user writes, run by the real ``podium`` on the Process runner."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Podium, write

CSV_FLOW = """
id: csv_pipeline
namespace: tests.scripts
tasks:
  - id: extract
    type: io.kestra.plugin.scripts.python.Script
    outputFiles: ["out.csv"]
    script: |
      import csv
      with open("out.csv", "w", newline="") as f:
          csv.writer(f).writerows([["id", "name"], [1, "ada"], [2, "alan"]])
      print('::{"outputs": {"rows": 2}, "metrics": [{"name": "rows", "type": "counter", "value": 2,'
            ' "tags": {"src": "db"}}]}::')
      print('::{"metrics": [{"name": "took", "type": "timer", "value": 0.25}]}::')
  - id: load
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - wc -l < {{ outputs.extract.outputFiles['out.csv'] }}
      - echo "rows={{ outputs.extract.vars.rows }}"
"""

EXIT_3 = """
id: exits
namespace: tests.scripts
tasks:
  - id: fails
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - echo about to fail
      - exit 3
  - id: never
    type: io.kestra.plugin.core.log.Log
    message: not reached
"""

TIMES_OUT = """
id: slow
namespace: tests.scripts
tasks:
  - id: sleeps
    type: io.kestra.plugin.scripts.shell.Commands
    timeout: PT1S
    commands:
      - echo started
      - sleep 60
"""

SHARED_FOLDER = """
id: shared
namespace: tests.scripts
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: write
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - echo from-the-first > note.txt
      - id: read
        type: io.kestra.plugin.scripts.python.Script
        outputFiles: ["note.txt"]
        script: |
          print(open("note.txt").read().strip())
"""

KESTRA_LIBRARY = """
id: with_library
namespace: tests.scripts
tasks:
  - id: py
    type: io.kestra.plugin.scripts.python.Script
    dependencies:
      - kestra
    script: |
      from kestra import Kestra
      Kestra.outputs({"answer": 42})
      Kestra.counter("items", 5, {"kind": "test"})
      Kestra.logger().warning("from the logger")
"""


def _task(document: dict[str, Any], task_id: str) -> dict[str, Any]:
    [run] = [r for r in document["taskRunList"] if r["taskId"] == task_id]
    return run


def _messages(document: dict[str, Any], task_id: str) -> list[str]:
    return [log["message"] for log in document["logs"] if log["taskId"] == task_id]


def test_csv_returned_by_output_files_is_read_by_a_shell_task(podium: Podium, tmp_path: Path) -> None:
    document = podium.run_json(write(tmp_path, "csv.yaml", CSV_FLOW))
    assert document["state"]["current"] == "SUCCESS", document["logs"]
    extract = _task(document, "extract")["outputs"]
    assert extract["vars"] == {"rows": 2} and extract["exitCode"] == 0
    assert extract["outputFiles"]["out.csv"].startswith("kestra:///tests/scripts/csv_pipeline/executions/")
    assert _messages(document, "load") == ["3", "rows=2"]
    shown = podium.invoke("execution", "show", document["id"], "--json")
    metrics = json.loads(shown.output)["metrics"]
    assert [(m["taskId"], m["name"], m["type"], m["value"], m["tags"]) for m in metrics] == [
        ("extract", "rows", "counter", 2.0, {"src": "db"}), ("extract", "took", "timer", 0.25, {})]
    human = podium.invoke("execution", "show", document["id"], columns=120)
    assert "Metrics" in human.output and "took" in human.output and "250 ms" in human.output


def test_a_script_that_exits_3_fails_its_task_run(podium: Podium, tmp_path: Path) -> None:
    document = podium.run_json(write(tmp_path, "exit3.yaml", EXIT_3), exit_code=1)
    assert document["state"]["current"] == "FAILED"
    assert _task(document, "fails")["state"]["current"] == "FAILED"
    assert _messages(document, "fails") == ["about to fail", "Command failed with exit code 3"]
    assert not [r for r in document["taskRunList"] if r["taskId"] == "never"]


def test_a_script_past_its_timeout_is_stopped(podium: Podium, tmp_path: Path) -> None:
    document = podium.run_json(write(tmp_path, "slow.yaml", TIMES_OUT), exit_code=1)
    assert _task(document, "sleeps")["state"]["current"] == "FAILED"
    assert _messages(document, "sleeps") == ["started", "Timeout after PT1S"]


def test_script_tasks_in_a_working_directory_share_it(podium: Podium, tmp_path: Path) -> None:
    document = podium.run_json(write(tmp_path, "shared.yaml", SHARED_FOLDER))
    assert document["state"]["current"] == "SUCCESS", document["logs"]
    assert _messages(document, "read") == ["from-the-first"]
    assert "note.txt" in _task(document, "read")["outputs"]["outputFiles"]


def test_dependencies_give_the_kestra_library(podium: Podium, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    flow = write(tmp_path, "lib.yaml", KESTRA_LIBRARY)
    first = podium.process("run", str(flow), "--json", "--data-dir", str(podium.data_dir), timeout=600)
    document = json.loads(first.stdout.strip().splitlines()[-1])
    errors = " ".join(_messages(document, "py"))
    if "could not be installed" in errors:
        pytest.skip(f"the package index is unreachable from this machine: {errors[:300]}")
    assert document["state"]["current"] == "SUCCESS", errors
    assert _task(document, "py")["outputs"]["vars"] == {"answer": 42}
    assert any("from the logger" in message for message in _messages(document, "py"))
    envs = [p for p in (tmp_path / "cache" / "podium" / "python-envs").iterdir() if p.is_dir()]
    again = podium.run_json(flow)  # the environment is reused: no second one
    assert again["state"]["current"] == "SUCCESS"
    assert [p for p in (tmp_path / "cache" / "podium" / "python-envs").iterdir() if p.is_dir()] == envs
    metrics = json.loads(podium.invoke("execution", "show", again["id"], "--json").output)["metrics"]
    assert [(m["name"], m["value"], m["tags"]) for m in metrics] == [("items", 5.0, {"kind": "test"})]
