"""Joins on the worker side (engine/executor/joins.py, docs/celery.md "Joins"): the chunk that
writes a fan-out's last success claims the task after it in the same transaction and runs it,
with the children's outputs the executor has not applied yet."""
from __future__ import annotations

from typing import Any

from engine.dispatch import TaskRunRef
from engine.executor import events as ev
from engine.persistence.joins import JoinRepository
from engine.persistence.leases import LeaseRepository
from engine.state import State
from tests.services.conftest import Engine, one_run
from tests.services.test_batches import FAN_OUT, fan_out, held_fan_out

READING_JOIN = FAN_OUT.replace("format: after", "format: \"{{ outputs.p0.value }}+{{ outputs.p2.value }}\"")


class Sent:
    """The task runs the executor dispatched after the fan-out."""

    def __init__(self, engine: Engine) -> None:
        self.ids: list[str] = []
        send = engine.dispatcher.dispatch_task_runs

        def recording(refs: Any, **options: Any) -> None:
            self.ids += [ref.task_run_id for ref in refs]
            send(refs, **options)

        engine.dispatcher.dispatch_task_runs = recording  # type: ignore[method-assign]


class Announced:
    """The task run named by each event the services send the executor (delivered on drain)."""

    def __init__(self, engine: Engine) -> None:
        self.task_run_ids: list[str] = []
        send = engine.dispatcher.send_event

        def recording(execution_id: str, message: dict[str, Any]) -> None:
            self.task_run_ids.append(message.get("task_run_id", ""))
            send(execution_id, message)

        engine.dispatcher.send_event = recording  # type: ignore[method-assign]


def remaining(engine: Engine, join: TaskRunRef) -> int | None:
    return JoinRepository(engine.services.env.db).remaining(join.task_run_id)


def test_the_chunk_writing_the_last_success_runs_the_join_itself(engine: Engine) -> None:
    execution_id, refs, holding = held_fan_out(engine, 4)
    join = holding.join
    assert join is not None and join.task_id == "after" and remaining(engine, join) == 4
    sent = Sent(engine)
    engine.worker.run_task_runs(refs[:3], join=join)
    assert remaining(engine, join) == 1
    assert LeaseRepository(engine.services.env.db).lease(join.task_run_id)[1] is None  # not yet
    engine.worker.run_task_runs(refs[3:], join=join)
    assert remaining(engine, join) == 0
    engine.drain()
    execution = engine.get(execution_id)
    assert execution.state.current == State.SUCCESS
    assert one_run(execution, "after").outputs == {"value": "after"}
    assert join.task_run_id not in sent.ids  # the executor never had to send it


def test_the_join_reads_the_outputs_of_children_the_executor_has_not_applied(engine: Engine) -> None:
    holding = engine.hold(*(f"p{i}" for i in range(3)))
    execution = engine.run(READING_JOIN.replace("{items}", "\n".join(
        f"      - {{id: p{i}, type: io.kestra.plugin.core.debug.Return, format: v{i}}}" for i in range(3))))
    refs, holding.held = list(holding.held), []
    engine.worker.run_task_runs(refs, join=holding.join)  # no drain: the outbox holds the results
    assert one_run(engine.get(execution.id), "p0").state.current == State.CREATED
    engine.drain()
    execution = engine.get(execution.id)
    assert execution.state.current == State.SUCCESS
    assert one_run(execution, "after").outputs == {"value": "v0+v2"}


def test_a_child_that_did_not_succeed_leaves_the_join_to_the_executor(engine: Engine) -> None:
    source = FAN_OUT.replace("{items}", "      - {id: p0, type: io.kestra.plugin.core.debug.Return, format: a}\n"
                                        "      - {id: p1, type: io.kestra.plugin.core.execution.Fail}")
    holding = engine.hold("p0", "p1")
    execution = engine.run(source)
    refs, holding.held = list(holding.held), []
    engine.worker.run_task_runs(refs, join=holding.join)
    assert remaining(engine, holding.join) is None
    engine.drain()
    execution = engine.get(execution.id)
    assert execution.state.current == State.FAILED
    assert [run.task_id for run in execution.task_run_list if run.task_id == "after"] == []  # never existed


def test_a_killed_execution_runs_no_join(engine: Engine) -> None:
    execution_id, refs, holding = held_fan_out(engine, 2)
    engine.worker.run_task_runs(refs[:1], join=holding.join)
    engine.services.kill(execution_id)
    engine.drain()
    engine.worker.run_task_runs(refs[1:], join=holding.join)  # delivered after the kill
    engine.drain()
    execution = engine.get(execution_id)
    assert execution.state.current == State.KILLED
    assert [run.task_id for run in execution.task_run_list if run.task_id == "after"] == []


def test_a_retried_child_carries_no_join_and_the_executor_sends_it(engine: Engine) -> None:
    execution_id, refs, holding = held_fan_out(engine, 2)
    sent = Sent(engine)
    engine.worker.run_task_runs(refs[:1], join=holding.join)
    engine.worker.run_task_runs(refs[1:])  # as beat re-sends an attempt: without the join
    engine.drain()
    execution = engine.get(execution_id)
    assert execution.state.current == State.SUCCESS
    assert sent.ids == [holding.join.task_run_id]
    assert one_run(execution, "after").state.current == State.SUCCESS


def test_a_join_claimed_by_a_worker_that_died_runs_again_once_its_lease_lapsed(engine: Engine) -> None:
    execution_id, refs, holding = held_fan_out(engine, 2)
    keeper = engine.worker.task_runs.leases
    # A chunk's last write: the children's successes, which claim the join; then the worker dies.
    ended = engine.clock()
    results = [(ev.TaskRunResult(ref.task_run_id, ref.attempt, State.SUCCESS, {"value": "v"}, worker_id="dead"),
                (), ended) for ref in refs]
    assert keeper.report_many(execution_id, results, holding.join).joined is True
    engine.drain()
    # Their event was the join's to send (Announcement): the outbox keeps them for beat.
    assert one_run(engine.get(execution_id), "fan").state.current == State.RUNNING
    engine.clock.advance(seconds=61)  # past the lease: beat replays the results, finds the claim lapsed
    engine.services.reap_expired_leases(engine.clock())
    engine.drain()
    execution = engine.get(execution_id)
    assert execution.state.current == State.SUCCESS
    after = one_run(execution, "after")
    assert [attempt.state.current for attempt in after.attempts] == [State.KILLED, State.SUCCESS]


def test_the_join_s_result_announces_the_fan_out_s_last_results_too(engine: Engine) -> None:
    execution_id, refs, holding = held_fan_out(engine, 3)
    announced = Announced(engine)
    engine.worker.run_task_runs(refs, join=holding.join)
    assert announced.task_run_ids == [holding.join.task_run_id]  # one executor step applies all four
    engine.drain()
    execution = engine.get(execution_id)
    assert execution.state.current == State.SUCCESS
    assert [run.state.current for run in execution.task_run_list] == [State.SUCCESS] * 5


def test_a_long_join_lets_the_fan_out_s_results_be_announced_while_it_runs(engine: Engine) -> None:
    source = fan_out(2).replace("type: io.kestra.plugin.core.debug.Return\n    format: after",
                                "type: io.kestra.plugin.core.flow.Sleep\n    duration: PT0.5S")
    holding = engine.hold("p0", "p1")
    execution = engine.run(source)
    refs, holding.held = list(holding.held), []
    announced = Announced(engine)
    engine.worker.run_task_runs(refs, join=holding.join)
    # The children's event went out once, after SPREAD_AFTER_SECONDS, while the join slept (it
    # sends its start, then its result).
    first, *rest = announced.task_run_ids
    assert first == refs[0].task_run_id and rest and set(rest) == {holding.join.task_run_id}
    engine.drain()
    assert engine.get(execution.id).state.current == State.SUCCESS
