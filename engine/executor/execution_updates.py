"""L1 pure core: the tasks that change the execution itself (Kestra's ``ExecutionUpdatableTask``).

- ``execution.Labels``: ``task_lifecycles.apply_labels``.
- ``execution.Exit``: ends the execution in the state it renders. KILLED goes through the kill
  (``settling.kill_running`` stops what still runs). Any other state ends the Exit's task run, its
  parents and the execution in that state at once; whatever else of the execution had not ended is
  KILLED (and stopped on its worker), so nothing runs after an ended execution. Kestra lets such
  tasks of other branches finish; Podium stops them (docs/flow-language.md).
- ``execution.SetVariables`` / ``UnsetVariables``: change ``execution.variables``, which later
  tasks read as ``vars`` (``engine.variables.execution_vars``).

Each ends its task run here, with one attempt, as Kestra's ``handleExecutionUpdatingTask``.
A property that fails to render, or a refused change, fails the task run with one ERROR line.
"""
from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from engine.executor import chains, results, task_lifecycles
from engine.executor.commands import CancelTimers, ExecutionEnded, KillTaskRuns, Log
from engine.executor.flowables import short_type
from engine.executor.step_state import Work
from engine.model.execution import TaskRun
from engine.model.task import TaskOptions
from engine.plugins.base import PluginKind
from engine.plugins.core.execution_updates import EXIT_STATES, Exit, ExitState, SetVariables, UnsetVariables
from engine.plugins.core.flow_labels import Labels
from engine.state import State
from engine.variables import execution_vars

_EXIT_STATES = {ExitState.SUCCESS: State.SUCCESS, ExitState.WARNING: State.WARNING, ExitState.KILLED: State.KILLED,
                ExitState.FAILED: State.FAILED, ExitState.CANCELED: State.CANCELLED}
# Task runs that wait on a timer of their own (retry, pause, next WaitFor iteration).
_TIMED = frozenset({State.PAUSED, State.RETRYING})


def apply(work: Work, task: TaskOptions, run: TaskRun) -> None:
    """Applies the execution-update task ``task`` of the CREATED task run ``run``."""
    if isinstance(task, Labels):
        task_lifecycles.apply_labels(work, task, run)
        return
    handler = _HANDLERS.get(type(task))
    if handler is None:
        _fail(work, run, f"task type {task.type} is not implemented")
        return
    try:
        handler(work, task, run)  # each handler raises before it changes anything
    except Exception as error:  # noqa: BLE001 - a property that fails to render fails the task, as Labels
        _fail(work, run, str(error))


# -- execution.Exit -----------------------------------------------------------------------------
def _exit(work: Work, task: Exit, run: TaskRun) -> None:
    state = _exit_state(work.render(task.state, run, task))
    ended = work.execution.state.current.is_terminated  # an Exit among afterExecution tasks
    _end(work, run, state)
    if state == State.KILLED and not ended:
        work.set_execution_state(State.KILLING)  # settling then stops what still runs
        return
    end_execution(work, run, state)


def end_execution(work: Work, run: TaskRun, state: State) -> None:
    """The ended ``run``'s parents and the execution end ``state`` at once; whatever else has not
    ended is KILLED (an Exit, a Pause whose behavior is CANCEL)."""
    ended = work.execution.state.current.is_terminated
    for ancestor in _ancestors(work, run):
        work.set_state(ancestor, state)
    if not ended:
        stop_the_rest(work)
    work.set_execution_state(state)
    if not ended:
        work.emit(ExecutionEnded(state))


def _exit_state(rendered: str) -> State:
    try:
        return _EXIT_STATES[ExitState(rendered.strip())]
    except ValueError:
        raise ValueError(f"property 'state' rendered to '{rendered}', which is not an exit state: "
                         f"use one of {EXIT_STATES}") from None


def _ancestors(work: Work, run: TaskRun) -> list[TaskRun]:
    found: list[TaskRun] = []
    parent_id = run.parent_task_run_id
    while parent_id is not None:
        parent = work.run(parent_id)
        if not parent.state.current.is_terminated:
            found.append(parent)
        parent_id = parent.parent_task_run_id
    return found


def stop_the_rest(work: Work) -> None:
    """Every task run that has not ended ends KILLED now; workers and child executions are told."""
    pending = {run.id for run in work.execution.task_run_list if chains.is_pending_link(work, run)}
    to_kill: list[str] = []
    children: list[str] = []
    for run in list(work.execution.task_run_list):
        if run.state.current.is_terminated:
            continue
        if run.id in pending:
            work.remove(run.id)  # never started: Kestra would not have created it
            continue
        known = run.task_id in work.tree
        kind = work.tree.kind(run.task_id) if known else PluginKind.RUNNABLE
        if run.state.current in _TIMED or (known and short_type(work.tree.task(run.task_id)) == "WaitFor"):
            work.emit(CancelTimers(run.id))
        if kind == PluginKind.EXECUTABLE:
            children.extend(task_lifecycles.child_execution_ids(run))
        live_attempt = bool(run.attempts) and not run.attempts[-1].state.current.is_terminated
        if live_attempt and (kind == PluginKind.RUNNABLE or _is_working_directory(work, run)):
            to_kill.append(run.id)
        if live_attempt:
            results.finish_attempt(work, run, State.KILLED, {})
        else:
            work.set_state(run, State.KILLED)
    if to_kill or children:
        work.emit(KillTaskRuns(tuple(to_kill), tuple(children)))


def _is_working_directory(work: Work, run: TaskRun) -> bool:
    return run.task_id in work.tree and short_type(work.tree.task(run.task_id)) == "WorkingDirectory"


# -- execution.SetVariables / UnsetVariables ----------------------------------------------------
def _set_variables(work: Work, task: SetVariables, run: TaskRun) -> None:
    rendered = _rendered_map(work, task, run)
    current = execution_vars(work.flow, work.execution)
    if not _as_bool(work.render(task.overwrite, run, task), "overwrite"):
        existing = [name for name in rendered if name in current]
        if existing:
            raise ValueError("`overwrite` is set to false and the following variables already exist: "
                             + ",".join(existing))
    _save_variables(work, deep_merge(current, rendered))
    _end(work, run, State.SUCCESS)


def _unset_variables(work: Work, task: UnsetVariables, run: TaskRun) -> None:
    names = _rendered_list(work, task, run)
    ignore_missing = _as_bool(work.render(task.ignore_missing, run, task), "ignoreMissing")
    variables = copy.deepcopy(execution_vars(work.flow, work.execution))
    for name in names:
        _remove(variables, str(name), ignore_missing)
    _save_variables(work, variables)
    _end(work, run, State.SUCCESS)


def _rendered_map(work: Work, task: SetVariables, run: TaskRun) -> dict[str, Any]:
    raw = task.variables
    if isinstance(raw, str):
        value = work.render_typed(raw, run, task)
        value = json.loads(value) if isinstance(value, str) else value
    else:
        value = work.render_value(dict(raw), run, task)
    if not isinstance(value, dict):
        raise ValueError(f"property 'variables' must be a map, got {type(value).__name__}")
    return {str(name): item for name, item in value.items()}


def _rendered_list(work: Work, task: UnsetVariables, run: TaskRun) -> list[Any]:
    raw = task.variables
    if isinstance(raw, str):
        value = work.render_typed(raw, run, task)
        value = json.loads(value) if isinstance(value, str) and value.lstrip().startswith("[") else value
        value = [value] if isinstance(value, str) else value
    else:
        value = [work.render(name, run, task) for name in raw]
    if not isinstance(value, list):
        raise ValueError(f"property 'variables' must be a list of names, got {type(value).__name__}")
    return value


def _remove(variables: dict[str, Any], name: str, ignore_missing: bool) -> None:
    """Kestra's removeVar: ``a.b.c`` walks the maps ``a`` then ``b`` and removes ``c``; a missing
    last key is no error (as in Kestra), a missing map on the way is unless ``ignoreMissing``."""
    *path, last = name.split(".")
    node = variables
    for part in path:
        child = node.get(part)
        if not isinstance(child, dict):
            if ignore_missing:
                return
            raise ValueError(f"cannot unset variable '{name}': '{part}' is not a map of variables "
                             f"(set ignoreMissing: true to skip it)")
        node = child
    node.pop(last, None)


def deep_merge(current: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Kestra's MapUtils.deepMerge: maps are merged key by key, anything else is replaced."""
    merged = dict(current)
    for name, value in update.items():
        before = merged.get(name)
        merged[name] = deep_merge(before, value) if isinstance(before, dict) and isinstance(value, dict) else value
    return merged


def _save_variables(work: Work, variables: dict[str, Any]) -> None:
    work.execution = work.execution.model_copy(update={"variables": variables})


# -- helpers ------------------------------------------------------------------------------------
def _as_bool(rendered: str, name: str) -> bool:
    text = rendered.strip().lower()
    if text not in ("true", "false"):
        raise ValueError(f"property '{name}' rendered to '{rendered}', which is not a boolean (true or false)")
    return text == "true"


def _end(work: Work, run: TaskRun, state: State) -> None:
    """RUNNING with one attempt, then ``state`` for both (the attempt Kestra records)."""
    run = work.add_attempt(work.run(run.id), State.RUNNING)
    run = work.set_state(run, State.RUNNING)
    last = run.attempts[-1]
    closed = last.model_copy(update={"state": last.state.with_state(state, work.now)})
    work.save(run.model_copy(update={"attempts": (*run.attempts[:-1], closed)}).with_state(state, work.now))


def _fail(work: Work, run: TaskRun, message: str) -> None:
    work.emit(Log(run.id, "ERROR", message))
    _end(work, run, State.FAILED)


_HANDLERS: dict[type, Callable[[Work, Any, TaskRun], None]] = {
    Exit: _exit, SetVariables: _set_variables, UnsetVariables: _unset_variables,
}
