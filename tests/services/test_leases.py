"""Leases, the reaper and the result outbox on the real services (inline dispatch, fake clock).

docs/reliability.md. The lease is 30 s (the default): a claimed attempt is lost 30 s after its
last renewal, an unclaimed one is sent again 60 s after its dispatch, a result left in the outbox
is sent again after 30 s.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from engine.executor import events as ev
from engine.persistence.leases import LeaseRepository
from engine.services import pending_commands
from engine.services.messages import encode_event
from engine.settings import Settings
from engine.state import State
from tests.services.conftest import Engine, one_run, states

TWO_STEPS = """
id: two_steps
namespace: tests.leases
tasks:
  - id: slow
    type: io.kestra.plugin.core.log.Log
    message: slow
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: after
"""

ONE_STEP = """
id: one_step
namespace: tests.leases
tasks:
  - id: slow
    type: io.kestra.plugin.core.log.Log
    message: slow
"""


PARENT = """
id: parent
namespace: tests.leases
tasks:
  - id: child
    type: io.kestra.plugin.core.flow.Subflow
    namespace: tests.leases
    flowId: one_step
"""


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    # Chains on: the harder case (links waiting behind a lost attempt); the services tests and the
    # reliability tests cover the default, unchained dispatch.
    return Settings(data_dir=tmp_path / "data", database_url=database_url, executor={"chains": True})


def _reap(engine: Engine, **delta: float) -> int:
    engine.clock.advance(**delta)
    sent = engine.services.reap_expired_leases(engine.clock())
    engine.drain()
    return sent


def test_an_attempt_whose_worker_died_is_resubmitted_as_a_new_attempt(engine: Engine) -> None:
    holding = engine.hold("slow")
    execution = engine.run(TWO_STEPS)
    run = one_run(execution, "slow")
    leases = LeaseRepository(engine.services.env.db)
    # A worker claims attempt 1, reports RUNNING, then dies (no heartbeat, no result).
    until = engine.clock().replace(microsecond=0)
    assert leases.claim(run.id, 1, "dead-worker", until.__class__.fromtimestamp(until.timestamp() + 30, until.tzinfo))
    engine.executor.handle_event(execution.id, encode_event(
        ev.TaskRunResult(run.id, 1, State.RUNNING, worker_id="dead-worker", lease_seconds=30)))
    holding.held.clear()  # its message died with it
    assert _reap(engine, seconds=10) == 0  # the lease still holds
    assert _reap(engine, seconds=25) == 1  # expired: reported once, resubmitted
    assert _reap(engine, seconds=1) == 0   # postponed: not reported twice
    run = engine.get(execution.id).task_run(run.id)
    assert [a.state.current for a in run.attempts] == [State.KILLED, State.CREATED]
    assert run.attempts[0].worker_id == "dead-worker" and run.state.current == State.CREATED
    assert any("resubmitted as attempt 2" in m for m in engine.messages(execution.id, "slow"))
    # A late message of the dead worker's attempt cannot claim or report anything.
    assert not leases.claim(run.id, 1, "late", engine.clock())
    engine.executor.handle_event(execution.id, encode_event(ev.TaskRunResult(run.id, 1, State.SUCCESS)))
    holding.release()  # attempt 2 runs on a live worker
    engine.drain()
    # Links chained behind the lost attempt (if the executor chained them) died with its message:
    # unclaimed, they are sent again once their dispatch deadline passed.
    _reap(engine, seconds=121)
    execution = engine.get(execution.id)
    assert execution.state.current == State.SUCCESS
    assert states(execution) == {"slow": State.SUCCESS, "after": State.SUCCESS}
    assert [a.state.current for a in one_run(execution, "slow").attempts] == [State.KILLED, State.SUCCESS]
    assert engine.messages(execution.id, "slow").count("slow") == 1


def test_a_renewed_lease_is_not_reaped(engine: Engine) -> None:
    holding = engine.hold("slow")
    execution = engine.run(ONE_STEP)
    run = one_run(execution, "slow")
    leases = LeaseRepository(engine.services.env.db)
    clock = engine.clock
    from datetime import timedelta
    assert leases.claim(run.id, 1, "alive", clock() + timedelta(seconds=30))
    for _ in range(5):
        clock.advance(seconds=20)
        assert leases.renew(run.id, 1, "alive", clock() + timedelta(seconds=30))
        assert engine.services.reap_expired_leases(clock()) == 0
    # beat saw it expired, but the worker renewed before the executor handled the report
    clock.advance(seconds=31)
    expired = leases.expired(clock())
    assert [lease.worker_id for lease in expired] == ["alive"]
    holding.held.clear()
    assert len(engine.get(execution.id).task_run(run.id).attempts) == 1


def test_a_lost_dispatch_message_is_sent_again_with_the_same_attempt(engine: Engine) -> None:
    holding = engine.hold("slow")
    execution = engine.run(ONE_STEP)
    run = one_run(execution, "slow")
    holding.held.clear()  # the broker lost the message
    assert _reap(engine, seconds=30) == 0
    assert _reap(engine, seconds=31) == 1  # 2 × lease after the dispatch
    assert len(holding.held) == 1 and (holding.held[0].task_run_id, holding.held[0].attempt) == (run.id, 1)
    holding.held.append(holding.held[0])  # a duplicate too: only one claim wins
    holding.release()
    engine.drain()
    execution = engine.get(execution.id)
    assert execution.state.current == State.SUCCESS
    assert len(one_run(execution, "slow").attempts) == 1
    assert engine.messages(execution.id, "slow").count("slow") == 1


def test_a_lost_result_is_replayed_from_the_outbox(engine: Engine) -> None:
    execution = engine.run(TWO_STEPS.replace("id: two_steps", "id: lost_result"))
    assert execution.state.current == State.SUCCESS
    leases = LeaseRepository(engine.services.env.db)
    assert leases.pending_results() == 0  # every applied result left the outbox
    # A result whose message was lost: in the outbox, never applied.
    holding = engine.hold("slow")
    execution = engine.run(ONE_STEP)
    run = one_run(execution, "slow")
    assert leases.claim(run.id, 1, "w", engine.clock())
    message = encode_event(ev.TaskRunResult(run.id, 1, State.SUCCESS, worker_id="w"))
    leases.put_result(execution.id, run.id, 1, message, engine.clock(), engine.clock())
    holding.held.clear()
    assert _reap(engine, seconds=1) == 1
    execution = engine.get(execution.id)
    assert execution.state.current == State.SUCCESS and leases.pending_results() == 0


def test_a_lost_first_dispatch_is_sent_again(engine: Engine) -> None:
    # The first step is applied at creation: its dispatch, not a Start message, may be lost.
    engine.deploy(ONE_STEP)
    dispatcher = engine.dispatcher
    sent = dispatcher.dispatch_task_runs
    dispatcher.dispatch_task_runs = lambda refs, **options: None  # type: ignore[method-assign]
    execution = engine.start("tests.leases", "one_step")
    dispatcher.dispatch_task_runs = sent  # type: ignore[method-assign]
    assert execution.state.current == State.RUNNING
    assert engine.get(execution.id).state.current == State.RUNNING
    assert _reap(engine, seconds=61) == 1
    assert engine.get(execution.id).state.current == State.SUCCESS


def test_a_lost_start_of_a_subflow_is_sent_again(engine: Engine) -> None:
    engine.deploy(ONE_STEP)
    engine.deploy(PARENT)
    dispatcher = engine.dispatcher
    sent = dispatcher.send_event
    dispatcher.send_event = lambda execution_id, event: (  # type: ignore[method-assign]
        None if event["type"] == "Start" else sent(execution_id, event))
    parent = engine.start("tests.leases", "parent")
    dispatcher.send_event = sent  # type: ignore[method-assign]
    engine.drain()
    [child] = engine.services.env.executions.children(parent.id)
    assert child.state.current == State.CREATED
    assert _reap(engine, seconds=61) == 1
    assert engine.get(child.id).state.current == State.SUCCESS
    assert engine.get(parent.id).state.current == State.SUCCESS


@contextmanager
def _losing(engine: Engine, kind: str) -> Iterator[list[str]]:
    """The inline broker loses every executor event of type ``kind`` meanwhile (their targets are
    listed), as a Redis restarted without persistence would."""
    lost: list[str] = []
    sent = engine.dispatcher.send_event

    def send(execution_id: str, event: dict[str, Any]) -> None:
        if event["type"] == kind:
            lost.append(execution_id)
        else:
            sent(execution_id, event)
    engine.dispatcher.send_event = send  # type: ignore[method-assign]
    try:
        yield lost
    finally:
        engine.dispatcher.send_event = sent  # type: ignore[method-assign]


def test_a_lost_subflow_end_is_sent_again(engine: Engine) -> None:
    engine.deploy(ONE_STEP)
    with _losing(engine, "SubflowEnded") as lost:
        parent = engine.run(PARENT)
    [child] = engine.services.env.executions.children(parent.id)
    assert child.state.current == State.SUCCESS and lost == [parent.id]
    assert engine.get(parent.id).state.current == State.RUNNING  # waits for a message that is gone
    assert _reap(engine, seconds=30) == 0  # not before two leases: it may only be late
    assert _reap(engine, seconds=31) == 1
    execution = engine.get(parent.id)
    assert execution.state.current == State.SUCCESS
    assert one_run(execution, "child").outputs["executionId"] == child.id
    assert _reap(engine, seconds=600) == 0  # nothing waits any more


def test_pending_commands_are_replayed_a_page_per_round(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pending_commands, "_BATCH", 1)
    engine.deploy(ONE_STEP)
    with _losing(engine, "SubflowEnded"):
        first, second = engine.run(PARENT), engine.run(PARENT)
    assert _reap(engine, seconds=61) == 1  # the oldest pending end
    assert _reap(engine, seconds=1) == 1   # the next page
    assert {engine.get(first.id).state.current, engine.get(second.id).state.current} == {State.SUCCESS}


def test_a_lost_subflow_start_without_wait_is_sent_again(engine: Engine) -> None:
    engine.deploy(ONE_STEP)
    with _losing(engine, "SubflowStarted") as lost:
        parent = engine.run(PARENT.replace("flowId: one_step", "flowId: one_step\n    wait: false"))
    assert lost == [parent.id] and engine.get(parent.id).state.current == State.RUNNING
    assert _reap(engine, seconds=61) == 1
    assert engine.get(parent.id).state.current == State.SUCCESS


def test_a_killed_execution_whose_worker_is_gone_ends_killed(engine: Engine) -> None:
    holding = engine.hold("slow")
    execution = engine.run(ONE_STEP)
    holding.held.clear()  # nobody will ever run or kill it
    engine.services.kill(execution.id)
    engine.drain()
    assert engine.get(execution.id).state.current == State.KILLING
    _reap(engine, seconds=61)
    execution = engine.get(execution.id)
    assert execution.state.current == State.KILLED and states(execution) == {"slow": State.KILLED}


def test_a_lost_chain_is_sent_again_as_a_chain(engine: Engine) -> None:
    holding = engine.hold("slow")
    execution = engine.run(TWO_STEPS)
    assert [run.task_id for run in execution.task_run_list] == ["slow", "after"]  # chained up front
    holding.held.clear()  # the chain message was lost
    assert _reap(engine, seconds=61) == 2  # both links expired; the pending one goes with the first
    assert len(holding.held) == 1 and [ref.task_id for ref in holding.held[0]] == ["slow", "after"]
    holding.release()
    engine.drain()
    execution = engine.get(execution.id)
    assert execution.state.current == State.SUCCESS
    assert [len(run.attempts) for run in execution.task_run_list] == [1, 1]
    assert engine.messages(execution.id) == ["slow", "after"]


def test_an_unclaimed_attempt_waiting_behind_a_backlog_is_not_sent_again(engine: Engine) -> None:
    holding = engine.hold("slow")
    execution = engine.run(ONE_STEP.replace("id: one_step", "id: backlog"))
    holding.held.clear()  # its message waits in a queue no worker empties yet
    depth = {"default": 7}
    engine.dispatcher.queue_depth = lambda queue: depth.get(queue)  # type: ignore[attr-defined]
    assert _reap(engine, seconds=61) == 0    # queue busy: postponed, not reported
    assert _reap(engine, seconds=121) == 0   # still busy
    depth["default"] = 0                     # drained, and still nobody claimed it: lost
    assert _reap(engine, seconds=241) == 1
    holding.release()                        # the message sent again reaches a worker
    engine.drain()
    assert engine.get(execution.id).state.current == State.SUCCESS
    assert engine.messages(execution.id, "slow").count("slow") == 1
