"""L1 pure core: execution operations the services layer calls (docs/executor.md, *Operations*).

create_execution, restart, replay, change_task_run_state and resume return new Execution
values; after saving one, the services layer calls ``advance`` with ``Start`` (new execution) or
``Wake`` (restarted one) so the executor carries on.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from engine.executor.tree import FlowTree, flow_tree
from engine.ids import new_id
from engine.model.execution import Execution, ExecutionTrigger, Label, StateRecord, TaskRun
from engine.model.flow import Flow
from engine.plugins.base import PluginKind, Registry
from engine.state import State

CORRELATION_ID = "system.correlationId"
LabelsArg = Mapping[str, Any] | Iterable[tuple[str, Any]] | None


class OperationRefused(ValueError):
    """The execution's state does not allow this operation (e.g. resuming a running execution)."""


def create_execution(flow: Flow, inputs: Mapping[str, Any], labels: LabelsArg, now: datetime,
                     trigger: ExecutionTrigger | None = None, parent: Execution | None = None,
                     *, schedule_date: datetime | None = None, execution_id: str | None = None) -> Execution:
    """A CREATED execution: flow labels, then the given ones, then ``system.correlationId``
    (the parent's for a subflow, else the execution's own id). Its id is ``execution_id``, or new."""
    execution_id = execution_id or new_id()
    merged: dict[str, str] = dict(flow.label_map)
    merged.update(_pairs(labels))
    correlation = parent.label_map.get(CORRELATION_ID, parent.id) if parent is not None else execution_id
    merged.setdefault(CORRELATION_ID, correlation)
    return Execution(id=execution_id, namespace=flow.namespace, flow_id=flow.id,
                     flow_revision=flow.revision or 1, inputs=dict(inputs),
                     labels=tuple(Label(key=k, value=v) for k, v in merged.items()),
                     state=StateRecord.start(State.CREATED, now), trigger=trigger,
                     schedule_date=schedule_date)


def _pairs(labels: LabelsArg) -> dict[str, str]:
    if labels is None:
        return {}
    items = labels.items() if isinstance(labels, Mapping) else labels
    return {str(k): _text(v) for k, v in items}


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


# -- restart ----------------------------------------------------------------------------------
def restart(execution: Execution, flow: Flow, now: datetime, *, registry: Registry) -> Execution:
    """Same execution: failed, killed and paused task runs and their ancestors go RESTARTED,
    ``errors`` task runs are removed, ``metadata.attemptNumber`` + 1, execution RESTARTED."""
    state = execution.state.current
    if not (state.is_terminated or state == State.PAUSED):
        raise OperationRefused(f"{execution.describe()} is {state.value}: only a terminated or paused "
                               "execution can be restarted")
    tree = flow_tree(flow, registry)
    by_id = {run.id: run for run in execution.task_run_list}
    failed = [r for r in execution.task_run_list if r.state.current in (State.FAILED, State.KILLED, State.PAUSED)]
    to_restart = {run.id for run in failed} | {a for run in failed for a in _ancestor_ids(run, by_id)}
    removed = {r.id for r in execution.task_run_list if _in_errors(tree, r.task_id)}
    runs = [_restarted(r, tree, now) if r.id in to_restart else r
            for r in execution.task_run_list if r.id not in removed]
    metadata = execution.metadata.model_copy(update={"attempt_number": execution.metadata.attempt_number + 1})
    restarted = execution.model_copy(update={"task_run_list": tuple(runs), "metadata": metadata})
    return restarted.with_state(State.RESTARTED, now)


def _ancestor_ids(run: TaskRun, by_id: Mapping[str, TaskRun]) -> list[str]:
    found: list[str] = []
    parent = run.parent_task_run_id
    while parent is not None and parent in by_id:
        found.append(parent)
        parent = by_id[parent].parent_task_run_id
    return found


def _in_errors(tree: FlowTree, task_id: str) -> bool:
    if task_id not in tree:
        return False
    nodes = [tree.node(task_id), *tree.ancestors(task_id)]
    return any(node.branch == "errors" for node in nodes)


def _restarted(run: TaskRun, tree: FlowTree, now: datetime) -> TaskRun:
    """Runnable task runs wait RESTARTED for a new attempt; flowables resume RUNNING at once."""
    run = run.with_state(State.RESTARTED, now)
    if run.task_id in tree and tree.kind(run.task_id) == PluginKind.FLOWABLE:
        run = run.with_state(State.RUNNING, now)
    return run


# -- replay -----------------------------------------------------------------------------------
def replay(execution: Execution, flow: Flow, task_run_id: str | None, now: datetime, *,
           registry: Registry) -> Execution:
    """A new execution (``originalId`` kept, ``parentId`` = the source). Without ``task_run_id`` it
    starts over with the same inputs and labels; with it, the task runs before that point are kept,
    that one and its ancestors restart, and its descendants and later siblings go."""
    if task_run_id is None:
        return _from_scratch(execution, flow, now, None)
    original_id = execution.original_id or execution.id
    tree = flow_tree(flow, registry)
    by_id = {run.id: run for run in execution.task_run_list}
    target = by_id[task_run_id]
    path = [target.id, *_ancestor_ids(target, by_id)]
    kept = [r for r in execution.task_run_list if not _dropped(r, target, path, by_id, tree)]
    new_ids = {run.id: new_id() for run in kept}
    new_execution_id = new_id()
    runs = tuple(_copied(r, new_ids, new_execution_id, tree, now, r.id in path) for r in kept)
    return execution.model_copy(update={
        "id": new_execution_id, "task_run_list": runs, "original_id": original_id, "parent_id": execution.id,
        "state": execution.state.with_state(State.RESTARTED, now), "outputs": {}})


def retry_execution(execution: Execution, flow: Flow, now: datetime, *, replay_id: str | None = None) -> Execution:
    """A retry with behavior CREATE_NEW_EXECUTION: a replay from scratch that is the next attempt
    (``metadata.attemptNumber`` + 1, ``originalCreatedDate`` kept), so that the retry policy's
    ``maxAttempts`` and ``maxDuration`` end the retries."""
    metadata = execution.metadata.model_copy(update={
        "attempt_number": execution.metadata.attempt_number + 1,
        "original_created_date": execution.metadata.original_created_date or execution.state.start_date})
    return _from_scratch(execution, flow, now, replay_id).model_copy(update={"metadata": metadata})


def _from_scratch(execution: Execution, flow: Flow, now: datetime, replay_id: str | None) -> Execution:
    """A new CREATED execution with the same inputs, labels and trigger as ``execution``."""
    fresh = create_execution(flow, execution.inputs, execution.label_map.items(), now, execution.trigger,
                             execution_id=replay_id)
    return fresh.model_copy(update={"original_id": execution.original_id or execution.id, "parent_id": execution.id})


def _dropped(run: TaskRun, target: TaskRun, path: list[str], by_id: Mapping[str, TaskRun], tree: FlowTree) -> bool:
    if run.id in path:
        return False
    ancestors = _ancestor_ids(run, by_id)
    if target.id in ancestors or _in_errors(tree, run.task_id):
        return True
    # a later sibling (flow order) of the target or of one of its ancestors, in the same iteration
    for step_id in path:
        step = by_id[step_id]
        if run.parent_task_run_id == step.parent_task_run_id and run.value == step.value:
            return _flow_index(tree, run.task_id) > _flow_index(tree, step.task_id)
    return False


def _flow_index(tree: FlowTree, task_id: str) -> int:
    ids = [t.id for t in tree.flow.all_tasks()]
    return ids.index(task_id) if task_id in ids else -1


def _copied(run: TaskRun, new_ids: Mapping[str, str], execution_id: str, tree: FlowTree, now: datetime,
            restart_it: bool) -> TaskRun:
    parent = new_ids.get(run.parent_task_run_id) if run.parent_task_run_id else None
    copy = run.model_copy(update={"id": new_ids[run.id], "execution_id": execution_id, "parent_task_run_id": parent})
    return _restarted(copy, tree, now) if restart_it else copy


# -- change task run state, resume --------------------------------------------------------------
def change_task_run_state(execution: Execution, flow: Flow, task_run_id: str, state: State,
                          now: datetime) -> Execution:
    """Kestra's ``markAs``: the task run (and its last attempt) get ``state``, flowable ancestors
    go back to RUNNING (through RESTARTED), and the execution becomes RESTARTED."""
    by_id = {run.id: run for run in execution.task_run_list}
    run = by_id[task_run_id]
    changed = run.with_state(state, now)
    if run.attempts:
        last = run.attempts[-1]
        last = last.model_copy(update={"state": last.state.with_state(state, now, f"attempt of {run.describe()}")})
        changed = changed.model_copy(update={"attempts": (*run.attempts[:-1], last)})
    updated = execution.with_task_run(changed)
    for parent_id in _ancestor_ids(run, by_id):
        parent = by_id[parent_id]
        if parent.state.current != State.RUNNING:
            parent = parent.with_state(State.RESTARTED, now).with_state(State.RUNNING, now)
        updated = updated.with_task_run(parent)
    return updated.with_state(State.RESTARTED, now)


def resume(execution: Execution, flow: Flow, inputs: Mapping[str, Any] | None, now: datetime, *,
           registry: Registry) -> Execution:
    """PAUSED only: the first PAUSED task run goes RUNNING (its children run next; without any it
    then ends SUCCESS), with ``outputs.onResume``; the execution goes RESTARTED -> RUNNING."""
    if execution.state.current != State.PAUSED:
        raise OperationRefused(f"{execution.describe()} is {execution.state.current.value}: "
                               "only a paused execution can be resumed")
    paused = next((r for r in execution.task_run_list if r.state.current == State.PAUSED), None)
    if paused is not None:
        outputs = {**paused.outputs, "onResume": dict(inputs or {})} if inputs is not None else paused.outputs
        resumed = paused.model_copy(update={"outputs": outputs}).with_state(State.RUNNING, now)
        execution = execution.with_task_run(resumed)
    return execution.with_state(State.RESTARTED, now).with_state(State.RUNNING, now)
