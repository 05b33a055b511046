"""The RUNNING report (worker.running_report_after): a quick task run reports only its end, with
its start time; a long one is seen RUNNING while it runs. Both end with the same history."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.settings import Settings
from engine.state import State
from tests.services.conftest import Engine, one_run

FLOW = """
id: report
namespace: tests.report
tasks:
  - id: quick
    type: io.kestra.plugin.core.debug.Return
    format: done
  - id: slow
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT2S
"""


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """The suite's settings (the ``engine`` fixture builds on them), with a short report delay."""
    return Settings(data_dir=tmp_path / "data", database_url=database_url,
                    worker={"running_report_after": 1.0})


def test_a_quick_task_reports_only_its_end_and_a_long_one_reports_running(engine: Engine) -> None:
    reports: list[tuple[str, str]] = []
    send = engine.dispatcher.send_event

    def record(execution_id: str, event: dict[str, Any]) -> None:
        if event["type"] == "TaskRunResult":
            reports.append((event["task_run_id"], event["state"]))
        send(execution_id, event)

    engine.dispatcher.send_event = record  # type: ignore[method-assign]
    execution = engine.run(FLOW)
    assert execution.state.current == State.SUCCESS
    quick, slow = one_run(execution, "quick"), one_run(execution, "slow")
    assert reports == [(quick.id, "SUCCESS"), (slow.id, "RUNNING"), (slow.id, "SUCCESS")]
    for run in (quick, slow):  # the same history either way, on the task run and its attempt
        assert [h.state for h in run.state.histories] == [State.CREATED, State.RUNNING, State.SUCCESS]
        assert [h.state for h in run.attempts[0].state.histories] == [State.CREATED, State.RUNNING, State.SUCCESS]
        assert run.attempts[0].worker_id is not None
