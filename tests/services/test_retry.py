"""Retries wait on timer rows; the controllable clock makes them due without sleeping."""
from __future__ import annotations

from engine.state import State
from tests.services.conftest import Engine, one_run

# Fails while the KV key `mode` is "broken"; each attempt logs its number.
RETRIED = """
id: retried
namespace: tests.retry
tasks:
  - id: attempt
    type: io.kestra.plugin.core.log.Log
    message: "attempt {{ taskrun.attemptsCount }}"
  - id: flaky
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ kv('mode') == 'broken' }}"
    retry:
      type: constant
      interval: PT30S
      maxAttempt: 3
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: "after {{ taskrun.attemptsCount }}"
"""


def _mode(engine: Engine, mode: str) -> None:
    engine.services.env.kv.set("tests.retry", "mode", mode, engine.clock())


def _attempts(engine: Engine, execution_id: str) -> list[State]:
    return [a.state.current for a in one_run(engine.get(execution_id), "flaky").attempts]


def test_constant_retry_waits_for_the_interval_then_succeeds(engine: Engine) -> None:
    _mode(engine, "broken")
    execution = engine.run(RETRIED)
    assert execution.state.current == State.RUNNING
    assert one_run(execution, "flaky").state.current == State.RETRYING
    assert _attempts(engine, execution.id) == [State.FAILED]
    [timer] = engine.services.env.timers.for_execution(execution.id)
    assert timer.kind == "retry"
    assert (timer.due_at - engine.clock.now).total_seconds() == 30

    assert engine.tick(seconds=29) == 0  # not due yet: nothing happens
    assert _attempts(engine, execution.id) == [State.FAILED]
    assert engine.tick(seconds=1) == 1
    assert _attempts(engine, execution.id) == [State.FAILED, State.FAILED]
    assert one_run(engine.get(execution.id), "flaky").state.current == State.RETRYING

    _mode(engine, "fixed")
    assert engine.tick(seconds=30) == 1
    execution = engine.get(execution.id)
    assert execution.state.current == State.SUCCESS
    flaky = one_run(execution, "flaky")
    assert [a.state.current for a in flaky.attempts] == [State.FAILED, State.FAILED, State.SUCCESS]
    assert [h.state for h in flaky.state.histories].count(State.RETRYING) == 2
    assert flaky.state.current == State.SUCCESS
    assert engine.services.env.timers.for_execution(execution.id) == []
    assert engine.messages(execution.id, "after") == ["after 0"]


def test_constant_retry_gives_up_after_max_attempt(engine: Engine) -> None:
    _mode(engine, "broken")
    execution = engine.run(RETRIED)
    assert engine.tick(seconds=30) == 1
    assert engine.tick(seconds=30) == 1
    execution = engine.get(execution.id)
    assert execution.state.current == State.FAILED
    flaky = one_run(execution, "flaky")
    assert flaky.state.current == State.FAILED
    assert [a.state.current for a in flaky.attempts] == [State.FAILED] * 3
    assert "after" not in {r.task_id for r in execution.task_run_list}
    assert engine.tick(minutes=10) == 0  # no timer left
    assert engine.messages(execution.id, "flaky").count("Task failure") == 3


def test_the_attempt_number_is_visible_to_the_task(engine: Engine) -> None:
    execution = engine.run("""
        id: count_attempts
        namespace: tests.retry
        tasks:
          - id: third_time_lucky
            type: io.kestra.plugin.core.execution.Fail
            condition: "{{ taskrun.attemptsCount < 2 }}"
            retry:
              type: constant
              interval: PT1M
              maxAttempt: 5
    """)
    engine.tick(minutes=1)
    engine.tick(minutes=1)
    execution = engine.get(execution.id)
    assert execution.state.current == State.SUCCESS
    assert len(one_run(execution, "third_time_lucky").attempts) == 3
