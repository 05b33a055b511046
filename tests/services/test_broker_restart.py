"""Beat notices a broker that started again (a new Redis run id) and sends at once what it held.

Without persistence a restarted Redis holds nothing: the messages of unclaimed attempts and the
events announcing results in the outbox are gone. Beat's usual rules would wait for the worker
queue to drain before sending an attempt again, and for the replay time of each result; under a
steady load the queue never drains (docs/reliability.md, "A restarted broker").
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

ONE_STEP = """
id: one_step
namespace: tests.restart
tasks:
  - id: slow
    type: io.kestra.plugin.core.log.Log
    message: slow
"""


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url)


class Broker:
    """What beat asks the broker, set by the test: its run id and its queues' depths."""

    def __init__(self, engine: Engine) -> None:
        self.run_id: str | None = "first-run"
        self.depth = 0
        engine.dispatcher.broker_incarnation = lambda: self.run_id  # type: ignore[attr-defined]
        engine.dispatcher.queue_depth = lambda queue: self.depth  # type: ignore[attr-defined]


def _reap(engine: Engine, seconds: float) -> int:
    engine.clock.advance(seconds=seconds)
    sent = engine.services.reap_expired_leases(engine.clock())
    engine.drain()
    return sent


def test_an_unclaimed_attempt_is_sent_again_at_once_behind_a_busy_queue(engine: Engine) -> None:
    broker = Broker(engine)
    holding = engine.hold("slow")
    execution = engine.run(ONE_STEP)
    assert _reap(engine, seconds=1) == 0  # beat learns the broker's run id
    broker.depth = 40  # a steady load: the queue never drains
    holding.held.clear()  # the broker restarts: the attempt's message is gone
    broker.run_id = None  # down: beat cannot tell yet
    assert _reap(engine, seconds=1) == 0
    broker.run_id = "second-run"
    assert _reap(engine, seconds=1) == 1  # sent again at once, busy queue or not
    assert [ref.task_id for ref in holding.held] == ["slow"]
    holding.release()
    engine.drain()
    assert engine.get(execution.id).state.current == State.SUCCESS
    assert engine.messages(execution.id, "slow") == ["slow"]


def test_the_same_broker_changes_nothing(engine: Engine) -> None:
    broker = Broker(engine)
    holding = engine.hold("slow")
    engine.run(ONE_STEP)
    broker.depth = 40
    for _ in range(4):  # waits behind a busy queue: its message is most likely there
        assert _reap(engine, seconds=61) == 0
    assert len(holding.held) == 1


def test_results_waiting_in_the_outbox_are_announced_again_at_once(engine: Engine) -> None:
    broker = Broker(engine)
    holding = engine.hold("slow")
    execution = engine.run(ONE_STEP)
    run = one_run(execution, "slow")
    leases = LeaseRepository(engine.services.env.db)
    assert leases.claim(run.id, 1, "worker", engine.clock() + timedelta(seconds=30))
    holding.held.clear()
    # The worker wrote the result, due for a replay in 30 s; the event announcing it died with Redis.
    leases.put_result(execution.id, run.id, 1, encode_event(ev.TaskRunResult(run.id, 1, State.SUCCESS)),
                      engine.clock(), engine.clock() + timedelta(seconds=30))
    assert _reap(engine, seconds=1) == 0
    broker.run_id = "second-run"
    assert _reap(engine, seconds=1) == 1
    assert engine.get(execution.id).state.current == State.SUCCESS
    assert leases.pending_results() == 0
