"""A chain link whose message is lost is sent again when beat reports its claim deadline.

- A batch claims the links of a chain (or a chunk's attempts) up front and gives back what its
  budget does not reach (``worker.batches``: the claim released, a deadline for the next claim).
  If the message that carries the given-back link is then lost (Redis restarted empty), the
  executor that had read the execution while the claim was held must not keep believing a worker
  holds it (docs/reliability.md, "What the executor keeps in memory").
- A lease expiry is judged with the results waiting in the outbox: a link whose predecessor's end
  waits there is no longer waiting for that predecessor.
"""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from engine.executor import events as ev
from engine.persistence.leases import LeaseRepository
from engine.services.messages import encode_event
from engine.settings import Settings
from engine.state import State
from tests.services.conftest import Engine, one_run

CHAIN = """
id: chain
namespace: tests.released
tasks:
  - id: first
    type: io.kestra.plugin.core.log.Log
    message: first
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: after
"""
WORKER = "batch-worker"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url, executor={"chains": True})


def _reap(engine: Engine, seconds: float) -> int:
    engine.clock.advance(seconds=seconds)
    sent = engine.services.reap_expired_leases(engine.clock())
    engine.drain()
    return sent


@pytest.mark.parametrize("reads", ["rows", "step cache"])
def test_a_link_given_back_then_lost_is_sent_again(engine: Engine, reads: str) -> None:
    holding = engine.hold("first", "after")
    execution = engine.run(CHAIN)
    first, after = one_run(execution, "first"), one_run(execution, "after")
    (chain,) = holding.held
    assert [ref.task_id for ref in chain] == ["first", "after"]
    holding.held.clear()  # a worker took the chain's message
    leases = LeaseRepository(engine.services.env.db)
    for run in (first, after):  # the batch claims both links at once
        assert leases.claim(run.id, 1, WORKER, engine.clock() + timedelta(seconds=30))
    # The executor reads the execution while both claims are held: the RUNNING report of the
    # first link (a step that reads the rows, or, once stepped, the executor's step cache).
    engine.executor.handle_event(execution.id, encode_event(
        ev.TaskRunResult(first.id, 1, State.RUNNING, worker_id=WORKER, lease_seconds=30)))
    if reads == "step cache":
        engine.executor.handle_event(execution.id, encode_event(
            ev.TaskRunResult(first.id, 1, State.RUNNING, worker_id=WORKER, lease_seconds=30)))
    # The budget ran out: the batch gives the second link back, its next message will carry it.
    leases.release([(after.id, 1)], WORKER, engine.clock() + timedelta(seconds=60))
    assert leases.lease(after.id)[1] is None  # type: ignore[index]
    # The first link ends; the message of the second is lost with Redis.
    leases.put_result(execution.id, first.id, 1, encode_event(ev.TaskRunResult(first.id, 1, State.SUCCESS)),
                      engine.clock(), engine.clock() + timedelta(seconds=30))
    engine.executor.handle_event(execution.id, encode_event(ev.TaskRunResult(first.id, 1, State.SUCCESS)))
    assert engine.get(execution.id).task_run(after.id).state.current == State.CREATED

    assert _reap(engine, seconds=61) == 1  # its claim deadline passed: beat reports it
    assert [ref.task_id for ref in holding.held] == ["after"], "the executor did not send the given-back link again"
    holding.release()
    engine.drain()
    execution = engine.get(execution.id)
    assert execution.state.current == State.SUCCESS
    assert [len(run.attempts) for run in execution.task_run_list] == [1, 1]
    assert engine.messages(execution.id, "after") == ["after"]


def test_a_link_whose_predecessor_ended_in_the_outbox_is_sent_again_in_the_same_step(engine: Engine) -> None:
    holding = engine.hold("first", "after")
    execution = engine.run(CHAIN)
    first, after = one_run(execution, "first"), one_run(execution, "after")
    holding.held.clear()  # a worker took the chain's message
    leases = LeaseRepository(engine.services.env.db)
    assert leases.claim(first.id, 1, WORKER, engine.clock() + timedelta(seconds=30))
    # The first link ended; its result is in the outbox, the event announcing it and the message
    # of the next link were lost with Redis.
    leases.put_result(execution.id, first.id, 1, encode_event(ev.TaskRunResult(first.id, 1, State.SUCCESS)),
                      engine.clock(), engine.clock() + timedelta(seconds=90))
    engine.clock.advance(seconds=61)
    assert [lease.task_run_id for lease in leases.expired(engine.clock())] == [after.id]
    assert engine.services.reap_expired_leases(engine.clock()) == 1
    engine.drain()
    assert [ref.task_id for ref in holding.held] == ["after"], "the next link waits for a report that comes late"
    assert engine.get(execution.id).task_run(first.id).state.current == State.SUCCESS
    holding.release()
    engine.drain()
    assert engine.get(execution.id).state.current == State.SUCCESS
