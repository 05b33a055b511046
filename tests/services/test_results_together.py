"""Results waiting together in the outbox are applied in one executor step (docs/executor.md,
"Results applied together"), and a result already applied is dropped without locking its execution."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from engine.executor import events as ev
from engine.persistence.leases import LeaseRepository
from engine.services.messages import encode_event
from engine.state import State
from executor.turns import ExecutionTurns
from tests.services.conftest import Engine, runs

FAN_OUT = """
id: fan_out
namespace: tests.together
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b", "c", "d", "e"]
    concurrencyLimit: 0
    tasks:
      - id: item
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.value }}"
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: after
"""


def _report(engine: Engine, execution_id: str, run_id: str, value: str) -> dict[str, object]:
    """What a worker does for a terminal result: claim, record it in the outbox; the message is returned
    unsent, to be delivered when the test says so."""
    leases = LeaseRepository(engine.services.env.db)
    assert leases.claim(run_id, 1, "w", engine.clock())
    message = encode_event(ev.TaskRunResult(run_id, 1, State.SUCCESS, {"value": value}, worker_id="w"))
    leases.put_result(execution_id, run_id, 1, message, engine.clock(), engine.clock())
    return message


def test_waiting_results_are_applied_in_one_step_and_their_messages_then_dropped(engine: Engine) -> None:
    holding = engine.hold("item")
    execution = engine.run(FAN_OUT)
    items = runs(execution, "item")
    assert len(items) == 5 and all(run.state.current == State.CREATED for run in items)
    holding.held.clear()  # the workers took them; their results come below
    messages = [_report(engine, execution.id, run.id, str(run.value)) for run in items]
    leases = LeaseRepository(engine.services.env.db)
    assert leases.pending_results() == 5

    engine.executor.handle_event(execution.id, messages[2])  # one message: all five results
    engine.drain()  # `after` runs
    done = engine.get(execution.id)
    assert {run.value: run.outputs for run in runs(done, "item")} == {v: {"value": v} for v in "abcde"}
    assert done.state.current == State.SUCCESS and leases.pending_results() == 0

    for message in messages:  # the other messages arrive late: stale, nothing changes
        engine.executor.handle_event(execution.id, message)
    assert engine.get(execution.id) == done and leases.pending_results() == 0


def test_a_stale_result_still_drops_its_outbox_row(engine: Engine) -> None:
    holding = engine.hold("item")
    execution = engine.run(FAN_OUT.replace("id: fan_out", "id: stale"))
    holding.held.clear()
    first, second = runs(execution, "item")[:2]
    message = _report(engine, execution.id, first.id, "a")
    engine.executor.handle_event(execution.id, message)
    leases = LeaseRepository(engine.services.env.db)
    assert engine.get(execution.id).task_run(first.id).state.current == State.SUCCESS
    # The same result recorded again (a worker's retry of put_result): dropped on delivery.
    leases.put_result(execution.id, first.id, 1, message, engine.clock(), engine.clock())
    engine.executor.handle_event(execution.id, message)
    assert leases.pending_results() == 0
    # A result of an attempt that is not the current one changes nothing and leaves no row.
    late = encode_event(ev.TaskRunResult(second.id, 2, State.FAILED, worker_id="w"))
    leases.put_result(execution.id, second.id, 2, late, engine.clock(), engine.clock())
    engine.executor.handle_event(execution.id, late)
    assert engine.get(execution.id).task_run(second.id).state.current == State.CREATED
    assert leases.pending_results() == 0


NESTED = """
id: lineage
namespace: tests.together
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: one
  - id: outer
    type: io.kestra.plugin.core.flow.ForEach
    values: ["x", "y"]
    tasks:
      - id: inner
        type: io.kestra.plugin.core.flow.ForEach
        values: ["1", "2"]
        tasks:
          - id: lineage_only
            type: io.kestra.plugin.core.debug.Return
            format: "{{ parents[0].taskrun.value }}{{ taskrun.value }}:{{ taskrun.attemptsCount }}"
          - id: reads_outputs
            type: io.kestra.plugin.core.debug.Return
            format: "{{ outputs.first.value }}-{{ outputs.lineage_only[parent.taskrun.value][taskrun.value].value }}"
"""


def test_a_worker_renders_from_its_lineage_and_loads_every_run_for_outputs(engine: Engine) -> None:
    # lineage_only names no other task run: its worker loads its own run and ancestors only;
    # reads_outputs names `outputs`: its worker loads them all.
    execution = engine.run(NESTED)
    assert execution.state.current == State.SUCCESS
    assert sorted(run.outputs["value"] for run in runs(execution, "lineage_only")) == ["x1:0", "x2:0", "y1:0", "y2:0"]
    assert sorted(run.outputs["value"] for run in runs(execution, "reads_outputs")) == \
        ["one-x1:0", "one-x2:0", "one-y1:0", "one-y2:0"]


def test_results_delivered_to_many_threads_at_once_are_all_applied(engine: Engine) -> None:
    holding = engine.hold("item")
    execution = engine.run(FAN_OUT.replace("id: fan_out", "id: threads"))
    holding.held.clear()
    messages = [_report(engine, execution.id, run.id, str(run.value)) for run in runs(execution, "item")]
    # Threads that find another thread of the process stepping the execution leave their result
    # to it (ExecutionTurns): whatever the interleaving, every result is applied once.
    with ThreadPoolExecutor(len(messages)) as pool:
        list(pool.map(lambda message: engine.executor.handle_event(execution.id, message), messages))
    engine.drain()
    done = engine.get(execution.id)
    assert done.state.current == State.SUCCESS
    assert all(len(run.attempts) == 1 for run in runs(done, "item"))
    assert LeaseRepository(engine.services.env.db).pending_results() == 0


def test_a_turn_taken_by_one_thread_makes_the_others_defer_and_the_owner_come_back() -> None:
    turns = ExecutionTurns()
    assert turns.take("e") and not turns.take("e") and not turns.take("e")
    assert turns.release("e")       # asked to come back: the turn goes on
    assert not turns.release("e")   # nobody asked since: the turn ends
    assert turns.take("e")          # free again
    assert turns.take("other")      # one turn per execution
    assert not turns.take("other")
    turns.abandon("other")          # a failed step ends the turn, asked or not
    assert turns.take("other")


def test_a_running_report_stepped_after_the_end_was_written_applies_that_end(engine: Engine) -> None:
    # The RUNNING report and the end travel separately: the end's row may be in the outbox before
    # the RUNNING is stepped, and the end's own message may then be left to another thread's turn.
    holding = engine.hold("item")
    execution = engine.run(FAN_OUT)
    first = runs(execution, "item")[0]
    holding.held.clear()
    _report(engine, execution.id, first.id, "a")  # the end, in the outbox; its message not delivered
    running = encode_event(ev.TaskRunResult(first.id, 1, State.RUNNING, worker_id="w"))
    engine.executor.handle_event(execution.id, running)
    done = engine.get(execution.id)
    assert done.task_run(first.id).state.current == State.SUCCESS
    assert done.task_run(first.id).outputs == {"value": "a"}
    assert LeaseRepository(engine.services.env.db).pending_results() == 0
