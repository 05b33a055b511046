"""L1 pure core: ``advance``, the executor's one decision function, and its small event handlers.

``advance(execution, flow, event, now, registry=..., renderer=...) -> Step``: record the event's
fact, settle (end flowables, create and start task runs, derive the execution state), and return
the new execution with the commands to carry out. No I/O; the clock is an argument.
``advance_all`` records several events' facts and settles once (results of a fan-out).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from engine.executor import chains, execution_updates, results, settling, sla, task_lifecycles
from engine.executor.commands import CancelTimers, DispatchTaskRuns, ResumeExecution
from engine.executor.events import (
    Event,
    ItemsMerged,
    ItemsSplit,
    Kill,
    LeaseExpired,
    Resume,
    Start,
    SubflowEnded,
    SubflowStarted,
    TaskRunResult,
    TimerFired,
    TimerKind,
    Wake,
)
from engine.executor.operations import resume as resume_execution
from engine.executor.step_state import Step, Work
from engine.executor.tree import flow_tree
from engine.model.execution import Execution, StateRecord, TaskRun
from engine.model.flow import Flow
from engine.plugins.base import Registry
from engine.plugins.core.flow_subflow import ForEachItemExecutable, Subflow
from engine.plugins.core.flow_wait import Pause, PauseBehavior
from engine.state import State
from engine.templating import Renderer


def advance(execution: Execution, flow: Flow, event: Event, now: datetime, *, registry: Registry,
            renderer: Renderer, extra: Mapping[str, Any] | None = None, chains: bool = True) -> Step:
    """Applies ``event`` to ``execution`` and decides what happens next.

    Args:
        execution: the execution as stored (never modified: a new one is returned).
        flow: the parsed flow at the execution's revision.
        event: what happened (see ``engine.executor.events``).
        now: the current time, used for every state history date and timer.
        registry: plugin registry, to tell runnable, flowable and executable tasks apart.
        renderer: renders the expressions the executor reads (runIf, conditions, values...).
        extra: more rendering variables (``globals``, ``envs``).
        chains: dispatch consecutive runnables of a sequence as one chain (``chain=True``).

    Returns:
        The Step: new execution, commands, and the ids of the task runs that changed.
    """
    return advance_all(execution, flow, (event,), now, registry=registry, renderer=renderer, extra=extra,
                       chains=chains)


def advance_all(execution: Execution, flow: Flow, events: Sequence[Event], now: datetime, *,
                registry: Registry, renderer: Renderer, extra: Mapping[str, Any] | None = None,
                chains: bool = True) -> Step:
    """``advance`` over several events in order, settling once after the last one.

    The executor hands task run results that wait together (a wide Parallel or ForEach) to one
    call: a settle walks the execution's live flowables, so one per result would make a fan-out of
    N cost O(N²). Results commute: each records one attempt's end, and the settle that follows
    sees them all, as it would have seen the last of them one at a time.
    """
    work = Work(execution, flow, flow_tree(flow, registry), registry, renderer, now, extra, chains,
                defer_settle=len(events) > 1)
    for event in events:
        HANDLERS[type(event)](work, event)
    if work.settle_due:
        work.defer_settle = False
        settling.settle(work)
    return work.step()


def _on_start(work: Work, event: Start) -> None:
    if work.execution.state.current not in (State.CREATED, State.RESTARTED, State.QUEUED):
        return
    work.set_execution_state(State.RUNNING)
    sla.schedule_next(work)
    settling.settle(work)


def _on_result(work: Work, event: TaskRunResult) -> None:
    run = work.find_run(event.task_run_id) or _reported_child(work, event)
    if run is None or run.state.current.is_terminated:
        return
    if event.attempt_number != max(len(run.attempts), 1):
        return  # a stale or duplicated message for another attempt
    started = _date(event.started_at)
    if event.state == State.RUNNING:
        results.record_running(work, run, event.worker_id, event.lease_seconds, at=started)
    elif event.state == State.SKIPPED and not run.attempts:
        work.set_state(run, State.SKIPPED)  # a WorkingDirectory child whose runIf is falsy: it never ran
    elif event.state.is_terminated:
        if started is not None and _not_running_yet(run):
            # A quick task reports only its end (worker.running_report_after): record when it ran.
            results.record_running(work, run, event.worker_id, at=started)
            run = work.run(run.id)
        results.finish_attempt(work, run, event.state, event.outputs, at=_date(event.ended_at))
        if event.state != State.SUCCESS or work.execution.state.current == State.KILLING:
            # the worker stopped the chain of this run: its later links will never start
            chains.drop_unreached(work, work.run(run.id))
    if work.find_run(run.id) is not None:
        chains.keep_order(work, work.run(run.id))
    settling.settle(work)


def _date(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _not_running_yet(run: TaskRun) -> bool:
    return run.state.current == State.CREATED and (not run.attempts or run.attempts[-1].state.current == State.CREATED)


def _on_lease_expired(work: Work, event: LeaseExpired) -> None:
    # Beat found the lease of an attempt expired (docs/reliability.md).
    run = work.find_run(event.task_run_id)
    if run is None or run.state.current.is_terminated or len(run.attempts) != event.attempt_number:
        return  # ended, or already resubmitted: a stale report
    last = run.attempts[-1]
    if last.state.current.is_terminated:
        return
    killing = work.execution.state.current == State.KILLING
    if event.worker_id is None:
        if last.worker_id is not None or chains.is_pending_link(work, run):
            return  # claimed meanwhile, or a chain link that goes with its predecessor
        if not killing:
            # never claimed: send the same attempt again, with the links chained after it
            links = tuple(later.id for later in chains.pending_after(work, run))
            work.emit(DispatchTaskRuns((run.id, *links), chain=bool(links)))
            return
    elif last.worker_id != event.worker_id or not _same_instant(last.lease_until, event.lease_until):
        return  # claimed by another worker, or renewed since beat looked: the worker is alive
    if killing:
        results.finish_attempt(work, run, State.KILLED, {})  # nobody is left to report the kill
    else:
        results.resubmit(work, run)  # the worker is gone: attempt KILLED, task run CREATED again
    chains.drop_unreached(work, work.run(run.id))  # its chain's later links never start; settle decides anew
    settling.settle(work)


def _same_instant(lease: datetime | None, reported: str | None) -> bool:
    if lease is None or reported is None:
        return lease is None and reported is None
    other = datetime.fromisoformat(reported)
    return abs(lease - other) < timedelta(milliseconds=1)


def _reported_child(work: Work, event: TaskRunResult) -> TaskRun | None:
    """A child of a WorkingDirectory, created by the worker that runs the subtree."""
    if event.task_id is None or event.parent_task_run_id is None:
        return None
    if work.find_run(event.parent_task_run_id) is None:
        return None
    run = TaskRun(id=event.task_run_id, execution_id=work.execution.id, namespace=work.execution.namespace,
                  flow_id=work.execution.flow_id, task_id=event.task_id,
                  parent_task_run_id=event.parent_task_run_id, value=event.value,
                  state=StateRecord.start(State.CREATED, work.now))
    return work.save(run)


def _on_timer(work: Work, event: TimerFired) -> None:
    if event.kind == TimerKind.SLA:
        sla.on_timer(work)
        settling.settle(work)
        return
    run = work.find_run(event.task_run_id)
    if run is None:
        return
    if event.kind == TimerKind.RETRY:
        results.start_retry(work, run, int(event.payload.get("attempt", len(run.attempts) + 1)))
    elif event.kind == TimerKind.PAUSE_DELAY and run.state.current == State.PAUSED:
        _pause_duration_ended(work, run, PauseBehavior(event.payload.get("behavior", PauseBehavior.RESUME.value)))
    elif event.kind == TimerKind.PAUSE_TIMEOUT and run.state.current == State.PAUSED:
        _end_pause(work, run, State.FAILED)
    elif event.kind == TimerKind.WAITFOR and run.state.current == State.RUNNING:
        iteration = int(event.payload.get("iteration", 0))
        if iteration == run.outputs.get("iterationCount", 0) + 1:
            work.save(run.model_copy(update={"outputs": {**run.outputs, "iterationCount": iteration}}))
    settling.settle(work)


def _pause_duration_ended(work: Work, run: TaskRun, behavior: PauseBehavior) -> None:
    """Kestra 1.x ``Pause.behavior``: RESUME goes on, WARN ends the Pause WARNING (or its tasks'
    state, SUCCESS made WARNING), FAIL ends it FAILED, CANCEL ends it and the execution CANCELLED."""
    if behavior == PauseBehavior.CANCEL:
        work.set_state(run, State.CANCELLED)
        work.emit(CancelTimers(run.id))
        execution_updates.end_execution(work, run, State.CANCELLED)
        return
    has_tasks = bool(cast(Pause, work.tree.task(run.task_id)).tasks) if run.task_id in work.tree else False
    ends = {PauseBehavior.FAIL: State.FAILED, PauseBehavior.WARN: State.RUNNING if has_tasks else State.WARNING}
    _end_pause(work, run, ends.get(behavior, State.RUNNING))


def _end_pause(work: Work, run: TaskRun, state: State) -> None:
    work.set_state(run, state)
    work.emit(CancelTimers(run.id))
    still_paused = any(r.state.current == State.PAUSED for r in work.execution.task_run_list)
    if work.execution.state.current == State.PAUSED and not still_paused:
        work.set_execution_state(State.RUNNING)
        work.emit(ResumeExecution())


def _on_subflow_started(work: Work, event: SubflowStarted) -> None:
    run = work.find_run(event.task_run_id)
    if run is None or run.state.current.is_terminated:
        return
    task = _executable(work, run)
    if task_lifecycles.is_items(task):
        _count_iteration(work, run, "CREATED", "RUNNING")
    else:
        run = work.save(run.model_copy(update={"outputs": {**run.outputs, "executionId": event.child_execution_id}}))
        if not cast(Subflow, task).wait:
            results.finish_attempt(work, run, State.SUCCESS, {"state": State.CREATED.value})
    settling.settle(work)


def _on_subflow_ended(work: Work, event: SubflowEnded) -> None:
    run = work.find_run(event.task_run_id)
    if run is None or run.state.current.is_terminated:
        return
    task = _executable(work, run)
    if task_lifecycles.is_items(task):
        run = _count_iteration(work, run, "RUNNING", event.state.value)
        _maybe_end_items(work, cast(ForEachItemExecutable, task), run)
    else:
        outputs = {"executionId": event.child_execution_id, "state": event.state.value,
                   "outputs": dict(event.outputs)}
        results.finish_attempt(work, run, _transmitted(cast(Subflow, task), event.state), outputs)
    settling.settle(work)


def _executable(work: Work, run: TaskRun) -> task_lifecycles.ExecutableTask:
    """The Subflow or ForEachItem ``_items`` of ``run``: only those start the child executions reported here."""
    return cast(task_lifecycles.ExecutableTask, work.tree.task(run.task_id))


def _transmitted(task: Subflow, child: State) -> State:
    if child in (State.FAILED, State.KILLED, State.CANCELLED):
        return State.FAILED if task.transmit_failed else State.SUCCESS
    return State.WARNING if child == State.WARNING else State.SUCCESS


def _count_iteration(work: Work, run: TaskRun, source: str, target: str) -> TaskRun:
    counts = dict(run.outputs.get("iterations", {}))
    counts[source] = max(0, counts.get(source, 0) - 1)
    counts[target] = counts.get(target, 0) + 1
    return work.save(run.model_copy(update={"outputs": {**run.outputs, "iterations": counts}}))


def _maybe_end_items(work: Work, task: ForEachItemExecutable, run: TaskRun) -> None:
    counts = run.outputs.get("iterations", {})
    if counts.get("CREATED", 0) or counts.get("RUNNING", 0):
        return
    results.finish_attempt(work, run, task_lifecycles.items_state(task, counts), {})


def _on_items_split(work: Work, event: ItemsSplit) -> None:
    """The ``_split`` task run's batches were written (it ends), or the ``_items`` task run's
    were read (it starts one child per batch)."""
    run = work.find_run(event.task_run_id)
    if run is None or run.state.current != State.RUNNING or run.task_id not in work.tree:
        return
    task = work.tree.task(run.task_id)
    if task_lifecycles.is_items(task):
        if "numberOfBatches" in run.outputs:
            return  # a repeated reply
        items = cast(ForEachItemExecutable, task)
        task_lifecycles.start_batches(work, items, run, event.batch_uris)
        if not event.batch_uris or not items.wait:
            results.finish_attempt(work, work.run(run.id), State.SUCCESS, {})
    else:
        results.finish_attempt(work, run, State.SUCCESS, {"splits": event.splits} if event.splits else {})
    settling.settle(work)


def _on_items_merged(work: Work, event: ItemsMerged) -> None:
    run = work.find_run(event.task_run_id)
    if run is None or run.state.current.is_terminated:
        return
    results.finish_attempt(work, run, State.SUCCESS, {"subflowOutputs": event.uri} if event.uri else {})
    settling.settle(work)


def _on_kill(work: Work, event: Kill) -> None:
    state = work.execution.state.current
    if state.is_terminated or state == State.KILLING:
        return
    work.set_execution_state(State.KILLING)
    settling.kill_running(work)
    settling.settle(work)


def _on_resume(work: Work, event: Resume) -> None:
    if work.execution.state.current != State.PAUSED:
        return
    paused = [r.id for r in work.execution.task_run_list if r.state.current == State.PAUSED]
    work.execution = resume_execution(work.execution, work.flow, event.inputs, work.now, registry=work.registry)
    for run_id in paused[:1]:
        work.emit(CancelTimers(run_id))
    work.emit(ResumeExecution())
    settling.settle(work)


def _on_wake(work: Work, event: Wake) -> None:
    if work.execution.state.current == State.RESTARTED:
        work.set_execution_state(State.RUNNING)
    settling.settle(work)


# Each handler takes its own event type, hence Any for the event in the shared signature.
HANDLERS: dict[type, Callable[[Work, Any], None]] = {
    Start: _on_start, TaskRunResult: _on_result, LeaseExpired: _on_lease_expired, TimerFired: _on_timer,
    SubflowStarted: _on_subflow_started, SubflowEnded: _on_subflow_ended, ItemsSplit: _on_items_split,
    ItemsMerged: _on_items_merged, Kill: _on_kill, Resume: _on_resume, Wake: _on_wake,
}
