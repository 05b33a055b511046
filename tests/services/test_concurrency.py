"""A flow's `concurrency` limit: QUEUE waits for a free slot, CANCEL and FAIL end at once."""
from __future__ import annotations

from engine.state import State
from tests.services.conftest import Engine, states

PAUSING = """
id: one_at_a_time
namespace: tests.concurrency
concurrency:
  limit: 1
  behavior: {behavior}
tasks:
  - id: hold
    type: io.kestra.plugin.core.flow.Pause
  - id: done
    type: io.kestra.plugin.core.log.Log
    message: "done {{{{ execution.id }}}}"
"""

SLOT_HOLDERS = {State.RUNNING, State.PAUSED, State.KILLING, State.RESTARTED, State.RETRYING}


def _holding(engine: Engine) -> int:
    """How many executions of the flow hold a slot right now, read from the database."""
    page = engine.services.env.executions.list(namespace="tests.concurrency", size=100)
    return sum(1 for item in page.items if item.state.current in SLOT_HOLDERS)


def test_queue_starts_the_second_execution_when_the_first_ends(engine: Engine) -> None:
    engine.deploy(PAUSING.format(behavior="QUEUE"))
    first = engine.start("tests.concurrency", "one_at_a_time")
    assert first.state.current == State.PAUSED
    second = engine.start("tests.concurrency", "one_at_a_time")
    assert second.state.current == State.QUEUED
    assert second.task_run_list == ()
    assert engine.services.env.queue.count("tests.concurrency", "one_at_a_time") == 1
    assert _holding(engine) == 1

    engine.services.resume(first.id)
    engine.drain()
    first, second = engine.get(first.id), engine.get(second.id)
    assert first.state.current == State.SUCCESS
    assert states(first) == {"hold": State.SUCCESS, "done": State.SUCCESS}
    # The second one got the slot and stopped at its own pause: still one at a time.
    assert second.state.current == State.PAUSED
    assert [h.state for h in second.state.histories][:4] == [State.CREATED, State.QUEUED, State.CREATED,
                                                             State.RUNNING]
    assert _holding(engine) == 1
    assert engine.services.env.queue.count("tests.concurrency", "one_at_a_time") == 0

    engine.services.resume(second.id)
    engine.drain()
    second = engine.get(second.id)
    assert second.state.current == State.SUCCESS
    assert engine.messages(second.id, "done") == [f"done {second.id}"]


def test_queue_holds_executions_created_before_the_executor_ran(engine: Engine) -> None:
    """Two executions created back to back, before any event is handled: one waits."""
    engine.deploy(PAUSING.format(behavior="QUEUE"))
    a = engine.services.start_execution("tests.concurrency", "one_at_a_time")
    b = engine.services.start_execution("tests.concurrency", "one_at_a_time")
    engine.drain()
    found = {engine.get(a.id).state.current, engine.get(b.id).state.current}
    assert found == {State.PAUSED, State.QUEUED}
    assert _holding(engine) == 1


def test_queue_serves_waiting_executions_in_order(engine: Engine) -> None:
    engine.deploy(PAUSING.format(behavior="QUEUE"))
    ids = [engine.start("tests.concurrency", "one_at_a_time").id for _ in range(3)]
    assert [engine.get(i).state.current for i in ids] == [State.PAUSED, State.QUEUED, State.QUEUED]
    for execution_id in ids:
        assert engine.get(execution_id).state.current == State.PAUSED
        assert _holding(engine) == 1
        engine.services.resume(execution_id)
        engine.drain()
        assert engine.get(execution_id).state.current == State.SUCCESS
    assert _holding(engine) == 0


def test_cancel_ends_the_second_execution_cancelled(engine: Engine) -> None:
    engine.deploy(PAUSING.format(behavior="CANCEL"))
    first = engine.start("tests.concurrency", "one_at_a_time")
    second = engine.start("tests.concurrency", "one_at_a_time")
    assert first.state.current == State.PAUSED
    assert second.state.current == State.CANCELLED
    assert second.task_run_list == ()
    assert engine.services.env.queue.count("tests.concurrency", "one_at_a_time") == 0
    engine.services.resume(first.id)
    engine.drain()
    assert engine.get(first.id).state.current == State.SUCCESS
    assert engine.get(second.id).state.current == State.CANCELLED


def test_fail_ends_the_second_execution_failed(engine: Engine) -> None:
    engine.deploy(PAUSING.format(behavior="FAIL"))
    first = engine.start("tests.concurrency", "one_at_a_time")
    second = engine.start("tests.concurrency", "one_at_a_time")
    assert first.state.current == State.PAUSED
    assert second.state.current == State.FAILED
    assert second.task_run_list == ()
    # A slot freed later lets a new execution run.
    engine.services.resume(first.id)
    engine.drain()
    third = engine.start("tests.concurrency", "one_at_a_time")
    assert third.state.current == State.PAUSED


def test_killing_a_queued_execution_removes_it_from_the_queue(engine: Engine) -> None:
    engine.deploy(PAUSING.format(behavior="QUEUE"))
    first = engine.start("tests.concurrency", "one_at_a_time")
    second = engine.start("tests.concurrency", "one_at_a_time")
    engine.services.kill(second.id)
    engine.drain()
    assert engine.get(second.id).state.current == State.KILLED
    assert engine.services.env.queue.count("tests.concurrency", "one_at_a_time") == 0
    engine.services.resume(first.id)
    engine.drain()
    assert engine.get(first.id).state.current == State.SUCCESS
    assert engine.get(second.id).state.current == State.KILLED
