"""Kill, pause and resume, on the real services."""
from __future__ import annotations

import pytest

from engine.errors import Conflict
from engine.executor import events as ev
from engine.services.messages import encode_event
from engine.state import State
from tests.services.conftest import Engine, one_run, states

TWO_STEPS = """
id: two_steps
namespace: tests.ops
tasks:
  - id: slow
    type: io.kestra.plugin.core.log.Log
    message: slow
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: after
"""


def test_kill_a_running_execution_whose_task_is_not_started_yet(engine: Engine) -> None:
    holding = engine.hold("slow")
    execution = engine.run(TWO_STEPS)
    assert execution.state.current == State.RUNNING
    assert one_run(execution, "slow").state.current == State.CREATED

    engine.services.kill(execution.id)
    engine.drain()
    holding.release()  # the late message finds a killed attempt: nothing runs
    engine.drain()
    execution = engine.get(execution.id)
    assert execution.state.current == State.KILLED
    assert [h.state for h in execution.state.histories][-2:] == [State.KILLING, State.KILLED]
    assert states(execution) == {"slow": State.KILLED}
    assert one_run(execution, "slow").attempts[-1].state.current == State.KILLED
    assert engine.messages(execution.id, "slow") == []


def test_kill_a_task_run_running_on_a_worker(engine: Engine) -> None:
    holding = engine.hold("slow")
    execution = engine.run(TWO_STEPS)
    run = one_run(execution, "slow")
    # The worker took the message and reported RUNNING; it has not ended yet.
    engine.executor.handle_event(execution.id, encode_event(ev.TaskRunResult(run.id, 1, State.RUNNING, {})))
    assert engine.get(execution.id).task_run(run.id).state.current == State.RUNNING

    engine.services.kill(execution.id)
    engine.drain()
    assert engine.get(execution.id).state.current == State.KILLING
    assert [ref.task_run_id for ref in engine.dispatcher.killed] == [run.id]
    # The worker stops the task and reports it KILLED.
    holding.held.clear()
    engine.executor.handle_event(execution.id, encode_event(ev.TaskRunResult(run.id, 1, State.KILLED, {})))
    engine.drain()
    execution = engine.get(execution.id)
    assert execution.state.current == State.KILLED
    assert states(execution) == {"slow": State.KILLED}


def test_kill_a_paused_execution(engine: Engine) -> None:
    execution = engine.run("""
        id: paused
        namespace: tests.ops
        tasks:
          - id: first
            type: io.kestra.plugin.core.log.Log
            message: first
          - id: wait
            type: io.kestra.plugin.core.flow.Pause
          - id: never
            type: io.kestra.plugin.core.log.Log
            message: never
    """)
    assert execution.state.current == State.PAUSED
    engine.services.kill(execution.id)
    engine.drain()
    execution = engine.get(execution.id)
    assert execution.state.current == State.KILLED
    assert states(execution) == {"first": State.SUCCESS, "wait": State.KILLED}
    with pytest.raises(Conflict, match="already ended KILLED"):
        engine.services.kill(execution.id)


def test_kill_an_execution_waiting_for_a_retry(engine: Engine) -> None:
    execution = engine.run("""
        id: retrying
        namespace: tests.ops
        tasks:
          - id: flaky
            type: io.kestra.plugin.core.execution.Fail
            retry:
              type: constant
              interval: PT1H
              maxAttempt: 3
    """)
    assert execution.state.current == State.RUNNING
    assert one_run(execution, "flaky").state.current == State.RETRYING
    engine.services.kill(execution.id)
    engine.drain()
    execution = engine.get(execution.id)
    assert execution.state.current == State.KILLED
    assert one_run(execution, "flaky").state.current == State.KILLED
    assert engine.tick(hours=2) == 0  # the retry timer went with the kill
    assert len(one_run(engine.get(execution.id), "flaky").attempts) == 1


PAUSE_RESUME = """
id: approval
namespace: tests.ops
tasks:
  - id: ask
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: reason
        type: STRING
      - id: amount
        type: INT
        defaults: 10
  - id: approved
    type: io.kestra.plugin.core.log.Log
    message: "{{ outputs.ask.onResume.reason }} x{{ outputs.ask.onResume.amount + 1 }}"
"""


def test_pause_then_resume_with_on_resume_inputs(engine: Engine) -> None:
    execution = engine.run(PAUSE_RESUME)
    assert execution.state.current == State.PAUSED
    assert states(execution) == {"ask": State.PAUSED}
    engine.services.resume(execution.id, {"reason": "looks good", "amount": "4"})
    engine.drain()
    execution = engine.get(execution.id)
    assert execution.state.current == State.SUCCESS
    assert states(execution) == {"ask": State.SUCCESS, "approved": State.SUCCESS}
    assert one_run(execution, "ask").outputs["onResume"] == {"reason": "looks good", "amount": 4}
    assert engine.messages(execution.id, "approved") == ["looks good x5"]
    assert [h.state for h in execution.state.histories] == [
        State.CREATED, State.RUNNING, State.PAUSED, State.RESTARTED, State.RUNNING, State.SUCCESS]


def test_resume_applies_on_resume_defaults(engine: Engine) -> None:
    execution = engine.run(PAUSE_RESUME)
    engine.services.resume(execution.id, {"reason": "ok"})
    engine.drain()
    execution = engine.get(execution.id)
    assert execution.state.current == State.SUCCESS
    assert engine.messages(execution.id, "approved") == ["ok x11"]


def test_resume_refuses_a_bad_on_resume_input(engine: Engine) -> None:
    execution = engine.run(PAUSE_RESUME)
    with pytest.raises(ValueError, match=r"Invalid input for `amount`, it must be an integer"):
        engine.services.resume(execution.id, {"reason": "ok", "amount": "many"})
    engine.drain()
    assert engine.get(execution.id).state.current == State.PAUSED


def test_resume_refuses_an_execution_that_is_not_paused(engine: Engine) -> None:
    execution = engine.run(TWO_STEPS)
    assert execution.state.current == State.SUCCESS
    with pytest.raises(Conflict, match="not PAUSED"):
        engine.services.resume(execution.id)


def test_pause_with_a_delay_resumes_when_the_clock_reaches_it(engine: Engine) -> None:
    execution = engine.run("""
        id: delayed
        namespace: tests.ops
        tasks:
          - id: wait
            type: io.kestra.plugin.core.flow.Pause
            delay: PT10M
          - id: after
            type: io.kestra.plugin.core.log.Log
            message: "after the pause"
    """)
    assert execution.state.current == State.PAUSED
    assert engine.tick(minutes=9) == 0
    assert engine.get(execution.id).state.current == State.PAUSED
    assert engine.tick(minutes=1) == 1
    execution = engine.get(execution.id)
    assert execution.state.current == State.SUCCESS
    assert states(execution) == {"wait": State.SUCCESS, "after": State.SUCCESS}
    assert engine.messages(execution.id, "after") == ["after the pause"]


def test_pause_with_a_timeout_fails_when_not_resumed(engine: Engine) -> None:
    execution = engine.run("""
        id: timeout
        namespace: tests.ops
        tasks:
          - id: wait
            type: io.kestra.plugin.core.flow.Pause
            timeout: PT5M
          - id: after
            type: io.kestra.plugin.core.log.Log
            message: never
    """)
    assert execution.state.current == State.PAUSED
    assert engine.tick(minutes=5) == 1
    execution = engine.get(execution.id)
    assert execution.state.current == State.FAILED
    assert states(execution) == {"wait": State.FAILED}
