"""``advance_all``: several results recorded, one settle; the outcome is the one-at-a-time outcome."""
from __future__ import annotations

import pytest

from engine.executor import DispatchTaskRuns, TaskRunResult, advance_all
from engine.state import State
from tests.executor.helpers import FAKE, REGISTRY, RENDERER, Harness, load

FLOW = f"""
id: fan_out
namespace: tests.executor
tasks:
  - id: parallel
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - {{id: a, type: {FAKE}, format: "a"}}
      - {{id: b, type: {FAKE}, format: "b"}}
      - {{id: c, type: {FAKE}, format: "c"}}
  - id: after
    type: {FAKE}
    format: "{{{{ outputs.a.value }}}}"
errors:
  - id: handler
    type: {FAKE}
    format: handled
"""


def _held() -> Harness:
    harness = Harness(load(FLOW), hold={"a", "b", "c"})
    harness.start()
    assert {harness.run(t).state.current for t in "abc"} == {State.RUNNING}
    return harness


@pytest.mark.parametrize("ends", [{"a": State.SUCCESS, "b": State.SUCCESS, "c": State.SUCCESS},
                                  {"a": State.SUCCESS, "b": State.FAILED, "c": State.SUCCESS}])
def test_results_applied_together_end_as_applied_one_at_a_time(ends: dict[str, State]) -> None:
    together, one_by_one = _held(), _held()
    results = [TaskRunResult(together.run(t).id, 1, state, {"value": t}) for t, state in ends.items()]
    step = advance_all(together.execution, together.flow, results, together.now, registry=REGISTRY,
                       renderer=RENDERER)
    dispatched = [c for c in step.commands if isinstance(c, DispatchTaskRuns)]
    assert len(dispatched) == 1  # one settle: the next task (or the errors branch) dispatched once
    together.execution = step.execution
    together.pending.extend(dispatched[0].task_run_ids)
    together.hold.clear()
    together.work()

    for task_id, state in ends.items():
        one_by_one.send(TaskRunResult(one_by_one.run(task_id).id, 1, state, {"value": task_id}))
    one_by_one.hold.clear()
    one_by_one.work()

    def outcome(harness: Harness) -> dict[str, tuple[State, dict]]:
        return {run.task_id: (run.state.current, run.outputs) for run in harness.execution.task_run_list}
    assert together.state == one_by_one.state
    assert outcome(together) == outcome(one_by_one)
    assert ("handler" in outcome(together)) == (State.FAILED in ends.values())


def test_a_duplicate_in_the_batch_is_recorded_once() -> None:
    harness = _held()
    run_id = harness.run("a").id
    result = TaskRunResult(run_id, 1, State.SUCCESS, {"value": "a"})
    step = advance_all(harness.execution, harness.flow, [result, result], harness.now, registry=REGISTRY,
                       renderer=RENDERER)
    run = step.execution.task_run(run_id)
    assert run.state.current == State.SUCCESS and len(run.attempts) == 1
    assert [h.state for h in run.state.histories].count(State.SUCCESS) == 1
