"""L1 pure core: the flow itself as the owner of task runs: its root branches, the end of the
execution (final state, flow outputs) and the ``afterExecution`` tasks that run once it ended.

The flow owns ``tasks``, ``errors`` and ``finally`` like a flowable task does; its root task runs
are those without a parent, ``afterExecution`` ones left out (they only start after the end).
"""
from __future__ import annotations

from typing import Any

from engine.executor import resolve as rs
from engine.executor.commands import ExecutionEnded, Log
from engine.executor.step_state import Work
from engine.model.execution import TaskRun
from engine.state import State


def root_branches(work: Work) -> rs.Branches:
    return work.tree.root_branches


def _after_ids(work: Work) -> set[str]:
    return {t.id for t in work.flow.after_execution or ()}


def root_runs(work: Work) -> list[TaskRun]:
    after = _after_ids(work)
    return [run for run in work.children(None) if run.task_id not in after]


def create_root_nexts(work: Work) -> bool:
    state = work.execution.state.current
    if state in (State.RUNNING, State.PAUSED):
        runs = root_runs(work)
        _, current = rs.current_branch(root_branches(work), runs)
        nexts = rs.sequential_nexts(current, runs)
    elif state.is_terminated and state not in (State.KILLED, State.RETRIED):
        after = rs.enabled(work.flow.after_execution)
        nexts = rs.sequential_nexts(after, work.children(None))
    else:
        return False
    for resolved in nexts:
        work.create_run(resolved.task, None)
    return bool(nexts)


def finish_execution(work: Work) -> bool:
    """Sets the final state once every main task run ended; True when that started afterExecution."""
    execution = work.execution
    if execution.state.current == State.KILLING:
        if all(run.state.current.is_terminated for run in execution.task_run_list):
            _end(work, State.KILLED)
        return False
    if execution.state.current not in (State.RUNNING, State.PAUSED):
        return False
    if any(run.state.current == State.PAUSED for run in execution.task_run_list):
        return False
    state = rs.resolve_state(root_branches(work), root_runs(work))
    if state is None:
        return False
    outputs, failure = _flow_outputs(work)
    if failure:
        work.emit(Log(None, "ERROR", failure))
        state = State.FAILED
    work.execution = work.execution.model_copy(update={"outputs": outputs})
    _end(work, state)
    return create_root_nexts(work)  # afterExecution starts once the final state is set


def _end(work: Work, state: State) -> None:
    work.set_execution_state(state)
    work.emit(ExecutionEnded(state))


def _flow_outputs(work: Work) -> tuple[dict[str, Any], str | None]:
    """Flow outputs are rendered when the execution ends; a failure makes the execution FAILED."""
    outputs: dict[str, Any] = {}
    for output in work.flow.outputs or ():
        try:
            # As Kestra: rendered to text, then parsed by the output's declared type.
            rendered = work.render(output.value) if isinstance(output.value, str) \
                else work.render_value(output.value)
            outputs[output.id] = output.parse(rendered)
        except Exception as error:  # noqa: BLE001 - any render or parse failure of an output fails the execution
            return outputs, f"Failed to render output '{output.id}': {error}"
    return outputs, None
