"""A sequence's task runs have consistent histories: no state of a task run is dated before the
end of the task run before it in its sequence, whatever order the results are applied in, and
the dates the worker gave (started_at, ended_at) are kept within what the executor knows."""
from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from engine.executor import DispatchTaskRuns, Start, TaskRunResult
from engine.model.execution import Execution, TaskRun
from engine.state import State
from tests.executor.helpers import T0, Harness, load

ECHO = "podium.test.Echo"
FLOW = f"""
id: f
namespace: t
tasks:
  - {{id: a, type: {ECHO}}}
  - {{id: b, type: {ECHO}}}
  - {{id: c, type: {ECHO}}}
"""


def _at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def _dates(run: TaskRun) -> list[datetime]:
    return [h.date for h in run.state.histories] + [h.date for a in run.attempts for h in a.state.histories]


def assert_ordered(execution: Execution, *task_ids: str) -> None:
    runs = {run.task_id: run for run in execution.task_run_list}
    for before, after in itertools.pairwise(task_ids):
        end = runs[before].state.histories[-1].date
        assert min(_dates(runs[after])) >= end, (before, after, runs[before].state, runs[after].state)
        for run in (runs[before], runs[after]):
            dates = [h.date for h in run.state.histories]
            assert dates == sorted(dates)


def test_results_of_a_chain_applied_in_reverse_order_keep_the_sequence_in_order() -> None:
    harness = Harness(load(FLOW))
    harness.send(Start())
    [command] = harness.of_type(DispatchTaskRuns)
    assert command.chain
    a, b, c = command.task_run_ids
    harness.now = T0 + timedelta(seconds=10)  # the executor applies them late, last link first
    harness.send(TaskRunResult(c, 1, State.SUCCESS, started_at=_at(3), ended_at=_at(4)))
    harness.send(TaskRunResult(b, 1, State.SUCCESS, started_at=_at(2), ended_at=_at(3)))
    harness.send(TaskRunResult(a, 1, State.SUCCESS, started_at=_at(1), ended_at=_at(2)))
    assert harness.state == State.SUCCESS
    assert_ordered(harness.current, "a", "b", "c")
    # the worker's dates are kept: each task ran one second
    for task_id, start in (("a", 1), ("b", 2), ("c", 3)):
        run = harness.run(task_id)
        assert [h.date for h in run.state.histories][1:] == [T0 + timedelta(seconds=start),
                                                             T0 + timedelta(seconds=start + 1)]


def test_a_link_started_before_its_predecessor_ended_by_another_clock_is_dated_after_it() -> None:
    harness = Harness(load(FLOW))
    harness.send(Start())
    [command] = harness.of_type(DispatchTaskRuns)
    a, b, c = command.task_run_ids
    harness.now = T0 + timedelta(seconds=10)
    # b's worker clock is behind a's: its start is dated before a's end
    harness.send(TaskRunResult(b, 1, State.RUNNING, started_at=_at(1)))
    harness.send(TaskRunResult(a, 1, State.SUCCESS, started_at=_at(1), ended_at=_at(5)))
    harness.send(TaskRunResult(b, 1, State.SUCCESS, ended_at=_at(6)))
    harness.send(TaskRunResult(c, 1, State.SUCCESS, started_at=_at(4), ended_at=_at(7)))
    assert harness.state == State.SUCCESS
    assert_ordered(harness.current, "a", "b", "c")


def test_worker_dates_in_the_future_are_bounded_by_the_executor_clock() -> None:
    harness = Harness(load(FLOW))
    harness.send(Start())
    [command] = harness.of_type(DispatchTaskRuns)
    a = command.task_run_ids[0]
    harness.now = T0 + timedelta(seconds=1)
    harness.send(TaskRunResult(a, 1, State.SUCCESS, started_at=_at(50), ended_at=_at(60)))
    assert harness.run("a").state.histories[-1].date == harness.now


def test_a_whole_run_through_the_fake_worker_is_in_order() -> None:
    harness = Harness(load(FLOW)).start()
    assert harness.state == State.SUCCESS
    assert_ordered(harness.current, "a", "b", "c")
