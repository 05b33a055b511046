"""L1 pure core: the task types with a life cycle of their own, beyond "start, run children, end".

- Pause: goes PAUSED with the execution; ``pauseDuration`` (with its ``behavior``) or, without it,
  ``timeout`` becomes a timer (Kestra 1.x: one timer, the duration winning over the timeout).
- WaitFor: runs its tasks again, one iteration per timer, until its condition is truthy or a
  limit is reached.
- execution.Labels: changes the execution's labels inside the executor, then ends SUCCESS.
- Subflow and ForEachItem's internal tasks: start child executions or have files split and
  merged through commands (``StartSubflow``, ``SplitItems``, ``MergeItemsOutputs``) and end when
  the services layer reports back.
"""
from __future__ import annotations

import json
from typing import cast

from engine.durations import parse_duration
from engine.executor import resolve as rs
from engine.executor.commands import ExecutionPaused, Log, MergeItemsOutputs, ScheduleTimer, SplitItems, StartSubflow
from engine.executor.events import TimerKind
from engine.executor.flowables import short_type
from engine.executor.step_state import Work
from engine.model.execution import Label, TaskRun
from engine.model.task import TaskOptions
from engine.plugins.core.flow_labels import Labels
from engine.plugins.core.flow_subflow import (
    ITEMS_SUFFIX,
    ITEMS_TYPE,
    MERGE_TYPE,
    SPLIT_SUFFIX,
    SPLIT_TYPE,
    ForEachItemExecutable,
    ForEachItemMergeOutputs,
    ForEachItemSplit,
    Subflow,
)
from engine.plugins.core.flow_wait import Pause, PauseBehavior, WaitFor
from engine.state import State
from engine.templating.truth import is_truthy

# The tasks the executor starts with a command to the services layer (child executions, files).
ExecutableTask = Subflow | ForEachItemSplit | ForEachItemExecutable | ForEachItemMergeOutputs

# -- Pause ------------------------------------------------------------------------------------
def pause(work: Work, task: Pause, run: TaskRun) -> None:
    """A started Pause goes PAUSED, and so does the execution; pauseDuration or timeout becomes a timer."""
    try:
        duration = parse_duration(work.render(task.pause_duration, run, task)) if task.pause_duration else None
        timeout = parse_duration(work.render(task.timeout, run, task)) if task.timeout else None
        behavior = pause_behavior(work, task, run)
    except Exception as error:  # noqa: BLE001 - a duration or behavior that does not render fails the pause
        work.emit(Log(run.id, "ERROR", str(error)))
        work.set_state(run, State.FAILED)
        return
    work.set_state(run, State.PAUSED)
    if duration is not None:
        work.emit(ScheduleTimer(work.now + duration, TimerKind.PAUSE_DELAY, run.id, {"behavior": behavior.value}))
    elif timeout is not None:
        work.emit(ScheduleTimer(work.now + timeout, TimerKind.PAUSE_TIMEOUT, run.id))
    if work.execution.state.current == State.RUNNING:
        work.set_execution_state(State.PAUSED)
        work.emit(ExecutionPaused())


def pause_behavior(work: Work, task: Pause, run: TaskRun) -> PauseBehavior:
    rendered = work.render(task.behavior, run, task).strip()
    try:
        return PauseBehavior(rendered)
    except ValueError:
        raise ValueError(f"property 'behavior' rendered to '{rendered}', which is not a Pause behavior: "
                         f"use one of {', '.join(PauseBehavior.__members__)}") from None


def pause_state(work: Work, task: Pause, run: TaskRun, state: State) -> State:
    """The end state of a Pause with (deprecated) ``tasks``: WARN turns SUCCESS into WARNING, as
    Kestra's ``Pause.resolveState``; without tasks a resumed Pause ends SUCCESS."""
    if state != State.SUCCESS or not task.tasks:
        return state
    try:
        behavior = pause_behavior(work, task, run)
    except ValueError:  # it rendered when the pause started; a later failure changes nothing
        return state
    return State.WARNING if behavior == PauseBehavior.WARN else state


# -- WaitFor ----------------------------------------------------------------------------------
def child_runs(work: Work, task: TaskOptions, run: TaskRun) -> list[TaskRun]:
    """The children of ``run`` that count now: for a WaitFor, only its current iteration's."""
    runs = work.children(run.id)
    if short_type(task) != "WaitFor":
        return runs
    main = {t.id for t in cast(WaitFor, task).tasks}
    iteration = run.outputs.get("iterationCount", 1)
    return [r for r in runs if r.task_id not in main or r.iteration == iteration]


def _waitfor_branches(task: WaitFor, run: TaskRun) -> rs.Branches:
    # finally is not used between iterations: it would run after each one.
    return rs.Branches(rs.enabled(task.tasks, None, run.outputs.get("iterationCount", 1)),
                       rs.enabled(task.errors))


def waitfor_nexts(work: Work, task: WaitFor, run: TaskRun, runs: list[TaskRun]) -> list[rs.Resolved]:
    _, current = rs.current_branch(_waitfor_branches(task, run), runs)
    return rs.sequential_nexts(current, runs)


def waitfor_state(work: Work, task: WaitFor, run: TaskRun, runs: list[TaskRun]) -> State | None:
    branches = _waitfor_branches(task, run)
    flags = {"allow_failure": task.allow_failure, "allow_warning": task.allow_warning}
    if rs.has_failed(branches.tasks, runs) or rs.runs_for(branches.errors, runs):
        return rs.resolve_state(branches, runs, **flags)
    if not rs.is_terminated(branches.tasks, runs):
        return None
    if is_truthy(work.render(task.condition, run, task)):
        return rs.resolve_state(branches, runs, **flags)
    if _waitfor_maxed(work, task, run):
        return State.FAILED if task.fail_on_max_reached else rs.resolve_state(branches, runs, **flags)
    if any(work.changed_now(r) for r in runs):  # the iteration ended in this step: wait once
        interval = parse_duration(task.check_frequency.interval)
        next_iteration = run.outputs.get("iterationCount", 1) + 1
        work.emit(ScheduleTimer(work.now + interval, TimerKind.WAITFOR, run.id, {"iteration": next_iteration}))
    return None


def _waitfor_maxed(work: Work, task: WaitFor, run: TaskRun) -> bool:
    frequency = task.check_frequency
    if run.outputs.get("iterationCount", 1) >= frequency.max_iterations:
        return True
    started = run.state.start_date
    return started is not None and started + parse_duration(frequency.max_duration) <= work.now


# -- execution.Labels -------------------------------------------------------------------------
def apply_labels(work: Work, task: Labels, run: TaskRun) -> None:
    try:
        pairs = _rendered_labels(work, task, run)
    except Exception as error:  # noqa: BLE001 - labels that fail to render or to parse fail the task
        work.emit(Log(run.id, "ERROR", str(error)))
        work.set_state(run, State.FAILED)
        return
    merged = dict(work.execution.label_map)
    merged.update(pairs)
    labels = tuple(Label(key=k, value=v) for k, v in merged.items())
    work.execution = work.execution.model_copy(update={"labels": labels})
    run = work.set_state(run, State.RUNNING)
    work.set_state(run, State.SUCCESS)


def _rendered_labels(work: Work, task: Labels, run: TaskRun) -> dict[str, str]:
    raw = task.labels
    if isinstance(raw, str):
        raw = work.render_typed(raw, run, task)
        if isinstance(raw, str):
            raw = json.loads(raw)
    if isinstance(raw, dict):
        pairs = {work.render(k, run, task): work.render(v, run, task) for k, v in raw.items()}
    elif isinstance(raw, list):
        pairs = {work.render(e["key"], run, task): work.render(e["value"], run, task) for e in raw}
    else:
        raise ValueError(f"labels must be a map or a list of {{key, value}}, got {type(raw).__name__}")
    system = sorted(k for k in pairs if k.startswith("system."))
    if system:
        raise ValueError(f"system labels cannot be set by a task: {', '.join(system)}")
    return pairs


# -- Subflow and ForEachItem's internal tasks ----------------------------------------------------
def start_executable(work: Work, task: ExecutableTask, run: TaskRun) -> None:
    """A Subflow starts its child; a ForEachItem's internal task asks the services layer for its
    files (``_split``, ``_items``) or its merge (``_merge``)."""
    try:
        command = _start_command(work, task, run)
    except Exception as error:  # noqa: BLE001 - properties that fail to render fail the task
        work.emit(Log(run.id, "ERROR", str(error)))
        work.set_state(run, State.FAILED)
        return
    if is_items(task) and run.outputs:
        run = work.save(run.model_copy(update={"outputs": {}}))  # restarted: its batches are counted anew
    run = work.add_attempt(run, State.RUNNING)
    work.set_state(run, State.RUNNING)
    work.emit(command)


def _start_command(work: Work, task: ExecutableTask, run: TaskRun) -> StartSubflow | SplitItems | MergeItemsOutputs:
    if task.type == SPLIT_TYPE:
        return _split_command(work, cast(ForEachItemSplit, task), run)
    if task.type == ITEMS_TYPE:
        splits = _sibling(work, task, run, SPLIT_SUFFIX).outputs.get("splits")
        if not isinstance(splits, str):
            raise ValueError(f"task run {run.task_id}: the split task run has no `splits` output")
        return SplitItems(run.id, splits, None, None, None, "\n", listed=True)
    if task.type == MERGE_TYPE:
        return MergeItemsOutputs(run.id, _sibling(work, task, run, ITEMS_SUFFIX).id)
    return _subflow_command(work, cast(Subflow, task), run)


def _sibling(work: Work, task: TaskOptions, run: TaskRun, suffix: str) -> TaskRun:
    """The latest task run of another internal task of the same ForEachItem task run."""
    parent = work.tree.node(task.id).parent_id
    wanted = f"{parent}{suffix}"
    found = [r for r in work.children(run.parent_task_run_id) if r.task_id == wanted]
    if not found:
        raise ValueError(f"task run {run.task_id}: no {wanted} task run before it")
    return found[-1]


def is_items(task: TaskOptions) -> bool:
    """Whether ``task`` is a ForEachItem's ``_items``: it counts its children by state."""
    return task.type == ITEMS_TYPE


def _subflow_command(work: Work, task: Subflow | ForEachItemExecutable, run: TaskRun, items: str | None = None,
                     iteration: int | None = None) -> StartSubflow:
    if items is not None:
        run = run.model_copy(update={"items": items, "iteration": iteration})
    return StartSubflow(
        task_run_id=run.id, namespace=work.render(task.namespace, run, task),
        flow_id=work.render(task.flow_id, run, task), revision=task.revision,
        inputs=work.render_value(dict(task.inputs or {}), run, task),
        labels=child_labels(work, task, run), wait=task.wait, transmit_failed=task.transmit_failed,
        schedule_date=work.render(task.schedule_date, run, task) if task.schedule_date else None,
        iteration=iteration, items=items)


def child_labels(work: Work, task: Subflow | ForEachItemExecutable, run: TaskRun) -> tuple[tuple[str, str], ...]:
    """The parent's system labels (all its labels with inheritLabels), then the task's labels."""
    labels = {k: v for k, v in work.execution.label_map.items() if task.inherit_labels or k.startswith("system.")}
    raw = task.labels or {}
    entries = raw.items() if isinstance(raw, dict) else ((e["key"], e["value"]) for e in raw)
    for key, value in entries:
        labels[work.render(key, run, task)] = work.render(value, run, task)
    return tuple(labels.items())


def _split_command(work: Work, task: ForEachItemSplit, run: TaskRun) -> SplitItems:
    batch = task.batch
    rows = batch.rows if batch.rows is not None or batch.bytes or batch.partitions else 1
    return SplitItems(run.id, work.render(task.items, run, task),
                      int(work.render(rows, run, task)) if rows is not None else None,
                      work.render(batch.bytes, run, task) if batch.bytes else None,
                      int(work.render(batch.partitions, run, task)) if batch.partitions is not None else None,
                      batch.separator)


def start_batches(work: Work, task: ForEachItemExecutable, run: TaskRun, uris: tuple[str, ...]) -> None:
    """The ``_items`` task run starts one child per batch; ``taskrun.iteration`` counts from 0 (1.x)."""
    counts = {"CREATED": len(uris)} if uris else {}
    work.save(run.model_copy(update={"outputs": {**run.outputs, "numberOfBatches": len(uris),
                                                 "iterations": counts}}))
    for index, uri in enumerate(uris):
        work.emit(_subflow_command(work, task, work.run(run.id), uri, index))


def items_state(task: ForEachItemExecutable, counts: dict[str, int]) -> State:
    """The end state of an ``_items`` task run once every child ended (Kestra's
    ``ExecutableUtils.findTerminalState``; its parent ForEachItem applies allowFailure)."""
    if not task.transmit_failed:
        return State.SUCCESS
    for state in (State.FAILED, State.KILLED, State.WARNING):
        if counts.get(state.value, 0):
            return state
    return State.SUCCESS


def child_execution_ids(run: TaskRun) -> list[str]:
    child = run.outputs.get("executionId")
    return [child] if isinstance(child, str) else []
