"""Restart, replay and change-task-run-state, on the real services (Kestra reference §4)."""
from __future__ import annotations

import pytest

from engine.errors import Conflict
from engine.state import State
from tests.services.conftest import Engine, one_run, runs, states

# `check` fails while the KV key `mode` is "broken": fix the key, then restart.
FLAKY = """
id: flaky
namespace: tests.ops
inputs:
  - id: greeting
    type: STRING
    defaults: hi
labels:
  team: data
tasks:
  - id: before
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.greeting }}"
  - id: check
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ kv('mode') == 'broken' }}"
    errorMessage: "mode is broken"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "after {{ outputs.before.value }}"
"""


def _set_mode(engine: Engine, mode: str) -> None:
    engine.services.env.kv.set("tests.ops", "mode", mode, engine.clock())


def _failed(engine: Engine, **kwargs: object):  # type: ignore[no-untyped-def]
    _set_mode(engine, "broken")
    execution = engine.run(FLAKY, **kwargs)
    assert execution.state.current == State.FAILED
    assert states(execution) == {"before": State.SUCCESS, "check": State.FAILED}
    return execution


def test_restart_reruns_the_failed_task_in_the_same_execution(engine: Engine) -> None:
    failed = _failed(engine)
    before_id = one_run(failed, "before").id
    _set_mode(engine, "fixed")
    engine.clock.advance(minutes=1)
    restarted = engine.services.restart(failed.id)
    assert restarted.id == failed.id
    assert restarted.state.current == State.RESTARTED
    engine.drain()
    execution = engine.get(failed.id)
    assert execution.state.current == State.SUCCESS
    assert execution.metadata.attempt_number == 2
    assert states(execution) == {"before": State.SUCCESS, "check": State.SUCCESS, "after": State.SUCCESS}
    assert one_run(execution, "before").id == before_id  # kept, not run again
    assert len(one_run(execution, "before").attempts) == 1
    check = one_run(execution, "check")
    assert [a.state.current for a in check.attempts] == [State.FAILED, State.SUCCESS]
    assert one_run(execution, "after").outputs == {"value": "after hi"}
    assert State.RESTARTED in [h.state for h in execution.state.histories]
    assert engine.services.env.executions.list(namespace="tests.ops").total == 1


def test_restart_that_fails_again_counts_attempts(engine: Engine) -> None:
    failed = _failed(engine)
    engine.services.restart(failed.id)
    engine.drain()
    execution = engine.get(failed.id)
    assert execution.state.current == State.FAILED
    assert execution.metadata.attempt_number == 2
    assert len(one_run(execution, "check").attempts) == 2
    assert "after" not in states(execution)


def test_restart_refuses_a_successful_running_execution(engine: Engine) -> None:
    engine.deploy("""
        id: held
        namespace: tests.ops
        tasks:
          - id: slow
            type: io.kestra.plugin.core.log.Log
            message: slow
    """)
    engine.hold("slow")
    running = engine.start("tests.ops", "held")
    assert running.state.current == State.RUNNING
    with pytest.raises(Conflict, match="only an ended or paused execution can be restarted"):
        engine.services.restart(running.id)


def test_replay_creates_a_new_execution_from_the_start(engine: Engine) -> None:
    failed = _failed(engine, inputs={"greeting": "hello"}, labels={"run": "first"})
    _set_mode(engine, "fixed")
    replayed = engine.services.replay(failed.id)
    engine.drain()
    assert replayed.id != failed.id
    execution = engine.get(replayed.id)
    assert execution.state.current == State.SUCCESS
    assert execution.original_id == failed.id
    assert execution.inputs == {"greeting": "hello"}
    assert {"team": "data", "run": "first"}.items() <= execution.label_map.items()
    assert states(execution) == {"before": State.SUCCESS, "check": State.SUCCESS, "after": State.SUCCESS}
    assert {r.id for r in execution.task_run_list}.isdisjoint({r.id for r in failed.task_run_list})
    assert one_run(execution, "after").outputs == {"value": "after hello"}
    # The source is left as it was.
    assert engine.get(failed.id).state.current == State.FAILED


def test_replay_from_a_task_run_keeps_the_runs_before_it(engine: Engine) -> None:
    failed = _failed(engine)
    _set_mode(engine, "fixed")
    check = one_run(failed, "check")
    replayed = engine.services.replay(failed.id, check.id)
    engine.drain()
    execution = engine.get(replayed.id)
    assert execution.id != failed.id and execution.original_id == failed.id
    assert execution.state.current == State.SUCCESS
    assert states(execution) == {"before": State.SUCCESS, "check": State.SUCCESS, "after": State.SUCCESS}
    before = one_run(execution, "before")
    assert before.outputs == {"value": "hi"} and len(before.attempts) == 1
    assert one_run(execution, "after").outputs == {"value": "after hi"}
    # Only `check` and `after` ran in the new execution: `before` logged nothing there.
    assert engine.messages(execution.id, "before") == []


def test_replay_from_a_successful_task_runs_it_and_its_successors_again(engine: Engine) -> None:
    _set_mode(engine, "fixed")
    first = engine.run(FLAKY)
    assert first.state.current == State.SUCCESS
    replayed = engine.services.replay(first.id, one_run(first, "before").id)
    engine.drain()
    execution = engine.get(replayed.id)
    assert execution.state.current == State.SUCCESS
    assert [r.task_id for r in execution.task_run_list] == ["before", "check", "after"]
    # As in Kestra, the replayed task run keeps its earlier attempt and gets a new one.
    before = one_run(execution, "before")
    assert [a.state.current for a in before.attempts] == [State.SUCCESS, State.SUCCESS]
    assert len(one_run(execution, "check").attempts) == len(one_run(execution, "after").attempts) == 1
    assert len(engine.messages(execution.id, "before")) == 1


def test_change_a_failed_task_run_to_success_lets_the_flow_continue(engine: Engine) -> None:
    failed = _failed(engine)  # the KV key stays broken: nothing runs `check` again
    check = one_run(failed, "check")
    engine.services.change_task_run_state(failed.id, check.id, State.SUCCESS)
    engine.drain()
    execution = engine.get(failed.id)
    assert execution.state.current == State.SUCCESS
    assert states(execution) == {"before": State.SUCCESS, "check": State.SUCCESS, "after": State.SUCCESS}
    changed = one_run(execution, "check")
    assert changed.id == check.id
    assert len(changed.attempts) == 1 and changed.attempts[-1].state.current == State.SUCCESS
    assert one_run(execution, "after").outputs == {"value": "after hi"}
    assert len(runs(execution, "check")) == 1


def test_change_a_failed_task_run_to_warning_ends_warning(engine: Engine) -> None:
    failed = _failed(engine)
    engine.services.change_task_run_state(failed.id, one_run(failed, "check").id, State.WARNING)
    engine.drain()
    execution = engine.get(failed.id)
    assert execution.state.current == State.WARNING
    assert states(execution)["after"] == State.SUCCESS
