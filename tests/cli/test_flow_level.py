"""Kestra 1.x flow-level features as a user meets them through ``podium run``: afterExecution
(the run returns once its tasks ended), consistent task run histories, checks and SLAs."""
from __future__ import annotations

import itertools
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.cli.conftest import Podium, write

CORE = "io.kestra.plugin.core."


def _run(podium: Podium, flow: Path, *args: str, code: int | None = None) -> dict[str, Any]:
    """The execution JSON, whatever state it ended in (exit 0, or 1 for FAILED/KILLED/CANCELLED)."""
    result = podium.process("run", str(flow), "--json", "--data-dir", str(podium.data_dir), *args)
    assert result.returncode in ((0, 1) if code is None else (code,)), result.stderr
    assert "Traceback" not in result.stderr
    [line] = result.stdout.strip().splitlines()
    document: dict[str, Any] = json.loads(line)
    return document


def _states(document: dict[str, Any]) -> dict[str, str]:
    return {run["taskId"]: run["state"]["current"] for run in document["taskRunList"]}


def _messages(document: dict[str, Any], task_id: str | None = None) -> list[str]:
    return [log["message"] for log in document["logs"] if log.get("taskId") == task_id]


def _dates(run: dict[str, Any]) -> list[datetime]:
    dates = [h["date"] for h in run["state"]["histories"]]
    dates += [h["date"] for attempt in run.get("attempts", []) for h in attempt["state"]["histories"]]
    return [datetime.fromisoformat(date) for date in dates]


def test_run_returns_once_the_after_execution_tasks_ended(podium: Podium, tmp_path: Path) -> None:
    flow = write(tmp_path, "after.yaml", f"""\
id: after
namespace: tests.cli
tasks:
  - id: main
    type: {CORE}execution.Fail
afterExecution:
  - id: notify
    type: {CORE}log.Log
    message: "after {{{{ execution.state }}}}"
  - id: nap
    type: {CORE}flow.Sleep
    duration: PT0.5S
  - id: last
    type: {CORE}log.Log
    message: "last"
    runIf: "{{{{ execution.state == 'FAILED' }}}}"
""")
    document = _run(podium, flow, code=1)
    assert document["state"]["current"] == "FAILED"  # afterExecution tasks do not change it
    assert _states(document) == {"main": "FAILED", "notify": "SUCCESS", "nap": "SUCCESS", "last": "SUCCESS"}
    assert _messages(document, "notify") == ["after FAILED"]
    assert _messages(document, "last") == ["last"]


def test_a_sequence_never_shows_a_state_before_the_previous_task_ended(podium: Podium, tmp_path: Path) -> None:
    tasks = "\n".join(f"""\
  - id: t{i}
    type: {CORE}{"flow.Sleep" if i % 3 == 1 else "log.Log"}
    {"duration: PT0.3S" if i % 3 == 1 else f"message: step {i}"}""" for i in range(7))
    flow = write(tmp_path, "seq.yaml", f"id: seq\nnamespace: tests.cli\ntasks:\n{tasks}\n")
    document = _run(podium, flow, code=0)
    runs = document["taskRunList"]
    assert [run["taskId"] for run in runs] == [f"t{i}" for i in range(7)]
    for before, after in itertools.pairwise(runs):
        ended = datetime.fromisoformat(before["state"]["histories"][-1]["date"])
        assert min(_dates(after)) >= ended, (before["state"], after["state"])
        dates = [datetime.fromisoformat(h["date"]) for h in after["state"]["histories"]]
        assert dates == sorted(dates)
