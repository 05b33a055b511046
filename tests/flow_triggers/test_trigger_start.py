"""What a trigger starts sees ``trigger.*`` in its inputs and labels; a trigger that starts nothing
says why on its state row (``podium triggers list``), in the flow's logs and in one warning line."""
from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cli.trigger_commands import describe_triggers
from engine.state import State
from tests.flow_triggers.test_services import executions_of
from tests.services.conftest import Engine

EXAMPLES = Path(__file__).resolve().parents[2] / "flows"
UPSTREAM = """
id: upstream
namespace: tests.triggers
tasks:
  - id: done
    type: io.kestra.plugin.core.debug.Return
    format: ok
"""
LABELLED = """
id: labelled
namespace: tests.triggers
inputs:
  - id: source
    type: STRING
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "{{ inputs.source }} / {{ labels.after }}"
triggers:
  - id: after_upstream
    type: io.kestra.plugin.core.trigger.Flow
    inputs:
      source: "{{ trigger.namespace }}.{{ trigger.flowId }} {{ trigger.state }}"
    labels:
      after: "{{ trigger.executionId }}"
      revision: "{{ trigger.flowRevision }}"
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: tests.triggers
        flowId: upstream
"""
BROKEN = """
id: broken
namespace: tests.triggers
inputs:
  - id: value
    type: STRING
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "{{ inputs.value }}"
triggers:
  - id: after_upstream
    type: io.kestra.plugin.core.trigger.Flow
    inputs:
      value: "{{ outputs.nowhere.value }}"
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: tests.triggers
        flowId: upstream
"""
SCHEDULED = """
id: scheduled
namespace: tests.triggers
inputs:
  - id: day
    type: STRING
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "{{ inputs.day }}"
triggers:
  - id: hourly
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 * * * *"
    inputs:
      day: "{{ trigger.date }} {{ trigger.nothing.here }}"
"""


def test_the_shipped_on_upstream_success_example_starts_after_hello_world(engine: Engine) -> None:
    for name in ("hello_world.yaml", "on_upstream_success.yaml"):
        engine.services.deploy_source((EXAMPLES / name).read_text(encoding="utf-8"), name)
    upstream = engine.start("company.team", "hello_world")
    assert upstream.state.current == State.SUCCESS
    [follower] = executions_of(engine, "on_upstream_success")
    assert follower.state.current == State.SUCCESS
    assert follower.inputs == {"upstream_execution": upstream.id}
    assert engine.messages(follower.id) == [f"hello_world execution {upstream.id} succeeded"]


def test_flow_trigger_inputs_and_labels_see_the_trigger_variables(engine: Engine) -> None:
    engine.deploy(LABELLED)
    upstream = engine.run(UPSTREAM)
    [started] = executions_of(engine, "labelled")
    assert started.inputs == {"source": "tests.triggers.upstream SUCCESS"}
    assert {"after": upstream.id, "revision": "1"}.items() <= started.label_map.items()
    assert engine.messages(started.id) == [f"tests.triggers.upstream SUCCESS / {upstream.id}"]


def test_a_flow_trigger_that_starts_nothing_says_why_where_the_user_looks(
        engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    engine.deploy(BROKEN)
    with caplog.at_level(logging.WARNING, logger="engine.services.trigger_errors"):
        upstream = engine.run(UPSTREAM)
    assert executions_of(engine, "broken") == []
    [row] = describe_triggers(engine.services, "tests.triggers", engine.clock())
    assert row["triggerId"] == "after_upstream"
    assert "invalid inputs" in row["lastError"] and upstream.id in row["lastError"]
    assert row["lastErrorDate"] == engine.clock().isoformat()
    [entry] = engine.services.env.logs.for_flow("tests.triggers", "broken")
    assert (entry.trigger_id, entry.execution_id, entry.message) == ("after_upstream", None, row["lastError"])
    [line] = [r for r in caplog.records if r.name == "engine.services.trigger_errors"]
    assert line.levelno == logging.WARNING and "\n" not in line.getMessage()
    assert "tests.triggers.broken trigger after_upstream did not start an execution" in line.getMessage()


def test_a_schedule_whose_inputs_fail_says_why_and_keeps_its_next_date(
        engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    engine.clock.now = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)
    engine.deploy(SCHEDULED)
    at = datetime(2025, 6, 2, 10, 0, 1, tzinfo=UTC)
    engine.clock.now = at
    with caplog.at_level(logging.WARNING, logger="engine.services.trigger_errors"):
        assert engine.services.fire_schedules(at) == 0
    [state] = engine.services.schedules.states.list("tests.triggers", "scheduled")
    assert state.last_error is not None and "2025-06-02T10:00:00" in state.last_error
    assert state.last_error_date == at and state.next_date == at.replace(second=0) + timedelta(hours=1)
    [entry] = engine.services.env.logs.for_flow("tests.triggers", "scheduled", trigger_id="hourly")
    assert entry.message == state.last_error
    assert any("tests.triggers.scheduled trigger hourly did not start an execution" in r.getMessage()
               for r in caplog.records)
